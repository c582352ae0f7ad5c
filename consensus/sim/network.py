"""The simulated network: who can reach whom, when, and with what delay.

Links are point to point. A message is lost if a partition separates the two
nodes at the time it is sent, or with the scenario's drop probability;
otherwise it arrives after a delay drawn uniformly from the scenario's range.
Messages between two nodes may therefore be reordered, as on a real network.
All randomness comes from the one seeded `random.Random` the simulator owns.
"""

from __future__ import annotations

import random

from consensus.sim.scenario import Partition


class Network:
    def __init__(
        self,
        rng: random.Random,
        delay_ms: tuple[int, int],
        drop: float,
        partitions: tuple[Partition, ...],
    ) -> None:
        self._rng = rng
        self._delay = delay_ms
        self._drop = drop
        self._partitions = partitions

    def connected(self, a: str, b: str, now_ms: int) -> bool:
        """False while an active partition puts `a` and `b` in different groups."""
        for part in self._partitions:
            if part.active(now_ms) and _group_of(part, a) != _group_of(part, b):
                return False
        return True

    def delay(self) -> int:
        return self._rng.randint(*self._delay)

    def transit(self, sender: str, recipient: str, now_ms: int) -> int | None:
        """The delay of one message from `sender` to `recipient`, or None if it is lost."""
        if not self.connected(sender, recipient, now_ms):
            return None
        # The drop coin is drawn only when drops are on, so the delays of a
        # no-drop scenario are the same draws whatever the drop code does.
        if self._drop and self._rng.random() < self._drop:
            return None
        return self.delay()


def _group_of(part: Partition, name: str) -> int:
    for i, group in enumerate(part.groups):
        if name in group:
            return i
    return len(part.groups)  # everyone named nowhere shares one extra group

"""The virtual clock and the event queue of the simulator.

Time is an integer count of milliseconds that only moves when the next event
is popped; nothing here reads a real clock. Events that fall due at the same
millisecond run in the order they were scheduled (a sequence number breaks
ties), so a run is a pure function of the seed.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any


@dataclass(order=True, frozen=True)
class _Entry:
    at_ms: int
    seq: int
    event: Any = field(compare=False)


class EventQueue:
    """A min-heap of (time, insertion order) -> event, and the clock it drives."""

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._seq = 0
        self.now_ms = 0

    def schedule(self, delay_ms: int, event: Any) -> None:
        if delay_ms < 0:
            raise ValueError("cannot schedule an event in the past")
        self.schedule_at(self.now_ms + delay_ms, event)

    def schedule_at(self, at_ms: int, event: Any) -> None:
        # An event can never run before "now": the clock is monotonic.
        heapq.heappush(self._heap, _Entry(max(at_ms, self.now_ms), self._seq, event))
        self._seq += 1

    def __len__(self) -> int:
        return len(self._heap)

    def peek_time(self) -> int | None:
        return self._heap[0].at_ms if self._heap else None

    def pop(self) -> Any:
        """Advance the clock to the earliest event and return it."""
        entry = heapq.heappop(self._heap)
        self.now_ms = entry.at_ms
        return entry.event

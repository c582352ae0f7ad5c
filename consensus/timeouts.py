"""Timeout durations: each step's timeout grows linearly with the round.

A round that fails (slow proposer, partition) gets a longer timeout next time,
so once the network is synchronous again every honest node eventually spends
long enough in one round to decide (the partial-synchrony argument of the
Tendermint paper). All durations are integer milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Step(IntEnum):
    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3


@dataclass(frozen=True, slots=True)
class TimeoutConfig:
    propose_ms: int = 3000
    propose_delta_ms: int = 500
    prevote_ms: int = 1000
    prevote_delta_ms: int = 500
    precommit_ms: int = 1000
    precommit_delta_ms: int = 500

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"{name} must be a non-negative int (milliseconds)")

    def duration_ms(self, step: Step, round: int) -> int:
        """base + delta * round for the given step."""
        if step == Step.PROPOSE:
            return self.propose_ms + self.propose_delta_ms * round
        if step == Step.PREVOTE:
            return self.prevote_ms + self.prevote_delta_ms * round
        return self.precommit_ms + self.precommit_delta_ms * round

"""The one way a staking rule refuses: ``StakingRevert``, whose reason the caller sees."""

from __future__ import annotations


class StakingRevert(Exception):
    """A call the rules refuse; the contract reverts with ``Error(reason)`` and charges gas."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

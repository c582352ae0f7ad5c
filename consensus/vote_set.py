"""Vote tallies for one height: per (round, type), who voted for what, by power.

A `VoteSet` keeps at most one vote per validator (the first one); a second,
different vote from the same validator is returned as a conflict so the
engine can turn it into evidence, and is never counted. `HeightVoteSet` holds
the vote sets of every round of a height plus, per round, which validators
sent anything at all (for the f+1 fast round change).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .messages import NIL, PRECOMMIT, PREVOTE, Vote
from .validators import ValidatorSet

ADDED = "added"
DUPLICATE = "duplicate"
CONFLICT = "conflict"


@dataclass
class VoteSet:
    """Votes of one type at one round."""

    validator_set: ValidatorSet
    votes: dict[bytes, Vote] = field(default_factory=dict)
    power_by_hash: dict[bytes, int] = field(default_factory=dict)
    total: int = 0

    def add(self, vote: Vote) -> tuple[str, Vote | None]:
        """Add a vote already checked to be signed by a member of the set."""
        existing = self.votes.get(vote.validator)
        if existing is not None:
            if existing.block_hash == vote.block_hash:
                return DUPLICATE, existing
            return CONFLICT, existing
        power = self.validator_set.power_of(vote.validator)
        self.votes[vote.validator] = vote
        self.power_by_hash[vote.block_hash] = self.power_by_hash.get(vote.block_hash, 0) + power
        self.total += power
        return ADDED, None

    def power_for(self, block_hash: bytes) -> int:
        return self.power_by_hash.get(block_hash, 0)

    def has_quorum_for(self, block_hash: bytes) -> bool:
        return self.power_for(block_hash) >= self.validator_set.quorum_power

    def has_quorum_any(self) -> bool:
        return self.total >= self.validator_set.quorum_power

    def quorum_hash(self) -> bytes | None:
        """The hash (possibly NIL) with +2/3 of the power, if any."""
        q = self.validator_set.quorum_power
        for h, p in self.power_by_hash.items():
            if p >= q:
                return h
        return None

    def votes_for(self, block_hash: bytes) -> list[Vote]:
        return sorted((v for v in self.votes.values() if v.block_hash == block_hash),
                      key=lambda v: v.validator)


class HeightVoteSet:
    """All prevotes and precommits of one height, by round."""

    def __init__(self, validator_set: ValidatorSet) -> None:
        self.validator_set = validator_set
        self._sets: dict[tuple[int, int], VoteSet] = {}
        # round -> validators that sent any vote or proposal in that round
        self._senders: dict[int, set[bytes]] = {}
        self._sender_power: dict[int, int] = {}

    def get(self, round: int, vote_type: int) -> VoteSet:
        key = (round, vote_type)
        vs = self._sets.get(key)
        if vs is None:
            vs = self._sets[key] = VoteSet(self.validator_set)
        return vs

    def prevotes(self, round: int) -> VoteSet:
        return self.get(round, PREVOTE)

    def precommits(self, round: int) -> VoteSet:
        return self.get(round, PRECOMMIT)

    def add(self, vote: Vote) -> tuple[str, Vote | None]:
        result = self.get(vote.round, vote.type).add(vote)
        if result[0] == ADDED:
            self.note_sender(vote.round, vote.validator)
        return result

    def note_sender(self, round: int, address: bytes) -> None:
        senders = self._senders.setdefault(round, set())
        if address not in senders:
            senders.add(address)
            self._sender_power[round] = self._sender_power.get(round, 0) + self.validator_set.power_of(address)

    def sender_power(self, round: int) -> int:
        return self._sender_power.get(round, 0)

    def has_sent(self, round: int, address: bytes) -> bool:
        return address in self._senders.get(round, ())

    def rounds_with_sender(self, address: bytes, above: int) -> int:
        """How many rounds > `above` this validator has sent something in."""
        return sum(1 for r, s in self._senders.items() if r > above and address in s)

    def rounds(self) -> list[int]:
        return sorted(self._senders)

    def precommit_rounds(self) -> list[int]:
        return sorted(r for (r, t) in self._sets if t == PRECOMMIT)


__all__ = ["VoteSet", "HeightVoteSet", "ADDED", "DUPLICATE", "CONFLICT", "NIL"]

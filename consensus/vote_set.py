"""Vote tallies for one height: per (round, type), who voted for what, by power.

Votes are counted per value, as the paper counts "2f+1 <PREVOTE, h, r, id(v)>":
each validator adds its power at most once to each block hash, and its FIRST
vote alone counts toward "+2/3 of anything". A second, different vote from
the same validator (an equivocation) is returned as a conflict so the engine
reports evidence, and it still counts for its own value: otherwise an
equivocator could show a POL to some nodes and hide it from others forever
(the simulator's seed-873 finding). Counting it is safe: two sets of more
than 2/3 of the power share more than 1/3, so at least one honest validator,
who never votes twice. Memory stays bounded: per validator and vote set, at
most MAX_EXTRA_VALUES conflicting values that are not "known" (nil or the
hash of a proposal at this height) are counted; a few more are parked
(MAX_PARKED_PER_VALIDATOR, oldest evicted) and counted if a proposal for
their value arrives later, so a POL whose votes came before its proposal is
not lost (seed 306225 of the random engine tests). `HeightVoteSet` holds
the vote sets of every round of a height plus, per round, which validators
sent anything at all (for the f+1 fast round change).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from .messages import NIL, PRECOMMIT, PREVOTE, Vote
from .validators import ValidatorSet

ADDED = "added"  # the validator's first vote in this set
DUPLICATE = "duplicate"  # already counted for this value
CONFLICT = "conflict"  # a second value: evidence; counted for its value
CONFLICT_DROPPED = "conflict_dropped"  # evidence, but over the bound: not kept

# Conflicting votes for values nobody proposed kept per validator per set.
MAX_EXTRA_VALUES = 2
# Further such votes parked per validator per set, until their value is proposed.
MAX_PARKED_PER_VALIDATOR = 4


@dataclass
class VoteSet:
    """Votes of one type at one round."""

    validator_set: ValidatorSet
    # first vote of each validator: what "+2/3 of anything" counts
    votes: dict[bytes, Vote] = field(default_factory=dict)
    # block hash -> validator -> vote (first votes and counted conflicts)
    by_hash: dict[bytes, dict[bytes, Vote]] = field(default_factory=dict)
    power_by_hash: dict[bytes, int] = field(default_factory=dict)
    total: int = 0
    _extra: dict[bytes, int] = field(default_factory=dict)
    # validator -> block hash -> a conflicting vote dropped over MAX_EXTRA_VALUES
    _parked: dict[bytes, OrderedDict[bytes, Vote]] = field(default_factory=dict)

    def get_vote(self, validator: bytes, block_hash: bytes) -> Vote | None:
        return self.by_hash.get(block_hash, {}).get(validator)

    def add(self, vote: Vote, known_value: bool = True) -> tuple[str, Vote | None]:
        """Add a vote already checked to be signed by a member of the set.
        `known_value`: its hash is nil or proposed at this height (conflicts
        for other hashes are kept only up to MAX_EXTRA_VALUES)."""
        first = self.votes.get(vote.validator)
        if self.get_vote(vote.validator, vote.block_hash) is not None:
            return DUPLICATE, first
        if first is not None and not known_value:
            n = self._extra.get(vote.validator, 0)
            if n >= MAX_EXTRA_VALUES:
                self._park(vote)
                return CONFLICT_DROPPED, first
            self._extra[vote.validator] = n + 1
        power = self.validator_set.power_of(vote.validator)
        self.by_hash.setdefault(vote.block_hash, {})[vote.validator] = vote
        self.power_by_hash[vote.block_hash] = self.power_by_hash.get(vote.block_hash, 0) + power
        if first is not None:
            return CONFLICT, first
        self.votes[vote.validator] = vote
        self.total += power
        return ADDED, None

    def _park(self, vote: Vote) -> None:
        parked = self._parked.setdefault(vote.validator, OrderedDict())
        parked[vote.block_hash] = vote
        if len(parked) > MAX_PARKED_PER_VALIDATOR:
            parked.popitem(last=False)

    def readmit(self, block_hash: bytes) -> list[Vote]:
        """`block_hash` was just proposed: count the parked votes for it; return them."""
        counted = []
        for parked in self._parked.values():
            vote = parked.pop(block_hash, None)
            if vote is not None and self.add(vote)[0] == CONFLICT:
                counted.append(vote)
        return counted

    def power_for(self, block_hash: bytes) -> int:
        return self.power_by_hash.get(block_hash, 0)

    def has_quorum_for(self, block_hash: bytes) -> bool:
        return self.power_for(block_hash) >= self.validator_set.quorum_power

    def has_quorum_any(self) -> bool:
        return self.total >= self.validator_set.quorum_power

    def quorum_hashes(self) -> list[bytes]:
        """Hashes (possibly NIL) with +2/3 of the power. More than one only if
        more than 1/3 of the power equivocated."""
        q = self.validator_set.quorum_power
        return [h for h, p in self.power_by_hash.items() if p >= q]

    def votes_for(self, block_hash: bytes) -> list[Vote]:
        return sorted(self.by_hash.get(block_hash, {}).values(), key=lambda v: v.validator)


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

    def peek(self, round: int, vote_type: int) -> VoteSet | None:
        """The vote set of (round, type) if it exists; never creates one."""
        return self._sets.get((round, vote_type))

    def prevotes(self, round: int) -> VoteSet:
        return self.get(round, PREVOTE)

    def precommits(self, round: int) -> VoteSet:
        return self.get(round, PRECOMMIT)

    def add(self, vote: Vote, known_value: bool = True) -> tuple[str, Vote | None]:
        result = self.get(vote.round, vote.type).add(vote, known_value)
        if result[0] == ADDED:
            self.note_sender(vote.round, vote.validator)
        return result

    def readmit(self, block_hash: bytes) -> list[Vote]:
        """Count, in every round, parked votes for the newly proposed `block_hash`."""
        return [vote for vs in self._sets.values() for vote in vs.readmit(block_hash)]

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

    def has_quorum_anywhere(self, block_hash: bytes) -> bool:
        """+2/3 prevotes or precommits for `block_hash` in some round."""
        return any(vs.has_quorum_for(block_hash) for vs in self._sets.values())

    def precommit_rounds(self) -> list[int]:
        return sorted(r for (r, t) in self._sets if t == PRECOMMIT)


__all__ = ["VoteSet", "HeightVoteSet", "ADDED", "DUPLICATE", "CONFLICT", "CONFLICT_DROPPED", "NIL"]

"""The engine's per-height state: round, step, lock, valid value, proposals.

Named after the variables of Algorithm 1 of the Tendermint paper
(arXiv 1807.04938): `locked_value/locked_round` and `valid_value/valid_round`
hold block hashes and rounds (-1 = none). Everything here is reset by
`start_height`; only the lock may be carried in from the double-sign guard
after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from .messages import Proposal
from .validators import ValidatorSet


class RoundStep(IntEnum):
    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3
    COMMITTED = 4  # decided this height; waiting for start_height(height + 1)


@dataclass
class RoundState:
    height: int
    validator_set: ValidatorSet
    round: int = 0
    step: RoundStep = RoundStep.PROPOSE
    locked_round: int = -1
    locked_value: bytes | None = None
    valid_round: int = -1
    valid_value: bytes | None = None
    # round -> the first correctly signed proposal by that round's proposer
    proposals: dict[int, Proposal] = field(default_factory=dict)
    # round -> further proposals by an equivocating proposer (bounded)
    alt_proposals: dict[int, list[Proposal]] = field(default_factory=dict)
    # block hashes of those proposals: votes for them are always worth keeping
    proposed_hashes: set[bytes] = field(default_factory=set)
    # block hash -> payload (from proposals or our own RequestProposal)
    blocks: dict[bytes, bytes] = field(default_factory=dict)
    # block hash -> the application's verdict (True valid, False invalid);
    # absent while unknown, e.g. after bytes that were not the block
    validity: dict[bytes, bool] = field(default_factory=dict)
    validating: set[bytes] = field(default_factory=set)
    # block hash -> kept proposals waiting for that block's validation to be relayed
    relay_pending: dict[bytes, list[Proposal]] = field(default_factory=dict)
    # block hash -> the proposal whose copy brought the payload being judged
    # (blamed if the payload turns out not to be that block)
    payload_source: dict[bytes, Proposal] = field(default_factory=dict)
    # block hash -> (proposal, payload) copies waiting while other bytes for
    # that hash are judged (bounded: MAX_QUEUED_PAYLOADS per height)
    queued_payloads: dict[bytes, list[tuple[Proposal, bytes]]] = field(default_factory=dict)
    # (hash, payload digest) pairs found not to be the block they were sent
    # for, oldest first, not to re-ask (bounded: MAX_REJECTED_PAYLOADS)
    rejected_payloads: dict[tuple[bytes, bytes], None] = field(default_factory=dict)
    # "for the first time" guards of Algorithm 1, by round
    prevote_timeout_scheduled: set[int] = field(default_factory=set)
    precommit_timeout_scheduled: set[int] = field(default_factory=set)
    quorum_prevote_handled: set[int] = field(default_factory=set)
    # the round in which we asked the application for a block, if any
    requested_proposal_round: int = -1
    decided: bytes | None = None
    decided_round: int = -1

    def round_proposals(self, round: int) -> list[Proposal]:
        """The proposals of `round` in arrival order (more than one only if
        its proposer equivocated)."""
        first = self.proposals.get(round)
        if first is None:
            return []
        return [first, *self.alt_proposals.get(round, ())]

"""The actions the engine returns for its driver to carry out, in order.

See docs/consensus-interface.md for what a driver must do with each.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Union

from .messages import CommitCertificate, DuplicateVoteEvidence, Proposal, Vote
from .timeouts import Step


@dataclass(frozen=True, slots=True)
class Sign:
    """Pass `message` (unsigned) to the double-sign guard, then call on_signed."""

    message: Vote | Proposal


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send a signed vote, or a signed proposal with its block, to every peer."""

    message: Vote | Proposal
    block: bytes | None = None


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Call on_timeout(this) after duration_ms, unless the height moved on."""

    height: int
    round: int
    step: Step
    duration_ms: int


@dataclass(frozen=True, slots=True)
class RequestProposal:
    """Build a block for (height, round) and call on_block_proposed."""

    height: int
    round: int


@dataclass(frozen=True, slots=True)
class ValidateBlock:
    """Validate `block` (which must hash to block_hash) and call on_block_validated."""

    height: int
    round: int
    block_hash: bytes
    block: bytes


@dataclass(frozen=True, slots=True)
class Commit:
    """Commit durably, then start_height(height + 1, next_set)."""

    height: int
    round: int
    block_hash: bytes
    block: bytes
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class EvidenceFound:
    """A proven double-sign for the application (gossip, include, slash)."""

    evidence: DuplicateVoteEvidence


@dataclass(frozen=True, slots=True)
class Relay:
    """A message from the network that the engine verified and kept: pass it
    on to the other peers (and keep it for catch-up gossip). Proposals are
    relayed once their block validated, with the validated payload."""

    message: Vote | Proposal
    block: bytes | None = None


class RejectReason(Enum):
    """Why a message was rejected. Every reason is judged against the
    validator set the chain defines for the message's height, which every
    honest node shares; since honest nodes relay only what they verified,
    each one proves the peer that sent it at fault."""

    BAD_SIGNATURE = "bad signature"
    MALFORMED = "malformed"
    NOT_VALIDATOR = "not a validator"
    NOT_PROPOSER = "not the proposer"
    # The block bytes beside a correctly signed proposal are not the block it
    # names (they do not decode, or decode to another hash): honest nodes
    # relay a proposal only with bytes that validated, so the peer that
    # delivered these bytes made them up.
    PAYLOAD_MISMATCH = "payload mismatch"


class BlockVerdict(Enum):
    """The application's answer to ValidateBlock (see on_block_validated)."""

    VALID = "valid"
    # The block the hash names is invalid (bad state transition, sidecar,
    # timestamp ...): a verdict on the block itself, final for this height.
    INVALID = "invalid"
    # These bytes are not the block the hash names: they say nothing about
    # that block, whose validity stays unknown until matching bytes come.
    PAYLOAD_MISMATCH = "payload mismatch"


@dataclass(frozen=True, slots=True)
class Rejected:
    """An invalid message; `detail` is a short human-readable explanation.

    For a proposal, `payload_digest` is `payload_digest(block)` of the block
    bytes that came with the rejected copy: copies of one proposal differ
    only in those bytes, and the network must blame the peer that delivered
    this copy, not one that delivered another."""

    message: Vote | Proposal
    reason: RejectReason
    detail: str = ""
    payload_digest: bytes = b""


Action = Union[
    Sign, Broadcast, Relay, ScheduleTimeout, RequestProposal, ValidateBlock, Commit, EvidenceFound, Rejected
]

"""The signed consensus messages and the proofs built from them.

`Vote`, `Proposal`, `CommitCertificate` and `DuplicateVoteEvidence` are frozen
dataclasses with canonical msgpack `encode()`/`decode()`. Sign-bytes are
`msgpack([domain, chain_id, ...fields without signature])` with domain
`b"plume/vote"` or `b"plume/proposal"`, so a signature is bound to one chain
and one message kind.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from . import codec
from .codec import MAX_INT64, MAX_ROUND, check_bytes, check_int, check_list
from .crypto import ADDRESS_SIZE, SIGNATURE_SIZE, verify
from .errors import DecodeError, InvalidCertificate, InvalidEvidence

if TYPE_CHECKING:
    from .validators import ValidatorSet

PREVOTE = 1
PRECOMMIT = 2
VOTE_TYPES = (PREVOTE, PRECOMMIT)

HASH_SIZE = 32
NIL = b""
# A certificate never needs more precommits than there are validators.
MAX_VALIDATORS = 10_000

VOTE_DOMAIN = b"plume/vote"
PROPOSAL_DOMAIN = b"plume/proposal"


def payload_digest(block: bytes) -> bytes:
    """The digest that tells apart copies of one proposal carrying different
    block bytes (the signature covers only the block hash)."""
    return hashlib.sha256(block).digest()


def chain_id_bytes(chain_id: str | bytes) -> bytes:
    return chain_id.encode() if isinstance(chain_id, str) else bytes(chain_id)


def vote_type_name(t: int) -> str:
    return {PREVOTE: "prevote", PRECOMMIT: "precommit"}.get(t, f"type{t}")


@dataclass(frozen=True, slots=True)
class Vote:
    """A prevote or precommit for `block_hash` (b"" = nil) at (height, round)."""

    type: int
    height: int
    round: int
    block_hash: bytes
    validator: bytes
    signature: bytes = b""

    def fields(self) -> list[Any]:
        return [self.type, self.height, self.round, self.block_hash, self.validator, self.signature]

    def sign_bytes(self, chain_id: str | bytes) -> bytes:
        return codec.pack(
            [VOTE_DOMAIN, chain_id_bytes(chain_id), self.type, self.height, self.round,
             self.block_hash, self.validator]
        )

    def unsigned(self) -> "Vote":
        return replace(self, signature=b"")

    def with_signature(self, signature: bytes) -> "Vote":
        return replace(self, signature=signature)

    def verify_signature(self, pub_key: bytes, chain_id: str | bytes) -> bool:
        return verify(pub_key, self.signature, self.sign_bytes(chain_id))

    @property
    def is_nil(self) -> bool:
        return self.block_hash == NIL

    def encode(self) -> bytes:
        return codec.pack(self.fields())

    @classmethod
    def from_fields(cls, obj: Any, what: str = "vote") -> "Vote":
        f = check_list(obj, 6, what)
        t = check_int(f[0], f"{what}.type", PREVOTE, PRECOMMIT)
        return cls(
            type=t,
            height=check_int(f[1], f"{what}.height", 0, MAX_INT64),
            round=check_int(f[2], f"{what}.round", 0, MAX_ROUND),
            block_hash=check_bytes(f[3], f"{what}.block_hash", (0, HASH_SIZE)),
            validator=check_bytes(f[4], f"{what}.validator", (ADDRESS_SIZE,)),
            signature=check_bytes(f[5], f"{what}.signature", (SIGNATURE_SIZE,)),
        )

    @classmethod
    def decode(cls, data: bytes) -> "Vote":
        vote = cls.from_fields(codec.unpack(data, 6, max_size=256))
        codec.ensure_canonical(data, vote.encode())
        return vote

    def __repr__(self) -> str:
        h = self.block_hash.hex()[:8] or "nil"
        return f"Vote({vote_type_name(self.type)} h={self.height} r={self.round} {h} by {self.validator.hex()[:8]})"


@dataclass(frozen=True, slots=True)
class Proposal:
    """The proposer's signed proposal of `block_hash`; `pol_round` is -1 or the
    round of the +2/3 prevotes (proof of lock) that justify re-proposing it."""

    height: int
    round: int
    block_hash: bytes
    pol_round: int
    proposer: bytes
    signature: bytes = b""

    def fields(self) -> list[Any]:
        return [self.height, self.round, self.block_hash, self.pol_round, self.proposer, self.signature]

    def sign_bytes(self, chain_id: str | bytes) -> bytes:
        return codec.pack(
            [PROPOSAL_DOMAIN, chain_id_bytes(chain_id), self.height, self.round,
             self.block_hash, self.pol_round, self.proposer]
        )

    def unsigned(self) -> "Proposal":
        return replace(self, signature=b"")

    def with_signature(self, signature: bytes) -> "Proposal":
        return replace(self, signature=signature)

    def verify_signature(self, pub_key: bytes, chain_id: str | bytes) -> bool:
        return verify(pub_key, self.signature, self.sign_bytes(chain_id))

    def encode(self) -> bytes:
        return codec.pack(self.fields())

    @classmethod
    def decode(cls, data: bytes) -> "Proposal":
        f = codec.unpack(data, 6, max_size=256)
        p = cls(
            height=check_int(f[0], "proposal.height", 0, MAX_INT64),
            round=check_int(f[1], "proposal.round", 0, MAX_ROUND),
            block_hash=check_bytes(f[2], "proposal.block_hash", (HASH_SIZE,)),
            pol_round=check_int(f[3], "proposal.pol_round", -1, MAX_ROUND),
            proposer=check_bytes(f[4], "proposal.proposer", (ADDRESS_SIZE,)),
            signature=check_bytes(f[5], "proposal.signature", (SIGNATURE_SIZE,)),
        )
        if p.pol_round >= p.round:
            raise DecodeError("proposal.pol_round must be -1 or below round")
        codec.ensure_canonical(data, p.encode())
        return p

    def __repr__(self) -> str:
        return (f"Proposal(h={self.height} r={self.round} {self.block_hash.hex()[:8]} "
                f"pol={self.pol_round} by {self.proposer.hex()[:8]})")


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    """+2/3 of the power's precommits for `block_hash` at (height, round);
    precommits are sorted by validator address."""

    height: int
    round: int
    block_hash: bytes
    precommits: tuple[Vote, ...]

    def encode(self) -> bytes:
        return codec.pack([self.height, self.round, self.block_hash, [v.fields() for v in self.precommits]])

    @classmethod
    def decode(cls, data: bytes) -> "CommitCertificate":
        f = codec.unpack(data, 4)
        votes = f[3]
        if type(votes) is not list or len(votes) > MAX_VALIDATORS:
            raise DecodeError("certificate.precommits: expected a list of at most "
                              f"{MAX_VALIDATORS} votes")
        cert = cls(
            height=check_int(f[0], "certificate.height", 0, MAX_INT64),
            round=check_int(f[1], "certificate.round", 0, MAX_ROUND),
            block_hash=check_bytes(f[2], "certificate.block_hash", (HASH_SIZE,)),
            precommits=tuple(Vote.from_fields(v, "certificate.precommit") for v in votes),
        )
        addrs = [v.validator for v in cert.precommits]
        if addrs != sorted(set(addrs)):
            raise DecodeError("certificate.precommits must be sorted by distinct validator address")
        codec.ensure_canonical(data, cert.encode())
        return cert

    def signers(self) -> tuple[bytes, ...]:
        return tuple(v.validator for v in self.precommits)

    def verify(self, validator_set: "ValidatorSet", chain_id: str | bytes) -> None:
        """Raise InvalidCertificate unless this proves a commit under `validator_set`."""
        if len(self.block_hash) != HASH_SIZE:
            raise InvalidCertificate("certificate block_hash must be 32 bytes (nil cannot be committed)")
        seen: set[bytes] = set()
        power = 0
        for v in self.precommits:
            who = v.validator.hex()
            if v.type != PRECOMMIT:
                raise InvalidCertificate(f"vote by {who} is not a precommit")
            if (v.height, v.round) != (self.height, self.round):
                raise InvalidCertificate(
                    f"precommit by {who} is for h={v.height} r={v.round}, "
                    f"certificate is for h={self.height} r={self.round}")
            if v.block_hash != self.block_hash:
                raise InvalidCertificate(f"precommit by {who} is for another block")
            if v.validator in seen:
                raise InvalidCertificate(f"duplicate precommit by {who}")
            seen.add(v.validator)
            val = validator_set.get(v.validator)
            if val is None:
                raise InvalidCertificate(f"precommit by {who}, which is not in the validator set")
            if not v.verify_signature(val.pub_key, chain_id):
                raise InvalidCertificate(f"bad signature on the precommit by {who}")
            power += val.power
        if power < validator_set.quorum_power:
            raise InvalidCertificate(
                f"precommits carry {power} of {validator_set.total_power} power; "
                f"need more than 2/3 ({validator_set.quorum_power})")


@dataclass(frozen=True, slots=True)
class DuplicateVoteEvidence:
    """Two votes by one validator for the same (height, round, type) and
    different blocks; `vote_a.block_hash < vote_b.block_hash` (canonical order)."""

    vote_a: Vote
    vote_b: Vote

    @classmethod
    def from_votes(cls, a: Vote, b: Vote) -> "DuplicateVoteEvidence":
        if a.block_hash > b.block_hash:
            a, b = b, a
        return cls(a, b)

    @property
    def validator(self) -> bytes:
        return self.vote_a.validator

    @property
    def height(self) -> int:
        return self.vote_a.height

    def encode(self) -> bytes:
        return codec.pack([self.vote_a.fields(), self.vote_b.fields()])

    @classmethod
    def decode(cls, data: bytes) -> "DuplicateVoteEvidence":
        f = codec.unpack(data, 2, max_size=512)
        ev = cls(Vote.from_fields(f[0], "evidence.vote_a"), Vote.from_fields(f[1], "evidence.vote_b"))
        try:
            ev._check_shape()
        except InvalidEvidence as exc:
            raise DecodeError(str(exc)) from None
        codec.ensure_canonical(data, ev.encode())
        return ev

    def _check_shape(self) -> None:
        a, b = self.vote_a, self.vote_b
        if a.validator != b.validator:
            raise InvalidEvidence("votes are by different validators")
        if (a.height, a.round, a.type) != (b.height, b.round, b.type):
            raise InvalidEvidence("votes are for different height, round or type")
        if a.block_hash == b.block_hash:
            raise InvalidEvidence("votes are for the same block")
        if not a.block_hash < b.block_hash:
            raise InvalidEvidence("votes are not in canonical order")

    def verify(self, validator_set: "ValidatorSet", chain_id: str | bytes) -> None:
        """Raise InvalidEvidence unless this proves a double-sign by a member of `validator_set`."""
        self._check_shape()
        val = validator_set.get(self.validator)
        if val is None:
            raise InvalidEvidence(f"{self.validator.hex()} is not in the validator set")
        for v in (self.vote_a, self.vote_b):
            if not v.verify_signature(val.pub_key, chain_id):
                raise InvalidEvidence(f"bad signature on {v!r}")

"""The node's double-sign evidence verifier, for the staking contract's ``submitEvidence``.

Staking defines the interface (``staking.evidence.EvidenceVerifier``); this is
the implementation the node hands execution: decode the bytes as a
``DuplicateVoteEvidence`` and verify it against the validator set of its
height and this chain's id, as ``plume_submitEvidence`` does.

Determinism: every node must reach the same verdict for the same transaction
in the same block. The verdict reads only the evidence bytes, the chain id and
the validator set of a height below the block's: that set was stored when its
parent height committed, in the commit batch, and is derived from the chain
(genesis, then each epoch's active set chosen in the staking state), so every
node that holds the chain up to the block, whether it followed consensus or
block-synced, holds the same set.
"""

from __future__ import annotations

from collections.abc import Callable

from eth_hash.auto import keccak

from consensus.errors import ConsensusError
from consensus.messages import DuplicateVoteEvidence
from consensus.validators import ValidatorSet
from staking.evidence import (
    EVIDENCE_GAS_PER_SET_BYTE,
    MAX_EVIDENCE_BYTES,
    EvidenceDefect,
    InvalidEvidence,
    Misbehaviour,
)


class ChainEvidenceVerifier:
    """``verify(evidence, height, charge) -> Misbehaviour`` over a chain's validator-set history.

    ``set_size_of(height)`` is the byte length of that height's stored set
    (raises LookupError if none): it is read without decoding, so the charge
    for decoding comes before the decoding.
    """

    def __init__(self, validator_set_of: Callable[[int], ValidatorSet], set_size_of: Callable[[int], int],
                 chain_id: str) -> None:
        self.validator_set_of = validator_set_of
        self.set_size_of = set_size_of
        self.chain_id = chain_id

    def __call__(self, encoded: bytes, height: int, charge: Callable[[int], None]) -> Misbehaviour:
        evidence = _decode(encoded)
        if not 1 <= evidence.height < height:
            raise InvalidEvidence(EvidenceDefect.HEIGHT_NOT_PAST,
                                  f"votes are for height {evidence.height}, the block is {height}")
        try:
            charge(EVIDENCE_GAS_PER_SET_BYTE * self.set_size_of(evidence.height))  # before decoding it
            vset = self.validator_set_of(evidence.height)
        except LookupError:
            raise InvalidEvidence(EvidenceDefect.NO_VALIDATOR_SET, f"height {evidence.height}") from None
        validator = vset.get(evidence.validator)
        if validator is None:
            raise InvalidEvidence(EvidenceDefect.UNKNOWN_VALIDATOR, f"0x{evidence.validator.hex()}")
        try:
            evidence.verify(vset, self.chain_id)  # the shape was checked by decode: only signatures fail here
        except ConsensusError:
            raise InvalidEvidence(EvidenceDefect.BAD_SIGNATURE,
                                  f"a vote does not verify with the validator's key for chain {self.chain_id}") from None
        return Misbehaviour(evidence.validator, evidence.height, validator.pub_key, validator.power,
                            keccak(evidence.encode()))


def _decode(encoded: bytes) -> DuplicateVoteEvidence:
    if len(encoded) > MAX_EVIDENCE_BYTES:
        raise InvalidEvidence(EvidenceDefect.TOO_LARGE, f"{len(encoded)} bytes, at most {MAX_EVIDENCE_BYTES}")
    try:
        return DuplicateVoteEvidence.decode(encoded)
    except ConsensusError as exc:  # DecodeError: garbage, or not two conflicting votes of one validator
        raise InvalidEvidence(EvidenceDefect.MALFORMED, str(exc)) from None
    except Exception as exc:  # a decoder bug must revert the call, never end the node
        raise InvalidEvidence(EvidenceDefect.MALFORMED, type(exc).__name__) from None

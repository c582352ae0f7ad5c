"""Double-sign evidence as staking sees it: ``Misbehaviour`` values and the verifier interface.

Staking never decodes consensus messages. Evidence reaches it two ways:

* in a block's sidecar: the node decodes and verifies it before execution
  and hands the end-of-block hooks a ``Misbehaviour`` (``process_slashings``);
* as the bytes of ``submitEvidence(bytes)``: the contract hands them to an
  ``EvidenceVerifier`` the node supplies (execution passes it to the
  precompile), which returns the ``Misbehaviour`` or raises
  ``InvalidEvidence`` with a typed defect. Without a verifier (a bare
  execution chain) the method reverts ``"evidence verification unavailable"``.

Either way the same rule applies (``slashing.apply_evidence``), so one piece of
evidence slashes once: the first application tombstones the validator and
every later one, by transaction or sidecar, finds it tombstoned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

# The largest evidence ``submitEvidence`` accepts, checked before anything is
# decoded. A duplicate-vote evidence (two signed votes) encodes to ~253 bytes;
# the consensus decoder refuses more than 512.
MAX_EVIDENCE_BYTES = 512
# Base gas of ``submitEvidence``: decoding, two Ed25519 verifications, the
# evidence hash and a cached validator-set lookup measure 0.13 ms idle to
# 0.5 ms on a loaded machine, 4x to 10x an ecrecover (3,000 gas) measured
# alongside; 40,000 covers the worst ratio with room. The slash itself is
# charged per slot on top.
SUBMIT_EVIDENCE_GAS = 40_000


@dataclass(frozen=True)
class Misbehaviour:
    """A validator proven to have double-signed at ``height``."""

    validator: bytes  # the validator's consensus address
    height: int
    pub_key: bytes = b""  # its consensus key, as the set of ``height`` knew it
    power: int = 0  # its voting power in that set
    evidence_hash: bytes = bytes(32)  # keccak256 of the evidence's canonical encoding


class EvidenceDefect(Enum):
    """Why evidence proves nothing (the verifier's verdict); the value is the revert text's start."""

    TOO_LARGE = "evidence too large"
    MALFORMED = "malformed evidence"  # undecodable, or not two conflicting votes of one (height, round, type)
    HEIGHT_NOT_PAST = "evidence height is not a past height"
    NO_VALIDATOR_SET = "no validator set for the evidence height"
    UNKNOWN_VALIDATOR = "validator not in the set of the evidence height"
    BAD_SIGNATURE = "bad signature"  # forged, or signed for another chain id


class InvalidEvidence(Exception):
    """Raised by an ``EvidenceVerifier``: ``defect`` decides, ``detail`` explains (bounded)."""

    def __init__(self, defect: EvidenceDefect, detail: str = "") -> None:
        self.defect = defect
        self.detail = detail[:200]
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        return f"{self.defect.value}: {self.detail}" if self.detail else self.defect.value


# Gas per byte of the evidence height's stored validator set, charged by the
# verifier (``charge``) before it decodes the set: decoding takes ~4-6 us per
# validator (~70 bytes each), work the base gas does not cover for large sets.
# Deterministic: the set's encoding is canonical and the same on every node.
EVIDENCE_GAS_PER_SET_BYTE = 16

# verify(evidence, height, charge) -> Misbehaviour, for a transaction in block
# ``height``: decodes the bytes, checks the votes conflict, that their height is
# below ``height`` and that the validator was in that height's set with a valid
# signature on both for this chain; calls ``charge(gas)`` for the set it is
# about to decode (out of gas propagates). Raises InvalidEvidence for evidence that proves nothing.
EvidenceVerifier = Callable[[bytes, int, Callable[[int], None]], Misbehaviour]

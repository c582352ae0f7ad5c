"""The consensus sidecar carried next to every block: ``{round, last_commit, evidence}``.

The header's ``extra_data`` is ``keccak256(sidecar.encode())``, so the block hash
commits to the sidecar. To execution, ``last_commit`` (the encoded commit
certificate of the parent) and each ``evidence`` item (encoded double-sign
evidence) are opaque bytes; consensus and staking decode them.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack
from eth_hash.auto import keccak

from execution.errors import DecodeError

MAX_LAST_COMMIT_BYTES = 1 << 20
MAX_EVIDENCE_ITEMS = 256
MAX_EVIDENCE_BYTES = 1 << 16
MAX_ROUND = (1 << 32) - 1


@dataclass(frozen=True)
class Sidecar:
    round: int
    last_commit: bytes
    evidence: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if type(self.round) is not int or not 0 <= self.round <= MAX_ROUND:
            raise DecodeError(f"sidecar round must be an int in [0, {MAX_ROUND}], got {self.round!r}")
        if type(self.last_commit) is not bytes or len(self.last_commit) > MAX_LAST_COMMIT_BYTES:
            raise DecodeError(
                f"sidecar last_commit must be bytes of at most {MAX_LAST_COMMIT_BYTES} bytes"
            )
        if type(self.evidence) is not tuple or len(self.evidence) > MAX_EVIDENCE_ITEMS:
            raise DecodeError(
                f"sidecar evidence must be a tuple of at most {MAX_EVIDENCE_ITEMS} items"
            )
        for item in self.evidence:
            if type(item) is not bytes or len(item) > MAX_EVIDENCE_BYTES:
                raise DecodeError(
                    f"each evidence item must be bytes of at most {MAX_EVIDENCE_BYTES} bytes"
                )

    def encode(self) -> bytes:
        """Canonical msgpack: ``[round, last_commit, [evidence...]]``."""
        return msgpack.packb([self.round, self.last_commit, list(self.evidence)], use_bin_type=True)

    @property
    def hash(self) -> bytes:
        """keccak256 of the canonical encoding: the header's ``extra_data``."""
        return keccak(self.encode())

    @classmethod
    def decode(cls, data: bytes) -> Sidecar:
        """Decode and validate; raises ``DecodeError`` (only) on anything non-canonical."""
        if type(data) is not bytes:
            raise DecodeError("sidecar must be decoded from bytes")
        try:
            obj = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
        except Exception as exc:  # msgpack raises several types
            raise DecodeError(f"sidecar is not valid msgpack: {exc}") from exc
        if not isinstance(obj, list) or len(obj) != 3:
            raise DecodeError("sidecar must be a msgpack list [round, last_commit, evidence]")
        rnd, last_commit, evidence = obj
        if not isinstance(evidence, list):
            raise DecodeError("sidecar evidence must be a list of bytes")
        sidecar = cls(round=rnd, last_commit=last_commit, evidence=tuple(evidence))
        if sidecar.encode() != data:
            raise DecodeError("sidecar encoding is not canonical")
        return sidecar


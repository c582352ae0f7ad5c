"""``PlumeBlock``: an Ethereum block (py-evm Prague block) plus its consensus sidecar.

Wire/storage form: canonical msgpack ``[rlp(block), sidecar.encode()]``. The
header's ``extra_data`` must equal ``keccak256(sidecar.encode())``: that is how
the 32-byte block hash the consensus engine decides on also commits to the
sidecar. ``decode`` checks this and raises ``DecodeError`` for anything wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import msgpack
import rlp
from eth.abc import BlockHeaderAPI, SignedTransactionAPI
from eth.vm.forks.prague.blocks import PragueBlock

from execution.errors import DecodeError, truncate
from execution.rlp_limits import check_block_shape
from execution.sidecar import Sidecar
from execution.transactions import ALLOWED_TX_TYPES, tx_type

MAX_BLOCK_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class PlumeBlock:
    block: PragueBlock
    sidecar: Sidecar
    # the sidecar's canonical bytes, computed once
    _sidecar_bytes: bytes = field(init=False, repr=False, compare=False, default=b"")

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sidecar_bytes", self.sidecar.encode())

    @property
    def header(self) -> BlockHeaderAPI:
        return self.block.header

    @property
    def hash(self) -> bytes:
        return self.block.header.hash

    @property
    def number(self) -> int:
        return self.block.header.block_number

    @property
    def parent_hash(self) -> bytes:
        return self.block.header.parent_hash

    @property
    def transactions(self) -> tuple[SignedTransactionAPI, ...]:
        return tuple(self.block.transactions)

    @property
    def sidecar_bytes(self) -> bytes:
        return self._sidecar_bytes

    def sidecar_matches(self) -> bool:
        """Whether the header's extra_data is the keccak of this block's sidecar."""
        from eth_hash.auto import keccak

        return self.block.header.extra_data == keccak(self._sidecar_bytes)

    @cached_property
    def _encoded(self) -> bytes:
        return msgpack.packb([rlp.encode(self.block), self._sidecar_bytes], use_bin_type=True)

    def encode(self) -> bytes:
        return self._encoded

    @classmethod
    def decode(cls, data: bytes) -> PlumeBlock:
        """Decode and check structure and the sidecar commitment; raises ``DecodeError``."""
        if type(data) is not bytes:
            raise DecodeError("a block must be decoded from bytes")
        if len(data) > MAX_BLOCK_BYTES:
            raise DecodeError(f"block is {len(data)} bytes, the limit is {MAX_BLOCK_BYTES}")
        try:
            obj = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
        except Exception as exc:
            raise DecodeError(f"block is not valid msgpack: {exc}") from exc
        if (
            not isinstance(obj, list)
            or len(obj) != 2
            or type(obj[0]) is not bytes
            or type(obj[1]) is not bytes
        ):
            raise DecodeError("block must be a msgpack list [rlp block bytes, sidecar bytes]")
        block_rlp, sidecar_bytes = obj
        sidecar = Sidecar.decode(sidecar_bytes)
        try:
            check_block_shape(block_rlp)
            block = rlp.decode(block_rlp, sedes=PragueBlock)
        except Exception as exc:
            raise DecodeError(f"block body is not a valid RLP Prague block: {truncate(str(exc))}") from exc
        for i, tx in enumerate(block.transactions):
            if tx_type(tx) not in ALLOWED_TX_TYPES:
                raise DecodeError(f"transaction {i} has unsupported type {tx_type(tx)}")
        result = cls(block=block, sidecar=sidecar)
        if not result.sidecar_matches():
            raise DecodeError("header extra_data is not keccak256 of the block's sidecar")
        if result.encode() != data:
            raise DecodeError("block encoding is not canonical")
        return result

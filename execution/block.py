"""``PlumeBlock``: an Ethereum block (py-evm Prague block) plus its consensus sidecar.

Wire/storage form: canonical msgpack ``[rlp(block), sidecar.encode()]``. The
header's ``extra_data`` must equal ``keccak256(sidecar.encode())``: that is how
the 32-byte block hash the consensus engine decides on also commits to the
sidecar. ``decode`` checks this and raises ``DecodeError`` for anything wrong.

Decoding splits the block's RLP into its items with a linear scan and decodes
each transaction from its own bytes, unless the caller's ``known_tx`` lookup
already holds an object for exactly those bytes (the node passes its pool's):
then that object, decoded and its sender recovered at admission, is reused.
The block's bytes are rebuilt from the items and compared with what came in,
so only the canonical encoding passes (docs/execution.md, "Decoding a block").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import msgpack
import rlp
from eth.abc import BlockHeaderAPI, SignedTransactionAPI
from eth.vm.forks.prague.blocks import PragueBlock, PragueBlockHeader
from eth.vm.forks.shanghai.withdrawals import Withdrawal
from eth_hash.auto import keccak
from rlp.codec import length_prefix
from rlp.sedes import CountableList

from execution.errors import DecodeError, truncate
from execution.ordered_trie import trie_root_and_nodes_from_values
from execution.rlp_limits import block_parts, check_block_tx_shape, item_payload
from execution.sidecar import Sidecar
from execution.transactions import ALLOWED_TX_TYPES, TransactionBuilder, seed_hash, tx_type

MAX_BLOCK_BYTES = 16 * 1024 * 1024

# lookup(tx hash, the tx's exact bytes) -> an already decoded transaction with
# exactly these bytes, or None; see PlumeBlock.decode.
TxLookup = Callable[[bytes, bytes], SignedTransactionAPI | None]

# The sedes of a Prague block's other three items, as PragueBlock declares them.
_UNCLES = CountableList(None, max_length=0)
_WITHDRAWALS = CountableList(Withdrawal)
_LIST_OFFSET = 0xC0  # RLP's list prefix base
_STRING_OFFSET = 0x80


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

    @cached_property
    def tx_encodings(self) -> tuple[bytes, ...]:
        """Each transaction's canonical bytes (its hash is their keccak); the wire's when decoded."""
        return tuple(tx.encode() for tx in self.block.transactions)

    @cached_property
    def tx_hashes(self) -> tuple[bytes, ...]:
        return tuple(keccak(raw) for raw in self.tx_encodings)

    @cached_property
    def transactions_trie(self) -> tuple[bytes, dict[bytes, bytes]]:
        """(root, nodes) of the block's transaction trie, computed once per block object.

        Shared by whoever checks or stores it; callers must not modify the nodes.
        """
        return trie_root_and_nodes_from_values(self.tx_encodings)

    @classmethod
    def decode(cls, data: bytes, *, known_tx: TxLookup | None = None) -> PlumeBlock:
        """Decode and check structure and the sidecar commitment; raises ``DecodeError``.

        ``known_tx(tx_hash, raw)`` may return an already decoded transaction
        whose bytes are exactly ``raw``; it is used instead of decoding ``raw``
        again. It must never return an object for other bytes.
        """
        block_rlp, sidecar_bytes = _unpack(data)
        sidecar = Sidecar.decode(sidecar_bytes)
        try:
            block, tx_raws, tx_hashes = _decode_block_rlp(block_rlp, known_tx)
        except DecodeError:
            raise
        except Exception as exc:
            raise DecodeError(f"block body is not a valid RLP Prague block: {truncate(str(exc))}") from exc
        result = cls(block=block, sidecar=sidecar)
        if not result.sidecar_matches():
            raise DecodeError("header extra_data is not keccak256 of the block's sidecar")
        # The RLP was checked canonical item by item; this checks the msgpack
        # frame and the sidecar's bytes (sidecar_bytes is the sidecar re-encoded).
        if msgpack.packb([block_rlp, result.sidecar_bytes], use_bin_type=True) != data:
            raise DecodeError("block encoding is not canonical")
        block._cached_rlp = block_rlp  # what rlp.decode would leave: encode() is these bytes
        result.__dict__.update(_encoded=data, tx_encodings=tx_raws, tx_hashes=tx_hashes)
        return result


def _unpack(data: bytes) -> tuple[bytes, bytes]:
    """The msgpack frame's two byte strings: (block RLP, sidecar bytes)."""
    if type(data) is not bytes:
        raise DecodeError("a block must be decoded from bytes")
    if len(data) > MAX_BLOCK_BYTES:
        raise DecodeError(f"block is {len(data)} bytes, the limit is {MAX_BLOCK_BYTES}")
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
    except Exception as exc:
        raise DecodeError(f"block is not valid msgpack: {exc}") from exc
    if not isinstance(obj, list) or len(obj) != 2 or type(obj[0]) is not bytes or type(obj[1]) is not bytes:
        raise DecodeError("block must be a msgpack list [rlp block bytes, sidecar bytes]")
    return obj[0], obj[1]


def _decode_block_rlp(
    block_rlp: bytes, known_tx: TxLookup | None
) -> tuple[PragueBlock, tuple[bytes, ...], tuple[bytes, ...]]:
    """The Prague block in ``block_rlp``, its transactions' bytes and hashes.

    The header, uncles and withdrawals are decoded by pyrlp (strict: canonical
    length prefixes, minimal integers, nothing trailing); each transaction by
    ``_block_transaction``. The block's bytes are then rebuilt from the items
    and must equal ``block_rlp``: that checks the list prefixes around them,
    the string prefixes of the typed transactions and that nothing trails.
    """
    parts, tx_items = block_parts(block_rlp)
    header_rlp, _txs, uncles_rlp, withdrawals_rlp = (bytes(part) for part in parts)
    header = rlp.decode(header_rlp, sedes=PragueBlockHeader)
    uncles = rlp.decode(uncles_rlp, sedes=_UNCLES)
    withdrawals = rlp.decode(withdrawals_rlp, sedes=_WITHDRAWALS)
    txs, raws, hashes, items = [], [], [], []
    for index, item in enumerate(tx_items):
        raw, is_typed = _transaction_bytes(item, index)
        tx_hash = keccak(raw)
        txs.append(_block_transaction(item, raw, tx_hash, index, known_tx))
        raws.append(raw)
        hashes.append(tx_hash)
        items.append(rlp.encode(raw) if is_typed else raw)
    if _rlp_list([header_rlp, _rlp_list(items), uncles_rlp, withdrawals_rlp]) != block_rlp:
        raise DecodeError("block encoding is not canonical")
    block = PragueBlock(header, transactions=txs, uncles=uncles, withdrawals=withdrawals)
    return block, tuple(raws), tuple(hashes)


def _transaction_bytes(item: memoryview, index: int) -> tuple[bytes, bool]:
    """(the tx's own bytes, typed?) of one item of a block's transaction list.

    A legacy transaction is an RLP list in the block, its bytes are the item;
    a typed one is an RLP string holding type byte + payload (EIP-2718).
    """
    payload, is_list = item_payload(item)
    if is_list:
        return bytes(item), False
    if item[0] < _STRING_OFFSET or not payload or payload[0] >= _STRING_OFFSET:
        raise DecodeError(f"transaction {index} is neither an RLP list nor a typed envelope")
    return bytes(payload), True


def _block_transaction(
    item: memoryview, raw: bytes, tx_hash: bytes, index: int, known_tx: TxLookup | None
) -> SignedTransactionAPI:
    """The transaction whose bytes are ``raw``: the lookup's object, else decoded here.

    The lookup's object was decoded from these very bytes once, so neither
    their shape nor their encoding needs checking again.
    """
    tx = known_tx(tx_hash, raw) if known_tx is not None else None
    if tx is None:
        check_block_tx_shape(item)  # bounded before pyrlp recurses into it
        # pyrlp decodes strictly (canonical prefixes, minimal integers, no
        # trailing bytes), so these bytes are the tx's one encoding.
        tx = TransactionBuilder.decode(raw)
        seed_hash(tx, tx_hash)
    if tx_type(tx) not in ALLOWED_TX_TYPES:
        raise DecodeError(f"transaction {index} has unsupported type {tx_type(tx)}")
    return tx


def _rlp_list(encoded_items: list[bytes]) -> bytes:
    """The RLP list of items given already encoded (canonical prefix)."""
    payload = b"".join(encoded_items)
    return length_prefix(len(payload), _LIST_OFFSET) + payload

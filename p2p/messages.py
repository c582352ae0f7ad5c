"""The p2p wire messages: frozen dataclasses in canonical msgpack.

Owns the message catalogue and its validation. Every message encodes as one
msgpack array ``[type_tag, field1, field2, ...]`` with fields in declaration
order, ints and bytes only (plus short UTF-8 strings for the chain id, node
id and disconnect reasons). The protocol version travels in `Hello`, the
first message of every connection; peers with another version are refused,
so every later message is read under the version both sides agreed on.

`decode_message(data)` validates types, ranges and sizes, insists on the
canonical encoding (re-encoding must give the same bytes) and raises
`MessageError` and nothing else, whatever the bytes. Blocks, votes,
proposals, transactions and certificates are opaque bytes here; p2p imports
nothing else of Plume's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import msgpack

from p2p.errors import MessageError, describe
from p2p.framing import DEFAULT_MAX_MESSAGE_BYTES

# Version 2 added `TxBatch`; a version-1 node would ban a peer for its unknown
# tag, so versions are not mixed on one connection (see docs/networking.md).
PROTOCOL_VERSION = 2
MAX_UINT64 = 2**64 - 1
MAX_CHAIN_ID_LEN = 64
MAX_REASON_LEN = 256
MAX_BLOCKS_PER_REQUEST = 128
# One `TxBatch`: at most this many transactions and raw bytes (summed over the
# transactions), well below the default message cap of 8 MiB.
MAX_TXS_PER_BATCH = 256
MAX_TX_BATCH_BYTES = 1024 * 1024

# Field kinds (checked on encode and decode).
_UINT = "uint"  # 0 .. 2**64-1
_PORT = "port"  # 0 .. 65535 (0 = not listening)
_BYTES = "bytes"  # any length up to the message cap
_HASH32 = "hash32"  # exactly 32 bytes
_NODE_ID = "node_id"  # 40 lowercase hex characters
_CHAIN_ID = "chain_id"  # 1..64 character string
_REASON = "reason"  # 0..256 character string
_COUNT = "count"  # 1 .. MAX_BLOCKS_PER_REQUEST
_BLOCKS = "blocks"  # up to MAX_BLOCKS_PER_REQUEST (block bytes, certificate bytes) pairs
_TXS = "txs"  # 1..MAX_TXS_PER_BATCH non-empty byte strings, MAX_TX_BATCH_BYTES in all


def _check(kind: str, name: str, value: Any) -> Any:
    """Validate one field; return it normalised (lists of pairs become tuples)."""

    def fail(why: str) -> MessageError:
        return MessageError(f"field {name!r}: {why}")

    if kind in (_UINT, _PORT, _COUNT):
        # bool is an int subclass in Python; it is not a valid field value.
        if type(value) is not int:
            raise fail(f"expected int, got {type(value).__name__}")
        hi = {_UINT: MAX_UINT64, _PORT: 65535, _COUNT: MAX_BLOCKS_PER_REQUEST}[kind]
        lo = 1 if kind == _COUNT else 0
        if not lo <= value <= hi:
            raise fail(f"{value} outside {lo}..{hi}")
        return value
    if kind in (_BYTES, _HASH32):
        if type(value) is not bytes:
            raise fail(f"expected bytes, got {type(value).__name__}")
        if kind == _HASH32 and len(value) != 32:
            raise fail(f"expected 32 bytes, got {len(value)}")
        return value
    if kind in (_NODE_ID, _CHAIN_ID, _REASON):
        if type(value) is not str:
            raise fail(f"expected str, got {type(value).__name__}")
        if kind == _NODE_ID:
            if len(value) != 40 or any(c not in "0123456789abcdef" for c in value):
                raise fail("expected 40 lowercase hex characters")
        elif kind == _CHAIN_ID:
            if not 1 <= len(value) <= MAX_CHAIN_ID_LEN:
                raise fail(f"length {len(value)} outside 1..{MAX_CHAIN_ID_LEN}")
        elif len(value) > MAX_REASON_LEN:
            raise fail(f"longer than {MAX_REASON_LEN} characters")
        return value
    if kind == _BLOCKS:
        if not isinstance(value, (list, tuple)):
            raise fail(f"expected a sequence, got {type(value).__name__}")
        if len(value) > MAX_BLOCKS_PER_REQUEST:
            raise fail(f"{len(value)} entries, at most {MAX_BLOCKS_PER_REQUEST}")
        out = []
        for i, entry in enumerate(value):
            if (
                not isinstance(entry, (list, tuple))
                or len(entry) != 2
                or type(entry[0]) is not bytes
                or type(entry[1]) is not bytes
            ):
                raise fail(f"entry {i} is not a (block bytes, certificate bytes) pair")
            out.append((entry[0], entry[1]))
        return tuple(out)
    if kind == _TXS:
        return _check_txs(value, fail)
    raise AssertionError(f"unknown field kind {kind}")


def _check_txs(value: Any, fail) -> tuple[bytes, ...]:
    """A batch's transactions: count and total bytes bounded, none empty."""
    if not isinstance(value, (list, tuple)):
        raise fail(f"expected a sequence, got {type(value).__name__}")
    if not 1 <= len(value) <= MAX_TXS_PER_BATCH:
        raise fail(f"{len(value)} transactions, expected 1..{MAX_TXS_PER_BATCH}")
    total = 0
    for i, raw in enumerate(value):
        if type(raw) is not bytes or not raw:
            raise fail(f"entry {i} is not a non-empty byte string")
        total += len(raw)
    if total > MAX_TX_BATCH_BYTES:
        raise fail(f"{total} bytes of transactions, at most {MAX_TX_BATCH_BYTES}")
    return tuple(value)


class Message:
    """Base of all p2p messages. Subclasses are frozen dataclasses with a
    unique `TAG` and a `_KINDS` tuple giving each field's kind."""

    TAG: ClassVar[int]
    _KINDS: ClassVar[tuple[str, ...]]

    def __post_init__(self) -> None:
        for f, kind in zip(fields(self), self._KINDS, strict=True):  # type: ignore[arg-type]
            object.__setattr__(self, f.name, _check(kind, f.name, getattr(self, f.name)))

    def _values(self) -> list[Any]:
        out: list[Any] = []
        for f, kind in zip(fields(self), self._KINDS):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if kind == _BLOCKS:
                v = [list(p) for p in v]
            elif kind == _TXS:
                v = list(v)
            out.append(v)
        return out

    def encode(self) -> bytes:
        return msgpack.packb([self.TAG, *self._values()], use_bin_type=True)

    @classmethod
    def decode(cls, data: bytes, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> "Message":
        msg = decode_message(data, max_bytes)
        if not isinstance(msg, cls):
            raise MessageError(f"expected {cls.__name__}, got {type(msg).__name__}")
        return msg

    def hash(self) -> bytes:
        return message_hash(self.encode())


@dataclass(frozen=True)
class Hello(Message):
    """First message on every connection, both ways, right after the handshake."""

    TAG: ClassVar[int] = 1
    _KINDS: ClassVar[tuple[str, ...]] = (_UINT, _CHAIN_ID, _HASH32, _NODE_ID, _PORT, _UINT)
    protocol_version: int
    chain_id: str
    genesis_hash: bytes
    node_id: str
    listen_port: int
    height: int


@dataclass(frozen=True)
class Status(Message):
    """The sender's consensus position; updates `PeerInfo.height`."""

    TAG: ClassVar[int] = 2
    _KINDS: ClassVar[tuple[str, ...]] = (_UINT, _UINT)
    height: int
    round: int


@dataclass(frozen=True)
class Tx(Message):
    TAG: ClassVar[int] = 3
    _KINDS: ClassVar[tuple[str, ...]] = (_BYTES,)
    tx: bytes


@dataclass(frozen=True)
class TxBatch(Message):
    """Raw transactions, relayed together (see MAX_TXS_PER_BATCH, MAX_TX_BATCH_BYTES).

    Composed per peer (only what that peer is not known to have), so it is
    not deduplicated by message hash like the other gossip: the node keeps
    per-peer known transaction hashes instead."""

    TAG: ClassVar[int] = 12
    _KINDS: ClassVar[tuple[str, ...]] = (_TXS,)
    txs: tuple[bytes, ...]


@dataclass(frozen=True)
class Proposal(Message):
    TAG: ClassVar[int] = 4
    _KINDS: ClassVar[tuple[str, ...]] = (_BYTES, _BYTES)
    proposal: bytes
    block: bytes


@dataclass(frozen=True)
class Vote(Message):
    TAG: ClassVar[int] = 5
    _KINDS: ClassVar[tuple[str, ...]] = (_BYTES,)
    vote: bytes


@dataclass(frozen=True)
class Evidence(Message):
    TAG: ClassVar[int] = 6
    _KINDS: ClassVar[tuple[str, ...]] = (_BYTES,)
    evidence: bytes


@dataclass(frozen=True)
class BlockRequest(Message):
    """Ask for `count` committed blocks from `start_height` on."""

    TAG: ClassVar[int] = 7
    _KINDS: ClassVar[tuple[str, ...]] = (_UINT, _COUNT)
    start_height: int
    count: int


@dataclass(frozen=True)
class BlockResponse(Message):
    """Consecutive committed blocks, each with its commit certificate."""

    TAG: ClassVar[int] = 8
    _KINDS: ClassVar[tuple[str, ...]] = (_BLOCKS,)
    blocks: tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True)
class Ping(Message):
    """Keep-alive; answered by the transport with a Pong of the same nonce."""

    TAG: ClassVar[int] = 9
    _KINDS: ClassVar[tuple[str, ...]] = (_UINT,)
    nonce: int


@dataclass(frozen=True)
class Pong(Message):
    TAG: ClassVar[int] = 10
    _KINDS: ClassVar[tuple[str, ...]] = (_UINT,)
    nonce: int


@dataclass(frozen=True)
class Disconnect(Message):
    """Sent before closing on purpose, so the other side can log why."""

    TAG: ClassVar[int] = 11
    _KINDS: ClassVar[tuple[str, ...]] = (_REASON,)
    reason: str


MESSAGE_TYPES: dict[int, type[Message]] = {
    cls.TAG: cls
    for cls in (Hello, Status, Tx, Proposal, Vote, Evidence, BlockRequest, BlockResponse, Ping, Pong, Disconnect, TxBatch)
}
# Messages that flood the network: deduplicated by hash and never echoed back.
GOSSIP_TYPES: tuple[type[Message], ...] = (Tx, Proposal, Vote, Evidence)


def message_hash(encoded: bytes) -> bytes:
    """The dedup key of an encoded message."""
    return hashlib.sha256(encoded).digest()


def decode_message(data: bytes, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Message:
    """Decode and validate any p2p message. Raises only `MessageError`."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MessageError("message must be bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise MessageError(f"message of {len(data)} bytes exceeds {max_bytes}")
    try:
        obj = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_map_len=0,  # no maps anywhere in the protocol
            max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises many unrelated types on garbage
        raise MessageError(f"not a msgpack value: {type(exc).__name__}: {exc}") from None
    if not isinstance(obj, list) or not obj:
        raise MessageError("message must be a non-empty msgpack array")
    tag = obj[0]
    if type(tag) is not int or tag not in MESSAGE_TYPES:
        raise MessageError(f"unknown message type tag {describe(tag)}")
    cls = MESSAGE_TYPES[tag]
    if len(obj) - 1 != len(cls._KINDS):
        raise MessageError(f"{cls.__name__} has {len(cls._KINDS)} fields, got {len(obj) - 1}")
    try:
        msg = cls(*obj[1:])
    except MessageError:
        raise
    except Exception as exc:  # defensive: a field we failed to anticipate
        raise MessageError(f"invalid {cls.__name__}: {exc}") from None
    if msg.encode() != data:
        raise MessageError(f"{cls.__name__} is not canonically encoded")
    return msg

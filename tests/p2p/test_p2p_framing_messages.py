"""Framing round-trips and caps, message encode/decode, decoder robustness."""

from __future__ import annotations

import struct

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2p.errors import DecryptError, FramingError, MessageError
from p2p.framing import MAX_CHUNK_PLAINTEXT, FrameBuffer, MessageDecoder, MessageEncoder, encode_frame
from p2p.messages import (
    MAX_BLOCKS_PER_REQUEST,
    MAX_TX_BATCH_BYTES,
    MAX_TXS_PER_BATCH,
    MESSAGE_TYPES,
    BlockRequest,
    BlockResponse,
    Disconnect,
    Evidence,
    Hello,
    Message,
    Ping,
    Pong,
    Proposal,
    Status,
    Tx,
    TxBatch,
    Vote,
    decode_message,
)
from p2p.noise import CipherState

KEY = b"\x07" * 32


def _pair(cap: int = 1 << 20) -> tuple[MessageEncoder, MessageDecoder]:
    return MessageEncoder(CipherState(KEY), cap), MessageDecoder(CipherState(KEY), cap)


# ---------------------------------------------------------------- framing


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=3 * MAX_CHUNK_PLAINTEXT), min_size=1, max_size=4), st.integers(1, 70000))
def test_messages_round_trip_through_arbitrary_tcp_splits(messages: list[bytes], cut: int) -> None:
    enc, dec = _pair()
    wire = b"".join(enc.encode(m) for m in messages)
    got: list[bytes] = []
    for i in range(0, len(wire), cut):
        got += dec.feed(wire[i : i + cut])
    assert got == messages


def test_large_message_is_split_into_noise_sized_frames() -> None:
    enc, _ = _pair()
    wire = enc.encode(b"z" * (2 * MAX_CHUNK_PLAINTEXT + 10))
    buf = FrameBuffer()
    buf.feed(wire)
    sizes = []
    while (f := buf.next_frame()) is not None:
        sizes.append(len(f))
    assert len(sizes) == 3 and max(sizes) == 65535


def test_oversized_message_rejected_on_first_frame() -> None:
    enc, _ = _pair(cap=10_000_000)
    _, dec = _pair(cap=100_000)
    wire = enc.encode(b"a" * 200_000)
    first_frame = wire[: 2 + 65535]
    with pytest.raises(FramingError, match="exceeds the cap"):
        dec.feed(first_frame)


def test_sender_refuses_oversized_and_empty() -> None:
    enc, _ = _pair(cap=100)
    with pytest.raises(FramingError):
        enc.encode(b"a" * 101)
    with pytest.raises(FramingError):
        enc.encode(b"")
    with pytest.raises(FramingError):
        encode_frame(b"x" * 65536)


def test_replayed_frame_fails_authentication() -> None:
    enc, dec = _pair()
    frame = enc.encode(b"vote")
    assert dec.feed(frame) == [b"vote"]
    with pytest.raises(DecryptError):
        dec.feed(frame)


def test_reordered_frames_fail_authentication() -> None:
    enc, dec = _pair()
    f1, f2 = enc.encode(b"one"), enc.encode(b"two")
    with pytest.raises(DecryptError):
        dec.feed(f2 + f1)


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(0, 10_000))
def test_flipped_bit_fails_authentication(message: bytes, pos: int) -> None:
    enc, dec = _pair()
    wire = bytearray(enc.encode(message))
    pos = 2 + pos % (len(wire) - 2)  # anywhere after the length prefix
    wire[pos] ^= 0x01
    with pytest.raises(DecryptError):
        dec.feed(bytes(wire))


def test_empty_and_short_frames_rejected() -> None:
    _, dec = _pair()
    with pytest.raises(FramingError):
        dec.feed(b"\x00\x00")
    _, dec = _pair()
    with pytest.raises(FramingError):
        dec.feed(b"\x00\x03abc")


def test_empty_message_rejected() -> None:
    c = CipherState(KEY)
    _, dec = _pair()
    with pytest.raises(FramingError):
        dec.feed(encode_frame(c.encrypt_with_ad(b"", struct.pack(">I", 0))))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_decoder_on_garbage_raises_only_p2p_errors(data: bytes) -> None:
    _, dec = _pair()
    try:
        dec.feed(data)
    except (FramingError, DecryptError):
        pass


# ---------------------------------------------------------------- messages

u64 = st.integers(0, 2**64 - 1)
node_ids = st.binary(min_size=20, max_size=20).map(bytes.hex)
blobs = st.binary(max_size=200)

MESSAGES = st.one_of(
    st.builds(
        Hello,
        u64,
        st.text(min_size=1, max_size=64),
        st.binary(min_size=32, max_size=32),
        node_ids,
        st.integers(0, 65535),
        u64,
    ),
    st.builds(Status, u64, u64),
    st.builds(Tx, blobs),
    st.builds(Proposal, blobs, blobs),
    st.builds(Vote, blobs),
    st.builds(Evidence, blobs),
    st.builds(BlockRequest, u64, st.integers(1, MAX_BLOCKS_PER_REQUEST)),
    st.builds(BlockResponse, st.lists(st.tuples(blobs, blobs), max_size=5).map(tuple)),
    st.builds(Ping, u64),
    st.builds(Pong, u64),
    st.builds(Disconnect, st.text(max_size=256)),
    st.builds(TxBatch, st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=20).map(tuple)),
)


@settings(max_examples=300, deadline=None)
@given(MESSAGES)
def test_every_message_round_trips(msg: Message) -> None:
    data = msg.encode()
    assert decode_message(data) == msg
    assert type(msg).decode(data) == msg
    assert msgpack.unpackb(data)[0] == msg.TAG


def test_every_message_type_is_covered_by_the_strategy() -> None:
    covered = {Hello, Status, Tx, Proposal, Vote, Evidence, BlockRequest, BlockResponse, Ping, Pong, Disconnect, TxBatch}
    assert set(MESSAGE_TYPES.values()) == covered
    assert len(MESSAGE_TYPES) == len(covered)  # tags are unique


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_decode_arbitrary_bytes_raises_only_message_error(data: bytes) -> None:
    try:
        decode_message(data)
    except MessageError:
        pass


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.binary(max_size=40)
    | st.text(max_size=40)
    | st.binary(min_size=32, max_size=32)
    | st.binary(min_size=20, max_size=20).map(bytes.hex)
)
msgpack_values = _scalars | st.lists(_scalars | st.lists(_scalars, max_size=3), max_size=4) | st.dictionaries(st.text(max_size=5), _scalars, max_size=2)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 13), st.lists(msgpack_values, max_size=7))
def test_decode_structured_garbage_raises_only_message_error(tag: int, body: list) -> None:
    data = msgpack.packb([tag, *body], use_bin_type=True)
    try:
        msg = decode_message(data)
    except MessageError:
        return
    assert msg.encode() == data


@pytest.mark.parametrize(
    "fields, why",
    [
        ([1, -1, "c", b"g" * 32, "ab" * 20, 1, 0], "negative"),
        ([1, 1, "", b"g" * 32, "ab" * 20, 1, 0], "empty chain id"),
        ([1, 1, "c", b"g" * 31, "ab" * 20, 1, 0], "short genesis"),
        ([1, 1, "c", b"g" * 32, "AB" * 20, 1, 0], "uppercase node id"),
        ([1, 1, "c", b"g" * 32, "ab" * 20, 70000, 0], "port"),
        ([1, True, "c", b"g" * 32, "ab" * 20, 1, 0], "bool as int"),
        ([2, 1], "missing field"),
        ([3, "text"], "str as bytes"),
        ([7, 0, 0], "zero count"),
        ([7, 0, MAX_BLOCKS_PER_REQUEST + 1], "count too large"),
        ([8, [[b"b"]]], "pair without certificate"),
        ([12, []], "empty transaction batch"),
        ([12, [b"tx", b""]], "empty transaction in a batch"),
        ([12, [b"tx", "text"]], "str as a transaction"),
        ([12, [b"tx", [b"nested"]]], "nested list as a transaction"),
        ([12, b"tx"], "bytes instead of a list of transactions"),
        ([12, [b"t"] * (MAX_TXS_PER_BATCH + 1)], "too many transactions"),
        ([12, [b"t" * (MAX_TX_BATCH_BYTES // 2 + 1)] * 2], "too many transaction bytes"),
        ([99], "unknown tag"),
    ],
)
def test_invalid_fields_rejected(fields: list, why: str) -> None:
    with pytest.raises(MessageError):
        decode_message(msgpack.packb(fields, use_bin_type=True))


def test_non_canonical_encoding_rejected() -> None:
    canonical = Status(1, 2).encode()
    # Same values, but the height as a uint64 instead of a fixint.
    padded = b"\x93\x02\xcf" + (1).to_bytes(8, "big") + b"\x02"
    assert msgpack.unpackb(padded) == msgpack.unpackb(canonical)
    with pytest.raises(MessageError, match="canonical"):
        decode_message(padded)


def test_construction_validates_too() -> None:
    with pytest.raises(MessageError):
        Tx("not bytes")  # type: ignore[arg-type]
    with pytest.raises(MessageError):
        Status(-1, 0)


def test_decode_as_wrong_type_and_size_cap() -> None:
    with pytest.raises(MessageError):
        Vote.decode(Tx(b"x").encode())
    with pytest.raises(MessageError):
        decode_message(Tx(b"x" * 100).encode(), max_bytes=50)


def test_tx_batch_limits_are_inclusive_and_below_the_message_cap() -> None:
    full = TxBatch(tuple(i.to_bytes(4, "big") for i in range(MAX_TXS_PER_BATCH)))
    assert decode_message(full.encode()) == full
    heaviest = TxBatch((b"t" * (MAX_TX_BATCH_BYTES // 2),) * 2)
    assert decode_message(heaviest.encode()) == heaviest
    assert len(heaviest.encode()) < 8 * 1024 * 1024  # P2PConfig's default max_message_bytes
    with pytest.raises(MessageError, match="transactions"):
        TxBatch(())  # construction checks the bounds too

"""Decoding a block once per node: the pool's transactions reused, the rest decoded from the block.

Real py-evm chains (in memory), a real `Mempool`, real signatures. A proposer
chain builds the block; a second chain with the same genesis plays the
validating node, with its own pool. `PlumeBlock.decode(data, known_tx=...)`
must reuse a pooled object only for the very same bytes, refuse every
non-canonical encoding whichever transactions are known, and the validating
path must recover each sender once per process, all before the EVM loop.
"""

from __future__ import annotations

import functools

import msgpack
import pytest
import rlp
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague.blocks import PragueBlock
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from rlp.codec import length_prefix

import execution.transactions as txmod
from execution.block import PlumeBlock
from execution.chain import PlumeChain
from execution.errors import DecodeError, InvalidBlock
from execution.mempool import Mempool
from execution.rlp_limits import list_items
from execution.transactions import decode_transaction
from execution.vm import PlumeTransactionExecutor
from plume_exec_helpers import CHAIN_ID, COINBASE, GWEI, SINK, HeadState, deep_list, make_genesis, sidecar, signed_raw

# One of each accepted type (EIP-1559, legacy, EIP-2930), from three senders.
MIXED = ((0, 0, 2), (1, 0, 0), (2, 0, 1), (0, 1, 2), (1, 1, 0), (3, 0, 2))


def _raws(spec=MIXED) -> list[bytes]:
    return [signed_raw(who, nonce, kind=kind, value=7) for who, nonce, kind in spec]


def _chain() -> PlumeChain:
    return PlumeChain(AtomicDB(), make_genesis())


def _built(raws: list[bytes]) -> bytes:
    """The bytes of block 1 holding exactly ``raws``, built by another chain."""
    proposer = _chain()
    result = proposer.build_block(
        [decode_transaction(r) for r in raws], timestamp=proposer.head.timestamp + 1,
        coinbase=COINBASE, sidecar=sidecar(),
    )
    assert len(result.included) == len(raws), result.rejected
    return result.block.encode()


def _pool(chain: PlumeChain, raws: list[bytes]) -> Mempool:
    pool = Mempool(CHAIN_ID)
    for raw in raws:
        pool.add_raw(raw, HeadState(chain), chain.next_base_fee(), 0.0)
    return pool


def _rlp_list(items: list[bytes]) -> bytes:
    payload = b"".join(items)
    return length_prefix(len(payload), 0xC0) + payload


@functools.lru_cache(maxsize=None)
def _mixed_block() -> bytes:
    return _built(_raws())


@pytest.mark.parametrize("change", [{"value": 2}, {"max_fee": 200 * GWEI}, {"kind": 0}, {"to": COINBASE}])
def test_a_pooled_twin_with_other_bytes_is_not_used(change) -> None:
    # Same sender and nonce as the pooled tx, other bytes (signed by the same key):
    # the block's own transaction is decoded and executed, not the pool's.
    in_block, pooled = signed_raw(0, 0, **{"value": 1, **change}), signed_raw(0, 0, value=1)
    assert in_block != pooled
    data = _built([in_block])
    validator = _chain()
    pool = _pool(validator, [pooled])
    block = PlumeBlock.decode(data, known_tx=pool.known_tx)
    (tx,) = block.transactions
    assert tx is not pool.get(keccak(pooled))
    assert tx.encode() == in_block and block.tx_hashes == (keccak(in_block),)
    validator.validate_block(block)
    validator.commit(block)
    receiver = change.get("to", SINK)
    assert validator.state_at().balance(receiver) >= change.get("value", 1)
    if receiver == SINK:
        assert validator.state_at().balance(SINK) == change.get("value", 1)  # what the block says
    stored, _number, _index = validator.get_transaction(keccak(in_block))
    assert stored.encode() == in_block


def test_a_known_transactions_bytes_altered_in_the_block_are_refused() -> None:
    raw = signed_raw(0, 0, value=1)
    altered = signed_raw(0, 0, value=3)  # valid, same length, another hash
    assert len(altered) == len(raw)
    data = _built([raw])
    tampered = data.replace(raw, altered)  # the header still commits to `raw`
    assert tampered != data and len(tampered) == len(data)
    validator = _chain()
    pool = _pool(validator, [raw])
    assert pool.known_tx(keccak(raw), altered) is None  # the bytes are compared, not just the hash
    block = PlumeBlock.decode(tampered, known_tx=pool.known_tx)
    assert block.transactions[0] is not pool.get(keccak(raw))
    assert block.transactions_trie[0] != block.header.transaction_root
    with pytest.raises(InvalidBlock, match="transactions root mismatch"):
        validator.validate_block(block)


def test_a_block_of_pooled_transactions_reuses_the_pools_objects_and_validates() -> None:
    raws = _raws()
    data = _mixed_block()
    validator = _chain()
    pool = _pool(validator, raws)
    block = PlumeBlock.decode(data, known_tx=pool.known_tx)
    assert all(tx is pool.get(keccak(r)) for tx, r in zip(block.transactions, raws, strict=True))
    assert block.encode() == data
    validator.validate_block(block)
    validator.commit(block)
    assert validator.head.hash == block.hash


@settings(max_examples=40, deadline=None)
@given(mask=st.lists(st.booleans(), min_size=len(MIXED), max_size=len(MIXED)))
def test_decode_round_trips_with_any_subset_of_transactions_known(mask) -> None:
    raws, data = _raws(), _mixed_block()
    known = {keccak(r): (r, decode_transaction(r)) for r, k in zip(raws, mask) if k}
    asked = []

    def lookup(tx_hash: bytes, raw: bytes):
        asked.append(tx_hash)
        entry = known.get(tx_hash)
        return entry[1] if entry is not None and entry[0] == raw else None

    block = PlumeBlock.decode(data, known_tx=lookup)
    block_rlp = msgpack.unpackb(data)[0]
    reference = rlp.decode(block_rlp, sedes=PragueBlock)  # py-evm's own decoding
    assert block.block == reference and block.hash == reference.header.hash
    assert block.encode() == data
    assert asked == [keccak(r) for r in raws]  # each looked up once, in order
    for tx, raw, k in zip(block.transactions, raws, mask, strict=True):
        assert (tx is known[keccak(raw)][1]) if k else (keccak(raw) not in known)
    assert block.tx_hashes == tuple(keccak(r) for r in raws) == tuple(tx.hash for tx in block.transactions)
    assert block.transactions_trie[0] == block.header.transaction_root
    block.block._cached_rlp = None  # re-encoded from the objects, not from the input
    assert rlp.encode(block.block) == block_rlp


def _non_canonical_variants(data: bytes) -> dict[str, bytes]:
    """The same block spelled in other ways RLP or msgpack could decode."""
    block_rlp, sidecar_bytes = msgpack.unpackb(data)
    header, txs, uncles, withdrawals = (bytes(p) for p in list_items(block_rlp))
    tx_items = [bytes(t) for t in list_items(txs)]
    assert data[1] == 0xC5 and len(block_rlp) > 255 and tx_items[0][0] == 0xB8 and tx_items[1][0] == 0xF8

    def frame(body: bytes) -> bytes:
        return msgpack.packb([body, sidecar_bytes], use_bin_type=True)

    def with_tx(index: int, item: bytes) -> bytes:
        items = tx_items[:index] + [item] + tx_items[index + 1:]
        return frame(_rlp_list([header, _rlp_list(items), uncles, withdrawals]))

    payload_size = len(block_rlp) - 3  # the block's prefix is 0xf9 + 2 length bytes
    typed, legacy = tx_items[0], tx_items[1]
    return {
        "outer length with a leading zero": frame(b"\xfa\x00" + block_rlp[1:]),
        "byte after the block": frame(block_rlp + b"\x80"),
        "outer length too long": frame(b"\xf9" + (payload_size + 1).to_bytes(2, "big") + block_rlp[3:] + b"\x80"),
        "typed tx in a long-form string prefix": with_tx(0, b"\xb9\x00" + typed[1:]),
        "legacy tx in a long-form list prefix": with_tx(1, b"\xf9\x00" + legacy[1:]),
        "typed tx wrapped in a list": with_tx(0, _rlp_list([typed])),
        "block in a msgpack bin32 where bin16 fits": b"\x92\xc6" + len(block_rlp).to_bytes(4, "big") + data[4:],
    }


@pytest.mark.parametrize("pooled", [False, True], ids=["nothing-known", "all-known"])
def test_every_non_canonical_spelling_is_refused(pooled) -> None:
    raws, data = _raws(), _mixed_block()
    lookup = _pool(_chain(), raws).known_tx if pooled else None
    assert PlumeBlock.decode(data, known_tx=lookup).encode() == data
    for name, variant in _non_canonical_variants(data).items():
        assert variant != data, name
        with pytest.raises(DecodeError):
            PlumeBlock.decode(variant, known_tx=lookup)
            pytest.fail(f"accepted: {name}")


@pytest.mark.parametrize("where", ["legacy tx", "typed tx", "uncles", "withdrawals", "header"])
def test_deep_nesting_anywhere_in_a_block_is_refused_before_pyrlp_recurses(where) -> None:
    data = _mixed_block()
    block_rlp, sidecar_bytes = msgpack.unpackb(data)
    parts = [bytes(p) for p in list_items(block_rlp)]
    deep = deep_list(20_000)
    if where in ("legacy tx", "typed tx"):
        tx = deep if where == "legacy tx" else rlp.encode(b"\x02" + deep)
        parts[1] = _rlp_list([bytes(t) for t in list_items(parts[1])] + [tx])
    else:
        index = {"header": 0, "uncles": 2, "withdrawals": 3}[where]
        parts[index] = _rlp_list([deep])
    evil = msgpack.packb([_rlp_list(parts), sidecar_bytes], use_bin_type=True)
    lookup = _pool(_chain(), _raws()).known_tx
    with pytest.raises(DecodeError, match="deeper than"):
        PlumeBlock.decode(evil, known_tx=lookup)


def _spy_recoveries(monkeypatch, events: list[str]) -> None:
    original = txmod.recover_uncached

    def recover_uncached(tx):
        events.append("recover")
        return original(tx)

    monkeypatch.setattr(txmod, "recover_uncached", recover_uncached)


def test_each_sender_is_recovered_once_per_process(monkeypatch) -> None:
    raws = [signed_raw(who, 0, value=5) for who in range(4)]
    data = _built(raws)
    txmod._senders.clear()  # as if this process had never seen them
    events: list[str] = []
    _spy_recoveries(monkeypatch, events)
    validator = _chain()
    _pool(validator, raws)  # admission recovers each sender: once
    assert events == ["recover"] * len(raws)
    # Even a block decoded without the pool's objects finds the senders in the
    # process-wide cache that admission seeded.
    block = PlumeBlock.decode(data)
    validator.validate_block(block)
    validator.commit(block)
    assert events == ["recover"] * len(raws)


def test_a_blocks_unknown_senders_are_recovered_in_one_pass_before_execution(monkeypatch) -> None:
    raws = [signed_raw(who, 0, value=5) for who in range(4)]
    data = _built(raws)
    txmod._senders.clear()
    events: list[str] = []
    _spy_recoveries(monkeypatch, events)
    applied = PlumeTransactionExecutor.__call__

    def apply(self, tx):
        events.append("apply")
        return applied(self, tx)

    monkeypatch.setattr(PlumeTransactionExecutor, "__call__", apply)
    validator = _chain()
    validator.validate_block(PlumeBlock.decode(data))
    assert events == ["recover"] * len(raws) + ["apply"] * len(raws)

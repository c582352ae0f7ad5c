"""Genesis (determinism, init, reopen, mismatch) and the sidecar / block / transaction codecs."""

from __future__ import annotations

import msgpack
import pytest
import rlp
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.block import PlumeBlock
from execution.chain import PlumeChain
from execution.errors import DecodeError, GenesisMismatch
from execution.genesis import GenesisAccount, GenesisError, GenesisState, genesis_hash, genesis_sidecar
from execution.sidecar import Sidecar
from execution.transactions import decode_transaction, signature_backend
from plume_exec_helpers import ADDRS, CHAIN_ID, ETHER, make_genesis, open_chain, signed_raw, transfer
from staking import fees


# ---------------------------------------------------------------- genesis
def test_genesis_hash_is_deterministic_and_sensitive() -> None:
    g = make_genesis()
    assert genesis_hash(g) == genesis_hash(make_genesis())
    assert genesis_hash(g) != genesis_hash(make_genesis(timestamp=g.timestamp + 1))
    assert genesis_hash(g) != genesis_hash(make_genesis(balance=ETHER))
    assert genesis_hash(g) != genesis_hash(make_genesis(min_base_fee=2))
    assert genesis_hash(g) != genesis_hash(GenesisState(**{**g.__dict__, "chain_id": g.chain_id + 1}))


def test_genesis_init_writes_block_zero_and_accounting(mem_chain: PlumeChain, genesis) -> None:
    assert mem_chain.height == 0
    head = mem_chain.head
    assert head.hash == genesis_hash(genesis)
    assert head.extra_data == genesis_sidecar(genesis).hash
    assert head.base_fee_per_gas == genesis.base_fee_per_gas
    state = mem_chain.state_at(0)
    assert state.balance(ADDRS[0]) == 1000 * ETHER
    assert state.total_supply() == genesis.total_supply == 6 * 1000 * ETHER
    assert state.total_burned() == 0 and state.reward_pool_balance() == 0
    assert state.nonce(fees.REWARD_POOL_ADDRESS) == 1  # never EIP-161-empty
    assert mem_chain.get_sidecar(0) == genesis_sidecar(genesis)


def test_reopen_resumes_and_checks_genesis(tmp_path) -> None:
    db, chain = open_chain(tmp_path / "db")
    h0 = chain.head.hash
    assert db.chain_identity() == (CHAIN_ID, h0)
    db.close()
    db, chain = open_chain(tmp_path / "db", create=False)
    assert chain.head.hash == h0
    db.close()
    from plume_node.storage import open_database

    db = open_database(tmp_path / "db")
    try:
        with pytest.raises(GenesisMismatch, match="genesis"):
            PlumeChain(db, make_genesis(timestamp=1))
    finally:
        db.close()


def test_genesis_rejects_bad_parameters() -> None:
    with pytest.raises(GenesisError, match="base_fee_per_gas"):
        GenesisState(chain_id=1, timestamp=0, base_fee_per_gas=1, min_base_fee_per_gas=2)
    with pytest.raises(GenesisError, match="system address"):
        GenesisState(chain_id=1, timestamp=0, alloc={fees.REWARD_POOL_ADDRESS: GenesisAccount(1)})
    with pytest.raises(GenesisError, match="20-byte"):
        GenesisState(chain_id=1, timestamp=0, alloc={b"\x01": GenesisAccount(1)})
    with pytest.raises(GenesisError, match="chain_id"):
        GenesisState(chain_id=0, timestamp=0)


# ---------------------------------------------------------------- sidecar
sidecars = st.builds(
    Sidecar,
    round=st.integers(0, 2**32 - 1),
    last_commit=st.binary(max_size=200),
    evidence=st.lists(st.binary(max_size=50), max_size=5).map(tuple),
)


@settings(max_examples=100, deadline=None)
@given(sidecars)
def test_sidecar_roundtrip(sc: Sidecar) -> None:
    raw = sc.encode()
    assert Sidecar.decode(raw) == sc
    assert sc.hash == keccak(raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_sidecar_decode_garbage_raises_decode_error_only(raw: bytes) -> None:
    try:
        sc = Sidecar.decode(raw)
    except DecodeError:
        return
    assert sc.encode() == raw


def test_sidecar_rejects_non_canonical_and_wrong_types() -> None:
    good = Sidecar(1, b"x", (b"e",)).encode()
    # same values, round encoded as uint32 instead of fixint: not canonical
    noncanon = b"\x93\xce\x00\x00\x00\x01" + good[2:]
    with pytest.raises(DecodeError, match="canonical"):
        Sidecar.decode(noncanon)
    with pytest.raises(DecodeError):
        Sidecar.decode(msgpack.packb([1, "text", []]))
    with pytest.raises(DecodeError):
        Sidecar.decode(msgpack.packb([-1, b"", []]))
    with pytest.raises(DecodeError):
        Sidecar.decode(msgpack.packb([True, b"", []]))
    with pytest.raises(DecodeError):
        Sidecar.decode(msgpack.packb([1, b"", [], 4]))


# ---------------------------------------------------------------- block
def test_block_roundtrip_and_tamper_detection(mem_chain: PlumeChain) -> None:
    txs = [transfer(0, 0), transfer(1, 0, kind=0), transfer(2, 0, kind=1)]
    result = mem_chain.build_block(txs, timestamp=mem_chain.head.timestamp, coinbase=b"\x01" * 20,
                                   sidecar=Sidecar(3, b"lc", (b"ev",)))
    blk = result.block
    again = PlumeBlock.decode(blk.encode())
    assert again.hash == blk.hash and again.number == 1 and again.sidecar == blk.sidecar
    assert [t.hash for t in again.transactions] == [t.hash for t in txs]
    # swap in another sidecar: extra_data no longer commits to it
    forged = msgpack.packb([rlp.encode(blk.block), Sidecar(4, b"lc", ()).encode()], use_bin_type=True)
    with pytest.raises(DecodeError, match="extra_data"):
        PlumeBlock.decode(forged)
    with pytest.raises(DecodeError):
        PlumeBlock.decode(msgpack.packb([b"not rlp", blk.sidecar_bytes], use_bin_type=True))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_block_decode_garbage_raises_decode_error_only(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        PlumeBlock.decode(raw)


# ---------------------------------------------------------------- transactions
def test_decode_transaction_types_and_sender() -> None:
    for kind in (0, 1, 2):
        tx = decode_transaction(signed_raw(0, 0, kind=kind))
        assert tx.sender == ADDRS[0]
        assert tx.encode() == signed_raw(0, 0, kind=kind)
    assert signature_backend() == "CoinCurveECCBackend"


def test_decode_transaction_rejects_unsupported_and_garbage() -> None:
    with pytest.raises(DecodeError, match="type 3"):
        decode_transaction(b"\x03" + rlp.encode([1, 2]))
    with pytest.raises(DecodeError, match="type 4"):
        decode_transaction(b"\x04" + rlp.encode([1, 2]))
    with pytest.raises(DecodeError, match="malformed"):
        decode_transaction(b"\x02\xc0")
    with pytest.raises(DecodeError):
        decode_transaction(b"")
    raw = bytearray(signed_raw(0, 0, kind=0))
    tx = decode_transaction(bytes(raw))
    # an r of 0 cannot be a signature
    bad = tx.copy(r=0)
    with pytest.raises(DecodeError, match="signature"):
        decode_transaction(bad.encode())


def test_sender_recovered_once(monkeypatch) -> None:
    import execution.transactions as txmod

    raw = signed_raw(3, 7)
    calls = []
    decode_transaction(raw)  # the first decode recovers and caches the sender
    real = txmod.recover_uncached
    monkeypatch.setattr(txmod, "recover_uncached", lambda tx: calls.append(1) or real(tx))
    second = decode_transaction(raw)  # fresh object, same hash: served from the cache
    assert second.sender == ADDRS[3] and calls == []
    txmod._senders.clear()
    third = decode_transaction(raw)
    assert third.sender == ADDRS[3] and calls == [1]

"""Mempool behaviour with real signed transactions (eth-account) and a dict state.

Every rejection reason with its exact message, ordering, gaps, replacement,
limits and eviction, recheck, ttl. Properties over random sequences live in
test_mempool_properties.py.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import pytest
from eth.constants import SECPK1_N
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_account import Account
from eth_keys import keys
from eth_utils import keccak

import execution.mempool.pool as pool_module
from execution.mempool import (
    AddResult,
    Mempool,
    MempoolConfig,
    MempoolError,
    MempoolErrorCode as Code,
    RemovalReason,
    Removed,
    default_decoder,
)

CHAIN_ID = 1337
BASE_FEE = 7
TO = bytes.fromhex("11" * 20)
RICH = 10**18
KEYS = [keccak(b"plume-mempool-test-%d" % i) for i in range(8)]
ADDR = [Account.from_key(k).address for k in KEYS]
ADDR_BYTES = [bytes.fromhex(a[2:]) for a in ADDR]
BUILDER = PragueVM.get_transaction_builder()


@dataclass
class DictState:
    """AccountState over two dicts; unknown accounts have nonce 0 and `default_balance`."""

    nonces: dict[bytes, int] = field(default_factory=dict)
    balances: dict[bytes, int] = field(default_factory=dict)
    default_balance: int = RICH

    def get_nonce(self, address: bytes) -> int:
        return self.nonces.get(bytes(address), 0)

    def get_balance(self, address: bytes) -> int:
        return self.balances.get(bytes(address), self.default_balance)

    def get_storage(self, address: bytes, slot: int) -> int:
        return 0  # no permission list is on


@functools.lru_cache(maxsize=None)
def sign(
    who: int,
    nonce: int,
    *,
    max_fee: int = 100,
    tip: int = 1,
    gas: int = 21000,
    value: int = 0,
    to: bytes = TO,
    data: bytes = b"",
    tx_type: int = 2,
    chain_id: int | None = CHAIN_ID,
) -> bytes:
    """Raw signed tx from sender `who`; for types 0 and 1 `max_fee` is the gas price."""
    tx: dict = {"nonce": nonce, "gas": gas, "value": value, "data": data, "to": to}
    if chain_id is not None:
        tx["chainId"] = chain_id
    if tx_type == 2:
        tx.update(type=2, maxFeePerGas=max_fee, maxPriorityFeePerGas=tip)
    else:
        tx["gasPrice"] = max_fee
        if tx_type == 1:
            tx["accessList"] = []
    return bytes(Account.sign_transaction(tx, KEYS[who]).raw_transaction)


def h(raw: bytes) -> bytes:
    return keccak(raw)


def pool(**config) -> Mempool:
    return Mempool(CHAIN_ID, MempoolConfig(**config))


def reject(mp: Mempool, raw: bytes, state: DictState | None = None, base_fee: int = BASE_FEE, now: float = 0):
    with pytest.raises(MempoolError) as info:
        mp.add_raw(raw, state or DictState(), base_fee, now)
    return info.value


def nonces_by_sender(txs) -> dict[bytes, list[int]]:
    out: dict[bytes, list[int]] = {}
    for tx in txs:
        out.setdefault(bytes(tx.sender), []).append(tx.nonce)
    return out


# ---------------------------------------------------------------- acceptance


@pytest.mark.parametrize("tx_type", [0, 1, 2])
def test_accepts_each_supported_type_and_keeps_raw_bytes(tx_type: int) -> None:
    mp = pool()
    raw = sign(0, 0, tx_type=tx_type)
    result = mp.add_raw(raw, DictState(), BASE_FEE, now=0)
    assert result == AddResult(tx_hash=h(raw), replaced_hash=None, evicted=())
    assert h(raw) in mp and len(mp) == 1 and mp.size_bytes == len(raw)
    assert mp.raw(h(raw)) == raw
    assert mp.get(h(raw)).hash == h(raw)
    assert mp.entry(h(raw)).sender == ADDR_BYTES[0]
    assert list(mp) == [h(raw)]
    assert mp.get(b"\x00" * 32) is None and mp.raw(b"\x00" * 32) is None


def test_add_takes_a_decoded_tx() -> None:
    mp = pool()
    raw = sign(0, 0)
    tx = BUILDER.decode(raw)
    assert mp.add(tx, len(raw), DictState(), BASE_FEE, now=0).tx_hash == h(raw)
    assert mp.raw(h(raw)) == raw
    with pytest.raises(ValueError, match="raw_size 5 does not match the tx's encoding of"):
        mp.add(BUILDER.decode(sign(0, 1)), 5, DictState(), BASE_FEE, now=0)


# ---------------------------------------------------------------- every rejection


def test_nonce_too_low() -> None:
    err = reject(pool(), sign(0, 3), DictState(nonces={ADDR_BYTES[0]: 5}))
    assert err.code is Code.NONCE_TOO_LOW
    assert err.message == "nonce too low: account has nonce 5, tx has 3"
    assert str(err) == err.message


def test_insufficient_funds_single_tx() -> None:
    err = reject(pool(), sign(0, 0, max_fee=1000), DictState(balances={ADDR_BYTES[0]: 10}))
    assert err.code is Code.INSUFFICIENT_FUNDS
    assert err.message == (
        "insufficient funds: balance 10 wei, tx costs up to 21000000 wei "
        "(gas 21000 x max fee 1000 + value 0)"
    )


def test_insufficient_funds_legacy_names_the_gas_price_and_counts_value() -> None:
    err = reject(pool(), sign(0, 0, max_fee=10, value=5, tx_type=0), DictState(balances={ADDR_BYTES[0]: 1}))
    assert err.message == (
        "insufficient funds: balance 1 wei, tx costs up to 210005 wei (gas 21000 x gas price 10 + value 5)"
    )


def test_insufficient_funds_counts_the_senders_earlier_pooled_txs() -> None:
    mp = pool()
    state = DictState(balances={ADDR_BYTES[0]: 2_100_000 * 2 + 5})  # two txs at fee 100
    mp.add_raw(sign(0, 0), state, BASE_FEE, 0)
    mp.add_raw(sign(0, 1), state, BASE_FEE, 0)
    err = reject(mp, sign(0, 2), state)
    assert err.code is Code.INSUFFICIENT_FUNDS
    assert err.message == (
        "insufficient funds: balance 4200005 wei, the sender's 2 pooled txs with nonces 0..1 "
        "cost up to 4200000 wei and this tx up to 2100000 wei (gas 21000 x max fee 100 + value 0)"
    )


def test_fee_below_base_fee() -> None:
    err = reject(pool(), sign(0, 0, max_fee=7, tip=1), base_fee=1_000_000_000)
    assert err.code is Code.FEE_BELOW_BASE_FEE
    assert err.message == "max fee per gas 7 wei is below the base fee 1000000000 wei"
    legacy = reject(pool(), sign(0, 0, max_fee=7, tx_type=0), base_fee=8)
    assert legacy.message == "gas price 7 wei is below the base fee 8 wei"


def test_intrinsic_gas_too_low_plain_transfer() -> None:
    err = reject(pool(), sign(0, 0, gas=20999))
    assert err.code is Code.INTRINSIC_GAS_TOO_LOW
    assert err.message == (
        "intrinsic gas too low: gas limit 20999, the tx needs at least 21000 "
        "(intrinsic gas 21000, EIP-7623 calldata floor 21000)"
    )


def test_intrinsic_gas_applies_the_eip7623_calldata_floor() -> None:
    # 100 non-zero bytes: intrinsic 21000 + 100*16, floor 21000 + 10 * 4 * 100.
    err = reject(pool(), sign(0, 0, gas=24999, data=b"\x01" * 100))
    assert err.message == (
        "intrinsic gas too low: gas limit 24999, the tx needs at least 25000 "
        "(intrinsic gas 22600, EIP-7623 calldata floor 25000)"
    )
    pool().add_raw(sign(0, 0, gas=25000, data=b"\x01" * 100), DictState(), BASE_FEE, 0)


def test_intrinsic_gas_of_a_create_includes_the_eip3860_initcode_words() -> None:
    # 64 zero bytes of initcode: 21000 + 32000 + 64*4 + 2 words * 2.
    err = reject(pool(), sign(0, 0, gas=53259, to=b"", data=b"\x00" * 64))
    assert err.message == (
        "intrinsic gas too low: gas limit 53259, the tx needs at least 53260 "
        "(intrinsic gas 53260, EIP-7623 calldata floor 21640)"
    )


def test_intrinsic_gas_counts_the_access_list() -> None:
    # EIP-2930: 2400 per address, 1900 per storage key.
    access_list = ({"address": "0x" + "33" * 20, "storageKeys": ("0x" + "00" * 32,)},)
    raw = bytes(
        Account.sign_transaction(
            {"chainId": CHAIN_ID, "nonce": 0, "gas": 25299, "gasPrice": 100, "to": TO, "value": 0,
             "data": b"", "accessList": access_list},
            KEYS[0],
        ).raw_transaction
    )
    assert raw[0] == 1
    err = reject(pool(), raw)
    assert err.message == (
        "intrinsic gas too low: gas limit 25299, the tx needs at least 25300 "
        "(intrinsic gas 25300, EIP-7623 calldata floor 21000)"
    )


MAX_INITCODE = 49_152  # EIP-3860: 2 x the EIP-170 code size limit


def create(data: bytes, gas: int, tx_type: int = 2) -> bytes:
    """A signed contract creation (no `to`) carrying `data` as initcode."""
    tx: dict = {"chainId": CHAIN_ID, "nonce": 0, "gas": gas, "value": 0, "data": data}
    if tx_type == 2:
        tx.update(type=2, maxFeePerGas=100, maxPriorityFeePerGas=1)
    else:
        tx["gasPrice"] = 100
    return bytes(Account.sign_transaction(tx, KEYS[0]).raw_transaction)


@pytest.mark.parametrize("tx_type", [0, 2])
def test_initcode_one_byte_over_the_eip3860_limit_is_refused(tx_type: int) -> None:
    err = reject(pool(block_gas_limit=30_000_000), create(b"\x00" * (MAX_INITCODE + 1), 5_000_000, tx_type))
    assert err.code is Code.INITCODE_TOO_LARGE
    assert err.message == (
        "initcode too large: the contract creation carries 49153 bytes of initcode, "
        "the EIP-3860 limit is 49152 bytes"
    )


def test_initcode_at_the_eip3860_limit_is_accepted_when_the_gas_covers_it() -> None:
    # 49152 zero bytes: intrinsic 21000 + 32000 + 49152*4 + 1536 words*2 = 252680,
    # EIP-7623 floor 21000 + 10*49152 = 512520, which is the larger.
    data = b"\x00" * MAX_INITCODE
    err = reject(pool(), create(data, 512_519))
    assert err.message == (
        "intrinsic gas too low: gas limit 512519, the tx needs at least 512520 "
        "(intrinsic gas 252680, EIP-7623 calldata floor 512520)"
    )
    raw = create(data, 512_520)
    assert pool().add_raw(raw, DictState(), BASE_FEE, 0).tx_hash == h(raw)


def test_a_large_call_payload_is_no_initcode() -> None:
    # EIP-3860 limits only creations: calldata of a call may be larger.
    raw = sign(0, 0, gas=2_000_000, data=b"\x00" * (MAX_INITCODE + 1))
    assert pool().add_raw(raw, DictState(), BASE_FEE, 0).tx_hash == h(raw)


def test_gas_limit_exceeds_block() -> None:
    err = reject(pool(block_gas_limit=30_000_000), sign(0, 0, gas=30_000_001))
    assert err.code is Code.GAS_LIMIT_EXCEEDS_BLOCK
    assert err.message == "gas limit 30000001 exceeds the block gas limit 30000000"
    pool(block_gas_limit=30_000_000).add_raw(sign(0, 0, gas=30_000_000), DictState(), BASE_FEE, 0)
    pool().add_raw(sign(0, 0, gas=30_000_001), DictState(), BASE_FEE, 0)  # no limit configured


@pytest.mark.parametrize("tx_type", [0, 1, 2])
def test_wrong_chain_id(tx_type: int) -> None:
    err = reject(pool(), sign(0, 0, chain_id=1, tx_type=tx_type))
    assert err.code is Code.WRONG_CHAIN_ID
    assert err.message == "wrong chain id: this chain is 1337, tx is for 1"


def test_wrong_chain_id_for_a_pre_eip155_legacy_tx() -> None:
    raw = sign(0, 0, chain_id=None, tx_type=0)
    v = BUILDER.decode(raw).v
    err = reject(pool(), raw)
    assert err.code is Code.WRONG_CHAIN_ID
    assert err.message == (
        f"wrong chain id: this chain is 1337, tx has no chain id (pre-EIP-155 legacy signature, v={v})"
    )


def test_oversized() -> None:
    raw = sign(0, 0, gas=100_000, data=b"\x01" * 1000)
    err = reject(pool(max_tx_bytes=1000), raw)
    assert err.code is Code.OVERSIZED
    assert err.message == f"oversized: tx is {len(raw)} bytes, the limit is 1000 bytes"
    with pytest.raises(MempoolError, match="^oversized: tx is"):
        pool(max_tx_bytes=1000).add(BUILDER.decode(raw), len(raw), DictState(), BASE_FEE, 0)


def test_already_known_for_raw_and_decoded_adds() -> None:
    mp = pool()
    raw = sign(0, 0)
    mp.add_raw(raw, DictState(), BASE_FEE, 0)
    err = reject(mp, raw)
    assert err.code is Code.ALREADY_KNOWN
    assert err.message == f"already known: tx 0x{h(raw).hex()} is already in the pool"
    with pytest.raises(MempoolError, match="^already known"):
        mp.add(BUILDER.decode(raw), len(raw), DictState(), BASE_FEE, 0)


def test_replacement_underpriced_at_9_percent_accepted_at_10() -> None:
    mp = pool()
    old = sign(0, 0, max_fee=1000, tip=100)
    mp.add_raw(old, DictState(), BASE_FEE, 0)
    err = reject(mp, sign(0, 0, max_fee=1090, tip=109))
    assert err.code is Code.REPLACEMENT_UNDERPRICED
    assert err.message == (
        "replacement underpriced: nonce 0 already has a tx with max fee 1000 wei and tip 100 wei; "
        "a replacement needs max fee >= 1100 wei and tip >= 110 wei (+10%), "
        "got max fee 1090 wei and tip 109 wei"
    )
    # Both must rise: a 10% fee cap with a 9% tip is still underpriced, and vice versa.
    assert reject(mp, sign(0, 0, max_fee=1100, tip=109)).code is Code.REPLACEMENT_UNDERPRICED
    assert reject(mp, sign(0, 0, max_fee=1099, tip=110)).code is Code.REPLACEMENT_UNDERPRICED
    new = sign(0, 0, max_fee=1100, tip=110)
    result = mp.add_raw(new, DictState(), BASE_FEE, 1)
    assert result.replaced_hash == h(old) and result.evicted == ()
    assert h(old) not in mp and mp.raw(h(old)) is None and mp.raw(h(new)) == new
    assert len(mp) == 1 and mp.size_bytes == len(new)


def test_replacement_of_a_zero_tip_needs_a_strictly_higher_tip() -> None:
    mp = pool()
    mp.add_raw(sign(0, 0, max_fee=100, tip=0), DictState(), BASE_FEE, 0)
    err = reject(mp, sign(0, 0, max_fee=200, tip=0))
    assert "a replacement needs max fee >= 110 wei and tip >= 1 wei" in err.message
    mp.add_raw(sign(0, 0, max_fee=110, tip=1), DictState(), BASE_FEE, 0)


def test_legacy_replacement_compares_gas_prices() -> None:
    mp = pool()
    mp.add_raw(sign(0, 0, max_fee=50, tx_type=0), DictState(), BASE_FEE, 0)
    assert reject(mp, sign(0, 0, max_fee=54, tx_type=1)).code is Code.REPLACEMENT_UNDERPRICED
    assert mp.add_raw(sign(0, 0, max_fee=55, tx_type=1), DictState(), BASE_FEE, 0).replaced_hash


def test_invalid_signature_high_s() -> None:
    tx = BUILDER.decode(sign(0, 0))
    flipped = tx.copy(s=SECPK1_N - tx.s, y_parity=1 - tx.y_parity)
    err = reject(pool(), flipped.encode())
    assert err.code is Code.INVALID_SIGNATURE
    assert err.message == f"invalid signature: s {SECPK1_N - tx.s} is outside [1, secp256k1n/2]"


def test_invalid_signature_r_zero_and_bad_parity() -> None:
    tx = BUILDER.decode(sign(0, 0))
    assert reject(pool(), tx.copy(r=0).encode()).message == "invalid signature: r 0 is outside [1, secp256k1n)"
    assert reject(pool(), tx.copy(y_parity=2).encode()).message == "invalid signature: y parity 2 is not 0 or 1"


def test_invalid_signature_unrecoverable_point() -> None:
    # r = 5 is not the x coordinate of a secp256k1 point (5^3 + 7 is not a square mod p).
    tx = BUILDER.decode(sign(0, 0)).copy(r=5)
    err = reject(pool(), tx.encode())
    assert err.code is Code.INVALID_SIGNATURE
    assert err.message == "invalid signature: cannot recover the sender: the signature is not a valid secp256k1 signature"


def test_invalid_signature_legacy_v() -> None:
    tx = BUILDER.decode(sign(0, 0, tx_type=0)).copy(v=30)
    err = reject(pool(), tx.encode())
    assert err.code is Code.INVALID_SIGNATURE
    assert err.message == (
        "invalid signature: legacy v=30 is neither 27/28 nor EIP-155 (35 + 2 x chain id + parity)"
    )


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "malformed transaction: empty input"),
        (b"\x02\xff", "malformed transaction: cannot decode 2 bytes as an RLP legacy, EIP-2930 or EIP-1559 transaction"),
        (b"\x80", "malformed transaction: cannot decode 1 bytes as an RLP legacy, EIP-2930 or EIP-1559 transaction"),
    ],
)
def test_malformed(raw: bytes, message: str) -> None:
    err = reject(pool(), raw)
    assert err.code is Code.MALFORMED
    assert err.message.startswith(message)


def test_malformed_trailing_bytes() -> None:
    raw = sign(0, 0) + b"\x00"
    err = reject(pool(), raw)
    assert err.code is Code.MALFORMED
    assert err.message == (
        f"malformed transaction: cannot decode {len(raw)} bytes as an RLP legacy, EIP-2930 or EIP-1559 transaction"
    )


def test_malformed_non_canonical_encoding_with_a_lenient_decoder() -> None:
    # A custom decoder that ignores a trailing byte: the pool still refuses
    # bytes that are not the tx's own encoding (they would hash differently).
    mp = Mempool(CHAIN_ID, MempoolConfig(), tx_decoder=lambda raw: default_decoder(raw[:-1]))
    raw = sign(0, 0) + b"\x00"
    err = reject(mp, raw)
    assert err.code is Code.MALFORMED
    assert err.message == (
        f"malformed transaction: non-canonical encoding ({len(raw)} bytes, canonical form is {len(raw) - 1} bytes)"
    )


def test_malformed_nonce_out_of_range() -> None:
    unsigned = PragueTransactionBuilder.new_unsigned_dynamic_fee_transaction(
        chain_id=CHAIN_ID, nonce=2**64 - 1, max_priority_fee_per_gas=1, max_fee_per_gas=100,
        gas=21000, to=TO, value=0, data=b"", access_list=[],
    )
    tx = unsigned.as_signed_transaction(keys.PrivateKey(KEYS[0]))
    err = reject(pool(), tx.encode())
    assert err.code is Code.MALFORMED
    assert err.message == "malformed transaction: nonce 18446744073709551615 is not below 2**64-1"


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x03\xc0", "unsupported transaction type 3 (EIP-4844 blob): accepted are legacy (EIP-155), type 1 (EIP-2930) and type 2 (EIP-1559)"),
        (b"\x05abc", "unsupported transaction type 5 (unknown): accepted are legacy (EIP-155), type 1 (EIP-2930) and type 2 (EIP-1559)"),
    ],
)
def test_unsupported_type_envelopes(raw: bytes, message: str) -> None:
    err = reject(pool(), raw)
    assert (err.code, err.message) == (Code.UNSUPPORTED_TYPE, message)


def test_unsupported_type_real_set_code_tx_raw_and_decoded() -> None:
    unsigned = PragueTransactionBuilder.new_unsigned_set_code_transaction(
        chain_id=CHAIN_ID, nonce=0, max_priority_fee_per_gas=1, max_fee_per_gas=100, gas=100_000,
        to=TO, value=0, data=b"", access_list=[], authorization_list=[],
    )
    tx = unsigned.as_signed_transaction(keys.PrivateKey(KEYS[0]))
    message = "unsupported transaction type 4 (EIP-7702 set code): accepted are legacy (EIP-155), type 1 (EIP-2930) and type 2 (EIP-1559)"
    assert reject(pool(), tx.encode()).message == message
    with pytest.raises(MempoolError) as info:
        pool().add(tx, len(tx.encode()), DictState(), BASE_FEE, 0)
    assert (info.value.code, info.value.message) == (Code.UNSUPPORTED_TYPE, message)


def test_unsupported_type_real_blob_tx_raw_and_decoded() -> None:
    # Plume carries no blob sidecars (blob gas is 0 in every header): a type 3 tx can never be valid.
    unsigned = PragueTransactionBuilder.new_unsigned_blob_transaction(
        chain_id=CHAIN_ID, nonce=0, max_priority_fee_per_gas=1, max_fee_per_gas=100, gas=100_000,
        to=TO, value=0, data=b"", access_list=[], max_fee_per_blob_gas=1,
        blob_versioned_hashes=[b"\x01" + b"\x00" * 31],
    )
    tx = unsigned.as_signed_transaction(keys.PrivateKey(KEYS[0]))
    message = "unsupported transaction type 3 (EIP-4844 blob): accepted are legacy (EIP-155), type 1 (EIP-2930) and type 2 (EIP-1559)"
    assert reject(pool(), tx.encode()).message == message
    with pytest.raises(MempoolError) as info:
        pool().add(tx, len(tx.encode()), DictState(), BASE_FEE, 0)
    assert (info.value.code, info.value.message) == (Code.UNSUPPORTED_TYPE, message)


def test_nonce_gap_too_large() -> None:
    mp = pool(max_nonce_gap=4)
    mp.add_raw(sign(0, 4), DictState(), BASE_FEE, 0)  # 4 beyond next nonce 0: allowed, queued
    err = reject(mp, sign(0, 5))
    assert err.code is Code.NONCE_GAP_TOO_LARGE
    assert err.message == (
        "nonce gap too large: the sender's next executable nonce is 0, tx has 5; "
        "at most 4 nonces beyond it are queued (up to 4)"
    )
    mp.add_raw(sign(0, 0), DictState(), BASE_FEE, 0)  # the run grows, so does the window
    mp.add_raw(sign(0, 5), DictState(), BASE_FEE, 0)


def test_tip_above_fee_cap() -> None:
    err = reject(pool(), sign(0, 0, max_fee=3, tip=5), base_fee=1)
    assert err.code is Code.TIP_ABOVE_FEE_CAP
    assert err.message == "max priority fee per gas 5 wei is above the max fee per gas 3 wei"


def test_pool_full_per_sender() -> None:
    mp = pool(max_per_sender=2)
    mp.add_raw(sign(0, 0), DictState(), BASE_FEE, 0)
    mp.add_raw(sign(0, 1), DictState(), BASE_FEE, 0)
    err = reject(mp, sign(0, 2))
    assert err.code is Code.POOL_FULL
    assert err.message == (
        f"pool full for this sender: 0x{ADDR_BYTES[0].hex()} has 2 txs in the pool, the limit is 2"
    )
    # A replacement does not add a tx, so it is not limited.
    assert mp.add_raw(sign(0, 1, max_fee=200, tip=2), DictState(), BASE_FEE, 0).replaced_hash == h(sign(0, 1))


def test_rejections_leave_the_pool_unchanged() -> None:
    mp = pool(max_txs=2)
    mp.add_raw(sign(0, 0, tip=5), DictState(), BASE_FEE, 0)
    mp.add_raw(sign(1, 0, tip=5), DictState(), BASE_FEE, 0)
    before = (sorted(mp), mp.size_bytes, mp.pending())
    for raw in (sign(2, 0, tip=5), sign(0, 0, tip=5, max_fee=101), sign(2, 0, gas=1), b"\x05"):
        reject(mp, raw)
    assert (sorted(mp), mp.size_bytes, mp.pending()) == before


# ---------------------------------------------------------------- ordering


def test_select_orders_by_effective_tip_across_senders() -> None:
    mp = pool()
    state = DictState()
    raws = {0: sign(0, 0, tip=3), 1: sign(1, 0, tip=9), 2: sign(2, 0, tip=5)}
    for who in (0, 1, 2):
        mp.add_raw(raws[who], state, BASE_FEE, 0)
    chosen = mp.select(max_gas=10**7, base_fee=BASE_FEE)
    assert [tx.hash for tx in chosen] == [h(raws[1]), h(raws[2]), h(raws[0])]


def test_effective_tip_is_capped_by_max_fee_minus_base_fee() -> None:
    mp = pool()
    # At base fee 90: sender 0 pays min(50, 100 - 90) = 10, sender 1 min(20, 200 - 90) = 20.
    a, b = sign(0, 0, max_fee=100, tip=50), sign(1, 0, max_fee=200, tip=20)
    mp.add_raw(a, DictState(), 90, 0)
    mp.add_raw(b, DictState(), 90, 0)
    assert [tx.hash for tx in mp.select(10**7, base_fee=90)] == [h(b), h(a)]
    # At base fee 0 the tips themselves decide.
    assert [tx.hash for tx in mp.select(10**7, base_fee=0)] == [h(a), h(b)]


def test_legacy_effective_tip_is_gas_price_minus_base_fee() -> None:
    mp = pool()
    legacy, dynamic = sign(0, 0, max_fee=30, tx_type=0), sign(1, 0, max_fee=1000, tip=20)
    mp.add_raw(legacy, DictState(), 7, 0)
    mp.add_raw(dynamic, DictState(), 7, 0)
    assert [tx.hash for tx in mp.select(10**7, base_fee=7)] == [h(legacy), h(dynamic)]  # 23 > 20
    assert [tx.hash for tx in mp.select(10**7, base_fee=15)] == [h(dynamic), h(legacy)]  # 15 < 20


def test_nonce_order_within_a_sender_beats_tip_order() -> None:
    mp = pool()
    a0, a1, b0 = sign(0, 0, tip=1), sign(0, 1, tip=50), sign(1, 0, tip=10)
    for raw in (a1, a0, b0):  # arrival order does not matter
        mp.add_raw(raw, DictState(), BASE_FEE, 0)
    # a1 pays most but can only follow a0, the cheapest head.
    assert [tx.hash for tx in mp.select(10**7, BASE_FEE)] == [h(b0), h(a0), h(a1)]


def test_ties_go_to_the_earlier_arrival() -> None:
    mp = pool()
    first, second = sign(3, 0, tip=4), sign(2, 0, tip=4)
    mp.add_raw(first, DictState(), BASE_FEE, 0)
    mp.add_raw(second, DictState(), BASE_FEE, 0)
    assert [tx.hash for tx in mp.select(10**7, BASE_FEE)] == [h(first), h(second)]


def test_select_respects_gas_and_stops_a_sender_at_the_first_misfit() -> None:
    mp = pool()
    a0, a1, a2 = sign(0, 0, tip=9), sign(0, 1, tip=9, gas=50_000), sign(0, 2, tip=9)
    b0 = sign(1, 0, tip=1)
    for raw in (a0, a1, a2, b0):
        mp.add_raw(raw, DictState(), BASE_FEE, 0)
    chosen = mp.select(max_gas=21000 * 2 + 10_000, base_fee=BASE_FEE)
    # a1 does not fit, so a2 (which would) must not be taken either; b0 still fits.
    assert [tx.hash for tx in chosen] == [h(a0), h(b0)]
    assert mp.select(max_gas=20_999, base_fee=BASE_FEE) == []


def test_select_respects_max_bytes() -> None:
    mp = pool()
    small, big = sign(0, 0, tip=1), sign(1, 0, tip=9, gas=100_000, data=b"\x01" * 500)
    mp.add_raw(small, DictState(), BASE_FEE, 0)
    mp.add_raw(big, DictState(), BASE_FEE, 0)
    assert [tx.hash for tx in mp.select(10**7, BASE_FEE, max_bytes=len(small) + 10)] == [h(small)]
    assert len(mp.select(10**7, BASE_FEE, max_bytes=len(small) + len(big))) == 2


def test_select_skips_senders_that_cannot_pay_the_base_fee() -> None:
    mp = pool()
    a0, a1 = sign(0, 0, max_fee=500, tip=1), sign(0, 1, max_fee=50, tip=1)
    b0 = sign(1, 0, max_fee=40, tip=1)
    for raw in (a0, a1, b0):
        mp.add_raw(raw, DictState(), BASE_FEE, 0)
    # The base fee rose to 60: b0 cannot pay it, nor a1; they stay in the pool.
    assert [tx.hash for tx in mp.select(10**7, base_fee=60)] == [h(a0)]
    assert mp.recheck(DictState(), 60, 0) == ()
    assert len(mp) == 3


# ---------------------------------------------------------------- gaps


def test_gap_is_queued_then_promoted_when_filled() -> None:
    mp = pool()
    state = DictState()
    mp.add_raw(sign(0, 0), state, BASE_FEE, 0)
    mp.add_raw(sign(0, 2), state, BASE_FEE, 0)
    mp.add_raw(sign(0, 3), state, BASE_FEE, 0)
    assert {a: [t.nonce for t in txs] for a, txs in mp.pending().items()} == {ADDR_BYTES[0]: [0]}
    assert {a: [t.nonce for t in txs] for a, txs in mp.queued().items()} == {ADDR_BYTES[0]: [2, 3]}
    assert mp.pending_nonce(ADDR_BYTES[0], state) == 1
    assert [tx.nonce for tx in mp.select(10**7, BASE_FEE)] == [0]
    mp.add_raw(sign(0, 1), state, BASE_FEE, 0)
    assert [t.nonce for t in mp.pending()[ADDR_BYTES[0]]] == [0, 1, 2, 3]
    assert mp.queued() == {}
    assert mp.pending_nonce(ADDR_BYTES[0], state) == 4
    assert [tx.nonce for tx in mp.select(10**7, BASE_FEE)] == [0, 1, 2, 3]


def test_has_executable_says_whether_a_block_would_carry_a_pooled_tx() -> None:
    mp = pool()
    assert not mp.has_executable(BASE_FEE)
    mp.add_raw(sign(0, 1), DictState(), BASE_FEE, 0)  # behind a gap
    mp.add_raw(sign(1, 0, max_fee=40), DictState(), BASE_FEE, 0)
    assert not mp.has_executable(60)  # the one at its nonce cannot pay this base fee
    assert mp.select(10**7, 60) == []
    assert mp.has_executable(40) and mp.select(10**7, 40)
    mp.add_raw(sign(0, 0), DictState(), BASE_FEE, 0)  # fills the gap
    assert mp.has_executable(60) and mp.select(10**7, 60)


def test_pending_nonce_of_an_unknown_sender_is_its_state_nonce() -> None:
    assert pool().pending_nonce(ADDR_BYTES[5], DictState(nonces={ADDR_BYTES[5]: 9})) == 9


def test_queued_tx_is_promoted_by_recheck_when_the_gap_is_mined_elsewhere() -> None:
    mp = pool()
    mp.add_raw(sign(0, 0), DictState(), BASE_FEE, 0)
    mp.add_raw(sign(0, 2), DictState(), BASE_FEE, 0)
    # A block includes nonce 0 and a nonce-1 tx this pool never saw.
    removed = mp.recheck(DictState(nonces={ADDR_BYTES[0]: 2}), BASE_FEE, now=1)
    assert removed == (Removed(h(sign(0, 0)), ADDR_BYTES[0], 0, RemovalReason.STALE),)
    assert [t.nonce for t in mp.pending()[ADDR_BYTES[0]]] == [2]
    assert [tx.nonce for tx in mp.select(10**7, BASE_FEE)] == [2]


def test_remove_leaves_later_nonces_queued() -> None:
    mp = pool()
    for n in range(3):
        mp.add_raw(sign(0, n), DictState(), BASE_FEE, 0)
    assert mp.remove([h(sign(0, 1)), b"\x01" * 32]) == (
        Removed(h(sign(0, 1)), ADDR_BYTES[0], 1, RemovalReason.REMOVED),
    )
    assert [t.nonce for t in mp.pending()[ADDR_BYTES[0]]] == [0]
    assert [t.nonce for t in mp.queued()[ADDR_BYTES[0]]] == [2]
    assert [tx.nonce for tx in mp.select(10**7, BASE_FEE)] == [0]


def test_drop_failed_removes_and_refuses_the_tx_from_then_on(monkeypatch) -> None:
    mp = pool()
    for n in range(2):
        mp.add_raw(sign(0, n), DictState(), BASE_FEE, 0)
    reason = "execution failed: TransactionFailed: " + "x" * 300
    assert mp.drop_failed([(h(sign(0, 1)), reason), (h(sign(1, 0)), "never pooled")]) == (
        Removed(h(sign(0, 1)), ADDR_BYTES[0], 1, RemovalReason.FAILED),
    )
    assert h(sign(0, 1)) not in mp and h(sign(0, 0)) in mp
    err = reject(mp, sign(0, 1))
    assert err.code is Code.EXECUTION_FAILED
    assert err.message == (
        f"execution failed: tx 0x{h(sign(0, 1)).hex()} raised while a block was built "
        f"({reason[:197]}...); it is refused"
    )
    with pytest.raises(MempoolError, match="^execution failed: tx 0x"):
        mp.add(BUILDER.decode(sign(1, 0)), len(sign(1, 0)), DictState(), BASE_FEE, 0)
    # The memory is bounded: the oldest failure is forgotten first.
    monkeypatch.setattr(pool_module, "FAILED_MEMORY", 2)
    mp.drop_failed([(h(sign(2, 0)), "third")])
    mp.add_raw(sign(0, 1), DictState(), BASE_FEE, 0)
    assert reject(mp, sign(1, 0)).code is Code.EXECUTION_FAILED


# ---------------------------------------------------------------- limits and eviction


def test_full_pool_evicts_the_cheapest_tail_of_another_sender() -> None:
    mp = pool(max_txs=3)
    a0, a1, b0 = sign(0, 0, tip=1), sign(0, 1, tip=50), sign(1, 0, tip=30)
    for raw in (a0, a1, b0):
        mp.add_raw(raw, DictState(), BASE_FEE, 0)
    # a0 is the cheapest tx, but evicting it would strand a1: only tails are
    # candidates, and b0 (30) is cheaper than a1 (50).
    result = mp.add_raw(sign(2, 0, tip=40), DictState(), BASE_FEE, 0)
    assert result.evicted == (Removed(h(b0), ADDR_BYTES[1], 0, RemovalReason.EVICTED),)
    assert sorted(mp) == sorted([h(a0), h(a1), h(sign(2, 0, tip=40))])
    assert len(mp) == 3


def test_eviction_takes_the_tail_even_when_the_head_is_cheaper() -> None:
    mp = pool(max_txs=3)
    a0, a1, b0 = sign(0, 0, tip=1), sign(0, 1, tip=2), sign(1, 0, tip=30)
    for raw in (a0, a1, b0):
        mp.add_raw(raw, DictState(), BASE_FEE, 0)
    result = mp.add_raw(sign(2, 0, tip=40), DictState(), BASE_FEE, 0)
    assert result.evicted == (Removed(h(a1), ADDR_BYTES[0], 1, RemovalReason.EVICTED),)
    assert [t.nonce for t in mp.pending()[ADDR_BYTES[0]]] == [0]


def test_full_pool_refuses_a_tx_that_does_not_pay_more() -> None:
    mp = pool(max_txs=2)
    a0, b0 = sign(0, 0, tip=20), sign(1, 0, tip=30)
    mp.add_raw(a0, DictState(), BASE_FEE, 0)
    mp.add_raw(b0, DictState(), BASE_FEE, 0)
    size = mp.size_bytes
    err = reject(mp, sign(2, 0, tip=20))
    assert err.code is Code.POOL_FULL
    assert err.message == (
        f"pool full: 2 of 2 txs and {size} of {32 * 1024 * 1024} bytes in use; the cheapest evictable tx "
        "pays a tip of 20 wei per gas at base fee 7 wei, this tx pays 20 wei, which is not more"
    )
    mp.add_raw(sign(2, 0, tip=21), DictState(), BASE_FEE, 0)
    assert h(a0) not in mp


def test_a_sender_cannot_evict_itself() -> None:
    mp = pool(max_txs=2)
    mp.add_raw(sign(0, 0, tip=1), DictState(), BASE_FEE, 0)
    mp.add_raw(sign(0, 1, tip=1), DictState(), BASE_FEE, 0)
    err = reject(mp, sign(0, 2, tip=90))
    assert err.message.endswith("; no tx of another sender is left to evict")


def test_queued_tx_may_only_evict_queued_txs() -> None:
    mp = pool(max_txs=2)
    mp.add_raw(sign(0, 0, tip=1), DictState(), BASE_FEE, 0)
    mp.add_raw(sign(1, 0, tip=1), DictState(), BASE_FEE, 0)
    size = mp.size_bytes
    err = reject(mp, sign(2, 3, tip=90))
    assert err.code is Code.POOL_FULL
    assert err.message == (
        f"pool full: 2 of 2 txs and {size} of {32 * 1024 * 1024} bytes in use; the tx is queued "
        "(nonce 3, next executable nonce 0) and may only evict queued txs of other senders, none of which is left"
    )
    # Once another sender has a queued tx, the queued newcomer can take its place.
    mp.remove([h(sign(1, 0, tip=1))])
    mp.add_raw(sign(1, 5, tip=1), DictState(), BASE_FEE, 0)
    result = mp.add_raw(sign(2, 3, tip=90), DictState(), BASE_FEE, 0)
    assert result.evicted == (Removed(h(sign(1, 5, tip=1)), ADDR_BYTES[1], 5, RemovalReason.EVICTED),)


def test_byte_limit_evicts_as_many_tails_as_needed() -> None:
    small = [sign(i, 0, tip=i + 1) for i in range(3)]
    big = sign(5, 0, tip=9, gas=100_000, data=b"\x01" * 50)
    limit = sum(len(r) for r in small) + 10
    assert len(small[1]) + len(small[2]) + len(big) > limit  # one eviction is not enough
    mp = pool(max_bytes=limit, max_tx_bytes=limit)
    for raw in small:
        mp.add_raw(raw, DictState(), BASE_FEE, 0)
    result = mp.add_raw(big, DictState(), BASE_FEE, 0)
    # The two cheapest go (tips 1 and 2); that frees enough room.
    assert [r.tx_hash for r in result.evicted] == [h(small[0]), h(small[1])]
    assert mp.size_bytes == len(small[2]) + len(big) <= limit


def test_eviction_prefers_txs_that_cannot_pay_the_base_fee() -> None:
    mp = pool(max_txs=2)
    cheap_cap = sign(0, 0, max_fee=20, tip=20)  # fine at base fee 7
    mp.add_raw(cheap_cap, DictState(), 7, 0)
    mp.add_raw(sign(1, 0, max_fee=100, tip=10), DictState(), 7, 0)
    # At base fee 30 the first pays a negative tip: it is the one to go.
    result = mp.add_raw(sign(2, 0, max_fee=100, tip=1), DictState(), 30, 0)
    assert [r.tx_hash for r in result.evicted] == [h(cheap_cap)]


# ---------------------------------------------------------------- recheck and ttl


def test_recheck_after_a_commit_drops_mined_and_unaffordable_txs() -> None:
    mp = pool()
    state = DictState()
    a = [sign(0, n, max_fee=100) for n in range(3)]
    b = [sign(1, n) for n in range(2)]
    for raw in a + b:
        mp.add_raw(raw, state, BASE_FEE, 0)
    # Simulated commit: a0, a1, b0 mined; A spent so much that a2 (cost 2.1M) is out of reach.
    state.nonces = {ADDR_BYTES[0]: 2, ADDR_BYTES[1]: 1}
    state.balances = {ADDR_BYTES[0]: 2_099_999}
    removed = mp.recheck(state, BASE_FEE, now=5)
    assert removed == (
        Removed(h(a[0]), ADDR_BYTES[0], 0, RemovalReason.STALE),
        Removed(h(a[1]), ADDR_BYTES[0], 1, RemovalReason.STALE),
        Removed(h(a[2]), ADDR_BYTES[0], 2, RemovalReason.UNAFFORDABLE),
        Removed(h(b[0]), ADDR_BYTES[1], 0, RemovalReason.STALE),
    )
    assert sorted(mp) == [h(b[1])]
    assert mp.size_bytes == len(b[1])
    assert [tx.hash for tx in mp.select(10**7, BASE_FEE)] == [h(b[1])]


def test_recheck_drops_from_the_first_unaffordable_tx_onwards() -> None:
    mp = pool()
    raws = [sign(0, n, max_fee=100, value=v) for n, v in enumerate((0, 10**6, 0))]
    for raw in raws:
        mp.add_raw(raw, DictState(), BASE_FEE, 0)
    # Enough for tx 0 and tx 2 alone, not for the cumulative run 0, 1, 2.
    removed = mp.recheck(DictState(balances={ADDR_BYTES[0]: 2_100_000 * 2}), BASE_FEE, 0)
    assert [(r.nonce, r.reason) for r in removed] == [
        (1, RemovalReason.UNAFFORDABLE),
        (2, RemovalReason.UNAFFORDABLE),
    ]


def test_ttl_eviction() -> None:
    ttl = 3 * 3600
    mp = pool()
    early, late, later_nonce = sign(0, 0), sign(1, 0), sign(0, 1)
    mp.add_raw(early, DictState(), BASE_FEE, now=1000)
    mp.add_raw(late, DictState(), BASE_FEE, now=2000)
    mp.add_raw(later_nonce, DictState(), BASE_FEE, now=2000)
    assert mp.recheck(DictState(), BASE_FEE, now=1000 + ttl) == ()  # exactly ttl old: kept
    removed = mp.recheck(DictState(), BASE_FEE, now=1001 + ttl)
    assert removed == (Removed(h(early), ADDR_BYTES[0], 0, RemovalReason.EXPIRED),)
    assert [t.nonce for t in mp.queued()[ADDR_BYTES[0]]] == [1]  # its successor waits for a refill
    assert {r.tx_hash for r in mp.recheck(DictState(), BASE_FEE, now=2001 + ttl)} == {h(late), h(later_nonce)}
    assert len(mp) == 0 and mp.size_bytes == 0


def test_replacement_restarts_the_ttl() -> None:
    mp = pool(ttl_seconds=100)
    mp.add_raw(sign(0, 0, max_fee=100, tip=1), DictState(), BASE_FEE, now=0)
    mp.add_raw(sign(0, 0, max_fee=200, tip=2), DictState(), BASE_FEE, now=90)
    assert mp.recheck(DictState(), BASE_FEE, now=150) == ()


def test_add_reports_the_senders_stale_txs_it_drops() -> None:
    mp = pool()
    mp.add_raw(sign(0, 0), DictState(), BASE_FEE, 0)
    # The state moved on (a commit whose recheck has not run yet).
    result = mp.add_raw(sign(0, 1), DictState(nonces={ADDR_BYTES[0]: 1}), BASE_FEE, 0)
    assert result.evicted == (Removed(h(sign(0, 0)), ADDR_BYTES[0], 0, RemovalReason.STALE),)
    assert sorted(mp) == [h(sign(0, 1))]


def test_costlier_replacement_drops_later_txs_it_makes_unaffordable() -> None:
    mp = pool()
    state = DictState(balances={ADDR_BYTES[0]: 2_100_000 * 2})
    mp.add_raw(sign(0, 0, max_fee=100, tip=1), state, BASE_FEE, 0)
    mp.add_raw(sign(0, 1, max_fee=100, tip=1), state, BASE_FEE, 0)
    result = mp.add_raw(sign(0, 0, max_fee=110, tip=2), state, BASE_FEE, 0)
    assert result.replaced_hash == h(sign(0, 0, max_fee=100, tip=1))
    assert result.evicted == (
        Removed(h(sign(0, 1, max_fee=100, tip=1)), ADDR_BYTES[0], 1, RemovalReason.UNAFFORDABLE),
    )


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_txs": 0}, "MempoolConfig.max_txs must be at least 1, got 0"),
        ({"price_bump_percent": -1}, "MempoolConfig.price_bump_percent must not be negative, got -1"),
        ({"max_tx_bytes": 10, "max_bytes": 5}, "MempoolConfig.max_tx_bytes (10) exceeds max_bytes (5)"),
        ({"ttl_seconds": 0}, "MempoolConfig.ttl_seconds must be positive, got 0"),
    ],
)
def test_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        MempoolConfig(**kwargs)


def test_config_defaults() -> None:
    cfg = MempoolConfig()
    assert (cfg.max_txs, cfg.max_bytes, cfg.max_tx_bytes) == (5000, 32 * 1024 * 1024, 128 * 1024)
    assert (cfg.price_bump_percent, cfg.max_nonce_gap, cfg.max_per_sender) == (10, 64, 64)
    assert cfg.ttl_seconds == 3 * 3600 and cfg.block_gas_limit is None

"""The fast sender recovery (libsecp256k1 directly, signing hash cut from the
canonical bytes) against py-evm's own ``get_sender``: the same sender for
every signed transaction, the same refusals for every bad signature."""

from __future__ import annotations

import pytest
from eth.constants import SECPK1_N
from eth.vm.forks.prague.transactions import PragueTransactionBuilder as Builder
from eth_keys import keys
from eth_keys.exceptions import BadSignature
from eth_utils import ValidationError, keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import execution.transactions as txmod
from execution.errors import DecodeError
from execution.transactions import decode_transaction, fast_sender, recover_sender, signing_hash
from plume_exec_helpers import ADDRS, COINBASE, sidecar, transfer

REFUSED = "refused"
UINT256 = 2**256
HALF_N = SECPK1_N // 2

private_keys = st.integers(1, SECPK1_N - 1).map(lambda n: keys.PrivateKey(n.to_bytes(32, "big")))
chain_ids = st.one_of(st.integers(1, 2**16), st.integers(1, 2**64), st.sampled_from([1, 7777, 2**63 - 1]))
uints = st.one_of(st.integers(0, 2**16), st.integers(0, UINT256 - 1))
recipients = st.one_of(st.just(b""), st.binary(min_size=20, max_size=20))  # b"": contract creation
# Lengths around RLP's 55-byte short/long boundary, and large data (long list prefixes).
calldata = st.one_of(st.binary(max_size=80), st.binary(min_size=200, max_size=300), st.binary(min_size=70_000, max_size=70_010))
access_lists = st.lists(
    st.tuples(st.binary(min_size=20, max_size=20), st.lists(st.integers(0, UINT256 - 1), max_size=3)),
    max_size=3,
)
# Values of r and s around every boundary that matters, and random ones.
signature_ints = st.one_of(
    st.sampled_from([0, 1, 2, HALF_N, HALF_N + 1, SECPK1_N - 1, SECPK1_N, SECPK1_N + 1, UINT256 - 1, UINT256, 2**300]),
    st.integers(0, UINT256 - 1),
)
y_parities = st.one_of(st.sampled_from([0, 1, 2, 27, 28, 35, 36]), st.integers(0, 2**70), st.integers(2**440, 2**600))


def legacy_v(chain_id: int):
    """v values: pre-EIP-155, EIP-155 for the chain (and chain id 0), everything in between and beyond."""
    return st.one_of(
        st.sampled_from([0, 1, 26, 27, 28, 29, 34, 35, 36, 37, 38, 35 + 2 * chain_id, 36 + 2 * chain_id]),
        st.integers(0, 2**80),
        st.integers(2**440, 2**600),  # encoded with a long (56+ byte) string prefix
    )


def outcome(recover) -> bytes | str:
    """The sender, or REFUSED for any refusal either path may raise."""
    try:
        return recover()
    except (BadSignature, ValidationError, ValueError):
        return REFUSED


def assert_paths_agree(tx) -> bytes | str:
    """Fast path and py-evm's on ``tx`` decoded from its bytes (the node's objects: Prague
    classes, encoding cached by pyrlp) and as built (re-encoded; an older fork's class
    takes py-evm's path); returns the outcome."""
    decoded = Builder.decode(tx.encode())
    reference = outcome(decoded.get_sender)
    assert signing_hash(decoded) is not None, "the fast path must know the decoder's classes"
    for candidate in (tx, decoded):
        if signing_hash(candidate) is None:
            assert type(candidate) not in (Builder.legacy_signed, Builder.typed_transaction)
            continue
        assert signing_hash(candidate) == keccak(candidate.get_message_for_signing())
        assert outcome(lambda: fast_sender(candidate)) == reference
    return reference


@st.composite
def unsigned_txs(draw):
    """(kind, unsigned tx, chain id or None): legacy pre-/post-EIP-155, type 1 and type 2."""
    kind = draw(st.sampled_from(["legacy", "legacy-155", "access-list", "dynamic-fee"]))
    common = dict(
        nonce=draw(st.integers(0, 2**64 - 1)),
        gas=draw(st.integers(0, 2**64 - 1)),
        to=draw(recipients),
        value=draw(uints),
        data=draw(calldata),
    )
    if kind.startswith("legacy"):
        unsigned = Builder.create_unsigned_transaction(gas_price=draw(uints), **common)
        return kind, unsigned, draw(chain_ids) if kind == "legacy-155" else None
    chain_id = draw(chain_ids)
    if kind == "access-list":
        unsigned = Builder.new_unsigned_access_list_transaction(
            chain_id=chain_id, gas_price=draw(uints), access_list=draw(access_lists), **common
        )
    else:
        unsigned = Builder.new_unsigned_dynamic_fee_transaction(
            chain_id=chain_id,
            max_priority_fee_per_gas=draw(uints),
            max_fee_per_gas=draw(uints),
            access_list=draw(access_lists),
            **common,
        )
    return kind, unsigned, chain_id


def sign(kind, unsigned, chain_id, key):
    if kind.startswith("legacy"):
        return unsigned.as_signed_transaction(key, chain_id=chain_id)
    return unsigned.as_signed_transaction(key)


def with_signature(kind, unsigned, chain_id, v_or_parity: int, r: int, s: int):
    """The signed transaction of ``unsigned`` with whatever v (or y_parity), r and s."""
    if kind.startswith("legacy"):
        return Builder.new_transaction(
            nonce=unsigned.nonce, gas_price=unsigned.gas_price, gas=unsigned.gas, to=unsigned.to,
            value=unsigned.value, data=unsigned.data, v=v_or_parity, r=r, s=s,
        )
    fields = unsigned.as_dict()
    if kind == "access-list":
        return Builder.new_access_list_transaction(**fields, y_parity=v_or_parity, r=r, s=s)
    return Builder.new_dynamic_fee_transaction(**fields, y_parity=v_or_parity, r=r, s=s)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=unsigned_txs(), key=private_keys)
def test_signed_transactions_recover_the_signer(spec, key) -> None:
    kind, unsigned, chain_id = spec
    tx = sign(kind, unsigned, chain_id, key)
    assert assert_paths_agree(tx) == key.public_key.to_canonical_address()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=unsigned_txs(), key=private_keys, data=st.data())
def test_corrupted_signatures_agree_with_py_evm(spec, key, data) -> None:
    kind, unsigned, chain_id = spec
    signed = sign(kind, unsigned, chain_id, key)
    v_or_parity = signed.v if kind.startswith("legacy") else signed.y_parity
    if data.draw(st.booleans()):
        v_or_parity = data.draw(legacy_v(chain_id or 1) if kind.startswith("legacy") else y_parities)
    r = data.draw(st.one_of(st.just(signed.r), signature_ints))
    s = data.draw(st.one_of(st.just(signed.s), st.just(SECPK1_N - signed.s), signature_ints))
    assert_paths_agree(with_signature(kind, unsigned, chain_id, v_or_parity, r, s))


@settings(max_examples=100, deadline=None)
@given(spec=unsigned_txs(), key=private_keys, data=st.data())
def test_mutated_bytes_that_still_decode_agree_with_py_evm(spec, key, data) -> None:
    """Whatever bytes pyrlp still decodes (strictly), the fast path's message is py-evm's."""
    kind, unsigned, chain_id = spec
    raw = bytearray(sign(kind, unsigned, chain_id, key).encode())
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        tx = Builder.decode(bytes(raw))
    except Exception:  # noqa: BLE001 - most mutations do not decode
        return
    if type(tx) is Builder.typed_transaction and tx.type_id not in (1, 2):
        return  # blob / set-code: not Plume's, and not the fast path's
    assert_paths_agree(tx)


def test_high_s_recovers_as_in_py_evm_and_a_block_still_refuses_it(mem_chain) -> None:
    """py-evm's get_sender accepts s > n/2 (libsecp256k1 recovers it), and so does the
    fast path. Refusing it is the mempool's job (before recovering; tests/node) and, in
    a block, py-evm's state-level transaction validation (EIP-2, every type)."""
    good = transfer(0, 0)
    flipped = Builder.decode(
        Builder.new_dynamic_fee_transaction(
            chain_id=good.chain_id, nonce=good.nonce, max_priority_fee_per_gas=good.max_priority_fee_per_gas,
            max_fee_per_gas=good.max_fee_per_gas, gas=good.gas, to=good.to, value=good.value, data=good.data,
            access_list=good.access_list, y_parity=1 - good.y_parity, r=good.r, s=SECPK1_N - good.s,
        ).encode()
    )
    assert flipped.s > HALF_N
    assert assert_paths_agree(flipped) == ADDRS[0]
    result = mem_chain.build_block([flipped], timestamp=mem_chain.head.timestamp, coinbase=COINBASE, sidecar=sidecar())
    assert result.included == ()
    assert [reason for _, reason in result.rejected] == ["Invalid signature S value"]


def _raws(key) -> dict[str, bytes]:
    legacy = Builder.create_unsigned_transaction(nonce=1, gas_price=5, gas=21_000, to=b"\x02" * 20, value=3, data=b"x")
    typed = dict(chain_id=7, nonce=1, gas=21_000, to=b"", value=0, data=b"\x60\x00", access_list=[(b"\x03" * 20, [1])])
    return {
        "legacy": legacy.as_signed_transaction(key).encode(),
        "legacy-155": legacy.as_signed_transaction(key, chain_id=7).encode(),
        "access-list": Builder.new_unsigned_access_list_transaction(gas_price=5, **typed).as_signed_transaction(key).encode(),
        "dynamic-fee": Builder.new_unsigned_dynamic_fee_transaction(
            max_priority_fee_per_gas=1, max_fee_per_gas=5, **typed
        ).as_signed_transaction(key).encode(),
    }


@pytest.mark.parametrize("kind", ["legacy", "legacy-155", "access-list", "dynamic-fee"])
def test_recover_sender_does_not_call_py_evm(kind, monkeypatch) -> None:
    key = keys.PrivateKey(b"\x09" * 32)
    raw = _raws(key)[kind]

    def spy(self):
        raise AssertionError("py-evm's get_sender was called")

    monkeypatch.setattr(Builder.legacy_signed, "get_sender", spy)
    monkeypatch.setattr(Builder.typed_transaction, "get_sender", spy)
    txmod._senders.clear()
    assert decode_transaction(raw).sender == key.public_key.to_canonical_address()


@pytest.mark.parametrize("kind", ["legacy", "legacy-155", "access-list", "dynamic-fee"])
def test_without_coincurve_py_evm_recovers(kind, monkeypatch) -> None:
    key = keys.PrivateKey(b"\x0a" * 32)
    raw = _raws(key)[kind]
    calls = []
    original = {cls: cls.get_sender for cls in (Builder.legacy_signed, Builder.typed_transaction)}
    for cls, get_sender in original.items():
        monkeypatch.setattr(cls, "get_sender", lambda self, _g=get_sender: calls.append(1) or _g(self))
    monkeypatch.setattr(txmod, "Secp256k1PublicKey", None)
    txmod._senders.clear()
    assert fast_sender(Builder.decode(raw)) is None
    assert decode_transaction(raw).sender == key.public_key.to_canonical_address()
    assert calls == [1]


def test_a_bad_signature_raises_validation_error_on_both_paths(monkeypatch) -> None:
    unsigned = Builder.new_unsigned_dynamic_fee_transaction(
        chain_id=7, nonce=0, max_priority_fee_per_gas=1, max_fee_per_gas=2, gas=21_000,
        to=b"\x01" * 20, value=0, data=b"", access_list=(),
    )
    # Recovery ids 2 and 3 (x = r + n) recover a key in libsecp256k1 for a small r
    # (r = 2 does); eth-keys refuses a y_parity other than 0 or 1, and so must we.
    for r, s, y_parity in ((0, 1, 0), (1, 0, 0), (SECPK1_N, 1, 0), (2, 5, 2), (2, 5, 3), (1, 1, 256)):
        bad = Builder.decode(with_signature("dynamic-fee", unsigned, 7, y_parity, r, s).encode())
        txmod._senders.clear()
        with pytest.raises(ValidationError, match="invalid transaction signature"):
            recover_sender(bad)
    monkeypatch.setattr(txmod, "Secp256k1PublicKey", None)
    txmod._senders.clear()
    with pytest.raises(ValidationError, match="invalid transaction signature"):
        recover_sender(Builder.decode(with_signature("dynamic-fee", unsigned, 7, 0, 0, 1).encode()))


@pytest.mark.parametrize("y_parity", [2**4000, 2**20_000], ids=["1205 digits", "past int-to-str limit"])
def test_a_refusal_names_no_input_at_length(y_parity) -> None:
    unsigned = Builder.new_unsigned_dynamic_fee_transaction(
        chain_id=7, nonce=0, max_priority_fee_per_gas=1, max_fee_per_gas=2, gas=21_000,
        to=b"\x01" * 20, value=0, data=b"", access_list=(),
    )
    raw = with_signature("dynamic-fee", unsigned, 7, y_parity, 1, 1).encode()
    txmod._senders.clear()
    with pytest.raises(DecodeError) as refused:
        decode_transaction(raw)
    assert len(str(refused.value)) < 300

"""Transactions that py-evm used to choke on, and what building does when one blows up.

Real py-evm throughout. Where a failure has to be injected (no known
transaction still makes py-evm raise), one executor step is monkeypatched to
raise for one transaction only, after the EVM has already changed state for
it: the built block must leave that state behind, which a second chain that
re-executes the block checks (same state root, or InvalidBlock).
"""

from __future__ import annotations

import logging

import pytest
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague import PragueVM
from eth_keys import keys

import execution.chain as chain_module
from execution.chain import PlumeChain
from execution.errors import CallError, InvalidCall
from execution.vm import PlumeTransactionExecutor
from plume_exec_helpers import ADDRS, CHAIN_ID, COINBASE, GWEI, KEYS, SINK, make_genesis, sidecar, transfer

MAX_INITCODE = 49_152


def build(chain: PlumeChain, txs):
    return chain.build_block(txs, timestamp=chain.head.timestamp, coinbase=COINBASE, sidecar=sidecar())


def revalidate(block) -> None:
    """Execute `block` on a fresh chain from the same genesis: raises InvalidBlock on any mismatch."""
    PlumeChain(AtomicDB(), make_genesis()).validate_block(block)


@pytest.fixture
def blow_up(monkeypatch):
    """blow_up(tx_hash, ...): those txs raise RuntimeError half-way (gas bought, nonce bumped)."""
    doomed: set[bytes] = set()
    original = PlumeTransactionExecutor.build_computation

    def build_computation(self, message, transaction):
        computation = original(self, message, transaction)
        if transaction.hash in doomed:
            raise RuntimeError("boom: an unexpected py-evm failure")
        return computation

    monkeypatch.setattr(PlumeTransactionExecutor, "build_computation", build_computation)
    return lambda *hashes: doomed.update(hashes)


# ------------------------------------------------------- building survives a blow-up


def test_a_tx_that_raises_half_way_is_left_out_and_its_state_thrown_away(mem_chain, blow_up, caplog):
    good_a, bad, good_c = transfer(0, 0), transfer(1, 0, value=5), transfer(2, 0)
    blow_up(bad.hash)
    with caplog.at_level(logging.WARNING, logger="plume.execution"):
        result = build(mem_chain, [good_a, bad, good_c])
    assert [tx.hash for tx in result.included] == [good_a.hash, good_c.hash]
    assert result.rejected == ()
    assert [(tx.hash, reason) for tx, reason in result.failed] == [(
        bad.hash,
        "execution failed: TransactionFailed: transaction failed after validation: "
        "RuntimeError: boom: an unexpected py-evm failure",
    )]
    assert f"left out tx 0x{bad.hash.hex()}" in caplog.text
    revalidate(result.block)  # no trace of the bad tx's gas purchase or nonce bump
    mem_chain.commit(result.block)
    assert mem_chain.state_at().nonce(ADDRS[1]) == 0


def test_after_max_failures_the_block_is_cut_before_the_last_one(mem_chain, blow_up, monkeypatch):
    monkeypatch.setattr(chain_module, "MAX_FAILED_TXS_PER_BUILD", 2)
    txs = [transfer(0, 0), transfer(1, 0), transfer(0, 1), transfer(2, 0), transfer(0, 2), transfer(3, 0)]
    blow_up(txs[1].hash, txs[3].hash)
    result = build(mem_chain, txs)
    # After the second failure only what ran cleanly before it is kept; the
    # rest is neither included nor refused (it stays in the pool for later).
    assert [tx.hash for tx in result.included] == [txs[0].hash, txs[2].hash]
    assert [tx.hash for tx, _ in result.failed] == [txs[1].hash, txs[3].hash]
    assert result.rejected == ()
    revalidate(result.block)


def test_a_block_with_a_tx_that_raises_is_invalid_not_a_crash(blow_up):
    proposer = PlumeChain(AtomicDB(), make_genesis())
    block = build(proposer, [transfer(0, 0)]).block
    blow_up(transfer(0, 0).hash)
    validator = PlumeChain(AtomicDB(), make_genesis())
    with pytest.raises(chain_module.InvalidBlock, match="execution failed: TransactionFailed: .*RuntimeError: boom"):
        validator.validate_block(block)


# ------------------------------------------- rules py-evm checked half-way, or never


def test_initcode_over_the_eip3860_limit_is_refused_before_execution(mem_chain):
    too_big = transfer(0, 0, to=b"", data=b"\x00" * (MAX_INITCODE + 1), gas=1_000_000)
    result = build(mem_chain, [too_big])
    assert result.included == () and result.failed == ()
    assert [reason for _, reason in result.rejected] == [
        "initcode too large: the contract creation carries 49153 bytes of initcode, "
        "the EIP-3860 limit is 49152 bytes"
    ]
    at_limit = transfer(1, 0, to=b"", data=b"\x00" * MAX_INITCODE, gas=1_000_000)
    assert build(mem_chain, [at_limit]).included == (at_limit,)


def test_type2_below_intrinsic_gas_is_refused_without_touching_state(mem_chain):
    # py-evm does not check a type 2 tx's intrinsic gas: it bought the gas and
    # bumped the nonce, then failed on a negative message gas, and the builder
    # kept that state while leaving the tx out.
    short = transfer(1, 0, gas=20_999)
    result = build(mem_chain, [transfer(0, 0), short])
    assert result.failed == ()
    assert [reason for _, reason in result.rejected] == [
        "intrinsic gas too low: gas limit 20999, the tx needs at least 21000 "
        "(intrinsic gas 21000, EIP-7623 calldata floor 21000)"
    ]
    revalidate(result.block)


def test_gas_below_the_eip7623_calldata_floor_is_refused(mem_chain):
    # 100 non-zero bytes: intrinsic 22600, floor 25000. py-evm charged the
    # floor after execution, beyond the tx's own gas limit.
    below = transfer(0, 0, gas=24_999, data=b"\x01" * 100, kind=0)
    result = build(mem_chain, [below])
    assert result.included == () and result.failed == ()
    assert "EIP-7623 calldata floor 25000" in result.rejected[0][1]
    assert build(mem_chain, [transfer(0, 0, gas=25_000, data=b"\x01" * 100, kind=0)]).included


def test_a_blob_transaction_is_refused_by_the_vm(mem_chain):
    unsigned = PragueVM.get_transaction_builder().new_unsigned_blob_transaction(
        chain_id=CHAIN_ID, nonce=0, max_priority_fee_per_gas=GWEI, max_fee_per_gas=100 * GWEI,
        gas=100_000, to=SINK, value=0, data=b"", access_list=[], max_fee_per_blob_gas=GWEI,
        blob_versioned_hashes=[b"\x01" + b"\x00" * 31],
    )
    blob = unsigned.as_signed_transaction(keys.PrivateKey(KEYS[0]))
    result = build(mem_chain, [blob])
    assert result.failed == () and result.included == ()
    assert result.rejected[0][1] == "transaction type 3 is not supported on Plume"


# ----------------------------------------------------------------------- eth_call


def test_eth_call_with_oversized_initcode_is_an_invalid_call(mem_chain):
    fields = {"from": ADDRS[0], "data": b"\x00" * (MAX_INITCODE + 1), "gas": 5_000_000}
    for run in (mem_chain.call, mem_chain.estimate_gas):
        with pytest.raises(InvalidCall) as info:
            run(fields)
        assert isinstance(info.value, CallError) and info.value.revert_data == b""
        assert str(info.value) == (
            "invalid call: initcode too large: the contract creation carries 49153 bytes "
            "of initcode, the EIP-3860 limit is 49152 bytes"
        )
    assert mem_chain.call({**fields, "data": b"\x00" * MAX_INITCODE}) == b""


def test_estimate_gas_covers_the_eip7623_floor(mem_chain):
    # 1000 non-zero bytes to an account without code: intrinsic 37000, floor 61000.
    data = b"\x01" * 1000
    estimate = mem_chain.estimate_gas({"from": ADDRS[0], "to": SINK, "data": data})
    assert estimate == 61_000
    tx = transfer(0, 0, gas=estimate, data=data)
    assert build(mem_chain, [tx]).included == (tx,)
    assert build(mem_chain, [transfer(1, 0, gas=estimate - 1, data=data)]).included == ()

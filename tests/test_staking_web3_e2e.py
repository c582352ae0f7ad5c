"""End to end: the staking contract from web3.py with the shipped ABI, and from a Solidity
contract that delegates on behalf of its depositors (tests/fixtures/contracts/StakingDelegator.sol),
against a real `plume-node` process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.providers import HTTPProvider

from contracts import load_artifact
from staking.abi import shipped_abi
from staking.addresses import STAKING_ADDRESS
from waiting import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from e2e_node import CHAIN_ID, RunningNode, start_node  # noqa: E402

pytestmark = pytest.mark.slow
PLUME = 10**18
UNBONDING_S = 4


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> RunningNode:
    running = start_node(tmp_path_factory.mktemp("staking-web3"), staking={"unbonding_period": UNBONDING_S})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def w3(node) -> Web3:
    return Web3(HTTPProvider(node.rpc_url, request_kwargs={"timeout": 30}))


@pytest.fixture(scope="module")
def staking(w3):
    return w3.eth.contract(address=Web3.to_checksum_address(STAKING_ADDRESS), abi=shipped_abi())


def transact(w3: Web3, account, call, value: int = 0) -> dict:
    tx = call.build_transaction({
        "from": account.address, "value": value, "chainId": CHAIN_ID,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
    })
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.2)


def funded(w3: Web3, node: RunningNode, amount: int):
    account = Account.create()
    operator = node.operator()
    tx = {"to": account.address, "value": amount, "gas": 21000, "chainId": CHAIN_ID,
          "maxFeePerGas": 50 * 10**9, "maxPriorityFeePerGas": 10**9,
          "nonce": w3.eth.get_transaction_count(operator.address, "pending")}
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(operator.sign_transaction(tx).raw_transaction), timeout=60, poll_latency=0.2)
    assert receipt["status"] == 1
    return account


def test_web3_reads_delegates_and_sees_reverts(w3, node, staking):
    operator = node.operator().address
    operators, powers = staking.functions.getActiveValidators().call()
    assert operators == [operator] and powers == [100]  # the genesis validator, bonded at genesis
    assert staking.functions.params().call()[0] == UNBONDING_S

    delegator = funded(w3, node, 50 * PLUME)
    receipt = transact(w3, delegator, staking.functions.delegate(operator), value=10 * PLUME)
    assert receipt["status"] == 1
    (event,) = staking.events.Delegated().process_receipt(receipt)
    assert (event.args.delegator, event.args.validator, event.args.amount) == (delegator.address, operator, 10 * PLUME)
    shares, tokens = staking.functions.getDelegation(delegator.address, operator).call()
    assert tokens == 10 * PLUME and shares > 0
    assert staking.functions.totalBonded().call() == 110 * PLUME

    with pytest.raises(ContractLogicError, match="no validator with operator"):
        staking.functions.delegate(delegator.address).call({"from": delegator.address, "value": PLUME})
    # web3 itself refuses value for a non-payable method; the contract refuses it too
    data = staking.encode_abi("undelegate", args=[operator, 1])
    with pytest.raises(ContractLogicError, match="is not payable"):
        w3.eth.call({"from": delegator.address, "to": staking.address, "data": data, "value": 1})


def test_a_solidity_contract_delegates_for_its_depositors(w3, node, staking):
    operator = node.operator().address
    artifact = load_artifact("StakingDelegator")
    deployer = funded(w3, node, 20 * PLUME)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = transact(w3, deployer, factory.constructor(operator))
    assert receipt["status"] == 1
    pool = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])

    alice, bob = funded(w3, node, 20 * PLUME), funded(w3, node, 20 * PLUME)
    assert transact(w3, alice, pool.functions.deposit(), value=5 * PLUME)["status"] == 1
    assert transact(w3, bob, pool.functions.deposit(), value=3 * PLUME)["status"] == 1
    assert staking.functions.getDelegation(pool.address, operator).call()[1] == 8 * PLUME
    assert pool.functions.deposited(alice.address).call() == 5 * PLUME

    receipt = transact(w3, alice, pool.functions.requestWithdrawal(2 * PLUME))
    assert receipt["status"] == 1
    amount, completion = pool.functions.pending(alice.address).call()
    assert amount == 2 * PLUME
    (_,), (entry_time,), (entry_amount,) = staking.functions.getUnbondings(pool.address, operator).call()
    assert (entry_time, entry_amount) == (completion, 2 * PLUME)
    with pytest.raises(ContractLogicError):  # not matured yet
        pool.functions.claim().call({"from": alice.address})

    # The chain pays the matured undelegation to the pool's balance; then alice can claim.
    wait_until(lambda: w3.eth.get_balance(pool.address) >= 2 * PLUME, 60, "the matured undelegation in the pool")
    before, pool_before = w3.eth.get_balance(alice.address), w3.eth.get_balance(pool.address)
    receipt = transact(w3, alice, pool.functions.claim())
    assert receipt["status"] == 1
    spent = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert w3.eth.get_balance(alice.address) == before + 2 * PLUME - spent
    assert staking.functions.getDelegation(pool.address, operator).call()[1] == 6 * PLUME
    # what else the pool holds is the staking rewards paid to it when it undelegated
    assert w3.eth.get_balance(pool.address) == pool_before - 2 * PLUME

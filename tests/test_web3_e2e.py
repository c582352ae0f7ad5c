"""End to end: `plume-node init` + `plume-node start` in a subprocess, driven by
web3.py's HTTPProvider exactly as a wallet or dapp would (no middleware)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.providers import HTTPProvider

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from e2e_node import CHAIN_ID, RunningNode, start_node  # noqa: E402

pytestmark = pytest.mark.slow
GWEI = 10**9
PLUME = 10**18
FIXTURES = Path(__file__).resolve().parent / "fixtures"
RECIPIENT = "0x000000000000000000000000000000000000bEEF"


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> RunningNode:
    running = start_node(tmp_path_factory.mktemp("web3-e2e"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def w3(node) -> Web3:
    return Web3(HTTPProvider(node.rpc_url, request_kwargs={"timeout": 30}))


def _send(w3: Web3, account, tx: dict) -> dict:
    fields = {"chainId": CHAIN_ID, "nonce": w3.eth.get_transaction_count(account.address, "pending"), **tx}
    signed = account.sign_transaction(fields)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.2)


def test_identity(w3, node):
    assert w3.eth.chain_id == CHAIN_ID
    assert w3.net.version == str(CHAIN_ID)
    assert w3.client_version == "plume-node/v0.1.0/python"
    assert w3.eth.block_number >= 1
    assert w3.eth.syncing is False
    assert w3.eth.get_balance(node.operator().address) > 0


def test_eip1559_transfer_fees_and_burn(w3, node):
    operator = node.operator()
    before = w3.eth.get_balance(operator.address)
    tip = 2 * GWEI
    receipt = _send(w3, operator, {"to": RECIPIENT, "value": PLUME // 4, "gas": 21000,
                                   "maxFeePerGas": 50 * GWEI, "maxPriorityFeePerGas": tip})
    assert receipt["status"] == 1 and receipt["gasUsed"] == 21000 and receipt["type"] == 2
    block = w3.eth.get_block(receipt["blockNumber"])
    base_fee = block["baseFeePerGas"]
    assert base_fee >= 10**9  # the genesis floor
    assert receipt["effectiveGasPrice"] == base_fee + tip
    assert w3.eth.get_balance(RECIPIENT, receipt["blockNumber"]) >= PLUME // 4
    spent = before - w3.eth.get_balance(operator.address, receipt["blockNumber"])
    # the operator is also the proposer's fee address: it gets the tips back
    assert spent == PLUME // 4 + 21000 * base_fee

    # the supply counters: burned grows by half the block's base fee x gas
    supply_before = w3.provider.make_request("plume_supply", [hex(receipt["blockNumber"] - 1)])["result"]
    supply_after = w3.provider.make_request("plume_supply", [hex(receipt["blockNumber"])])["result"]
    fee = base_fee * block["gasUsed"]
    burned = int(supply_after["totalBurned"], 16) - int(supply_before["totalBurned"], 16)
    assert burned == fee - fee // 2
    def grew(key: str) -> int:
        return int(supply_after[key], 16) - int(supply_before[key], 16)

    # the pool took half the fee and the block reward, then shared it out to the signer
    assert grew("rewardPool") + grew("rewardsOutstanding") == fee // 2 + grew("totalIssued")
    assert grew("totalIssued") > 0
    assert grew("totalSupply") == grew("totalIssued") - burned

    # feeHistory reports the blocks' real base fees and this block's tip
    history = w3.eth.fee_history(1, receipt["blockNumber"], [50])
    assert history["baseFeePerGas"][0] == base_fee
    assert history["reward"][0][0] == tip
    assert history["gasUsedRatio"][0] == block["gasUsed"] / block["gasLimit"]
    later = w3.eth.get_block(receipt["blockNumber"] + 1) if w3.eth.block_number > receipt["blockNumber"] else None
    if later is not None:
        assert history["baseFeePerGas"][1] == later["baseFeePerGas"]
    assert w3.eth.gas_price >= base_fee


def test_erc20_deploy_call_transfer_logs(w3, node):
    operator = node.operator()
    art = json.loads((FIXTURES / "erc20.json").read_text())
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    deploy = factory.constructor(10**24).build_transaction({"from": operator.address, "chainId": CHAIN_ID})
    receipt = _send(w3, operator, {k: deploy[k] for k in ("data", "gas", "maxFeePerGas", "maxPriorityFeePerGas")})
    assert receipt["status"] == 1
    token = w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])
    assert token.functions.symbol().call() == "PTT"
    assert token.functions.balanceOf(operator.address).call() == 10**24

    transfer = token.functions.transfer(RECIPIENT, 1234).build_transaction({"from": operator.address, "chainId": CHAIN_ID})
    receipt = _send(w3, operator, {k: transfer[k] for k in ("to", "data", "gas", "maxFeePerGas", "maxPriorityFeePerGas")})
    assert receipt["status"] == 1
    assert token.functions.balanceOf(RECIPIENT).call() == 1234
    events = token.events.Transfer().get_logs(from_block=receipt["blockNumber"], to_block=receipt["blockNumber"])
    assert [(e["args"]["to"], e["args"]["value"]) for e in events] == [(RECIPIENT, 1234)]
    assert events[0]["transactionHash"] == receipt["transactionHash"]

    with pytest.raises(ContractLogicError, match="ERC20: transfer amount exceeds balance"):
        token.functions.transfer(operator.address, 1235).call({"from": RECIPIENT})


def test_error_cases(w3, node):
    operator = node.operator()
    tx = {"to": RECIPIENT, "value": 1, "gas": 21000, "maxFeePerGas": 50 * GWEI, "maxPriorityFeePerGas": GWEI,
          "chainId": CHAIN_ID}
    # one transfer of its own mined first, so nonce 0 is too low whatever ran before
    mined = w3.eth.send_raw_transaction(operator.sign_transaction(
        {**tx, "nonce": w3.eth.get_transaction_count(operator.address, "pending")}).raw_transaction)
    assert w3.eth.wait_for_transaction_receipt(mined, timeout=30)["status"] == 1
    with pytest.raises(Web3RPCError, match="nonce too low"):
        w3.eth.send_raw_transaction(operator.sign_transaction({**tx, "nonce": 0}).raw_transaction)
    nonce = w3.eth.get_transaction_count(operator.address, "pending")
    with pytest.raises(Web3RPCError, match="chain id"):
        w3.eth.send_raw_transaction(operator.sign_transaction({**tx, "nonce": nonce, "chainId": 1}).raw_transaction)
    with pytest.raises(Web3RPCError, match="insufficient funds"):
        stranger = Account.from_key(b"\x42" * 32)
        w3.eth.send_raw_transaction(stranger.sign_transaction({**tx, "nonce": 0}).raw_transaction)
    answer = w3.provider.make_request("eth_sendRawTransaction", ["0xdeadbeef"])
    assert answer["error"]["code"] == -32000
    answer = w3.provider.make_request("eth_getBalance", ["0x1234"])
    assert answer["error"]["code"] == -32602 and "address" in answer["error"]["message"]
    answer = w3.provider.make_request("eth_nope", [])
    assert answer["error"] == {"code": -32601, "message": "the method eth_nope does not exist/is not available"}
    # nothing of that reached the pool: the next nonce is unchanged
    assert w3.eth.get_transaction_count(operator.address, "pending") == nonce


def test_plume_namespace(w3, node):
    info = w3.provider.make_request("plume_nodeInfo", [])["result"]
    assert info["chainId"] == hex(CHAIN_ID) and info["version"] == "plume-node/v0.1.0/python"
    state = w3.provider.make_request("plume_consensusState", [])["result"]
    assert len(state["validators"]) == 1 and state["proposer"] == state["validators"][0]["address"]
    commit = w3.provider.make_request("plume_getBlockCommit", ["0x1"])["result"]
    assert commit["blockHash"] == w3.eth.get_block(1)["hash"].to_0x_hex()
    assert len(commit["signatures"]) == 1
    assert commit["signatures"][0]["validator"] == state["validators"][0]["address"]

"""The hand-assembled ERC-20 fixture through web3.py contracts: deploy, eth_call
views, estimateGas, transfer, revert reasons, and eth_getLogs filters."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import trio
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.providers import HTTPProvider

from rpc_harness import ACCOUNTS, CHAIN_ID, FIXTURES, GWEI, erc20_artifact

ALICE, BOB, CAROL = ACCOUNTS[0], ACCOUNTS[1], ACCOUNTS[2]
SUPPLY = 1_000_000 * 10**18
TRANSFER_TOPIC = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")


async def run(fn, *args, **kwargs):
    return await trio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


def test_fixture_matches_its_assembler_source():
    import importlib.util

    spec = importlib.util.spec_from_file_location("erc20_asm", FIXTURES / "erc20_asm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.artifact() == json.loads(Path(FIXTURES / "erc20.json").read_text())


def _send(w3: Web3, backend, account, tx: dict) -> bytes:
    tx = dict(tx)
    tx.setdefault("chainId", CHAIN_ID)
    tx.setdefault("maxFeePerGas", 10 * GWEI)
    tx.setdefault("maxPriorityFeePerGas", GWEI)
    signed = account.sign_transaction(tx)
    return w3.eth.send_raw_transaction(signed.raw_transaction)


@pytest.fixture
async def token(server, backend):
    """(w3, contract) with the token deployed by ALICE in block 1."""
    w3 = Web3(HTTPProvider(server))
    art = erc20_artifact()
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])

    def deploy_tx() -> dict:
        tx = factory.constructor(SUPPLY).build_transaction(
            {"from": ALICE.address, "nonce": 0, "chainId": CHAIN_ID, "maxFeePerGas": 10 * GWEI,
             "maxPriorityFeePerGas": GWEI})
        return tx

    tx = await run(deploy_tx)
    assert 400_000 < tx["gas"] < 1_000_000  # estimated by the node
    tx_hash = await run(_send, w3, backend, ALICE, tx)
    backend.produce_block()
    receipt = await run(w3.eth.get_transaction_receipt, tx_hash)
    assert receipt["status"] == 1 and receipt["contractAddress"]
    return w3, w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"]), receipt


async def test_deploy_call_transfer_and_logs(token, backend, client):
    w3, contract, deploy_receipt = token
    # the constructor's mint event is in the deploy receipt
    assert len(deploy_receipt["logs"]) == 1
    code = await run(w3.eth.get_code, contract.address)
    assert code.hex().removeprefix("0x") == erc20_artifact()["deployedBytecode"][2:]
    assert await run(contract.functions.name().call) == "Plume Test Token"
    assert await run(contract.functions.symbol().call) == "PTT"
    assert await run(contract.functions.decimals().call) == 18
    assert await run(contract.functions.totalSupply().call) == SUPPLY
    assert await run(contract.functions.balanceOf(ALICE.address).call) == SUPPLY

    def transfer_tx(nonce: int, to: str, amount: int) -> dict:
        return contract.functions.transfer(to, amount).build_transaction(
            {"from": ALICE.address, "nonce": nonce, "chainId": CHAIN_ID, "maxFeePerGas": 10 * GWEI,
             "maxPriorityFeePerGas": GWEI})

    h1 = await run(_send, w3, backend, ALICE, await run(transfer_tx, 1, BOB.address, 250))
    h2 = await run(_send, w3, backend, ALICE, await run(transfer_tx, 2, CAROL.address, 40))
    block = backend.produce_block()
    r1 = await run(w3.eth.get_transaction_receipt, h1)
    r2 = await run(w3.eth.get_transaction_receipt, h2)
    assert r1["status"] == r2["status"] == 1
    assert (r1["logs"][0]["logIndex"], r2["logs"][0]["logIndex"]) == (0, 1)
    assert await run(contract.functions.balanceOf(BOB.address).call) == 250
    # the balance slot is keccak(pad(addr) . pad(0)), readable with getStorageAt
    slot = Web3.keccak(bytes(12) + bytes.fromhex(BOB.address[2:]) + bytes(32))
    assert int((await run(w3.eth.get_storage_at, contract.address, slot)).hex(), 16) == 250
    # history: balance before the transfers
    assert await run(contract.functions.balanceOf(BOB.address).call, block_identifier=1) == 0

    events = await run(contract.events.Transfer().get_logs, from_block=0)
    assert [(e["args"]["to"], e["args"]["value"]) for e in events] == [
        (ALICE.address, SUPPLY), (BOB.address, 250), (CAROL.address, 40)]

    bob_topic = "0x" + "00" * 12 + BOB.address[2:].lower()
    carol_topic = "0x" + "00" * 12 + CAROL.address[2:].lower()
    only_bob = await client.call("eth_getLogs", {"fromBlock": "0x0", "address": contract.address,
                                                 "topics": [TRANSFER_TOPIC, None, bob_topic]})
    assert [entry["transactionHash"] for entry in only_bob] == [h1.to_0x_hex()]
    entry = only_bob[0]
    assert entry["blockHash"] == "0x" + block.hash.hex() and entry["blockNumber"] == "0x2"
    assert entry["transactionIndex"] == "0x0" and entry["logIndex"] == "0x0" and entry["removed"] is False
    assert entry["data"] == "0x" + (250).to_bytes(32, "big").hex()
    either = await client.call("eth_getLogs", {"fromBlock": "0x2", "toBlock": "latest",
                                               "topics": [None, None, [bob_topic, carol_topic]]})
    assert len(either) == 2
    by_hash = await client.call("eth_getLogs", {"blockHash": "0x" + block.hash.hex(), "address": [contract.address]})
    assert len(by_hash) == 2
    assert await client.call("eth_getLogs", {"fromBlock": "0x0", "address": BOB.address}) == []
    assert await client.call("eth_getLogs", {"fromBlock": "0x0", "topics": ["0x" + "00" * 32]}) == []
    # a range that starts beyond the head is empty, a reversed one is an error
    assert await client.call("eth_getLogs", {"fromBlock": "0x50", "toBlock": "0x60"}) == []
    error = await client.error("eth_getLogs", {"fromBlock": "0x2", "toBlock": "0x1"})
    assert error["code"] == -32602 and "fromBlock 2 is after toBlock 1" in error["message"]


async def test_log_range_cap(client, backend, monkeypatch):
    for _ in range(3):
        backend.produce_block()
    from plume_node.rpc import methods_logs

    # a toBlock beyond the head is clipped to it before the range is measured
    far = hex(methods_logs.MAX_BLOCK_RANGE + 5)
    assert await client.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": far}) == []
    monkeypatch.setattr(methods_logs, "MAX_BLOCK_RANGE", 2)
    error = await client.error("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
    assert error["code"] == -32005
    assert error["message"] == "block range too large: 4 blocks (0..3); query at most 2 at a time"


async def test_reverts_come_back_with_reason_and_data(token, client):
    w3, contract, _ = token
    call = {"from": BOB.address, "to": contract.address,
            "input": contract.encode_abi("transfer", args=[CAROL.address, 1])}
    error = await client.error("eth_call", call, "latest")
    assert error["code"] == 3
    assert error["message"] == "execution reverted: ERC20: transfer amount exceeds balance"
    assert error["data"].startswith("0x08c379a0")
    error = await client.error("eth_estimateGas", call)
    assert error["code"] == 3 and error["message"].endswith("exceeds balance")
    with pytest.raises(ContractLogicError, match="transfer amount exceeds balance"):
        await run(contract.functions.transfer(CAROL.address, 1).call, {"from": BOB.address})
    # a revert without data (value sent to a non-payable contract)
    error = await client.error("eth_call", {"from": ALICE.address, "to": contract.address, "value": "0x1"})
    assert error == {"code": 3, "message": "execution reverted", "data": "0x"}
    # and a successful estimate is a real gas number
    ok = {"from": ALICE.address, "to": contract.address,
          "input": contract.encode_abi("transfer", args=[CAROL.address, 1])}
    assert 30_000 < int(await client.call("eth_estimateGas", ok), 16) < 80_000

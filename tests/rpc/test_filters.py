"""Polling filters, as ethers.js uses them to watch events over HTTP."""

from __future__ import annotations

import functools

import trio
from web3 import Web3
from web3.providers import HTTPProvider

from plume_node.rpc import methods_filters
from rpc_harness import ACCOUNTS, CHAIN_ID, GWEI, erc20_artifact, sign_transfer

ALICE, BOB = ACCOUNTS[0], ACCOUNTS[1]


async def run(fn, *args, **kwargs):
    return await trio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


async def test_block_and_pending_filters(client, backend):
    blocks = await client.call("eth_newBlockFilter")
    pending = await client.call("eth_newPendingTransactionFilter")
    assert await client.call("eth_getFilterChanges", blocks) == []
    tx_hash = await client.call("eth_sendRawTransaction", "0x" + sign_transfer(ALICE, BOB.address, 1, 0).hex())
    assert await client.call("eth_getFilterChanges", pending) == [tx_hash]
    assert await client.call("eth_getFilterChanges", pending) == []
    b1 = backend.produce_block()
    b2 = backend.produce_block()
    assert await client.call("eth_getFilterChanges", blocks) == ["0x" + b1.hash.hex(), "0x" + b2.hash.hex()]
    assert await client.call("eth_getFilterChanges", blocks) == []
    error = await client.error("eth_getFilterLogs", blocks)
    assert "not a log filter" in error["message"]
    assert await client.call("eth_uninstallFilter", blocks) is True
    assert await client.call("eth_uninstallFilter", blocks) is False
    assert (await client.error("eth_getFilterChanges", blocks)) == {"code": -32000, "message": "filter not found"}


async def test_log_filter_through_web3_contract_events(server, backend, client):
    w3 = Web3(HTTPProvider(server))
    art = erc20_artifact()
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])

    def deploy() -> str:
        tx = factory.constructor(10**6).build_transaction({"from": ALICE.address, "nonce": 0, "chainId": CHAIN_ID,
                                                           "maxFeePerGas": 10 * GWEI, "maxPriorityFeePerGas": GWEI})
        return w3.eth.send_raw_transaction(ALICE.sign_transaction(tx).raw_transaction)

    tx_hash = await run(deploy)
    backend.produce_block()
    address = (await run(w3.eth.get_transaction_receipt, tx_hash))["contractAddress"]
    token = w3.eth.contract(address=address, abi=art["abi"])
    event_filter = await run(token.events.Transfer.create_filter, from_block="latest")
    assert await run(event_filter.get_new_entries) == []

    def transfer(nonce: int, amount: int) -> None:
        tx = token.functions.transfer(BOB.address, amount).build_transaction(
            {"from": ALICE.address, "nonce": nonce, "chainId": CHAIN_ID, "maxFeePerGas": 10 * GWEI,
             "maxPriorityFeePerGas": GWEI})
        w3.eth.send_raw_transaction(ALICE.sign_transaction(tx).raw_transaction)

    await run(transfer, 1, 5)
    backend.produce_block()
    await run(transfer, 2, 6)
    backend.produce_block()
    entries = await run(event_filter.get_new_entries)
    assert [e["args"]["value"] for e in entries] == [5, 6]
    assert await run(event_filter.get_new_entries) == []
    # getFilterLogs answers the whole criteria again
    assert [e["args"]["value"] for e in await run(event_filter.get_all_entries)] == [5, 6]


async def test_filters_expire_and_are_capped(client, backend, monkeypatch):
    monkeypatch.setattr(methods_filters, "MAX_FILTERS", 2)
    first = await client.call("eth_newBlockFilter")
    await client.call("eth_newBlockFilter")
    error = await client.error("eth_newBlockFilter")
    assert error["code"] == -32000 and "too many filters (2)" in error["message"]
    monkeypatch.setattr(methods_filters, "FILTER_TIMEOUT_S", -1.0)
    assert (await client.error("eth_getFilterChanges", first))["message"] == "filter not found"
    assert isinstance(await client.call("eth_newBlockFilter"), str)


async def test_filter_ids_are_quantities_without_a_leading_zero(client):
    # the execution-apis schema types filter ids as QUANTITY: ^0x(0|[1-9a-f][0-9a-f]*)$
    import re

    for _ in range(64):
        fid = await client.call("eth_newBlockFilter")
        assert re.fullmatch(r"0x[1-9a-f][0-9a-f]*", fid), fid
        assert await client.call("eth_uninstallFilter", fid) is True

"""End-of-block logs reach clients exactly like transaction logs: eth_getLogs (address, topic and
block-range filters), log filters, eth_subscribe("logs") and the header's logsBloom; each is
reported after the block's transactions under the derived hash keccak(b"plume-end-of-block" ‖
height ‖ block hash), at transactionIndex = number of transactions, logIndex continuing."""

from __future__ import annotations

import pytest
from eth_bloom import BloomFilter
from eth_utils import keccak

from execution.chain import PlumeChain
from plume_node.storage import PREFIX_CHAIN, open_database
from rpc_harness import make_backend
from staking import abi
from staking.addresses import STAKING_ADDRESS
from staking.end_of_block import END_OF_BLOCK_HOOKS
from test_websocket import BOB, Ws, _deploy_token, _token_transfer

OPERATOR = bytes.fromhex("0b" * 20)
STAKING = "0x" + STAKING_ADDRESS.hex()
SLASHED_TOPIC = "0x%064x" % abi.SLASHED.topic0


def slash_every_third_block(state, ctx) -> None:
    """A hook that logs like the staking hooks do, on heights divisible by 3."""
    if ctx.height % 3 == 0:
        ctx.emit(STAKING_ADDRESS, abi.SLASHED, (OPERATOR,), (abi.Infraction.DOWNTIME, ctx.height, ctx.height))


@pytest.fixture
def backend(tmp_path):
    b = make_backend(tmp_path)
    b.chain = PlumeChain(b.db.prefixed(PREFIX_CHAIN), b.chain.genesis,
                         end_block_hooks=END_OF_BLOCK_HOOKS + (slash_every_third_block,))
    yield b
    b.close()


def derived_hash(height: int, block_hash: str) -> str:
    return "0x" + keccak(b"plume-end-of-block" + height.to_bytes(8, "big") + bytes.fromhex(block_hash[2:])).hex()


async def test_end_of_block_logs_through_get_logs_filters_subscriptions_and_bloom(server, backend, client):
    token = await _deploy_token(client, backend)  # block 1
    ws = await Ws.open(server)
    try:
        by_address = await ws.call("eth_subscribe", "logs", {"address": STAKING})
        flt = await client.call("eth_newFilter", {"address": STAKING})
        backend.produce_block()  # 2: nothing
        await client.call("eth_sendRawTransaction", "0x" + _token_transfer(token, BOB.address, 5, 1).hex())
        blk = backend.produce_block()  # 3: a Transfer log, then the hook's log
        assert blk.number == 3 and len(blk.transactions) == 1
        logs = await client.call("eth_getLogs", {"blockHash": "0x" + blk.hash.hex()})
        assert [entry["address"] for entry in logs] == [token, STAKING]
        system = logs[1]
        assert system == {
            "address": STAKING,
            "topics": [SLASHED_TOPIC, "0x" + bytes(12).hex() + OPERATOR.hex()],
            "data": "0x" + abi.event_log(abi.SLASHED, (OPERATOR,), (2, 3, 3))[1].hex(),
            "blockNumber": "0x3",
            "blockHash": "0x" + blk.hash.hex(),
            "transactionHash": derived_hash(3, "0x" + blk.hash.hex()),
            "transactionIndex": "0x1",  # the number of the block's transactions
            "logIndex": "0x1",  # after the transaction's log
            "removed": False,
        }
        # no transaction or receipt answers for the derived hash
        assert await client.call("eth_getTransactionReceipt", system["transactionHash"]) is None
        assert await client.call("eth_getTransactionByHash", system["transactionHash"]) is None
        # the header's bloom has the log's address and topics (a bloom-filtered scan finds it)
        bloom = BloomFilter(int((await client.call("eth_getBlockByNumber", "0x3", False))["logsBloom"], 16))
        assert STAKING_ADDRESS in bloom and abi.SLASHED.topic0.to_bytes(32, "big") in bloom
        # the subscription and the filter saw exactly it
        note = await ws.notification()
        assert note["params"] == {"subscription": by_address, "result": system}
        assert await client.call("eth_getFilterChanges", flt) == [system]
        assert await client.call("eth_getFilterChanges", flt) == []
        for _ in range(3):
            backend.produce_block()  # 4, 5, 6
        six = await client.call("eth_getLogs", {"fromBlock": "0x6", "toBlock": "0x6"})
        assert len(six) == 1 and six[0]["transactionIndex"] == "0x0" and six[0]["logIndex"] == "0x0"
        # address, topic and range filters
        assert await client.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": STAKING}) == [system, six[0]]
        assert await client.call("eth_getLogs", {"fromBlock": "0x0", "topics": [SLASHED_TOPIC]}) == [system, six[0]]
        assert await client.call("eth_getLogs", {"fromBlock": "0x4", "toBlock": "0x5"}) == []
        assert await client.call("eth_getLogs", {"fromBlock": "0x0", "topics": [[SLASHED_TOPIC], ["0x" + "00" * 32]]}) == []
        assert await client.call("eth_getFilterChanges", flt) == six
        assert (await ws.notification())["params"]["result"] == six[0]
    finally:
        await ws.close()


def test_logs_are_read_back_after_a_restart(tmp_path):
    """Persisted with the block: a chain reopened on the same LevelDB serves them."""
    backend = make_backend(tmp_path)
    hooks = END_OF_BLOCK_HOOKS + (slash_every_third_block,)
    backend.chain = PlumeChain(backend.db.prefixed(PREFIX_CHAIN), backend.chain.genesis, end_block_hooks=hooks)
    for _ in range(3):
        blk = backend.produce_block()
    logs = backend.chain.get_system_logs_by_hash(blk.hash)
    assert len(logs) == 1
    genesis = backend.chain.genesis
    backend.close()
    db = open_database(tmp_path / "data")
    try:
        reopened = PlumeChain(db.prefixed(PREFIX_CHAIN), genesis, end_block_hooks=hooks)
        assert reopened.head.hash == blk.hash
        assert reopened.get_system_logs_by_hash(blk.hash) == logs
    finally:
        db.close()


"""eth_* result shapes and error cases over a real chain, through web3.py's
HTTPProvider where it helps (it validates the shapes as wallets would) and
plain HTTP where the exact JSON matters."""

from __future__ import annotations

import functools

import pytest
import trio
from eth_account import Account
from web3 import Web3
from web3.providers import HTTPProvider

from rpc_harness import ACCOUNTS, CHAIN_ID, COINBASE, GWEI, PLUME, sign_transfer

ALICE, BOB, CAROL = ACCOUNTS[0], ACCOUNTS[1], ACCOUNTS[2]


async def run(fn, *args, **kwargs):
    return await trio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


@pytest.fixture
def w3(server) -> Web3:
    return Web3(HTTPProvider(server))


def _is_quantity(value: str) -> bool:
    return value.startswith("0x") and (value == "0x0" or not value[2:].startswith("0"))


async def test_identity_methods(client, backend):
    assert await client.call("web3_clientVersion") == "plume-node/v0.1.0/python"
    assert await client.call("net_version") == str(CHAIN_ID)
    assert await client.call("net_listening") is True
    backend.peers = 3
    assert await client.call("net_peerCount") == "0x3"
    assert await client.call("eth_accounts") == []
    assert await client.call("eth_syncing") is False
    backend.sync_status = {"starting_block": 0, "current_block": 5, "highest_block": 9}
    assert await client.call("eth_syncing") == {"startingBlock": "0x0", "currentBlock": "0x5", "highestBlock": "0x9"}


async def test_transfer_lifecycle_shapes(client, backend, w3):
    raw = sign_transfer(ALICE, BOB.address, 5 * PLUME, 0, tip=2 * GWEI)
    tx_hash = await client.call("eth_sendRawTransaction", "0x" + raw.hex())
    assert tx_hash == "0x" + Web3.keccak(raw).hex().removeprefix("0x")

    pending = await client.call("eth_getTransactionByHash", tx_hash)
    assert pending["blockHash"] is None and pending["blockNumber"] is None and pending["transactionIndex"] is None
    assert pending["blockTimestamp"] is None
    assert pending["from"] == ALICE.address and pending["type"] == "0x2"
    assert await client.call("eth_getTransactionReceipt", tx_hash) is None
    assert await client.call("eth_getTransactionCount", ALICE.address, "pending") == "0x1"
    assert await client.call("eth_getTransactionCount", ALICE.address, "latest") == "0x0"

    base_fee = backend.chain.next_base_fee()
    block = backend.produce_block()
    mined = await client.call("eth_getTransactionByHash", tx_hash)
    assert mined["blockHash"] == "0x" + block.hash.hex()
    assert mined["blockNumber"] == "0x1" and mined["transactionIndex"] == "0x0"
    assert mined["blockTimestamp"] == hex(block.header.timestamp)  # required by the execution-apis schema
    full = await client.call("eth_getBlockByNumber", "0x1", True)
    assert full["transactions"][0] == mined == await client.call("eth_getTransactionByBlockNumberAndIndex", "0x1", "0x0")
    assert mined["gasPrice"] == hex(base_fee + 2 * GWEI)
    assert mined["yParity"] in ("0x0", "0x1") and mined["chainId"] == hex(CHAIN_ID)
    for key in ("nonce", "gas", "value", "maxFeePerGas", "maxPriorityFeePerGas", "r", "s", "v"):
        assert _is_quantity(mined[key]), (key, mined[key])

    receipt = await client.call("eth_getTransactionReceipt", tx_hash)
    assert receipt["status"] == "0x1"
    assert receipt["gasUsed"] == receipt["cumulativeGasUsed"] == hex(21000)
    assert receipt["effectiveGasPrice"] == hex(base_fee + 2 * GWEI)
    assert receipt["contractAddress"] is None and receipt["logs"] == []
    assert receipt["type"] == "0x2" and len(receipt["logsBloom"]) == 2 + 512
    assert receipt["from"] == ALICE.address and receipt["to"] == BOB.address

    # web3 parses the same answers into its typed objects
    w3_receipt = await run(w3.eth.get_transaction_receipt, tx_hash)
    assert w3_receipt["blockNumber"] == 1 and w3_receipt["status"] == 1
    assert await run(w3.eth.get_balance, BOB.address) == 1005 * PLUME
    assert await run(w3.eth.get_balance, BOB.address, 0) == 1000 * PLUME
    assert await run(w3.eth.get_transaction_count, ALICE.address) == 1


async def test_blocks_by_number_hash_and_tags(client, backend, w3):
    await client.call("eth_sendRawTransaction", "0x" + sign_transfer(ALICE, BOB.address, 1, 0).hex())
    await client.call("eth_sendRawTransaction", "0x" + sign_transfer(CAROL, BOB.address, 1, 0).hex())
    block = backend.produce_block()
    by_number = await client.call("eth_getBlockByNumber", "0x1", False)
    by_hash = await client.call("eth_getBlockByHash", "0x" + block.hash.hex(), False)
    assert by_number == by_hash
    assert by_number["baseFeePerGas"] == hex(block.header.base_fee_per_gas)
    assert by_number["miner"].lower() == "0x" + COINBASE.hex()
    assert by_number["gasUsed"] == hex(42000)
    assert len(by_number["transactions"]) == 2 and all(isinstance(t, str) for t in by_number["transactions"])
    for key in ("number", "gasLimit", "gasUsed", "timestamp", "size", "difficulty", "baseFeePerGas"):
        assert _is_quantity(by_number[key]), key
    full = await client.call("eth_getBlockByNumber", "0x1", True)
    assert [t["hash"] for t in full["transactions"]] == by_number["transactions"]
    assert [t["transactionIndex"] for t in full["transactions"]] == ["0x0", "0x1"]
    for tag in ("latest", "finalized", "safe", "pending"):
        assert (await client.call("eth_getBlockByNumber", tag, False))["hash"] == by_number["hash"], tag
    assert (await client.call("eth_getBlockByNumber", "earliest", False))["number"] == "0x0"
    assert await client.call("eth_getBlockByNumber", "0x9", False) is None
    assert await client.call("eth_getBlockByHash", "0x" + "00" * 32, False) is None
    assert await client.call("eth_getBlockTransactionCountByNumber", "0x1") == "0x2"
    assert await client.call("eth_getBlockTransactionCountByHash", "0x" + block.hash.hex()) == "0x2"
    assert await client.call("eth_getBlockTransactionCountByNumber", "0x5") is None
    # cumulative gas and log indexes run across the block's receipts
    second = await client.call("eth_getTransactionReceipt", by_number["transactions"][1])
    assert second["cumulativeGasUsed"] == hex(42000) and second["gasUsed"] == hex(21000)
    w3_block = await run(w3.eth.get_block, "latest", True)
    assert w3_block["number"] == 1 and w3_block["baseFeePerGas"] == block.header.base_fee_per_gas


async def test_legacy_and_access_list_transactions(client, backend):
    legacy = ALICE.sign_transaction({"nonce": 0, "gasPrice": 5 * GWEI, "gas": 21000, "to": BOB.address,
                                     "value": 7, "chainId": CHAIN_ID})
    access = ALICE.sign_transaction({"type": 1, "nonce": 1, "gasPrice": 5 * GWEI, "gas": 30000,
                                     "to": BOB.address, "value": 8, "chainId": CHAIN_ID,
                                     "accessList": [{"address": CAROL.address, "storageKeys": ["0x" + "00" * 31 + "01"]}]})
    h0 = await client.call("eth_sendRawTransaction", "0x" + bytes(legacy.raw_transaction).hex())
    h1 = await client.call("eth_sendRawTransaction", "0x" + bytes(access.raw_transaction).hex())
    backend.produce_block()
    t0 = await client.call("eth_getTransactionByHash", h0)
    t1 = await client.call("eth_getTransactionByHash", h1)
    assert t0["type"] == "0x0" and t0["gasPrice"] == hex(5 * GWEI) and "maxFeePerGas" not in t0
    assert int(t0["v"], 16) in (CHAIN_ID * 2 + 35, CHAIN_ID * 2 + 36)
    assert t1["type"] == "0x1" and t1["accessList"] == [
        {"address": CAROL.address, "storageKeys": ["0x" + "00" * 31 + "01"]}]
    r0 = await client.call("eth_getTransactionReceipt", h0)
    r1 = await client.call("eth_getTransactionReceipt", h1)
    assert (r0["type"], r1["type"]) == ("0x0", "0x1")
    assert r0["effectiveGasPrice"] == hex(5 * GWEI)


async def test_rejected_transactions_carry_the_mempool_message_and_leave_it_unchanged(client, backend):
    await client.call("eth_sendRawTransaction", "0x" + sign_transfer(ALICE, BOB.address, 1, 0).hex())
    backend.produce_block()
    queued = sign_transfer(ALICE, BOB.address, 1, 1)
    await client.call("eth_sendRawTransaction", "0x" + queued.hex())
    before = set(backend.mempool)

    cases = [
        (b"\x01\x02garbage", None),
        (sign_transfer(ALICE, BOB.address, 1, 0), "nonce too low"),
        (sign_transfer(ALICE, BOB.address, 1, 2, chain_id=1), "chain id"),
        (sign_transfer(ALICE, BOB.address, 1, 500), None),
        (sign_transfer(ALICE, BOB.address, 1, 2, max_fee=1), None),
        (sign_transfer(Account.from_key(b"\x77" * 32), BOB.address, 1, 0), "insufficient funds"),
        (queued, None),  # already known
    ]
    for raw, fragment in cases:
        error = await client.error("eth_sendRawTransaction", "0x" + raw.hex())
        assert error["code"] == -32000, error
        assert error["message"] and "data" in error
        if fragment:
            assert fragment in error["message"], error["message"]
        assert set(backend.mempool) == before, raw.hex()

    nonce_error = await client.error("eth_sendRawTransaction", "0x" + sign_transfer(ALICE, BOB.address, 1, 0).hex())
    assert nonce_error["message"] == "nonce too low: account has nonce 1, tx has 0"
    assert nonce_error["data"] == "nonce_too_low"


async def test_account_reads_at_blocks(client, backend):
    await client.call("eth_sendRawTransaction", "0x" + sign_transfer(ALICE, BOB.address, 3, 0).hex())
    backend.produce_block()
    assert await client.call("eth_getBalance", BOB.address, "0x0") == hex(1000 * PLUME)
    assert await client.call("eth_getBalance", BOB.address, "latest") == hex(1000 * PLUME + 3)
    genesis_hash = (await client.call("eth_getBlockByNumber", "0x0", False))["hash"]
    assert await client.call("eth_getBalance", BOB.address, {"blockHash": genesis_hash}) == hex(1000 * PLUME)
    assert await client.call("eth_getBalance", BOB.address, {"blockNumber": "0x1"}) == hex(1000 * PLUME + 3)
    error = await client.error("eth_getBalance", BOB.address, "0x7")
    assert error["code"] == -32000 and "beyond the head" in error["message"]
    error = await client.error("eth_getBalance", BOB.address, {"blockHash": "0x" + "ab" * 32})
    assert error["code"] == -32000 and "header not found" in error["message"]
    assert await client.call("eth_getCode", BOB.address) == "0x"
    assert await client.call("eth_getStorageAt", BOB.address, "0x0") == "0x" + "00" * 32


async def test_fee_methods_follow_the_real_base_fee(client, backend, w3):
    await client.call("eth_sendRawTransaction", "0x" + sign_transfer(ALICE, BOB.address, 1, 0, tip=1 * GWEI).hex())
    await client.call("eth_sendRawTransaction", "0x" + sign_transfer(CAROL, BOB.address, 1, 0, tip=3 * GWEI).hex())
    first = backend.produce_block()
    backend.produce_block()  # empty
    next_base = backend.chain.next_base_fee()
    history = await client.call("eth_feeHistory", "0x3", "latest", [0, 50, 100])
    assert history["oldestBlock"] == "0x0"
    assert len(history["baseFeePerGas"]) == 4 and history["baseFeePerGas"][-1] == hex(next_base)
    assert history["baseFeePerGas"][1] == hex(first.header.base_fee_per_gas)
    assert history["gasUsedRatio"][1] == 42000 / first.header.gas_limit
    assert history["gasUsedRatio"][2] == 0
    assert history["reward"][1] == [hex(GWEI), hex(GWEI), hex(3 * GWEI)]
    assert history["reward"][2] == ["0x0", "0x0", "0x0"]
    no_rewards = await client.call("eth_feeHistory", "0x1", "0x1")
    assert "reward" not in no_rewards and no_rewards["baseFeePerGas"][1] == hex(
        backend.chain.get_header(2).base_fee_per_gas)
    tip = int(await client.call("eth_maxPriorityFeePerGas"), 16)
    assert tip in (GWEI, 3 * GWEI)
    assert await client.call("eth_gasPrice") == hex(next_base + tip)
    w3_history = await run(w3.eth.fee_history, 2, "latest", [25, 75])
    assert w3_history["baseFeePerGas"][-1] == next_base


async def test_syncing_and_pending_nonce_with_queue(client, backend):
    # pending counts only the executable run: a gap stops it
    await client.call("eth_sendRawTransaction", "0x" + sign_transfer(ALICE, BOB.address, 1, 0).hex())
    await client.call("eth_sendRawTransaction", "0x" + sign_transfer(ALICE, BOB.address, 1, 2).hex())
    assert await client.call("eth_getTransactionCount", ALICE.address, "pending") == "0x1"


async def test_eth_coinbase_is_not_supported_as_on_geth_without_an_etherbase(client):
    error = await client.error("eth_coinbase")
    assert error["code"] == -32601 and "eth_coinbase" in error["message"]


async def test_eth_get_proof_verifies_against_the_state_root(client, backend):
    """EIP-1186: account and storage proofs checked by an independent verifier (the trie package)."""
    import rlp
    from eth_hash.auto import keccak
    from trie import HexaryTrie

    from staking.addresses import REWARD_POOL_ADDRESS
    from staking.fees import SLOT_TOTAL_SUPPLY

    backend.produce_block()
    block = await client.call("eth_getBlockByNumber", "latest", False)
    state_root = bytes.fromhex(block["stateRoot"][2:])

    def proven(root: bytes, key: bytes, proof: list[str]) -> bytes:
        return HexaryTrie.get_from_proof(root, keccak(key), [rlp.decode(bytes.fromhex(n[2:])) for n in proof])

    pool = "0x" + REWARD_POOL_ADDRESS.hex()
    answer = await client.call("eth_getProof", pool, [hex(SLOT_TOTAL_SUPPLY), "0x7"], "latest")
    account = rlp.decode(proven(state_root, REWARD_POOL_ADDRESS, answer["accountProof"]))
    assert [int.from_bytes(account[0], "big"), int.from_bytes(account[1], "big")] == [
        int(answer["nonce"], 16), int(answer["balance"], 16)]
    assert "0x" + account[2].hex() == answer["storageHash"] and "0x" + account[3].hex() == answer["codeHash"]
    storage_root = bytes.fromhex(answer["storageHash"][2:])
    supply, empty = answer["storageProof"]
    value = rlp.decode(proven(storage_root, SLOT_TOTAL_SUPPLY.to_bytes(32, "big"), supply["proof"]))
    assert int.from_bytes(value, "big") == int(supply["value"], 16) > 0
    assert empty["value"] == "0x0" and proven(storage_root, (7).to_bytes(32, "big"), empty["proof"]) == b""
    # an account that does not exist is proven absent
    ghost = "0x" + "ab" * 20
    absent = await client.call("eth_getProof", ghost, [], "latest")
    assert absent["balance"] == "0x0" and proven(state_root, bytes.fromhex("ab" * 20), absent["accountProof"]) == b""
    # bounded
    error = await client.error("eth_getProof", pool, ["0x1"] * 257, "latest")
    assert error["code"] == -32602 and "at most 256" in error["message"]

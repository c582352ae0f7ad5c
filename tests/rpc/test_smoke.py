import trio
from web3 import Web3
from web3.providers import HTTPProvider

from rpc_harness import ACCOUNTS, CHAIN_ID, sign_transfer


async def test_chain_id_and_block_number(client, backend):
    assert await client.call("eth_chainId") == hex(CHAIN_ID)
    assert await client.call("eth_blockNumber") == "0x0"
    backend.produce_block()
    assert await client.call("eth_blockNumber") == "0x1"


async def test_web3_transfer(server, backend):
    w3 = Web3(HTTPProvider(server))
    alice, bob = ACCOUNTS[0], ACCOUNTS[1]
    raw = sign_transfer(alice, bob.address, 12345, 0)
    tx_hash = await trio.to_thread.run_sync(w3.eth.send_raw_transaction, raw)
    pending = await trio.to_thread.run_sync(w3.eth.get_transaction, tx_hash)
    assert pending["blockHash"] is None
    backend.produce_block()
    receipt = await trio.to_thread.run_sync(w3.eth.get_transaction_receipt, tx_hash)
    assert receipt["status"] == 1 and receipt["gasUsed"] == 21000
    block = await trio.to_thread.run_sync(w3.eth.get_block, "latest", True)
    assert block["transactions"][0]["hash"] == tx_hash
    hist = await trio.to_thread.run_sync(w3.eth.fee_history, 1, "latest", [50])
    print(hist)
    print(await trio.to_thread.run_sync(lambda: w3.eth.gas_price))

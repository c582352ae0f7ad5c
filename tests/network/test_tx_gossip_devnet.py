"""Transaction gossip between real node processes: batches reach every pool.

Four `plume-node start` validators over real TCP. Transactions submitted to
one node behind a nonce gap cannot be mined, so the only way they reach the
other nodes is transaction gossip (`TxBatch`); each node's pool must then
hold all of them. Filling the gap lets the whole run commit everywhere.
"""

from __future__ import annotations

import pytest
from eth_account import Account

from netharness import Net
from rpcclient import rpc
from waiting import wait_until

pytestmark = pytest.mark.slow

GAPPED = 40  # more than one flush's worth at RPC speed, fewer than max_nonce_gap (64)


def _sign(net: Net, sender: dict, nonce: int, base_fee: int) -> str:
    tx = {
        "type": 2, "chainId": net.chain_id, "nonce": nonce, "to": Account.create().address, "value": 1,
        "gas": 21000, "maxFeePerGas": 4 * base_fee + 10**9, "maxPriorityFeePerGas": 10**9,
    }
    return "0x" + bytes(Account.sign_transaction(tx, sender["private_key"]).raw_transaction).hex()


def _pooled(url: str, tx_hash: str) -> bool:
    tx = rpc(url, "eth_getTransactionByHash", tx_hash)
    return tx is not None and tx["blockNumber"] is None


def test_transactions_submitted_to_one_node_reach_every_pool_by_gossip(tmp_path):
    net = Net.create(tmp_path / "net", 4)
    try:
        net.start()
        net.wait_height(range(4), 3)
        url = net.nodes[0].rpc_url
        sender = net.accounts[1]
        nonce = int(rpc(url, "eth_getTransactionCount", sender["address"], "pending"), 16)
        base_fee = int(rpc(url, "eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
        gapped = [rpc(url, "eth_sendRawTransaction", _sign(net, sender, nonce + 1 + i, base_fee)) for i in range(GAPPED)]
        for node in net.nodes[1:]:
            wait_until(lambda: all(_pooled(node.rpc_url, h) for h in gapped), 30, f"the gapped txs in {node.name}'s pool")
        first = rpc(url, "eth_sendRawTransaction", _sign(net, sender, nonce, base_fee))
        for tx_hash in (first, gapped[-1]):
            receipt = wait_until(lambda: rpc(net.nodes[3].rpc_url, "eth_getTransactionReceipt", tx_hash), 60,
                                 "the run committed")
            assert receipt["status"] == "0x1"
    finally:
        net.stop_all()

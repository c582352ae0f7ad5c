"""End to end over WebSocket: `plume-node start` in a subprocess, watched by
web3.py's WebSocketProvider and ethers.js's WebSocketProvider, unmodified,
while transactions flow; and a client that subscribes and never reads is
dropped without the node's memory growing.

The ethers.js test installs `ethers@6` with npm into a temp dir. Without
node/npm (or without the npm registry) it is skipped with the reason, except
under CI=true, where it fails."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from web3 import AsyncWeb3, Web3
from web3.providers import HTTPProvider, WebSocketProvider

import wsraw
from npm import npm_ethers
from waiting import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from e2e_node import CHAIN_ID, RunningNode, start_node  # noqa: E402

pytestmark = pytest.mark.slow
GWEI = 10**9
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
RECIPIENT = "0x000000000000000000000000000000000000bEEF"

# A contract that emits LOG_COUNT logs of LOG_BYTES bytes (zeros) per call:
#   PUSH1 50; loop: JUMPDEST PUSH2 0x6000 PUSH1 0 LOG0 PUSH1 1 SWAP1 SUB DUP1 PUSH1 2 JUMPI; STOP
LOG_COUNT, LOG_BYTES = 50, 0x6000
SPAMMER_RUNTIME = "60325b6160006000a0600190038060025700"
SPAMMER_INITCODE = "6012" "80" "600b" "6000" "39" "6000" "f3" + SPAMMER_RUNTIME
SPAM_GAS = 10_500_000  # ~9.9M used: 50 x (375 + 8 x 24576) plus memory; two calls fit a 30M block

# The node's resident memory may grow by at most this while a client that
# reads nothing is subscribed through a flood (docs/rpc.md, "Tests"): the
# default send queue bound (4 MiB) plus room for the node's own work on the
# flood's blocks. Without the bound the flood below queues ~150 MB for it.
RSS_GROWTH_BOUND = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> RunningNode:
    running = start_node(tmp_path_factory.mktemp("ws-e2e"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def w3(node) -> Web3:
    return Web3(HTTPProvider(node.rpc_url, request_kwargs={"timeout": 30}))


def ws_url(node: RunningNode) -> str:
    return node.rpc_url.replace("http://", "ws://")


def _send(w3: Web3, account, tx: dict[str, Any], *, wait: bool = True) -> str:
    fields = {"chainId": CHAIN_ID, "nonce": w3.eth.get_transaction_count(account.address, "pending"),
              "maxFeePerGas": 50 * GWEI, "maxPriorityFeePerGas": GWEI, **tx}
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(fields).raw_transaction)
    if wait:
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.2)
        assert receipt["status"] == 1, receipt
    return "0x" + bytes(tx_hash).hex()


@pytest.fixture(scope="module")
def token(w3, node):
    art = json.loads((FIXTURES / "erc20.json").read_text())
    operator = node.operator()
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    deploy = factory.constructor(10**9).build_transaction({"from": operator.address, "chainId": CHAIN_ID,
                                                           "nonce": 0, "gas": 2_000_000})
    tx_hash = _send(w3, operator, {"data": deploy["data"], "gas": 2_000_000})
    address = w3.eth.get_transaction_receipt(tx_hash)["contractAddress"]
    return w3.eth.contract(address=address, abi=art["abi"])


def _transfers(w3: Web3, node: RunningNode, token, count: int) -> list[str]:
    """Token transfers to RECIPIENT, one block apart or so; their hashes."""
    operator = node.operator()
    hashes = []
    for amount in range(1, count + 1):
        data = token.functions.transfer(RECIPIENT, amount).build_transaction(
            {"from": operator.address, "chainId": CHAIN_ID, "nonce": 0, "gas": 100_000})["data"]
        hashes.append(_send(w3, operator, {"to": token.address, "data": data, "gas": 100_000}))
    return hashes


def test_web3_websocket_provider_receives_heads_and_filtered_logs(w3, node, token):
    async def watch() -> tuple[list, list, list[str]]:
        async with AsyncWeb3(WebSocketProvider(ws_url(node))) as aw3:
            assert await aw3.eth.chain_id == CHAIN_ID
            heads_id = await aw3.eth.subscribe("newHeads")
            logs_id = await aw3.eth.subscribe("logs", {"address": token.address, "topics": [TRANSFER_TOPIC]})
            await aw3.eth.subscribe("logs", {"address": "0x" + "11" * 20})  # matches nothing
            sending = asyncio.get_running_loop().run_in_executor(None, _transfers, w3, node, token, 3)
            heads, logs = [], []
            async with asyncio.timeout(120):
                async for message in aw3.socket.process_subscriptions():
                    kind = {heads_id: heads, logs_id: logs}.get(message["subscription"])
                    assert kind is not None, f"a notification for a filter that matches nothing: {message}"
                    kind.append(message["result"])
                    if len(logs) == 3 and len(heads) >= 3:
                        break
            return heads, logs, await sending

    heads, logs, sent = asyncio.run(watch())
    numbers = [head["number"] for head in heads]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # every block, in order
    for head in heads:
        assert head["hash"] == w3.eth.get_block(head["number"])["hash"]
    assert ["0x" + bytes(log["transactionHash"]).hex() for log in logs] == sent
    decoded = [token.events.Transfer().process_log(log) for log in logs]
    assert [event["args"]["value"] for event in decoded] == [1, 2, 3]
    assert all(log["removed"] is False and log["address"] == token.address for log in logs)


ETHERS_SCRIPT = r"""
const { WebSocketProvider } = require("ethers");
const [url, token, topic] = process.argv.slice(2);
const provider = new WebSocketProvider(url);
const blocks = [], logs = [];
const done = () => {
  if (blocks.length >= 3 && logs.length >= 2) {
    console.log(JSON.stringify({ blocks, logs }));
    provider.destroy().then(() => process.exit(0));
  }
};
setTimeout(() => { console.error("timed out", JSON.stringify({ blocks, logs })); process.exit(2); }, 120000);
(async () => {
  await provider.getNetwork();
  await provider.on("block", (n) => { blocks.push(n); done(); });
  await provider.on({ address: token, topics: [topic] }, (log) => {
    logs.push({ tx: log.transactionHash, address: log.address, block: log.blockNumber }); done();
  });
  console.log("ready");
})();
"""


def test_ethers_websocket_provider_receives_blocks_and_filtered_logs(w3, node, token, tmp_path):
    workdir = npm_ethers(tmp_path)
    script = workdir / "watch.js"
    script.write_text(ETHERS_SCRIPT)
    process = subprocess.Popen(["node", str(script), ws_url(node), token.address, TRANSFER_TOPIC],
                               cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready", process.stderr.read() if process.stderr else ""
        sent = _transfers(w3, node, token, 2)
        out, err = process.communicate(timeout=150)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    seen = json.loads(out.strip().splitlines()[-1])
    blocks = seen["blocks"]
    assert blocks == sorted(blocks) and len(set(blocks)) == len(blocks)
    assert [log["tx"] for log in seen["logs"]] == sent
    assert all(log["address"] == token.address for log in seen["logs"])


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_subscriber_that_never_reads_is_dropped_with_bounded_memory(w3, node):
    operator = node.operator()
    spammer = w3.eth.get_transaction_receipt(
        _send(w3, operator, {"data": "0x" + SPAMMER_INITCODE, "gas": 200_000}))["contractAddress"]
    port = int(node.rpc_url.rsplit(":", 1)[1])
    before = _rss_bytes(node.process.pid)
    sock = wsraw.upgrade("127.0.0.1", port)
    subscriptions = [["newHeads"], ["newPendingTransactions"]] + [["logs", {"address": spammer}]] * 10
    for i, params in enumerate(subscriptions):
        wsraw.send_text(sock, json.dumps({"jsonrpc": "2.0", "id": i, "method": "eth_subscribe", "params": params}))
    # The flood: 6 calls of 50 logs x 24 KiB each (a ~49 KB notification per
    # log and logs subscription: ~150 MB for this client), and 50 transfers
    # (the mempool takes at most 64 per sender).
    hashes = [_send(w3, operator, {"to": spammer, "gas": SPAM_GAS}, wait=False) for _ in range(6)]
    hashes += [_send(w3, operator, {"to": RECIPIENT, "value": 1, "gas": 21_000}, wait=False) for _ in range(50)]
    for tx_hash in hashes:
        assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.2)["status"] == 1
    wait_until(lambda: wsraw.probe(sock) != wsraw.TCP_ESTABLISHED, 60, "the node to close the connection")
    sock.close()
    growth = _rss_bytes(node.process.pid) - before
    assert growth < RSS_GROWTH_BOUND, f"the node's RSS grew by {growth / 2**20:.1f} MiB"
    # and the node still serves subscribers that read
    assert w3.eth.block_number > 0

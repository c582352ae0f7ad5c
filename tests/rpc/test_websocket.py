"""JSON-RPC over WebSocket on the HTTP port: the same methods and limits, and
eth_subscribe (newHeads, logs, newPendingTransactions) with bounded queues.

The server is the real hypercorn one in the test's trio run; the client is the
`websockets` library's synchronous client, run in worker threads."""

from __future__ import annotations

import functools
import json
import re
import zlib
from functools import partial
from typing import Any

import pytest
import trio
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from plume_node.events import ChainEvents
from plume_node.rpc.server import serve_rpc
from plume_node.rpc.subscriptions import Kind, Subscription, SubscriptionHub
from plume_node.rpc.websocket import WsLimits, WsSession
from plume_node.rpc.workers import ExecutionLimits
import wsraw
from waiting import await_until
from rpc_harness import ACCOUNTS, CHAIN_ID, GWEI, erc20_artifact, sign_transfer

ALICE, BOB = ACCOUNTS[0], ACCOUNTS[1]
SUBSCRIPTION_ID = re.compile(r"^0x[1-9a-f][0-9a-f]{31}$")
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


async def run(fn, *args, **kwargs):
    return await trio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


class Ws:
    """A WebSocket JSON-RPC client; every call runs in a worker thread."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.next_id = 0
        self.notifications: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, http_url: str, **kwargs: Any) -> "Ws":
        url = http_url.replace("http://", "ws://")
        return cls(await run(lambda: connect(url, open_timeout=10, **kwargs).__enter__()))

    async def send_raw(self, text: str | bytes) -> Any:
        await run(self.conn.send, text)
        return json.loads(await run(self.conn.recv, 10))

    async def request(self, method: str, *params: Any) -> dict[str, Any]:
        """The response to one request; notifications arriving before it are kept."""
        self.next_id += 1
        await run(self.conn.send, json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method,
                                              "params": list(params)}))
        while True:
            message = json.loads(await run(self.conn.recv, 10))
            if message.get("method") == "eth_subscription":
                self.notifications.append(message)
            elif message.get("id") == self.next_id:
                return message

    async def call(self, method: str, *params: Any) -> Any:
        answer = await self.request(method, *params)
        assert "error" not in answer, answer
        return answer["result"]

    async def error(self, method: str, *params: Any) -> dict[str, Any]:
        answer = await self.request(method, *params)
        assert "error" in answer, answer
        return answer["error"]

    async def notification(self, timeout: float = 10) -> dict[str, Any]:
        if self.notifications:
            return self.notifications.pop(0)
        message = json.loads(await run(self.conn.recv, timeout))
        assert message["method"] == "eth_subscription" and set(message) == {"jsonrpc", "method", "params"}
        return message

    async def close(self) -> None:
        await run(self.conn.close)


@pytest.fixture
async def ws(server):
    client = await Ws.open(server)
    yield client
    await client.close()


async def test_methods_answer_as_over_http(ws, client):
    assert await ws.call("eth_chainId") == hex(CHAIN_ID)
    assert await ws.call("eth_blockNumber") == await client.call("eth_blockNumber")
    batch = await ws.send_raw(json.dumps([{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(3)]))
    assert [a["result"] for a in batch] == [hex(CHAIN_ID)] * 3
    # the same error shapes as HTTP
    assert await ws.send_raw("{") == json.loads((await client.post(b"{"))[2])
    assert (await ws.error("eth_nope"))["code"] == -32601
    over = await ws.send_raw(json.dumps([{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(101)]))
    assert over["error"]["code"] == -32600 and "exceeds the limit of 100" in over["error"]["message"]
    deep = await ws.send_raw("[" * 65 + "]" * 65)
    assert deep["error"]["code"] == -32700 and "nesting depth" in deep["error"]["message"]
    # binary frames holding UTF-8 JSON are accepted too
    answer = await ws.send_raw(json.dumps({"jsonrpc": "2.0", "id": 7, "method": "eth_chainId"}).encode())
    assert answer == {"jsonrpc": "2.0", "id": 7, "result": hex(CHAIN_ID)}


async def test_subscribe_over_http_is_refused(client):
    error = await client.error("eth_subscribe", "newHeads")
    assert error["code"] == -32601 and "notifications not supported" in error["message"]


async def test_new_heads(ws, backend, client):
    sub = await ws.call("eth_subscribe", "newHeads")
    assert SUBSCRIPTION_ID.match(sub)
    blocks = [backend.produce_block() for _ in range(3)]
    for blk in blocks:
        message = await ws.notification()
        assert message["params"]["subscription"] == sub
        head = message["params"]["result"]
        full = await client.call("eth_getBlockByNumber", hex(blk.number), False)
        assert head == {k: v for k, v in full.items() if k not in ("size", "transactions", "uncles", "withdrawals")}
    assert await ws.call("eth_unsubscribe", sub) is True
    assert await ws.call("eth_unsubscribe", sub) is False
    backend.produce_block()
    # nothing more for the ended subscription: the next message is our answer
    assert await ws.call("eth_chainId") == hex(CHAIN_ID) and ws.notifications == []


async def test_heads_committed_together_are_each_announced(ws, backend, client):
    # Block sync commits a batch and the node reports only the new head:
    # every height in between is still announced, in order.
    sub = await ws.call("eth_subscribe", "newHeads")
    announced = backend.events
    backend.events = ChainEvents()  # commits below go unreported...
    blocks = [backend.produce_block() for _ in range(3)]
    announced.committed(blocks[-1].number)  # ...until the head is reported once
    for blk in blocks:
        message = await ws.notification()
        assert message["params"]["subscription"] == sub
        assert message["params"]["result"]["hash"] == "0x" + blk.hash.hex()


async def test_new_pending_transactions(ws, client):
    hashes_sub = await ws.call("eth_subscribe", "newPendingTransactions")
    full_sub = await ws.call("eth_subscribe", "newPendingTransactions", True)
    tx_hash = await client.call("eth_sendRawTransaction", "0x" + sign_transfer(ALICE, BOB.address, 5, 0).hex())
    got = {}
    for _ in range(2):
        message = await ws.notification()
        got[message["params"]["subscription"]] = message["params"]["result"]
    assert got[hashes_sub] == tx_hash
    assert got[full_sub] == await client.call("eth_getTransactionByHash", tx_hash)
    assert (await ws.error("eth_subscribe", "newPendingTransactions", "yes"))["code"] == -32602


async def _deploy_token(client, backend) -> str:
    art = erc20_artifact()
    from web3 import Web3

    w3 = Web3()
    tx = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"]).constructor(10**6).build_transaction(
        {"from": ALICE.address, "nonce": 0, "chainId": CHAIN_ID, "maxFeePerGas": 10 * GWEI,
         "maxPriorityFeePerGas": GWEI, "gas": 2_000_000})
    tx_hash = await client.call("eth_sendRawTransaction", "0x" + bytes(ALICE.sign_transaction(tx).raw_transaction).hex())
    backend.produce_block()
    return (await client.call("eth_getTransactionReceipt", tx_hash))["contractAddress"]


def _token_transfer(token: str, to: str, amount: int, nonce: int) -> bytes:
    data = bytes.fromhex("a9059cbb") + bytes(12) + bytes.fromhex(to[2:]) + amount.to_bytes(32, "big")
    return sign_transfer(ALICE, token, 0, nonce, data=data, gas=100_000)


async def test_logs_with_filters(ws, backend, client):
    token = await _deploy_token(client, backend)
    by_address = await ws.call("eth_subscribe", "logs", {"address": token})
    to_bob = await ws.call("eth_subscribe", "logs", {"topics": [TRANSFER_TOPIC, None, "0x" + bytes(12).hex() + BOB.address[2:].lower()]})
    elsewhere = await ws.call("eth_subscribe", "logs", {"address": "0x" + "11" * 20})
    carol = "0x" + "ca" * 20
    for nonce, to in ((1, BOB.address), (2, carol)):
        await client.call("eth_sendRawTransaction", "0x" + _token_transfer(token, to, 10 + nonce, nonce).hex())
    blk = backend.produce_block()
    expected = await client.call("eth_getLogs", {"blockHash": "0x" + blk.hash.hex()})
    assert len(expected) == 2
    got: dict[str, list] = {}
    for _ in range(3):  # two for the address, one for Bob's topic, none elsewhere
        message = await ws.notification()
        got.setdefault(message["params"]["subscription"], []).append(message["params"]["result"])
    assert got == {by_address: expected, to_bob: [expected[0]]}
    assert all(entry["removed"] is False for entry in expected)
    assert elsewhere not in got
    # validated as eth_newFilter validates
    for bad in ({"address": "0x12"}, {"topics": [[TRANSFER_TOPIC]] * 5}, {"nope": 1}):
        ws_error = await ws.error("eth_subscribe", "logs", bad)
        http_error = await client.error("eth_newFilter", bad)
        assert ws_error == http_error and ws_error["code"] == -32602
    assert (await ws.error("eth_subscribe", "logs", {"blockHash": "0x" + blk.hash.hex()}))["code"] == -32602
    assert (await ws.error("eth_subscribe", "syncs"))["code"] == -32601


async def test_subscriptions_per_connection_are_bounded(backend, nursery):
    port = await nursery.start(partial(serve_rpc, backend, "127.0.0.1", 0, ws_limits=WsLimits(max_subscriptions=3)))
    ws = await Ws.open(f"http://127.0.0.1:{port}")
    ids = [await ws.call("eth_subscribe", "newHeads") for _ in range(3)]
    assert len(set(ids)) == 3
    error = await ws.error("eth_subscribe", "newHeads")
    assert error["code"] == -32005 and "at most 3" in error["message"]
    assert await ws.call("eth_unsubscribe", ids[0]) is True
    await ws.call("eth_subscribe", "newHeads")
    await ws.close()


async def test_connections_are_bounded_and_freed(backend, nursery):
    port = await nursery.start(partial(serve_rpc, backend, "127.0.0.1", 0, ws_limits=WsLimits(max_connections=2)))
    url = f"http://127.0.0.1:{port}"
    first, second = await Ws.open(url), await Ws.open(url)
    with pytest.raises(InvalidStatus) as refused:
        await Ws.open(url)
    assert refused.value.response.status_code == 503
    await first.close()
    deadline = trio.current_time() + 10
    while True:  # the server frees the slot once it has seen the close
        try:
            third = await Ws.open(url)
            break
        except InvalidStatus:
            assert trio.current_time() < deadline
            await trio.sleep(0.05)
    assert await third.call("eth_chainId") == hex(CHAIN_ID)
    await second.close()
    await third.close()


async def test_origin_is_checked_like_cors(backend, nursery):
    port = await nursery.start(
        partial(serve_rpc, backend, "127.0.0.1", 0, cors_origins=("http://good.example",))
    )
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(InvalidStatus) as refused:
        await Ws.open(url, origin="http://evil.example")
    assert refused.value.response.status_code == 403
    good = await Ws.open(url, origin="http://good.example")
    assert await good.call("eth_chainId") == hex(CHAIN_ID)
    await good.close()


async def test_oversized_message_closes_with_1009(backend, nursery):
    port = await nursery.start(partial(serve_rpc, backend, "127.0.0.1", 0, max_body_bytes=1000))
    ws = await Ws.open(f"http://127.0.0.1:{port}")
    assert await ws.call("eth_chainId") == hex(CHAIN_ID)
    await run(ws.conn.send, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "pad": "x" * 2000}))
    with pytest.raises(ConnectionClosed) as closed:
        await run(ws.conn.recv, 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_a_client_that_never_reads_is_closed(backend, nursery):
    limits = WsLimits(send_queue=50, send_queue_bytes=64 * 1024)
    port = await nursery.start(partial(serve_rpc, backend, "127.0.0.1", 0, ws_limits=limits, send_timeout_s=2.0))
    sock = await run(wsraw.upgrade, "127.0.0.1", port)
    for i in range(3):
        await run(wsraw.send_text, sock, json.dumps({"jsonrpc": "2.0", "id": i, "method": "eth_subscribe",
                                                 "params": ["newHeads"]}))
    # ~4 KB of notifications per block to a client that reads nothing: its
    # window closes, the server's queue fills (the client is dropped) and the
    # kernel aborts the socket send_timeout_s later. An aborted socket sends
    # no RST by itself: the client learns it when it next sends something.
    deadline = trio.current_time() + 60
    while await run(wsraw.probe, sock) == wsraw.TCP_ESTABLISHED:
        assert trio.current_time() < deadline, "the server did not close the connection"
        for _ in range(5):
            backend.produce_block()
        await trio.sleep(0.2)
    sock.close()


async def test_compression_is_declined(server, ws):
    # The client offers permessage-deflate; the server answers without it.
    assert ws.conn.response.headers.get("Sec-WebSocket-Extensions") is None
    assert await ws.call("eth_chainId") == hex(CHAIN_ID)
    # A compressed frame anyway (RSV1 set) is a protocol error, not inflated.
    sock = await run(wsraw.upgrade, "127.0.0.1", int(server.rsplit(":", 1)[1]), 1 << 16,
                     b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = (bomb.compress(b" " * (64 << 20)) + bomb.flush(zlib.Z_SYNC_FLUSH))[:-4]
    frame = bytes([0xC1, 0x80 | 127]) + len(payload).to_bytes(8, "big") + b"\0\0\0\0" + payload
    await run(sock.sendall, frame)
    sock.settimeout(10)
    reply = b""
    while True:
        chunk = await run(sock.recv, 64)
        reply += chunk
        while reply.startswith(b"\x89\x00"):  # the server's pings, if any came first
            reply = reply[2:]
        if not chunk or len(reply) >= 4:
            break
    # closed as a protocol error (wsproto drops the connection, or says 1002), never inflated (1009)
    assert reply == b"" or (reply[:1] == b"\x88" and int.from_bytes(reply[2:4], "big") == 1002), reply
    sock.close()


async def test_idle_clients_that_answer_pings_stay_and_silent_ones_go(backend, nursery):
    # read timeout = max(body timeout, evm timeout + 6 s) = 6.1 s; pings every 3.05 s
    port = await nursery.start(partial(serve_rpc, backend, "127.0.0.1", 0, body_timeout_s=1.0,
                                       limits=ExecutionLimits(timeout_s=0.1)))
    live = await Ws.open(f"http://127.0.0.1:{port}")  # the websockets client answers pings by itself
    silent = await run(wsraw.upgrade, "127.0.0.1", port, 1 << 16)  # sends nothing, not even pongs
    opened = trio.current_time()
    # closed by the server after the 6.1 s read timeout (polled: a loaded machine is slower)
    await await_until(lambda: wsraw.tcp_state(silent) != wsraw.TCP_ESTABLISHED, 60, "the silent client closed")
    assert trio.current_time() - opened >= 6.0
    assert await live.call("eth_chainId") == hex(CHAIN_ID)  # the one answering pings outlived it
    silent.close()
    await live.close()


async def test_a_failing_announcement_does_not_end_the_hub(backend, nursery):
    hub = SubscriptionHub(backend.chain, backend.mempool)
    backend.events.listen(on_commit=hub.committed, on_pending=hub.pending)
    nursery.start_soon(hub.run)

    class Broken:
        def push(self, message: str) -> bool:
            raise RuntimeError("a bug in an outbox")

    got: list[str] = []

    class Kept:
        def push(self, message: str) -> bool:
            got.append(message)
            return True

    hub.add(Subscription("0x1" + "0" * 31, Kind.NEW_HEADS, Broken()))
    backend.produce_block()
    await trio.sleep(0.1)
    hub.add(Subscription("0x2" + "0" * 31, Kind.NEW_HEADS, Kept()))
    blk = backend.produce_block()
    await await_until(lambda: bool(got), 10, "the next block announced")
    assert json.loads(got[0])["params"]["result"]["hash"] == "0x" + blk.hash.hex()


def test_session_drops_on_a_full_queue(backend):
    hub = SubscriptionHub(backend.chain, backend.mempool)
    session = WsSession(WsLimits(send_queue=3, send_queue_bytes=1000), hub)
    ids = [session.subscribe(Kind.NEW_HEADS, None), session.subscribe(Kind.PENDING, None)]
    assert set(hub.subscriptions) == set(ids)
    assert all(session.push("x" * 100) for _ in range(3))
    assert not session.push("x")  # a fourth message: over the message bound
    assert session.dropped is not None and "3 messages" in session.dropped
    assert hub.subscriptions == {} and not session.push("y")

    by_bytes = WsSession(WsLimits(send_queue=100, send_queue_bytes=1000), hub)
    by_bytes.subscribe(Kind.LOGS, {"address": "0x" + "11" * 20})
    assert by_bytes.push("x" * 5000)  # one large answer passes an empty queue
    assert not by_bytes.push("x" * 10)
    assert "1000 bytes" in by_bytes.dropped and hub.subscriptions == {} and hub.entries == 0


def test_compliance_subscribers_that_never_read_are_dropped(backend):
    """plume_subscribe alerts/fundFlows share the connection's bounded queue: a client
    that never reads is dropped, and notifications are built only for subscribers."""
    from plume_node.events import PlumeKind

    hub = SubscriptionHub(backend.chain, backend.mempool)
    built = []

    def make_results() -> list[str]:
        built.append(1)
        return [json.dumps({"blockNumber": 1, "flows": ["x" * 50]})]

    hub.compliance(PlumeKind.FUND_FLOWS, make_results)
    assert built == [] and not hub.compliance_wanted(PlumeKind.FUND_FLOWS)  # nobody subscribed: never built
    session = WsSession(WsLimits(send_queue=3, send_queue_bytes=10_000), hub)
    alerts = session.subscribe(PlumeKind.ALERTS, None)
    session.subscribe(PlumeKind.FUND_FLOWS, None)
    assert hub.compliance_wanted(PlumeKind.FUND_FLOWS) and hub.compliance_wanted(PlumeKind.ALERTS)
    hub.compliance(PlumeKind.ALERTS, lambda: ['{"rule":"r"}'])
    message = session.queue_receive.receive_nowait()
    assert json.loads(message) == {"jsonrpc": "2.0", "method": "plume_subscription",
                                   "params": {"subscription": alerts, "result": {"rule": "r"}}}
    session.taken(message)
    for _ in range(4):
        hub.compliance(PlumeKind.FUND_FLOWS, make_results)
    assert session.dropped is not None and "3 messages" in session.dropped
    assert hub.subscriptions == {} and not hub.compliance_wanted(PlumeKind.FUND_FLOWS)
    with pytest.raises(Exception, match="options"):
        WsSession(WsLimits(), hub).subscribe(PlumeKind.ALERTS, {"rule": "x"})


async def test_eth_and_plume_subscriptions_keep_their_namespaces(ws, backend):
    """Regressions: eth_unsubscribe ended plume_subscribe subscriptions and the reverse (geth keeps
    namespaces apart); plume_subscribe succeeded on a node without the compliance service."""
    heads = await ws.call("eth_subscribe", "newHeads")
    alerts = await ws.call("plume_subscribe", "alerts")
    assert await ws.call("eth_unsubscribe", alerts) is False
    assert await ws.call("plume_unsubscribe", heads) is False
    assert await ws.call("plume_unsubscribe", alerts) is True
    assert await ws.call("eth_unsubscribe", heads) is True
    backend.compliance_enabled = False
    try:
        error = await ws.error("plume_subscribe", "alerts")
        assert error["code"] == -32000 and "no compliance service" in error["message"]
    finally:
        backend.compliance_enabled = True

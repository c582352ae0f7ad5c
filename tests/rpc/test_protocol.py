"""JSON-RPC 2.0 and HTTP rules of the server, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
import trio

from plume_node.rpc.server import serve_rpc
from rpc_harness import Client


async def test_parse_error_is_answered_with_200_and_null_id(client):
    status, headers, body = await client.post(b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert status == 200
    answer = json.loads(body)
    assert answer["id"] is None
    assert answer["error"]["code"] == -32700
    assert answer["error"]["message"].startswith("parse error")


@pytest.mark.parametrize(
    "payload, fragment",
    [
        (42, "expected a JSON object"),
        ({"id": 1, "method": "eth_chainId"}, '"jsonrpc" must be "2.0"'),
        ({"jsonrpc": "1.0", "id": 1, "method": "eth_chainId"}, '"jsonrpc" must be "2.0"'),
        ({"jsonrpc": "2.0", "id": 1, "method": 5}, '"method" must be a string'),
        ({"jsonrpc": "2.0", "id": [1], "method": "eth_chainId"}, "id must be"),
    ],
)
async def test_invalid_requests(client, payload, fragment):
    answer = await client.raw(payload)
    assert answer["error"]["code"] == -32600
    assert fragment in answer["error"]["message"]


async def test_unknown_method_is_named(client):
    error = await client.error("eth_mine")
    assert error == {"code": -32601, "message": "the method eth_mine does not exist/is not available"}


async def test_signing_methods_say_to_sign_locally(client):
    error = await client.error("eth_sendTransaction", {"from": "0x" + "11" * 20, "to": "0x" + "22" * 20})
    assert error["code"] == -32601
    assert "holds no user keys" in error["message"] and "eth_sendRawTransaction" in error["message"]


@pytest.mark.parametrize(
    "method, params, fragment",
    [
        ("eth_getBalance", ["0x12"], "address: expected 20 bytes, got 1"),
        ("eth_getBalance", [], "missing value for required argument 0 (address)"),
        ("eth_getBalance", [123], "address: expected 0x-prefixed hex data, got the number 123"),
        ("eth_getBalance", ["0x" + "11" * 20, "0x01"], "has leading zero digits"),
        ("eth_getBalance", ["0x" + "11" * 20, "newest"], "neither a block number"),
        ("eth_getBlockByNumber", ["0x0", "yes"], "fullTransactions: expected true or false"),
        ("eth_getBlockByNumber", ["0x0", False, 1], "too many arguments for eth_getBlockByNumber"),
        ("eth_getTransactionByHash", ["0x1234"], "hash: expected 32 bytes, got 2"),
        ("eth_sendRawTransaction", ["0xzz"], "transaction: \"0xzz\" is not valid hex"),
        ("eth_sendRawTransaction", ["0x"], "empty transaction data"),
        ("eth_call", ["0x00"], "expected a transaction object"),
        ("eth_call", [{"to": "0x" + "11" * 20, "bogus": 1}], "unknown field(s) \"bogus\""),
        ("eth_feeHistory", ["0x1", "latest", [50, 10]], "percentiles must be increasing"),
        ("eth_feeHistory", ["0x1", "latest", [101]], "not between 0 and 100"),
        ("eth_getLogs", [{"topics": "0x00"}], "topics: expected an array"),
        ("eth_getLogs", [{"blockHash": "0x" + "00" * 32, "fromBlock": "0x0"}], "cannot be combined"),
    ],
)
async def test_invalid_params_say_which_and_why(client, method, params, fragment):
    error = await client.error(method, *params)
    assert error["code"] == -32602
    assert fragment in error["message"], error["message"]


async def test_params_must_be_array_or_object(client):
    answer = await client.raw({"jsonrpc": "2.0", "id": 3, "method": "eth_getBalance", "params": "0x00"})
    assert answer["id"] == 3 and answer["error"]["code"] == -32602


async def test_named_params_are_accepted(client):
    answer = await client.raw({"jsonrpc": "2.0", "id": 3, "method": "eth_getBalance",
                               "params": {"address": "0x" + "00" * 20, "block": "latest"}})
    assert answer["result"] == "0x0"


async def test_batch_answers_each_in_order_and_keeps_ids(client):
    answer = await client.raw([
        {"jsonrpc": "2.0", "id": "a", "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 2, "method": "nope"},
        {"jsonrpc": "2.0", "method": "eth_chainId"},  # notification: no answer
        17,
        {"jsonrpc": "2.0", "id": None, "method": "net_version"},
    ])
    assert [a["id"] for a in answer] == ["a", 2, None, None]
    assert "result" in answer[0]
    assert answer[1]["error"]["code"] == -32601
    assert answer[2]["error"]["code"] == -32600
    assert answer[3]["result"] == "7357"


async def test_empty_and_oversized_batches(client):
    assert (await client.raw([]))["error"] == {"code": -32600, "message": "empty batch"}
    answer = await client.raw([{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(101)])
    assert answer["error"]["code"] == -32600
    assert "batch of 101 requests exceeds the limit of 100" in answer["error"]["message"]


async def test_notifications_only_get_no_body(client):
    status, _, body = await client.post(json.dumps({"jsonrpc": "2.0", "method": "eth_chainId"}).encode())
    assert (status, body) == (204, b"")


async def test_oversized_body_is_413_with_a_json_rpc_error(client):
    big = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                      "params": ["0x" + "00" * (3 * 1024 * 1024)]}).encode()
    status, _, body = await client.post(big)
    assert status == 413
    error = json.loads(body)["error"]
    assert error["code"] == -32600
    assert "exceeds the limit of 5242880 bytes" in error["message"]
    # and the server still serves
    assert await client.call("eth_chainId") == "0x1cbd"


async def test_only_post_with_json(client):
    status, headers, body = await client.post(b"", method="GET")
    assert status == 405 and "POST" in json.loads(body)["error"]["message"]
    status, _, body = await client.post(b"{}", headers={"Content-Type": "text/plain"})
    assert status == 415
    assert "send Content-Type: application/json" in json.loads(body)["error"]["message"]
    status, _, body = await client.post(
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert status == 200


async def test_cors_wildcard_preflight(client):
    status, headers, _ = await client.post(b"", method="OPTIONS", headers={
        "Origin": "http://wallet.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    headers = {k.lower(): v for k, v in headers.items()}
    assert status == 204
    assert headers["access-control-allow-origin"] == "*"
    assert "POST" in headers["access-control-allow-methods"]
    assert headers["access-control-allow-headers"] == "content-type"


async def test_cors_restricted_origins(backend, nursery):
    port = await nursery.start(
        lambda task_status: serve_rpc(backend, "127.0.0.1", 0, cors_origins=("http://good.example",),
                                      max_body_bytes=1000, task_status=task_status)
    )
    c = Client(f"http://127.0.0.1:{port}")
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}).encode()
    _, good, _ = await c.post(body, headers={"Content-Type": "application/json", "Origin": "http://good.example"})
    _, bad, _ = await c.post(body, headers={"Content-Type": "application/json", "Origin": "http://evil.example"})
    assert {k.lower(): v for k, v in good.items()}["access-control-allow-origin"] == "http://good.example"
    assert "access-control-allow-origin" not in {k.lower() for k in bad}
    status, _, answer = await c.post(b"[" + b"1," * 600 + b"1]")
    assert status == 413 and b"1000 bytes" in answer


async def test_a_failing_method_is_an_internal_error_not_a_500(client, backend, monkeypatch):
    def broken() -> dict:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(backend, "node_info", broken)
    error = await client.error("plume_nodeInfo")
    assert error["code"] == -32603
    assert error["message"] == "internal error in plume_nodeInfo: a node bug, logged by the node"
    assert await client.call("net_version") == "7357"


async def test_port_zero_reports_the_bound_port(backend, nursery):
    port = await nursery.start(serve_rpc, backend, "127.0.0.1", 0)
    assert isinstance(port, int) and port > 0
    with trio.socket.socket() as sock:
        await sock.connect(("127.0.0.1", port))


async def test_concurrent_clients_while_blocks_commit(client, backend):
    """Many clients at once while the chain advances: every answer is well formed
    and block numbers seen by one client never go backwards."""
    from rpc_harness import ACCOUNTS, sign_transfer

    results: list[list[int]] = []

    def reader() -> None:
        seen = []
        for _ in range(15):
            answer = json.loads(client.post_sync(json.dumps([
                {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"},
                {"jsonrpc": "2.0", "id": 2, "method": "eth_getBlockByNumber", "params": ["latest", True]},
            ]).encode())[2])
            number = int(answer[0]["result"], 16)
            assert int(answer[1]["result"]["number"], 16) >= number
            seen.append(number)
        results.append(seen)

    async with trio.open_nursery() as nursery:
        for _ in range(6):
            nursery.start_soon(trio.to_thread.run_sync, reader)
        for nonce in range(5):
            await client.call("eth_sendRawTransaction",
                              "0x" + sign_transfer(ACCOUNTS[0], ACCOUNTS[1].address, 1, nonce).hex())
            backend.produce_block()
            await trio.sleep(0.01)
    assert len(results) == 6
    for seen in results:
        assert seen == sorted(seen)
    assert await client.call("eth_blockNumber") == "0x5"

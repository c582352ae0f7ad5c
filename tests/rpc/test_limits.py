"""The JSON-RPC server's bounds, each against the real server on a real chain.

eth_call / eth_estimateGas: a gas cap, a deadline checked inside the EVM, a
gas budget per request body, execution off the trio thread. eth_getLogs and
filters: list lengths, memory held by filters. JSON nesting depth. HTTP: a
body that never completes, too many requests in progress.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from functools import partial
from typing import Any

import pytest
import trio

from execution.budget import AbortReason, ExecutionAborted, ExecutionBudget
from plume_node.rpc.methods_filters import MAX_FILTER_ENTRIES, MAX_PENDING_FILTERS
from plume_node.rpc.methods_logs import MAX_ADDRESSES, MAX_TOPIC_VALUES
from plume_node.rpc.server import serve_rpc
from plume_node.rpc.workers import ExecutionLimits
from rpcclient import RpcError, post_json, rpc
from waiting import wait_until

# JUMPDEST PUSH1 0 JUMP: loops until it runs out of gas (or time)
LOOP_INITCODE = "0x5b600056"
# GAS PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN: answers the gas it was given
GAS_INITCODE = "0x5a60005260206000f3"
TIMEOUT_S = 1.0


async def start_server(nursery: trio.Nursery, backend: Any, **options: Any) -> str:
    options.setdefault("limits", ExecutionLimits(timeout_s=TIMEOUT_S))
    port = await nursery.start(partial(serve_rpc, backend, "127.0.0.1", 0, **options))
    return f"http://127.0.0.1:{port}"


async def rpc_error(url: str, method: str, *params: Any) -> dict[str, Any]:
    with pytest.raises(RpcError) as caught:
        await trio.to_thread.run_sync(partial(rpc, url, method, *params, timeout=30))
    return caught.value.error


# ---- eth_call / eth_estimateGas ------------------------------------------------


@pytest.mark.parametrize("method", ["eth_call", "eth_estimateGas"])
@pytest.mark.parametrize("gas", [None, "0xffffffffffffffff"])
async def test_infinite_loop_stops_at_the_deadline(backend, nursery, method, gas):
    url = await start_server(nursery, backend)
    call = {"data": LOOP_INITCODE} if gas is None else {"data": LOOP_INITCODE, "gas": gas}
    started = time.monotonic()
    with trio.fail_after(20):
        error = await rpc_error(url, method, call)
    assert error["code"] == -32000 and "timeout" in error["message"], error
    assert error["data"] == AbortReason.TIMEOUT.value
    assert time.monotonic() - started < TIMEOUT_S + 3


async def test_gas_is_capped(backend, nursery):
    url = await start_server(nursery, backend, limits=ExecutionLimits(gas_cap=1_000_000, timeout_s=5))
    answer = await trio.to_thread.run_sync(rpc, url, "eth_call", {"data": GAS_INITCODE, "gas": hex(2**60)})
    assert 900_000 < int(answer, 16) < 1_000_000


async def test_batch_shares_one_deadline(backend, nursery):
    url = await start_server(nursery, backend)
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_call", "params": [{"data": LOOP_INITCODE}]} for i in range(20)]
    started = time.monotonic()
    with trio.fail_after(60):
        status, answers = await trio.to_thread.run_sync(post_json, url, json.dumps(batch).encode())
    assert status == 200 and len(answers) == 20
    assert all(a["error"]["code"] == -32000 for a in answers), answers
    assert time.monotonic() - started < TIMEOUT_S + 3


async def test_batch_gas_budget(backend, nursery):
    limits = ExecutionLimits(gas_cap=1_000_000, batch_gas_cap=2_500_000, timeout_s=30)
    url = await start_server(nursery, backend, limits=limits)
    # each call burns its whole 1M gas (out of gas), so the third one overdraws the budget
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_call", "params": [{"data": LOOP_INITCODE}]} for i in range(5)]
    status, answers = await trio.to_thread.run_sync(post_json, url, json.dumps(batch).encode())
    reasons = [a["error"].get("data") for a in sorted(answers, key=lambda a: a["id"])]
    assert reasons[3:] == [AbortReason.GAS_BUDGET.value] * 2, answers


async def test_execution_does_not_hold_the_trio_thread(backend, nursery):
    url = await start_server(nursery, backend, limits=ExecutionLimits(timeout_s=4))
    done = trio.Event()

    async def looping_call() -> None:
        await rpc_error(url, "eth_call", {"data": LOOP_INITCODE})
        done.set()

    nursery.start_soon(looping_call)
    await trio.sleep(0.5)  # let the call reach its worker (the assertion does not depend on it)
    # While it loops, the trio thread commits a block and answers another request.
    started = time.monotonic()
    block = backend.produce_block()
    height = await trio.to_thread.run_sync(rpc, url, "eth_blockNumber")
    assert int(height, 16) == block.number
    assert not done.is_set(), "the looping call should still be running"
    assert time.monotonic() - started < 2
    with trio.fail_after(10):
        await done.wait()  # and it ends at its deadline


def test_cancel_stops_a_running_execution(backend):
    budget = ExecutionBudget.start(gas_cap=10**15, total_gas=10**15, timeout_s=60)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            backend.chain.call({"data": bytes.fromhex(LOOP_INITCODE[2:]), "gas": 10**15}, None, budget)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    time.sleep(0.3)
    budget.cancel()
    worker.join(timeout=2)
    assert not worker.is_alive()
    assert isinstance(outcome[0], ExecutionAborted) and outcome[0].reason is AbortReason.CANCELLED


async def test_oversized_initcode_is_a_clear_error_without_traceback(backend, nursery, caplog):
    url = await start_server(nursery, backend)
    with caplog.at_level(logging.WARNING, logger="plume.rpc"):
        error = await rpc_error(url, "eth_call", {"data": "0x" + "00" * 60_000})
    assert error["code"] == -32000 and "49152" in error["message"], error
    assert len(error["message"]) <= 200
    assert not [r for r in caplog.records if r.exc_info], "no traceback for a client's bad call"


# ---- eth_getLogs and filters ----------------------------------------------------


def _addresses(n: int, salt: int = 0) -> list[str]:
    return ["0x" + (salt * 1_000_000 + i).to_bytes(20, "big").hex() for i in range(n)]


@pytest.mark.parametrize(
    "flt",
    [
        {"address": _addresses(MAX_ADDRESSES + 1)},
        {"topics": [None] * 5},
        {"topics": [["0x" + "11" * 32] * (MAX_TOPIC_VALUES + 1)]},
    ],
    ids=["addresses", "positions", "values"],
)
@pytest.mark.parametrize("method", ["eth_getLogs", "eth_newFilter"])
async def test_log_filter_lists_are_bounded(backend, nursery, method, flt):
    url = await start_server(nursery, backend)
    error = await rpc_error(url, method, flt)
    assert error["code"] == -32602 and "at most" in error["message"], error


async def test_get_logs_with_many_addresses_over_many_blocks(backend, nursery):
    for _ in range(30):
        backend.produce_block()
    url = await start_server(nursery, backend)
    started = time.monotonic()
    logs = await trio.to_thread.run_sync(rpc, url, "eth_getLogs", {"fromBlock": "0x0", "address": _addresses(MAX_ADDRESSES)})
    assert logs == []
    assert time.monotonic() - started < 5


async def test_filters_hold_bounded_addresses(backend, nursery):
    url = await start_server(nursery, backend)
    fits = MAX_FILTER_ENTRIES // MAX_ADDRESSES

    def install_all() -> list[Any]:
        results = []
        for i in range(fits + 3):
            try:
                results.append(rpc(url, "eth_newFilter", {"address": _addresses(MAX_ADDRESSES, salt=i)}))
            except RpcError as exc:
                results.append(exc.error)
        return results

    results = await trio.to_thread.run_sync(install_all)
    assert all(isinstance(r, str) for r in results[:fits])
    assert all(isinstance(r, dict) and r["code"] == -32000 and "too many addresses" in r["message"] for r in results[fits:])
    # uninstalling one makes room again
    assert await trio.to_thread.run_sync(rpc, url, "eth_uninstallFilter", results[0])
    assert isinstance(await trio.to_thread.run_sync(rpc, url, "eth_newFilter", {"address": _addresses(10)}), str)


async def test_pending_filters_are_bounded(backend, nursery):
    url = await start_server(nursery, backend)

    def install_all() -> list[Any]:
        out = []
        for _ in range(MAX_PENDING_FILTERS + 1):
            try:
                out.append(rpc(url, "eth_newPendingTransactionFilter"))
            except RpcError as exc:
                out.append(exc.error)
        return out

    results = await trio.to_thread.run_sync(install_all)
    assert all(isinstance(r, str) for r in results[:MAX_PENDING_FILTERS])
    assert results[-1]["code"] == -32000


# ---- JSON nesting -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[' + b'{"a":' * 80_000 + b"1" + b"}" * 80_000 + b"]}",
        b'{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[' + b'[{"x":' * 40_000 + b"1" + b"}]" * 40_000 + b"]}",
    ],
    ids=["open-arrays", "closed-arrays", "objects-in-params", "mixed"],
)
async def test_deep_json_is_a_parse_error(backend, nursery, body):
    url = await start_server(nursery, backend)
    status, answer = await trio.to_thread.run_sync(post_json, url, body)
    assert status == 200
    assert answer["error"]["code"] == -32700 and "nesting depth" in answer["error"]["message"], answer
    assert len(answer["error"]["message"]) <= 200


# ---- HTTP -------------------------------------------------------------------------


def _half_request(port: int, declared: int = 1000) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {declared}\r\n\r\n".encode()
        + b'{"jsonrpc":"2.0",'
    )
    return sock


def _read_status(sock: socket.socket, timeout: float) -> int | None:
    sock.settimeout(timeout)
    try:
        data = sock.recv(4096)
    except (TimeoutError, OSError):
        return None
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None


async def test_stalled_body_is_answered_408(backend, nursery):
    url = await start_server(nursery, backend, body_timeout_s=1.0)
    port = int(url.rsplit(":", 1)[1])
    sock = _half_request(port)
    try:
        status = await trio.to_thread.run_sync(_read_status, sock, 10)
    finally:
        sock.close()
    assert status == 408


async def test_requests_in_progress_are_bounded(backend, nursery):
    url = await start_server(nursery, backend, max_concurrent_requests=3, body_timeout_s=30)
    port = int(url.rsplit(":", 1)[1])
    stalled = [_half_request(port) for _ in range(3)]
    try:
        # the server saw the three (each holds a slot) once a fourth is refused
        def refused() -> bool:
            sock = _half_request(port)
            try:
                return _read_status(sock, 2) == 503
            finally:
                sock.close()

        await trio.to_thread.run_sync(partial(wait_until, refused, 10, "a fourth request to be refused"))
    finally:
        for sock in stalled:
            sock.close()
    # once they are gone, requests are served again
    def served() -> bool:
        try:
            return rpc(url, "eth_blockNumber") == "0x0"
        except RpcError:
            return False

    assert await trio.to_thread.run_sync(partial(wait_until, served, 10, "the server to serve again"))


# bn128 generators: one (G1, G2) pair for the ecPairing precompile (0x08)
_G1 = (1).to_bytes(32, "big") + (2).to_bytes(32, "big")
_G2 = bytes.fromhex(
    "198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c2"
    "1800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed"
    "090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b"
    "12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa"
)


async def test_a_long_precompile_is_interrupted(backend, nursery):
    # ~1,300 pairings fit in 50M gas: minutes of py_ecc in ONE precompile call,
    # with no opcode (so no budget check) in between
    url = await start_server(nursery, backend, limits=ExecutionLimits(timeout_s=TIMEOUT_S, max_concurrent=1))
    call = {"to": "0x" + "00" * 19 + "08", "data": "0x" + ((_G1 + _G2) * 1300).hex(), "gas": hex(50_000_000)}
    with trio.fail_after(30):
        error = await rpc_error(url, "eth_call", call)
    assert error["code"] == -32000 and "timeout" in error["message"], error
    # and its worker is free again: the next call (same single worker) is served
    started = time.monotonic()
    with trio.fail_after(30):
        answer = await trio.to_thread.run_sync(partial(rpc, url, "eth_call", {"data": GAS_INITCODE}, timeout=30))
    assert int(answer, 16) > 0
    assert time.monotonic() - started < TIMEOUT_S + 2


def test_rpc_limit_settings():
    from plume_node.config import Config, ConfigError, set_dotted
    from plume_node.rpc.workers import DEFAULT_BATCH_GAS_CAP, DEFAULT_GAS_CAP, DEFAULT_MAX_CONCURRENT

    rpc_config = Config().rpc
    assert (rpc_config.gas_cap, rpc_config.batch_gas_cap, rpc_config.evm_timeout_ms) == (
        DEFAULT_GAS_CAP, DEFAULT_BATCH_GAS_CAP, 5000,
    )
    assert rpc_config.max_concurrent_executions == DEFAULT_MAX_CONCURRENT
    assert set_dotted(Config(), "rpc.gas_cap", "1000000").rpc.gas_cap == 1_000_000
    for key in ("gas_cap", "evm_timeout_ms", "max_concurrent_executions", "body_timeout_ms", "max_concurrent_requests"):
        with pytest.raises(ConfigError, match=f"rpc.{key} must be at least 1"):
            set_dotted(Config(), f"rpc.{key}", "0")


async def test_long_request_ids_are_refused(backend, nursery):
    url = await start_server(nursery, backend)
    body = json.dumps({"jsonrpc": "2.0", "id": "x" * 100_000, "method": "eth_blockNumber", "params": []}).encode()
    status, answer = await trio.to_thread.run_sync(post_json, url, body)
    assert answer["error"]["code"] == -32600 and answer["id"] is None, str(answer)[:300]

"""Fixtures: a real backend (tests/rpc/rpc_harness.py) served by the real hypercorn
server on 127.0.0.1 with an ephemeral port, inside the test's trio run."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

from plume_node.rpc.server import serve_rpc
from rpc_harness import TestBackend, make_backend


@pytest.fixture
def backend(tmp_path) -> TestBackend:
    b = make_backend(tmp_path)
    yield b
    b.close()


class Client:
    """Plain-HTTP JSON-RPC calls (run in a worker thread: the server shares the loop)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def post_sync(self, body: bytes, headers: dict[str, str] | None = None, method: str = "POST") -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.url, data=body if method == "POST" else None, method=method,
            headers=headers if headers is not None else {"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    async def post(self, body: bytes, headers: dict[str, str] | None = None, method: str = "POST") -> tuple[int, dict[str, str], bytes]:
        return await trio.to_thread.run_sync(self.post_sync, body, headers, method)

    async def raw(self, payload: Any) -> Any:
        status, _, body = await self.post(json.dumps(payload).encode())
        assert status == 200, (status, body)
        return json.loads(body)

    async def call(self, method: str, *params: Any) -> Any:
        answer = await self.raw({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        assert "error" not in answer, answer
        return answer["result"]

    async def error(self, method: str, *params: Any) -> dict[str, Any]:
        answer = await self.raw({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        assert "error" in answer, answer
        return answer["error"]


@pytest.fixture
async def server(backend: TestBackend, nursery: trio.Nursery) -> AsyncIterator[str]:
    port = await nursery.start(serve_rpc, backend, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{port}"


@pytest.fixture
def client(server: str) -> Client:
    return Client(server)

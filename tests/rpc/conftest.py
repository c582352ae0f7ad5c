"""Fixtures: a real backend (tests/rpc/rpc_harness.py) served by the real hypercorn
server on 127.0.0.1 with an ephemeral port, inside the test's trio run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from plume_node.rpc.server import serve_rpc
from rpc_harness import Client, TestBackend, make_backend


@pytest.fixture
def backend(tmp_path) -> TestBackend:
    b = make_backend(tmp_path)
    yield b
    b.close()


@pytest.fixture
async def server(backend: TestBackend, nursery: trio.Nursery) -> AsyncIterator[str]:
    port = await nursery.start(serve_rpc, backend, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{port}"


@pytest.fixture
def client(server: str) -> Client:
    return Client(server)

"""The fault-injecting proxy itself: forwarding, delay, loss as delay, cut and heal."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from faultproxy import FaultProxy


@pytest.fixture
def echo_port():
    """A plain threaded TCP echo server."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield port
    server.close()


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


@pytest.fixture
def proxy():
    proxy = FaultProxy(seed=1).start()
    yield proxy
    proxy.stop()


def _roundtrip(sock: socket.socket, payload: bytes) -> float:
    started = time.monotonic()
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        got += chunk
    assert got == payload
    return time.monotonic() - started


def test_forwards_bytes_unchanged_and_in_order_under_delay_jitter_and_loss(proxy, echo_port):
    port = proxy.add_link("a", "b", echo_port)
    proxy.set_conditions("a", "b", delay=0.05, jitter=0.02, loss=0.3, retransmit_delay=0.05)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        payload = bytes(range(256)) * 4096  # 1 MiB, many chunks
        elapsed = _roundtrip(sock, payload)
    assert elapsed >= 0.05


def test_cut_blackholes_existing_and_new_connections_and_heal_resumes_them(proxy, echo_port):
    port = proxy.add_link("a", "b", echo_port)
    existing = socket.create_connection(("127.0.0.1", port), timeout=10)
    _roundtrip(existing, b"before")
    proxy.cut("b")
    existing.sendall(b"during")
    existing.settimeout(0.5)
    with pytest.raises(socket.timeout):
        existing.recv(100)
    fresh = socket.create_connection(("127.0.0.1", port), timeout=10)  # accepted ...
    fresh.sendall(b"stalled")
    fresh.settimeout(0.5)
    with pytest.raises(socket.timeout):  # ... but not forwarded
        fresh.recv(100)
    time.sleep(1.0)
    proxy.heal("b")
    healed = time.monotonic()
    existing.settimeout(10)
    fresh.settimeout(10)
    assert existing.recv(100) == b"during"
    got = b""
    while len(got) < len(b"stalled"):
        got += fresh.recv(100)
    assert got == b"stalled"
    # Stuck ~1.5 s: the data retransmits at 0.2, 0.6, 1.4, 3.0 s, the SYN at 1, 3 s.
    assert time.monotonic() - healed >= 1.0, "resumed before the next retransmission"
    existing.close()
    fresh.close()

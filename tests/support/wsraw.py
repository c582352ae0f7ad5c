"""A WebSocket client at the socket level, for tests of clients that misbehave:
it completes the handshake, sends masked text frames, and otherwise reads
nothing (a tiny receive buffer, so its TCP window closes quickly)."""

from __future__ import annotations

import socket
import time

TCP_ESTABLISHED = 1  # tcp_info.tcpi_state


def upgrade(host: str, port: int, rcvbuf: int = 4096, extra_headers: bytes = b"") -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect((host, port))
    sock.sendall(
        b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra_headers + b"\r\n"
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    if not response.startswith(b"HTTP/1.1 101"):
        raise AssertionError(f"upgrade refused: {response[:200]!r}")
    return sock


def send_text(sock: socket.socket, text: str) -> None:
    payload = text.encode()
    if len(payload) < 126:
        length = bytes([0x80 | len(payload)])
    else:
        assert len(payload) < 1 << 16
        length = bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
    mask = b"\x01\x02\x03\x04"
    sock.sendall(bytes([0x81]) + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def tcp_state(sock: socket.socket) -> int:
    """The kernel's TCP state of `sock`, read without consuming data."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


def probe(sock: socket.socket) -> int:
    """Send a ping frame (never reading the pong) and return the TCP state after it.

    A socket the server's kernel aborted sends no RST by itself: the client
    learns it when it next sends something. -1 when the send itself failed."""
    try:
        sock.sendall(b"\x89\x80\x00\x00\x00\x00")
    except (BrokenPipeError, ConnectionResetError):
        return -1
    time.sleep(0.05)
    return tcp_state(sock)

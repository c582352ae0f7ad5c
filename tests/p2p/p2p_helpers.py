"""Shared helpers for the p2p service tests: services on 127.0.0.1 with
ephemeral ports and short timeouts, and a raw peer that speaks the protocol
by hand so tests can send exactly the bytes they want."""

from __future__ import annotations

from dataclasses import dataclass

import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p2p.identity import ed25519_public_bytes, node_id_of
from p2p.messages import PROTOCOL_VERSION, Hello, Message, decode_message
from p2p.peers import P2PConfig
from p2p.service import P2PService
from p2p.transport import SecureConnection, secure_handshake

CHAIN = "plume-test"
GENESIS = b"\x11" * 32
HOST = "127.0.0.1"

FAST = P2PConfig(
    handshake_timeout=3.0,
    ban_seconds=60.0,
    dial_backoff_initial=0.05,
    dial_backoff_max=0.4,
    ping_interval=0.5,
    idle_timeout=10.0,
    write_timeout=5.0,
)


def make_service(
    key: Ed25519PrivateKey | None = None,
    persistent: list[str] | None = None,
    chain: str = CHAIN,
    genesis: bytes = GENESIS,
    config: P2PConfig = FAST,
    port: int = 0,
    height: int = 0,
) -> P2PService:
    return P2PService(
        key or Ed25519PrivateKey.generate(),
        chain,
        genesis,
        HOST,
        port,
        persistent_peers=persistent or [],
        config=config,
        height_fn=lambda: height,
    )


def address_of(svc: P2PService) -> str:
    return f"{svc.node_id}@{HOST}:{svc.listen_port}"


async def start(nursery: trio.Nursery, svc: P2PService) -> P2PService:
    await nursery.start(svc.run)
    return svc


def connected(a: P2PService, b: P2PService) -> bool:
    return a.is_connected(b.node_id) and b.is_connected(a.node_id)


async def receive(svc: P2PService, timeout: float = 5.0) -> tuple[str, Message]:
    with trio.fail_after(timeout):
        return await svc.inbound.receive()


async def assert_closed(stream: trio.SocketStream, timeout: float = 5.0) -> None:
    """Read (and discard) until the remote closes; fail if it stays open.
    Closes our end afterwards."""
    try:
        with trio.fail_after(timeout):
            while True:
                try:
                    if not await stream.receive_some(65536):
                        return
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
    finally:
        await stream.aclose()


@dataclass
class RawPeer:
    key: Ed25519PrivateKey
    stream: trio.SocketStream
    conn: SecureConnection
    their_hello: Hello

    @property
    def node_id(self) -> str:
        return node_id_of(ed25519_public_bytes(self.key))

    @property
    def local_port(self) -> int:
        return self.stream.socket.getsockname()[1]


async def raw_session(port: int, key: Ed25519PrivateKey | None = None, hello_node_id: str | None = None) -> RawPeer:
    """Dial a service by hand: real handshake, real Hello."""
    key = key or Ed25519PrivateKey.generate()
    stream = await trio.open_tcp_stream(HOST, port)
    conn = await secure_handshake(stream, True, key)
    my_id = node_id_of(ed25519_public_bytes(key))
    await conn.send_message(Hello(PROTOCOL_VERSION, CHAIN, GENESIS, hello_node_id or my_id, 0, 0).encode())
    their = decode_message(await conn.receive_message())
    assert isinstance(their, Hello)
    return RawPeer(key, stream, conn, their)


async def start_stoppable(nursery: trio.Nursery, svc: P2PService) -> trio.CancelScope:
    """Start `svc` so that cancelling the returned scope stops it (a node going down)."""
    scope = trio.CancelScope()

    async def run(task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        with scope:
            await svc.run(task_status=task_status)

    await nursery.start(run)
    return scope


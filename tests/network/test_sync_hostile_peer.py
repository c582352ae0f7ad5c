"""Block sync against a lying peer, with real node processes over real TCP.

A hostile peer (real Noise handshake, real Hello, run in the test process)
claims height 2^64-1 and answers every block request with no blocks. A node
that lags behind an honest validator must still sync from the honest one,
ban the liar, and never report the liar's claim through `eth_syncing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from netharness import Net
from rpcclient import rpc
from triothread import TrioThread
from waiting import wait_until

from p2p.errors import P2PError
from p2p.identity import ed25519_public_bytes, node_id_of
from p2p.messages import (
    PROTOCOL_VERSION,
    BlockRequest,
    BlockResponse,
    Disconnect,
    Hello,
    Ping,
    Pong,
    Status,
    decode_message,
)
from p2p.transport import ConnectionClosed, secure_handshake
from plume_node.genesis import load_genesis

pytestmark = pytest.mark.slow

FAKE_HEIGHT = 2**64 - 1


@dataclass
class LiarStats:
    block_requests: int = 0
    disconnects: list[str] = field(default_factory=list)


def liar_peer(key: Ed25519PrivateKey, chain_id: str, genesis_hash: bytes, stats: LiarStats):
    """A trio main for TrioThread: listens, claims FAKE_HEIGHT, serves nothing."""
    node_id = node_id_of(ed25519_public_bytes(key))

    async def session(stream: trio.SocketStream) -> None:
        try:
            conn = await secure_handshake(stream, False, key)
            hello = Hello(PROTOCOL_VERSION, chain_id, genesis_hash, node_id, 0, FAKE_HEIGHT)
            await conn.send_message(hello.encode())
            while True:
                msg = decode_message(await conn.receive_message())
                if isinstance(msg, Ping):
                    await conn.send_message(Pong(msg.nonce).encode())
                elif isinstance(msg, Status):
                    await conn.send_message(Status(FAKE_HEIGHT, 0).encode())
                elif isinstance(msg, BlockRequest):
                    stats.block_requests += 1
                    await conn.send_message(BlockResponse(()).encode())
                elif isinstance(msg, Disconnect):
                    stats.disconnects.append(msg.reason)
        except (ConnectionClosed, P2PError, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass

    async def main(task_status=trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, session, listeners)
            task_status.started(listeners[0].socket.getsockname()[1])

    return main


@pytest.fixture
def net(tmp_path):
    net = Net.create(tmp_path / "net", validators=1, full_nodes=1)
    yield net
    net.stop_all()


def test_a_peer_claiming_height_2_64_and_serving_nothing_cannot_stop_sync(net):
    validator, follower = net.nodes
    genesis = load_genesis(follower.home / "genesis.json")
    key = Ed25519PrivateKey.generate()
    liar_id = node_id_of(ed25519_public_bytes(key))
    stats = LiarStats()
    liar = TrioThread(liar_peer(key, str(genesis.chain_id), genesis.hash(), stats), "liar-peer")
    liar_port = liar.start()
    try:
        # The liar first, so the follower knows its claim before any block arrives.
        follower.set_persistent_peers([f"{liar_id}@127.0.0.1:{liar_port}", validator.peer_address])
        net.start([0])
        net.wait_height([0], 50, timeout=90)
        follower.start()
        reported: list[int] = []

        def synced() -> bool:
            status = rpc(follower.rpc_url, "eth_syncing")
            if status:
                reported.append(int(status["highestBlock"], 16))
            return follower.height() >= 50

        wait_until(synced, 60, "the follower to sync past height 50 despite the liar")
        assert stats.block_requests > 0, "the liar was never asked (the test did not exercise it)"
        tip = validator.height()
        assert all(h <= tip for h in reported), f"eth_syncing reported an unverified target: {max(reported)}"
        wait_until(lambda: f"banned {liar_id}" in follower.log_text(), 30, "the follower to ban the liar")
    finally:
        liar.stop()

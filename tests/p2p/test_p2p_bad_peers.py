"""Hostile or broken peers against a real P2PService: every case must close
the connection, ban the peer where it is at fault, and leave the service
serving honest peers."""

from __future__ import annotations

import socket
import struct

import msgpack
import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from waiting import await_until
from p2p_helpers import (
    CHAIN,
    FAST,
    GENESIS,
    HOST,
    address_of,
    assert_closed,
    connected,
    make_service,
    raw_session,
    receive,
    start,
)

from p2p.framing import FrameBuffer, encode_frame
from p2p.identity import IDENTITY_SIG_PREFIX, PROLOGUE, SecureHandshake, ed25519_public_bytes, node_id_of
from p2p.messages import PROTOCOL_VERSION, Hello, Tx
from p2p.peers import P2PConfig, PeerDisconnected
from p2p.service import P2PService
from p2p.transport import _read_frame, secure_handshake


def _config(**changes: object) -> P2PConfig:
    return P2PConfig(**{**FAST.__dict__, **changes})


async def _still_serves(nursery: trio.Nursery, svc: P2PService) -> None:
    honest = await start(nursery, make_service(persistent=[address_of(svc)]))
    await await_until(lambda: connected(svc, honest), what="honest peer still accepted")


async def test_garbage_bytes_close_and_ban(nursery: trio.Nursery) -> None:
    svc = await start(nursery, make_service())
    stream = await trio.open_tcp_stream(HOST, svc.listen_port)
    port = stream.socket.getsockname()[1]
    await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3000)
    await assert_closed(stream)
    assert f"addr:{HOST}:{port}" in svc.bans()
    # The service keeps running and accepts honest peers.
    await _still_serves(nursery, svc)


async def test_half_finished_handshake_times_out_and_bans(nursery: trio.Nursery) -> None:
    svc = await start(nursery, make_service(config=_config(handshake_timeout=0.5)))
    stream = await trio.open_tcp_stream(HOST, svc.listen_port)
    port = stream.socket.getsockname()[1]
    hs = SecureHandshake(True, Ed25519PrivateKey.generate())
    await stream.send_all(encode_frame(hs.write()))  # message 1 of 3, then silence
    # The service answers with message 2 and waits for 3, which never comes.
    with trio.fail_after(3):
        await assert_closed(stream)
    remaining, reason = svc.bans()[f"addr:{HOST}:{port}"]
    assert reason == "handshake timeout"
    # Briefly: a partition mid-handshake looks the same, and a long ban of the
    # IP would keep a healed peer out (our own dialer checks that key too).
    assert remaining <= FAST.stall_ban_seconds < FAST.ban_seconds
    await _still_serves(nursery, svc)


async def test_oversized_message_closes_and_bans(nursery: trio.Nursery) -> None:
    svc = await start(nursery, make_service(config=_config(max_message_bytes=64 * 1024)))
    raw = await raw_session(svc.listen_port)
    await await_until(lambda: svc.is_connected(raw.node_id), what="raw peer registered")
    raw.conn._encoder.max_message_bytes = 1 << 20  # our raw peer ignores the cap
    await raw.conn.send_message(Tx(b"x" * 100_000).encode())
    await assert_closed(raw.stream)
    await await_until(lambda: svc.is_banned(raw.node_id), what="ban")
    assert "exceeds the cap" in svc.bans()[f"id:{raw.node_id}"][1]
    await _still_serves(nursery, svc)


async def test_oversized_announcement_rejected_before_the_body_arrives(nursery: trio.Nursery) -> None:
    svc = await start(nursery, make_service())
    raw = await raw_session(svc.listen_port)
    # One frame announcing a 4 GiB message: refused on the header alone.
    cipher = raw.conn._encoder._cipher
    await raw.stream.send_all(encode_frame(cipher.encrypt_with_ad(b"", struct.pack(">I", 2**32 - 1) + b"x")))
    await assert_closed(raw.stream)
    await await_until(lambda: svc.is_banned(raw.node_id), what="ban")


async def test_replayed_frame_closes_and_bans(nursery: trio.Nursery) -> None:
    svc = await start(nursery, make_service())
    raw = await raw_session(svc.listen_port)
    wire = raw.conn.encode(Tx(b"pay alice").encode())
    await raw.stream.send_all(wire)
    assert await receive(svc) == (raw.node_id, Tx(b"pay alice"))
    await raw.stream.send_all(wire)  # the same frame again: wrong nonce now
    await assert_closed(raw.stream)
    await await_until(lambda: svc.is_banned(raw.node_id), what="ban")
    assert "authentication failed" in svc.bans()[f"id:{raw.node_id}"][1]
    await _still_serves(nursery, svc)


async def test_malformed_message_closes_and_bans(nursery: trio.Nursery) -> None:
    svc = await start(nursery, make_service())
    raw = await raw_session(svc.listen_port)
    await raw.conn.send_message(msgpack.packb([3, "not bytes"]))
    await assert_closed(raw.stream)
    await await_until(lambda: svc.is_banned(raw.node_id), what="ban")
    assert "malformed message" in svc.bans()[f"id:{raw.node_id}"][1]


async def test_hello_claiming_another_node_id_bans(nursery: trio.Nursery) -> None:
    svc = await start(nursery, make_service())
    key = Ed25519PrivateKey.generate()
    stream = await trio.open_tcp_stream(HOST, svc.listen_port)
    conn = await secure_handshake(stream, True, key)
    await conn.send_message(Hello(PROTOCOL_VERSION, CHAIN, GENESIS, "cd" * 20, 0, 0).encode())
    await assert_closed(stream)
    await await_until(lambda: svc.is_banned(node_id_of(ed25519_public_bytes(key))), what="ban")
    assert "Hello claims node id" in svc.bans()[f"id:{node_id_of(ed25519_public_bytes(key))}"][1]
    assert svc.peers() == []


async def test_forged_identity_signature_closes_and_bans(nursery: trio.Nursery) -> None:
    svc = await start(nursery, make_service())
    victim = Ed25519PrivateKey.generate()
    attacker = Ed25519PrivateKey.generate()

    class Forger(SecureHandshake):
        # Presents the victim's identity key with the attacker's signature.
        def write(self) -> bytes:
            if self._messages == 0:
                return super().write()
            sig = attacker.sign(IDENTITY_SIG_PREFIX + self._static_public)
            self._messages += 1
            return self._state.write_message(msgpack.packb([ed25519_public_bytes(victim), sig]))

    stream = await trio.open_tcp_stream(HOST, svc.listen_port)
    port = stream.socket.getsockname()[1]
    hs = Forger(True, attacker, PROLOGUE)
    frames = FrameBuffer()
    await stream.send_all(encode_frame(hs.write()))
    hs.read(await _read_frame(stream, frames))  # the service's identity verifies fine
    await stream.send_all(encode_frame(hs.write()))
    await assert_closed(stream)
    await await_until(lambda: f"addr:{HOST}:{port}" in svc.bans(), what="ban")
    assert "bad identity" in svc.bans()[f"addr:{HOST}:{port}"][1]
    assert svc.peers() == []
    await _still_serves(nursery, svc)


async def test_slow_peer_is_dropped_not_waited_for(nursery: trio.Nursery) -> None:
    svc = await start(nursery, make_service(config=_config(send_queue_size=4, write_timeout=30.0)))
    fast = await start(nursery, make_service(persistent=[address_of(svc)]))
    slow = await raw_session(svc.listen_port)
    # Shrink the slow peer's receive window so TCP buffers fill quickly; it
    # then never reads again.
    slow.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await await_until(lambda: svc.is_connected(slow.node_id) and connected(svc, fast), what="both connected")
    payload = b"b" * 60_000
    for i in range(1500):
        with trio.fail_after(1):  # broadcast itself never blocks
            svc.broadcast(Tx(payload + i.to_bytes(4, "big")), exclude={fast.node_id})
        if not svc.is_connected(slow.node_id):
            break
        await trio.sleep(0.001)
    assert not svc.is_connected(slow.node_id), "slow peer was never dropped"
    reasons = []
    while True:
        try:
            ev = svc.events.receive_nowait()
        except trio.WouldBlock:
            break
        if isinstance(ev, PeerDisconnected) and ev.node_id == slow.node_id:
            reasons.append(ev.reason)
    assert reasons == ["send queue full (slow peer)"]
    # The fast peer is unaffected and still gets gossip.
    assert svc.broadcast(Tx(b"after")) == 1
    got = await receive(fast)
    assert got == (svc.node_id, Tx(b"after"))
    await slow.stream.aclose()

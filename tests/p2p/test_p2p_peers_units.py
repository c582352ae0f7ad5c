"""Sans-I/O peer bookkeeping: LRU seen sets, ban list, peer addresses, config;
plus keep-alive and idle handling and the caller-side size check over TCP."""

from __future__ import annotations

import pytest
import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from waiting import await_until
from p2p_helpers import FAST, assert_closed, make_service, raw_session, start

from p2p.gossip import LRUSet
from p2p.messages import Disconnect, Ping, Pong, Tx, decode_message
from p2p.peers import BanList, P2PConfig, PeerAddress, PeerDisconnected, address_ban_key


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 20), st.lists(st.binary(min_size=1, max_size=2), max_size=100))
def test_lru_set_is_bounded_and_keeps_the_most_recent(capacity: int, keys: list[bytes]) -> None:
    s = LRUSet(capacity)
    for k in keys:
        was_in = k in s
        assert s.add(k) is (not was_in)
        assert len(s) <= capacity
    # The `capacity` most recently added distinct keys are all present.
    recent: list[bytes] = []
    for k in reversed(keys):
        if k not in recent:
            recent.append(k)
    assert all(k in s for k in recent[:capacity])
    assert len(s) == min(capacity, len(recent))


def test_ban_list_expiry_and_longest_ban_wins() -> None:
    bans = BanList()
    bans.ban("id:x", until=10.0, reason="first")
    bans.ban("id:x", until=5.0, reason="shorter")  # does not shorten it
    assert bans.banned_until("id:x", now=4.0) == 10.0
    assert bans.active(now=4.0) == {"id:x": (6.0, "first")}
    assert not bans.is_banned("id:x", now=10.0)
    assert bans.active(now=10.0) == {}


def test_address_ban_keys() -> None:
    assert address_ban_key("203.0.113.5", 26656) == "addr:203.0.113.5"
    assert address_ban_key("127.0.0.1", 26656) == "addr:127.0.0.1:26656"
    assert address_ban_key("::1", 7) == "addr:::1:7"


def test_peer_address_parse() -> None:
    nid = "0123456789abcdef0123456789abcdef01234567"
    a = PeerAddress.parse(f"{nid}@127.0.0.1:26656")
    assert (a.node_id, a.host, a.port) == (nid, "127.0.0.1", 26656)
    assert str(a) == f"{nid}@127.0.0.1:26656"
    assert PeerAddress.parse(f"{nid}@[::1]:5").host == "::1"
    for bad in ["127.0.0.1:1", f"{nid}@127.0.0.1", f"{nid}@:1", f"{nid}@h:0", f"{nid}@h:70000", "xyz@h:1", f"{nid.upper()}@h:1"]:
        with pytest.raises(ValueError):
            PeerAddress.parse(bad)


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        P2PConfig(send_queue_size=0)
    with pytest.raises(ValueError):
        P2PConfig(dial_backoff_initial=2, dial_backoff_max=1)
    with pytest.raises(ValueError):
        P2PConfig(handshake_timeout=0)


async def test_ping_answered_and_idle_peer_dropped_without_ban(nursery: trio.Nursery) -> None:
    cfg = P2PConfig(**{**FAST.__dict__, "ping_interval": 0.1, "idle_timeout": 0.6})
    svc = await start(nursery, make_service(config=cfg))
    raw = await raw_session(svc.listen_port)
    msg = decode_message(await raw.conn.receive_message())
    assert isinstance(msg, Ping)
    await raw.conn.send_message(Pong(msg.nonce).encode())
    await raw.conn.send_message(Ping(77).encode())
    with trio.fail_after(3):
        while True:
            m = decode_message(await raw.conn.receive_message())
            if m == Pong(77):
                break
    # Now go silent: the service drops us after idle_timeout, without a ban.
    await assert_closed(raw.stream)
    await await_until(lambda: not svc.is_connected(raw.node_id), what="idle drop")
    reasons = []
    while True:
        try:
            ev = svc.events.receive_nowait()
        except trio.WouldBlock:
            break
        if isinstance(ev, PeerDisconnected):
            reasons.append(ev.reason)
    assert reasons and reasons[-1].startswith("idle")
    assert not svc.is_banned(raw.node_id)


async def test_oversized_outgoing_message_is_the_callers_error(nursery: trio.Nursery) -> None:
    svc = await start(nursery, make_service(config=P2PConfig(**{**FAST.__dict__, "max_message_bytes": 4096})))
    raw = await raw_session(svc.listen_port)
    await await_until(lambda: svc.is_connected(raw.node_id), what="connected")
    with pytest.raises(ValueError, match="max_message_bytes"):
        svc.broadcast(Tx(b"x" * 5000))
    with pytest.raises(ValueError):
        svc.send(raw.node_id, Tx(b"x" * 5000))
    assert svc.is_connected(raw.node_id)
    await raw.stream.aclose()


async def test_a_new_connection_replaces_a_silent_one_and_not_a_live_one(nursery: trio.Nursery) -> None:
    # A partition leaves a dead connection behind; the peer's redial must win.
    cfg = P2PConfig(**{**FAST.__dict__, "ping_interval": 0.2, "idle_timeout": 30.0, "replace_quiet_after": 0.6})
    svc = await start(nursery, make_service(config=cfg))
    key = Ed25519PrivateKey.generate()
    live = await raw_session(svc.listen_port, key)
    await await_until(lambda: svc.is_connected(live.node_id), what="first session")
    # While the first session talks, a second one is refused.
    await live.conn.send_message(Ping(1).encode())
    second = await raw_session(svc.listen_port, key)
    refusal = decode_message(await second.conn.receive_message())
    assert isinstance(refusal, Disconnect) and refusal.reason == "already connected"
    await second.stream.aclose()
    # Now the first goes silent (no pongs, nothing): a redial replaces it.
    await trio.sleep(1.0)
    third = await raw_session(svc.listen_port, key)
    await assert_closed(live.stream)
    with trio.fail_after(3):
        while not isinstance(decode_message(await third.conn.receive_message()), Ping):
            pass  # the new session is live: the service pings it
    assert svc.is_connected(third.node_id) and not svc.is_banned(third.node_id)
    await third.stream.aclose()

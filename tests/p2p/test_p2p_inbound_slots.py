"""Inbound slots under a flood: an outsider holding every inbound slot with
fresh keys cannot keep a persistent peer (a validator) out, and one IP
cannot take more than `max_inbound_per_ip` of them."""

from __future__ import annotations

import pytest
import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from waiting import await_until
from p2p_helpers import (
    FAST,
    HOST,
    RawPeer,
    address_of,
    assert_closed,
    connected,
    make_service,
    raw_session,
    start,
)
from ports import free_port

from p2p.identity import ed25519_public_bytes, node_id_of
from p2p.messages import Disconnect, Status, decode_message
from p2p.peers import Admission, P2PConfig, admit_handshake, admit_inbound, ip_key, is_loopback
from p2p.transport import ConnectionClosed

_CLOSED = (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError, OSError)
SMALL = P2PConfig(**{**FAST.__dict__, "max_inbound": 3, "max_pending_inbound": 4, "max_inbound_per_ip": 2})


async def keep_alive(raw: RawPeer, closed: trio.Event) -> None:
    """What a slot-holding attacker does: a Status every 0.2 s (any message
    keeps a link alive; one sender per stream, so no Pong answers), read
    everything; `closed` is set when the node cuts us off."""

    async def talk() -> None:
        try:
            while True:
                await raw.conn.send_message(Status(height=1, round=0).encode())
                await trio.sleep(0.2)
        except _CLOSED:
            pass

    async with trio.open_nursery() as nursery:
        nursery.start_soon(talk)
        try:
            while not isinstance(decode_message(await raw.conn.receive_message()), Disconnect):
                pass
        except _CLOSED:
            pass
        nursery.cancel_scope.cancel()
    closed.set()


async def fill_inbound(nursery: trio.Nursery, port: int, slots: int) -> list[tuple[RawPeer, trio.Event]]:
    attackers = []
    for _ in range(slots):
        raw = await raw_session(port)  # a fresh key each time
        closed = trio.Event()
        nursery.start_soon(keep_alive, raw, closed)
        attackers.append((raw, closed))
    return attackers


async def refused_after_handshake(port: int) -> str:
    """Dial with a fresh key; return the node's refusal reason."""
    raw = await raw_session(port)
    try:
        with trio.fail_after(5):
            while True:
                msg = decode_message(await raw.conn.receive_message())
                if isinstance(msg, Disconnect):
                    return msg.reason
    finally:
        await raw.stream.aclose()


async def next_from(svc, sender: str, timeout: float = 5.0):
    """The next message `svc` delivers from `sender` (attackers' Status skipped)."""
    with trio.fail_after(timeout):
        while True:
            peer_id, msg = await svc.inbound.receive()
            if peer_id == sender:
                return msg


async def test_persistent_peer_evicts_an_attacker_when_inbound_is_full(nursery: trio.Nursery) -> None:
    # The hub knows the validator's node id from its config, but cannot reach
    # the configured address (nothing listens there): the validator must dial in.
    validator_key = Ed25519PrivateKey.generate()
    validator_id = node_id_of(ed25519_public_bytes(validator_key))
    hub = await start(nursery, make_service(persistent=[f"{validator_id}@{HOST}:{free_port()}"], config=SMALL))
    attackers = await fill_inbound(nursery, hub.listen_port, SMALL.max_inbound)
    attacker_ids = {raw.node_id for raw, _closed in attackers}
    await await_until(lambda: {p.node_id for p in hub.peers()} == attacker_ids, what="attackers hold every slot")
    # Another outsider is refused: the limit itself still holds.
    assert (await refused_after_handshake(hub.listen_port)).startswith("inbound limit")

    validator = await start(nursery, make_service(key=validator_key, persistent=[address_of(hub)], config=FAST))
    await await_until(lambda: connected(hub, validator), timeout=8, what="persistent peer admitted")
    # Exactly one attacker was evicted (the newest), and the count is back at the limit.
    await await_until(lambda: sum(closed.is_set() for _raw, closed in attackers) == 1, what="one attacker cut off")
    assert attackers[-1][1].is_set()
    inbound = [p for p in hub.peers() if p.direction == "inbound"]
    assert len(inbound) == SMALL.max_inbound
    assert not hub.is_banned(attackers[-1][0].node_id)  # evicted, not punished

    # The validator's link works both ways.
    assert hub.send(validator.node_id, Status(height=5, round=2))
    assert await next_from(validator, hub.node_id) == Status(5, 2)
    assert validator.send(hub.node_id, Status(height=6, round=0))
    assert await next_from(hub, validator.node_id) == Status(6, 0)
    # The flood cannot push it out again: outsiders are still refused.
    assert (await refused_after_handshake(hub.listen_port)).startswith("inbound limit")
    assert hub.is_connected(validator.node_id)


async def test_flood_of_handshakes_is_bounded_but_persistent_peer_still_gets_in(nursery: trio.Nursery) -> None:
    # Slots full and connections that never finish their handshake: the
    # handshakes in progress are capped (max_pending_inbound), not unbounded.
    validator_key = Ed25519PrivateKey.generate()
    validator_id = node_id_of(ed25519_public_bytes(validator_key))
    hub = await start(nursery, make_service(persistent=[f"{validator_id}@{HOST}:{free_port()}"], config=SMALL))
    await fill_inbound(nursery, hub.listen_port, SMALL.max_inbound)
    stalled = [await trio.open_tcp_stream(HOST, hub.listen_port) for _ in range(SMALL.max_pending_inbound)]
    # One more is closed before any handshake work (the listener accepts in order).
    await assert_closed(await trio.open_tcp_stream(HOST, hub.listen_port), timeout=2)
    await stalled.pop().aclose()  # leaves one handshake slot for the validator
    validator = await start(nursery, make_service(key=validator_key, persistent=[address_of(hub)], config=FAST))
    await await_until(lambda: connected(hub, validator), timeout=8, what="persistent peer admitted")
    for stream in stalled:
        await stream.aclose()


async def test_outbound_dial_to_a_persistent_peer_ignores_inbound_counts(nursery: trio.Nursery) -> None:
    # A guard, not a regression test: full inbound slots and a full handshake
    # lane never hold back our own dialer.
    target_key = Ed25519PrivateKey.generate()
    target_port = free_port()
    target_address = f"{node_id_of(ed25519_public_bytes(target_key))}@{HOST}:{target_port}"
    hub = await start(nursery, make_service(persistent=[target_address], config=SMALL))
    await fill_inbound(nursery, hub.listen_port, SMALL.max_inbound)
    stalled = [await trio.open_tcp_stream(HOST, hub.listen_port) for _ in range(SMALL.max_pending_inbound)]
    # The target comes up only now: the hub's re-dial finds it.
    target = await start(nursery, make_service(key=target_key, port=target_port, config=FAST))
    await await_until(lambda: connected(hub, target), timeout=8, what="outbound to persistent peer")
    assert [p.direction for p in hub.peers() if p.node_id == target.node_id] == ["outbound"]
    for stream in stalled:
        await stream.aclose()


# ---- the decisions, with addresses this machine may not have ----------------

CAP = P2PConfig(max_inbound=3, max_pending_inbound=4, max_inbound_per_ip=2)


@pytest.mark.parametrize("host", ["203.0.113.7", "2001:db8::7", "::ffff:203.0.113.7"])
def test_per_ip_cap_refuses_the_extra_connection_from_one_ip(host: str) -> None:
    # Before the handshake: handshakes in progress from one IP.
    assert admit_handshake(host, pending=1, pending_from_ip=1, config=CAP) is Admission.ADMIT
    assert admit_handshake(host, pending=2, pending_from_ip=2, config=CAP) is Admission.REFUSE_IP_LIMIT
    # After it: connected non-persistent peers from one IP, with free slots left.
    assert admit_inbound(host, False, inbound=1, connected_from_ip=1, evictable=1, config=CAP) is Admission.ADMIT
    verdict = admit_inbound(host, False, inbound=2, connected_from_ip=2, evictable=2, config=CAP)
    assert verdict is Admission.REFUSE_IP_LIMIT
    # A persistent peer behind the same IP is exempt.
    assert admit_inbound(host, True, inbound=2, connected_from_ip=2, evictable=2, config=CAP) is Admission.ADMIT


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "localhost"])
def test_loopback_is_exempt_from_the_per_ip_cap(host: str) -> None:
    assert is_loopback(host)
    assert admit_handshake(host, pending=3, pending_from_ip=3, config=CAP) is Admission.ADMIT
    assert admit_inbound(host, False, inbound=2, connected_from_ip=2, evictable=2, config=CAP) is Admission.ADMIT


def test_pending_and_inbound_limits_and_eviction() -> None:
    host = "198.51.100.1"
    assert admit_handshake(host, pending=4, pending_from_ip=0, config=CAP) is Admission.REFUSE_PENDING_LIMIT
    assert admit_inbound(host, False, inbound=3, connected_from_ip=0, evictable=3, config=CAP) is (
        Admission.REFUSE_INBOUND_LIMIT
    )
    verdict = admit_inbound(host, True, inbound=3, connected_from_ip=0, evictable=3, config=CAP)
    assert verdict is Admission.ADMIT_EVICTING
    # Every slot held by persistent peers: admitted above the limit (bounded by persistent_peers).
    assert admit_inbound(host, True, inbound=3, connected_from_ip=0, evictable=0, config=CAP) is Admission.ADMIT


def test_ip_key_joins_mapped_ipv4() -> None:
    assert ip_key("::ffff:203.0.113.7") == ip_key("203.0.113.7") == "203.0.113.7"
    assert ip_key("2001:DB8::7") == "2001:db8::7"


def test_admission_limits_are_validated() -> None:
    for name in ("max_pending_inbound", "max_inbound_per_ip"):
        with pytest.raises(ValueError):
            P2PConfig(**{name: 0})

"""`P2PService`: the node's peer-to-peer networking as one trio task.

Owns the peer set and its policy: listening and accepting within the inbound
limits (handshakes in progress, per IP, connected peers; a persistent peer is
never refused for the inbound limit but evicts the newest non-persistent
inbound peer), dialing persistent peers with exponential backoff (and re-dialing
after a loss), the Hello exchange (chain id, genesis, node id), one reader
and one writer task per connection with a bounded send queue (a full queue
drops the peer: a slow peer is never waited for), keep-alive pings and idle
timeouts, bans (by node id and address), and gossip dedup (a node-wide seen
set and per-peer known sets).

The node uses it like this::

    service = P2PService(node_key, chain_id, genesis_hash, "127.0.0.1", 26656,
                         persistent_peers=["<id>@127.0.0.1:26657"], height_fn=lambda: height)
    port = await nursery.start(service.run)
    async for peer_id, msg in service.inbound: ...      # Tx, Proposal, Vote, ...
    service.broadcast(Vote(vote_bytes), exclude={peer_id})
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p2p.errors import IdentityError, MessageError, P2PError, clip
from p2p.gossip import LRUSet
from p2p.identity import ed25519_public_bytes, node_id_of
from p2p.messages import (
    GOSSIP_TYPES,
    PROTOCOL_VERSION,
    Disconnect,
    Hello,
    Message,
    Ping,
    Pong,
    Status,
    decode_message,
    message_hash,
)
from p2p.peers import (
    Admission,
    BanList,
    Direction,
    P2PConfig,
    PeerAddress,
    PeerConnected,
    PeerDisconnected,
    PeerEvent,
    PeerInfo,
    address_ban_key,
    admit_handshake,
    admit_inbound,
    ip_key,
    node_ban_key,
)
from p2p.transport import ConnectionClosed, SecureConnection, secure_handshake

log = logging.getLogger("p2p")

_DISCONNECT_NOTICE_TIMEOUT = 1.0
_ALREADY_CONNECTED = "already connected"
_ROUTINE_REFUSALS = frozenset({_ALREADY_CONNECTED, "connection to self"})


class Refused(Exception):
    """We decline a connection after the handshake; `ban` if the peer is at fault."""

    def __init__(self, reason: str, ban: bool = False, routine: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.ban = ban
        # Routine refusals (duplicate connections, dialing ourselves) happen in
        # every healthy mesh; they are logged at INFO, the rest at WARNING.
        self.routine = routine


@dataclass(eq=False)
class _Peer:
    node_id: str
    host: str
    port: int
    direction: Direction
    conn: SecureConnection
    listen_port: int
    height: int
    send_channel: trio.MemorySendChannel[bytes]
    receive_channel: trio.MemoryReceiveChannel[bytes]
    known: LRUSet
    cancel_scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    connected_since: float = field(default_factory=time.time)
    registered_at: float = field(default_factory=trio.current_time)  # monotonic, orders evictions
    close_reason: str | None = None
    ban_reason: str | None = None
    # Liveness: any message received counts. `delivering` is set while the
    # reader waits for the node to take a message (backpressure), which is
    # not silence on the peer's part.
    last_heard: float = field(default_factory=trio.current_time)
    heard_since_tick: bool = True
    delivering: bool = False
    queued_bytes: int = 0  # in send_channel, not yet written

    def heard(self) -> None:
        self.last_heard = trio.current_time()
        self.heard_since_tick = True

    def quiet_for(self, now: float) -> float:
        return 0.0 if self.delivering else now - self.last_heard

    def info(self) -> PeerInfo:
        return PeerInfo(
            self.node_id, f"{self.host}:{self.port}", self.direction, self.height, self.connected_since, self.listen_port
        )


class P2PService:
    """Peer-to-peer networking for one node. See the module docstring."""

    def __init__(
        self,
        node_key: Ed25519PrivateKey,
        chain_id: str | int,
        genesis_hash: bytes,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        persistent_peers: Iterable[str] = (),
        config: P2PConfig | None = None,
        height_fn: Callable[[], int] | None = None,
    ) -> None:
        if len(genesis_hash) != 32:
            raise ValueError("genesis_hash must be 32 bytes")
        self.config = config or P2PConfig()
        self._key = node_key
        self.node_id = node_id_of(ed25519_public_bytes(node_key))
        # Ethereum-style chain ids are ints; on the wire the chain id is a string.
        self.chain_id = str(chain_id)
        self.genesis_hash = bytes(genesis_hash)
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.persistent_peers = [PeerAddress.parse(p) for p in persistent_peers]
        self._persistent_ids = frozenset(p.node_id for p in self.persistent_peers)
        self._height_fn = height_fn or (lambda: 0)

        self._inbound_send, self.inbound = trio.open_memory_channel[tuple[str, Message]](self.config.inbound_queue_size)
        self._event_send, self.events = trio.open_memory_channel[PeerEvent](self.config.event_queue_size)
        self.seen = LRUSet(self.config.seen_cache_size)
        self._peers: dict[str, _Peer] = {}
        self._bans = BanList(self.config.max_bans)
        self._pending_inbound = 0  # accepted connections still in their handshake
        self._pending_by_ip: dict[str, int] = {}  # the same, per IP (entries at 0 are removed)
        self._pending_outbound = 0
        self._changed = trio.Event()  # set and replaced whenever the peer set changes
        self._ping_nonce = 0
        # Message bytes on established connections (handshakes not counted), for metrics.
        self.bytes_sent = 0
        self.bytes_received = 0
        self.messages_sent = 0  # frames' worth: one per message written

    # ------------------------------------------------------------ public API

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen and dial until cancelled. `task_status.started` gets the
        bound listen port (useful with port 0)."""
        listeners = await trio.open_tcp_listeners(self.listen_port, host=self.listen_host)
        self.listen_port = listeners[0].socket.getsockname()[1]
        log.info("p2p %s listening on %s:%d", self.node_id[:12], self.listen_host, self.listen_port)
        try:
            async with trio.open_nursery() as nursery:
                for listener in listeners:
                    nursery.start_soon(self._accept_loop, listener, nursery)
                for peer in self.persistent_peers:
                    if peer.node_id != self.node_id:
                        nursery.start_soon(self._dial_loop, peer)
                task_status.started(self.listen_port)
        finally:
            for listener in listeners:
                with trio.CancelScope(shield=True):
                    await listener.aclose()

    def peers(self) -> list[PeerInfo]:
        return [p.info() for p in self._peers.values()]

    def is_connected(self, peer_id: str) -> bool:
        return peer_id in self._peers

    def is_persistent(self, peer_id: str) -> bool:
        """Whether `peer_id` is one of the `persistent_peers` the operator configured."""
        return peer_id in self._persistent_ids

    def queued_bytes(self, peer_id: str) -> int:
        """Bytes queued to `peer_id` and not yet written to its socket (0 if not connected).
        Lets the node hold back bulk answers (block sync) to a peer that does not read."""
        peer = self._peers.get(peer_id)
        return peer.queued_bytes if peer is not None else 0

    def broadcast(self, msg: Message, exclude: Iterable[str] | None = None) -> int:
        """Queue `msg` to every connected peer that is not excluded and is not
        known to have it. Never blocks; a peer whose queue is full is dropped.
        Returns the number of peers it was queued to. Raises ValueError if the
        encoded message exceeds `config.max_message_bytes`."""
        encoded = self._encode(msg)
        h = message_hash(encoded)
        self.seen.add(h)  # our own message coming back is a duplicate
        skip = set(exclude or ())
        sent = 0
        for peer in list(self._peers.values()):
            if peer.node_id in skip or h in peer.known:
                continue
            if self._enqueue(peer, encoded):
                peer.known.add(h)
                sent += 1
        return sent

    def send(self, peer_id: str, msg: Message) -> bool:
        """Queue `msg` to one peer. False if it is not connected or its queue
        was full (it is then dropped). Raises ValueError like `broadcast`."""
        peer = self._peers.get(peer_id)
        if peer is None:
            return False
        encoded = self._encode(msg)
        if isinstance(msg, GOSSIP_TYPES):
            peer.known.add(message_hash(encoded))
        return self._enqueue(peer, encoded)

    def ban(self, peer_id: str, reason: str, seconds: float | None = None) -> None:
        """Disconnect `peer_id` (if connected) and refuse it, by node id and by
        address, for `seconds` (default `config.ban_seconds`)."""
        reason = clip(reason)
        duration = self.config.ban_seconds if seconds is None else seconds
        now = trio.current_time()
        until = now + duration
        self._bans.ban(node_ban_key(peer_id), until, reason, now)
        peer = self._peers.get(peer_id)
        if peer is not None:
            for key in self._address_keys(peer):
                self._bans.ban(key, until, reason, now)
            self._drop(peer, f"banned: {reason}")
        log.warning("p2p banned %s for %.0fs: %s", peer_id, duration, reason)

    def unban(self, peer_id: str) -> None:
        self._bans.unban(node_ban_key(peer_id))

    def bans(self) -> dict[str, tuple[float, str]]:
        """Active bans: key ("id:<node id>" or "addr:<host>[:<port>]") ->
        (seconds remaining, reason)."""
        return self._bans.active(trio.current_time())

    def is_banned(self, peer_id: str) -> bool:
        return self._bans.is_banned(node_ban_key(peer_id), trio.current_time())

    def disconnect(self, peer_id: str, reason: str = "disconnected by node") -> None:
        peer = self._peers.get(peer_id)
        if peer is not None:
            self._drop(peer, reason)

    def peer_knows(self, peer_id: str, msg_hash: bytes) -> bool:
        peer = self._peers.get(peer_id)
        return peer is not None and msg_hash in peer.known

    def mark_known(self, peer_id: str, msg_hash: bytes) -> None:
        peer = self._peers.get(peer_id)
        if peer is not None:
            peer.known.add(msg_hash)

    def forget(self, msg_hash: bytes) -> None:
        """Drop `msg_hash` from the seen set, so a later copy is delivered again."""
        self.seen.discard(msg_hash)

    # ------------------------------------------------------------ internals

    def _encode(self, msg: Message) -> bytes:
        encoded = msg.encode()
        if len(encoded) > self.config.max_message_bytes:
            # The caller's bug, not the peer's: refuse here rather than let the
            # writer fail and drop the peer.
            raise ValueError(
                f"{type(msg).__name__} of {len(encoded)} bytes exceeds max_message_bytes={self.config.max_message_bytes}"
            )
        return encoded

    def _notify_changed(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _emit(self, event: PeerEvent) -> None:
        try:
            self._event_send.send_nowait(event)
        except trio.WouldBlock:
            # Events must never stall networking; a node that does not read
            # them loses the oldest news, not its connections.
            log.warning("p2p event queue full; dropped %s", event)

    def _enqueue(self, peer: _Peer, encoded: bytes) -> bool:
        try:
            peer.send_channel.send_nowait(encoded)
            peer.queued_bytes += len(encoded)
            return True
        except trio.WouldBlock:
            self._drop(peer, "send queue full (slow peer)")
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        return False

    def _drop(self, peer: _Peer, reason: str, ban: str | None = None) -> None:
        if peer.close_reason is None:
            peer.close_reason = clip(reason)
        if ban is not None and peer.ban_reason is None:
            peer.ban_reason = clip(ban)
        peer.cancel_scope.cancel()

    def _address_keys(self, peer: _Peer) -> list[str]:
        keys = [address_ban_key(peer.host, peer.port)]
        if peer.listen_port:
            keys.append(address_ban_key(peer.host, peer.listen_port))
        return keys

    def _ban_keys(self, keys: Iterable[str], reason: str, seconds: float | None = None) -> None:
        reason = clip(reason)
        duration = self.config.ban_seconds if seconds is None else seconds
        now = trio.current_time()
        until = now + duration
        for key in keys:
            self._bans.ban(key, until, reason, now)
        log.warning("p2p banned %s for %.0fs: %s", ", ".join(keys), duration, reason)

    async def _accept_loop(self, listener: trio.SocketListener, nursery: trio.Nursery) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                # Out of file descriptors or similar: back off instead of spinning.
                log.warning("p2p accept failed: %s", exc)
                await trio.sleep(0.1)
                continue
            try:
                host, port = stream.socket.getpeername()[:2]
            except OSError:  # reset before we looked at it
                await _close_quietly(stream)
                continue
            if self._bans.is_banned(address_ban_key(host, port), trio.current_time()):
                log.info("p2p refused inbound %s:%d: address banned", host, port)
                await _close_quietly(stream)
                continue
            # The connected-peer limit is judged after the handshake, when we
            # know who dials (a persistent peer always gets in); here only the
            # handshakes in progress are bounded.
            pending_from_ip = self._pending_by_ip.get(ip_key(host), 0)
            verdict = admit_handshake(host, self._pending_inbound, pending_from_ip, self.config)
            if verdict is not Admission.ADMIT:
                log.info("p2p refused inbound %s:%d: %s", host, port, verdict.value)
                await _close_quietly(stream)
                continue
            self._pending_inbound += 1
            self._pending_by_ip[ip_key(host)] = pending_from_ip + 1
            nursery.start_soon(self._connection, stream, "inbound", host, port, None)

    async def _dial_loop(self, target: PeerAddress) -> None:
        backoff = self.config.dial_backoff_initial
        while True:
            if target.node_id in self._peers:
                # Connected (either direction): wait for the peer set to change.
                await self._changed.wait()
                backoff = self.config.dial_backoff_initial
                continue
            now = trio.current_time()
            until = max(
                self._bans.banned_until(node_ban_key(target.node_id), now) or 0.0,
                self._bans.banned_until(address_ban_key(target.host, target.port), now) or 0.0,
            )
            if until:
                # Re-check at least every dial_backoff_max, in case of unban().
                await trio.sleep(min(until - now, self.config.dial_backoff_max))
                continue
            outbound = sum(1 for p in self._peers.values() if p.direction == "outbound") + self._pending_outbound
            registered = False
            attempt_started = trio.current_time()
            if outbound < self.config.max_outbound:
                registered = await self._dial_once(target)
            # Jitter so two nodes re-dialing each other do not stay in lockstep.
            pause = backoff * random.uniform(0.8, 1.2)
            if registered:
                backoff = self.config.dial_backoff_initial
                pause = backoff * random.uniform(0.8, 1.2)
            else:
                # The backoff runs from the start of the attempt: one that
                # stalled until its handshake timeout (a partition) has waited
                # already, and is retried at once, so a healed link is found
                # within a SYN retransmission or two, not a backoff later.
                pause -= trio.current_time() - attempt_started
                backoff = min(backoff * 2, self.config.dial_backoff_max)
            await trio.sleep(max(0.0, pause))

    async def _dial_once(self, target: PeerAddress) -> bool:
        self._pending_outbound += 1
        stream: trio.SocketStream | None = None
        try:
            with trio.move_on_after(self.config.handshake_timeout):
                stream = await trio.open_tcp_stream(target.host, target.port)
        except OSError as exc:
            log.debug("p2p dial %s failed: %s", target, exc)
        if stream is None:
            self._pending_outbound -= 1
            return False
        # _connection takes over the pending count and runs the whole session.
        return await self._connection(stream, "outbound", target.host, target.port, target.node_id)

    async def _connection(
        self, stream: trio.SocketStream, direction: Direction, host: str, port: int, expected: str | None
    ) -> bool:
        """Run one connection from handshake to close. Returns True if it got
        as far as being registered as a peer."""
        pending = True
        peer: _Peer | None = None
        label = f"{direction} {host}:{port}"
        try:
            conn: SecureConnection | None = None
            try:
                with trio.fail_after(self.config.handshake_timeout):
                    conn = await secure_handshake(stream, direction == "outbound", self._key, self.config.max_message_bytes)
                    hello = await self._exchange_hello(conn, expected)
            except trio.TooSlowError:
                if direction == "inbound":
                    # A connection that stalls its handshake held a slot: ban
                    # its address, but briefly. A partition that strikes
                    # mid-handshake looks the same, and on a real network the
                    # key is the IP, which our own dialer to that peer checks
                    # too: a long ban would keep a healed validator out.
                    self._ban_keys([address_ban_key(host, port)], "handshake timeout", self.config.stall_ban_seconds)
                else:
                    log.info("p2p %s handshake timed out", label)
                return False
            except Refused as exc:
                log.log(
                    logging.INFO if exc.routine else logging.WARNING,
                    "p2p refused %s (%s): %s",
                    label,
                    conn.remote_node_id if conn else "?",
                    clip(exc.reason),
                )
                if exc.ban and conn is not None:
                    keys = [node_ban_key(conn.remote_node_id), address_ban_key(host, port)]
                    self._ban_keys(keys, exc.reason)
                if conn is not None:
                    await _notify_disconnect(conn, exc.reason)
                return False
            except P2PError as exc:
                keys = [address_ban_key(host, port)]
                if conn is not None:
                    keys.append(node_ban_key(conn.remote_node_id))
                kind = "bad identity" if isinstance(exc, IdentityError) else "protocol violation"
                self._ban_keys(keys, f"{kind} during handshake: {exc}")
                return False
            except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                log.info("p2p %s closed during handshake: %s", label, exc)
                return False

            send_channel, receive_channel = trio.open_memory_channel[bytes](self.config.send_queue_size)
            peer = _Peer(
                node_id=conn.remote_node_id,
                host=host,
                port=port,
                direction=direction,
                conn=conn,
                listen_port=hello.listen_port,
                height=hello.height,
                send_channel=send_channel,
                receive_channel=receive_channel,
                known=LRUSet(self.config.known_cache_size),
            )
            refusal = self._register(peer)
            pending = False
            self._decrement_pending(direction, host)
            if refusal is not None:
                log.info("p2p refused %s (%s): %s", label, peer.node_id, refusal)
                peer = None
                await _notify_disconnect(conn, refusal)
                return False
            log.info("p2p connected %s %s", label, conn.remote_node_id)
            self._emit(PeerConnected(peer.info()))

            with peer.cancel_scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._reader, peer)
                    nursery.start_soon(self._writer, peer)
                    nursery.start_soon(self._pinger, peer)
            return True
        except Exception:
            # A bug in handling one connection must not take the whole
            # service (and the node) down: log it and close that connection.
            # Cancellation is a BaseException and passes through.
            log.exception("p2p internal error on %s; closing it", label)
            if peer is not None:
                peer.close_reason = peer.close_reason or "internal error"
            return False
        finally:
            if pending:
                self._decrement_pending(direction, host)
            if peer is not None:
                self._unregister(peer)
            await _close_quietly(stream)

    def _decrement_pending(self, direction: Direction, host: str) -> None:
        if direction == "inbound":
            self._pending_inbound -= 1
            key = ip_key(host)
            left = self._pending_by_ip.get(key, 0) - 1
            if left > 0:
                self._pending_by_ip[key] = left
            else:
                self._pending_by_ip.pop(key, None)
        else:
            self._pending_outbound -= 1

    async def _exchange_hello(self, conn: SecureConnection, expected: str | None) -> Hello:
        remote = conn.remote_node_id
        if expected is not None and remote != expected:
            # Probably our own configuration, or the address changed hands:
            # refuse, but do not punish.
            raise Refused(f"unexpected node id {remote} (expected {expected})")
        if remote == self.node_id:
            raise Refused("connection to self", routine=True)
        if self._bans.is_banned(node_ban_key(remote), trio.current_time()):
            raise Refused("node id banned")
        ours = Hello(PROTOCOL_VERSION, self.chain_id, self.genesis_hash, self.node_id, self._listen_port_for_hello(), self._height())
        await conn.send_message(ours.encode())
        msg = decode_message(await conn.receive_message(), self.config.max_message_bytes)
        if isinstance(msg, Disconnect):
            raise Refused(clip(f"refused by peer: {msg.reason}"), routine=msg.reason in _ROUTINE_REFUSALS)
        if not isinstance(msg, Hello):
            raise Refused(f"expected Hello, got {type(msg).__name__}", ban=True)
        if msg.protocol_version != PROTOCOL_VERSION:
            raise Refused(f"protocol version {msg.protocol_version}, we speak {PROTOCOL_VERSION}")
        if msg.chain_id != self.chain_id:
            raise Refused(f"wrong chain id {msg.chain_id!r}, ours is {self.chain_id!r}")
        if msg.genesis_hash != self.genesis_hash:
            raise Refused(f"wrong genesis hash {msg.genesis_hash.hex()}, ours is {self.genesis_hash.hex()}")
        if msg.node_id != remote:
            raise Refused(f"Hello claims node id {msg.node_id} but the handshake proved {remote}", ban=True)
        return msg

    def _listen_port_for_hello(self) -> int:
        return self.listen_port if 0 < self.listen_port < 65536 else 0

    def _height(self) -> int:
        try:
            h = int(self._height_fn())
        except Exception:  # the node's callback must not break a handshake
            log.exception("p2p height_fn failed")
            return 0
        return h if 0 <= h < 2**64 else 0

    def _register(self, peer: _Peer) -> str | None:
        """Add `peer`, or return why not."""
        existing = self._peers.get(peer.node_id)
        if existing is not None:
            quiet = existing.quiet_for(trio.current_time())
            if quiet > self.config.replace_quiet_after:
                # The old link went silent (a partition, a peer that restarted
                # behind a dead socket): the peer proved itself on a new one.
                self._drop(existing, f"replaced by a new connection (old one quiet for {quiet:.1f}s)")
            elif self._initiator(peer) < self._initiator(existing):
                # Both ends may dial each other at once. Both keep the connection
                # that the smaller node id initiated, so they agree which survives.
                self._drop(existing, "replaced by a simultaneous connection")
            else:
                return _ALREADY_CONNECTED
        if peer.direction == "inbound":
            refusal = self._make_inbound_room(peer, existing)
            if refusal is not None:
                return refusal
        else:
            count = sum(1 for p in self._live_peers("outbound") if p is not existing)
            if count >= self.config.max_outbound:
                return f"outbound limit {self.config.max_outbound} reached"
        self._peers[peer.node_id] = peer
        self._notify_changed()
        return None

    def _live_peers(self, direction: Direction) -> list[_Peer]:
        """Registered peers in `direction` not already on their way out (an
        evicted or dropped peer frees its slot at once, not when it unregisters)."""
        return [p for p in self._peers.values() if p.direction == direction and p.close_reason is None]

    def _make_inbound_room(self, peer: _Peer, existing: _Peer | None) -> str | None:
        """Apply the inbound limits to `peer`; evict for a persistent peer if
        need be. Returns why `peer` is refused, or None."""
        inbound = [p for p in self._live_peers("inbound") if p is not existing]
        evictable = [p for p in inbound if p.node_id not in self._persistent_ids]
        from_ip = sum(1 for p in evictable if ip_key(p.host) == ip_key(peer.host))
        persistent = peer.node_id in self._persistent_ids
        verdict = admit_inbound(peer.host, persistent, len(inbound), from_ip, len(evictable), self.config)
        if verdict is Admission.ADMIT_EVICTING:
            # The newest non-persistent inbound peer goes: peers that stayed
            # long have been useful longest, and a flood's fresh keys are newest.
            victim = max(reversed(evictable), key=lambda p: p.registered_at)  # ties: the later registered
            self._drop(victim, f"evicted to make room for persistent peer {peer.node_id}")
            log.info("p2p evicted inbound %s for persistent peer %s", victim.node_id, peer.node_id)
        elif verdict is not Admission.ADMIT:
            if verdict is Admission.REFUSE_INBOUND_LIMIT:
                return f"inbound limit {self.config.max_inbound} reached"
            return f"{verdict.value} (limit {self.config.max_inbound_per_ip})"
        return None

    def _initiator(self, peer: _Peer) -> str:
        return self.node_id if peer.direction == "outbound" else peer.node_id

    def _unregister(self, peer: _Peer) -> None:
        reason = peer.close_reason or "connection closed"
        if peer.ban_reason is not None:
            self._ban_keys([node_ban_key(peer.node_id), *self._address_keys(peer)], peer.ban_reason)
        peer.send_channel.close()
        log.info("p2p disconnected %s %s: %s", peer.direction, peer.node_id, reason)
        if self._peers.get(peer.node_id) is peer:
            del self._peers[peer.node_id]
            self._notify_changed()
            self._emit(PeerDisconnected(peer.node_id, reason))
        # else: a simultaneous connection replaced this one; the node id is
        # still connected, so the node hears nothing (it got PeerConnected
        # for the new session already).

    async def _reader(self, peer: _Peer) -> None:
        try:
            while True:
                data = await peer.conn.receive_message()
                self.bytes_received += len(data)
                peer.heard()
                msg = decode_message(data, self.config.max_message_bytes)
                if not await self._handle(peer, msg, data):
                    return
        except P2PError as exc:
            kind = "malformed message" if isinstance(exc, MessageError) else "protocol violation"
            self._drop(peer, f"{kind}: {exc}", ban=f"{kind}: {exc}")
        except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self._drop(peer, str(exc) or type(exc).__name__)

    async def _handle(self, peer: _Peer, msg: Message, data: bytes) -> bool:
        """Process one received message; False ends the connection."""
        if isinstance(msg, Ping):
            self._enqueue(peer, Pong(msg.nonce).encode())
            return True
        if isinstance(msg, Pong):
            return True
        if isinstance(msg, Disconnect):
            self._drop(peer, f"peer disconnected: {msg.reason}")
            return False
        if isinstance(msg, Hello):
            self._drop(peer, "second Hello", ban="protocol violation: second Hello")
            return False
        if isinstance(msg, Status):
            peer.height = msg.height
        elif isinstance(msg, GOSSIP_TYPES):
            h = message_hash(data)
            peer.known.add(h)
            if not self.seen.add(h):
                return True  # a duplicate: already delivered from another peer
        # Backpressure: if the node falls behind, this peer's reader waits
        # (and TCP slows the sender); other peers are unaffected.
        peer.delivering = True
        try:
            await self._inbound_send.send((peer.node_id, msg))
        finally:
            peer.delivering = False
            peer.heard()
        return True

    async def _writer(self, peer: _Peer) -> None:
        try:
            async for encoded in peer.receive_channel:
                wire = peer.conn.encode(encoded)
                with trio.move_on_after(self.config.write_timeout) as stuck:
                    await peer.conn.send_wire(wire)
                self.bytes_sent += len(wire)
                self.messages_sent += 1
                peer.queued_bytes -= len(encoded)
                if stuck.cancelled_caught:
                    self._drop(peer, f"write stalled for {self.config.write_timeout}s (slow peer)")
                    return
        except P2PError as exc:  # only our own oversized message can get here
            log.error("p2p could not send to %s: %s", peer.node_id, exc)
            self._drop(peer, f"local send error: {exc}")
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self._drop(peer, f"send failed: {exc}")

    async def _pinger(self, peer: _Peer) -> None:
        """Ping every `ping_interval`; drop the peer after `idle_timeout` of
        silence. Silence is counted in ticks of this loop, so a stall of our
        own event loop (a long block execution) counts once, not as the whole
        stall: only a peer that stays silent while we listen is dropped."""
        silent_ticks = 0
        max_silent_ticks = max(1, math.ceil(self.config.idle_timeout / self.config.ping_interval))
        while True:
            await trio.sleep(self.config.ping_interval)
            if peer.heard_since_tick or peer.delivering:
                silent_ticks = 0
            else:
                silent_ticks += 1
            peer.heard_since_tick = False
            if silent_ticks >= max_silent_ticks:
                self._drop(peer, f"idle: nothing received for {silent_ticks * self.config.ping_interval:.1f}s")
                return
            self._ping_nonce = (self._ping_nonce + 1) % 2**64
            self._enqueue(peer, Ping(self._ping_nonce).encode())


async def _notify_disconnect(conn: SecureConnection, reason: str) -> None:
    """Best effort: tell the peer why we close, so it can log it."""
    with trio.move_on_after(_DISCONNECT_NOTICE_TIMEOUT):
        try:
            await conn.send_message(Disconnect(reason[:256]).encode())
        except (P2PError, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass


async def _close_quietly(stream: trio.abc.AsyncResource) -> None:
    with trio.CancelScope(shield=True):
        try:
            await stream.aclose()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass


"""Peer bookkeeping that needs no I/O: configuration, peer addresses, peer
descriptions and events, and the ban list.

Owns `P2PConfig` (every tunable of the service, with the defaults a node
uses), `PeerAddress` parsing of ``NODEID@HOST:PORT``, `PeerInfo` and the
connected/disconnected events, and `BanList`. Bans are kept by node id and by
address: a non-loopback address is banned by its IP; on loopback, where a
devnet runs all its nodes on one IP, by IP and port, so one faulty local
node does not cut the others off. The ban list is bounded
(`max_bans`, oldest evicted) and drops expired entries on its own (checked on
insert and lookup, at most every `BAN_PRUNE_INTERVAL` seconds), and every
reason it keeps is clipped to `MAX_ERROR_TEXT` characters.

Also owns the inbound admission rules as pure functions (`admit_handshake`
before the handshake, `admit_inbound` after it, with a typed `Admission`):
a bounded number of handshakes in progress (`max_pending_inbound`), a
per-IP cap (`max_inbound_per_ip`, loopback exempt), and a persistent peer
that is never refused for the inbound limit (a non-persistent inbound peer
is evicted for it).
"""

from __future__ import annotations

import enum
import ipaddress
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from p2p.errors import clip
from p2p.framing import DEFAULT_MAX_MESSAGE_BYTES
from p2p.identity import is_node_id

Direction = Literal["inbound", "outbound"]

DEFAULT_MAX_BANS = 10_000  # ban entries kept (node ids and addresses); the oldest is evicted beyond
BAN_PRUNE_INTERVAL = 10.0  # seconds between sweeps of expired bans


@dataclass(frozen=True)
class P2PConfig:
    """Tunables of `P2PService`. Times are in seconds."""

    max_inbound: int = 40  # connected inbound peers (a persistent peer evicts a non-persistent one)
    max_outbound: int = 10
    # Inbound handshakes in progress, on top of max_inbound: the node id is
    # only known after the handshake, so a full node still hears who dials.
    max_pending_inbound: int = 16
    # Inbound connections (connected + in handshake) from one non-loopback IP;
    # loopback is exempt (a devnet runs all its nodes on 127.0.0.1) and so
    # are persistent peers once identified.
    max_inbound_per_ip: int = 8
    send_queue_size: int = 1024  # per peer; full => that peer is dropped
    inbound_queue_size: int = 4096  # messages delivered to the node
    event_queue_size: int = 1024  # connected/disconnected events
    handshake_timeout: float = 10.0  # TCP connect + Noise + Hello
    ban_seconds: float = 600.0
    stall_ban_seconds: float = 10.0  # an inbound handshake that times out (not provably malice)
    # Every dialed peer is a persistent peer: keep the backoff short, so a
    # healed link is re-dialed within a couple of seconds.
    dial_backoff_initial: float = 0.5
    dial_backoff_max: float = 2.0
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    write_timeout: float = 20.0  # one message stuck in the socket this long => drop
    # A dead link is dropped after idle_timeout; pings (and their pongs) keep
    # a quiet but live link busy. Silence is counted in ping ticks, so our own
    # event-loop stalls do not drop peers (see P2PService._pinger).
    ping_interval: float = 1.0
    idle_timeout: float = 6.0  # nothing received this long => drop
    replace_quiet_after: float = 2.5  # a new connection replaces an old one silent this long
    seen_cache_size: int = 200_000
    known_cache_size: int = 20_000  # per peer
    max_bans: int = DEFAULT_MAX_BANS

    def __post_init__(self) -> None:
        sizes = ("send_queue_size", "inbound_queue_size", "event_queue_size", "seen_cache_size", "known_cache_size")
        for name in (*sizes, "max_bans"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("max_inbound", "max_outbound"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("max_pending_inbound", "max_inbound_per_ip"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        positive = ("handshake_timeout", "write_timeout", "ping_interval", "idle_timeout", "dial_backoff_initial")
        for name in (*positive, "replace_quiet_after", "stall_ban_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.dial_backoff_max < self.dial_backoff_initial:
            raise ValueError("dial_backoff_max must be >= dial_backoff_initial")
        if self.max_message_bytes < 1024:
            raise ValueError("max_message_bytes must be at least 1024")


@dataclass(frozen=True)
class PeerAddress:
    node_id: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> "PeerAddress":
        """Parse ``NODEID@HOST:PORT`` (IPv6 hosts in brackets)."""
        node_id, sep, hostport = text.partition("@")
        if not sep or not is_node_id(node_id):
            raise ValueError(f"peer {text!r}: expected NODEID@HOST:PORT with a 40-hex-digit node id")
        host, sep, port_s = hostport.rpartition(":")
        if not sep or not host or not port_s.isdigit() or not 0 < int(port_s) < 65536:
            raise ValueError(f"peer {text!r}: expected HOST:PORT after '@'")
        return cls(node_id, host.strip("[]"), int(port_s))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.node_id}@{host}:{self.port}"


@dataclass(frozen=True)
class PeerInfo:
    node_id: str
    address: str  # "host:port" of the remote end of the TCP connection
    direction: Direction
    height: int  # from its Hello, then its latest Status
    connected_since: float  # wall-clock seconds (time.time())
    listen_port: int  # where it accepts connections, from its Hello (0 = none)


@dataclass(frozen=True)
class PeerConnected:
    info: PeerInfo


@dataclass(frozen=True)
class PeerDisconnected:
    node_id: str
    reason: str


PeerEvent = PeerConnected | PeerDisconnected


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (also IPv4-mapped) or "localhost"."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def ip_key(host: str) -> str:
    """One spelling per IP, so "::ffff:1.2.3.4" and "1.2.3.4" share a per-IP count."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


def address_ban_key(host: str, port: int) -> str:
    """The key an address is banned under (see the module docstring)."""
    return f"addr:{host}:{port}" if is_loopback(host) else f"addr:{host}"


class Admission(enum.Enum):
    """What to do with an inbound connection."""

    ADMIT = "admit"
    ADMIT_EVICTING = "admit, evicting a non-persistent inbound peer"
    REFUSE_PENDING_LIMIT = "too many inbound handshakes in progress"
    REFUSE_IP_LIMIT = "too many inbound connections from this IP"
    REFUSE_INBOUND_LIMIT = "inbound limit reached"


def admit_handshake(host: str, pending: int, pending_from_ip: int, config: P2PConfig) -> Admission:
    """Before the handshake (who dials is not known yet): bound the handshakes
    in progress, in all and per IP. `pending_from_ip` counts this IP's
    handshakes in progress; connected peers are judged after the handshake."""
    if pending >= config.max_pending_inbound:
        return Admission.REFUSE_PENDING_LIMIT
    if not is_loopback(host) and pending_from_ip >= config.max_inbound_per_ip:
        return Admission.REFUSE_IP_LIMIT
    return Admission.ADMIT


def admit_inbound(
    host: str, persistent: bool, inbound: int, connected_from_ip: int, evictable: int, config: P2PConfig
) -> Admission:
    """After the handshake: `inbound` counts connected inbound peers,
    `connected_from_ip` those of them from this IP that are not persistent,
    `evictable` the non-persistent inbound ones. A persistent peer is never
    refused: beyond the limit it evicts one, or (every slot held by
    persistent peers) it is admitted above it, bounded by `persistent_peers`."""
    if persistent:
        if inbound >= config.max_inbound and evictable > 0:
            return Admission.ADMIT_EVICTING
        return Admission.ADMIT
    if not is_loopback(host) and connected_from_ip >= config.max_inbound_per_ip:
        return Admission.REFUSE_IP_LIMIT
    if inbound >= config.max_inbound:
        return Admission.REFUSE_INBOUND_LIMIT
    return Admission.ADMIT


def node_ban_key(node_id: str) -> str:
    return f"id:{node_id}"


class BanList:
    """Ban keys with expiry times on a caller-supplied monotonic clock; bounded
    (the oldest ban is evicted beyond `max_entries`) and self-pruning."""

    def __init__(self, max_entries: int = DEFAULT_MAX_BANS) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._bans: OrderedDict[str, tuple[float, str]] = OrderedDict()  # key -> (until, reason), oldest first
        self._next_prune = float("-inf")

    def __len__(self) -> int:
        return len(self._bans)

    def ban(self, key: str, until: float, reason: str, now: float | None = None) -> None:
        """Ban `key` until `until` (never shortens a ban). `now` lets it sweep expired bans."""
        if now is not None:
            self._prune(now)
        current = self._bans.get(key)
        if current is not None and current[0] >= until:
            return
        self._bans[key] = (until, clip(reason))
        self._bans.move_to_end(key)
        while len(self._bans) > self.max_entries:
            self._bans.popitem(last=False)

    def unban(self, key: str) -> None:
        self._bans.pop(key, None)

    def banned_until(self, key: str, now: float) -> float | None:
        self._prune(now)
        entry = self._bans.get(key)
        if entry is None:
            return None
        if entry[0] <= now:
            self.unban(key)
            return None
        return entry[0]

    def is_banned(self, key: str, now: float) -> bool:
        return self.banned_until(key, now) is not None

    def active(self, now: float) -> dict[str, tuple[float, str]]:
        """key -> (seconds remaining, reason) for every unexpired ban."""
        self._prune(now, force=True)
        return {k: (until - now, reason) for k, (until, reason) in self._bans.items()}

    def _prune(self, now: float, force: bool = False) -> None:
        if not force and now < self._next_prune:
            return
        self._next_prune = now + BAN_PRUNE_INTERVAL
        for key in [k for k, (until, _reason) in self._bans.items() if until <= now]:
            del self._bans[key]

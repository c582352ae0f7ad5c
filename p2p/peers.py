"""Peer bookkeeping that needs no I/O: configuration, peer addresses, peer
descriptions and events, and the ban list.

Owns `P2PConfig` (every tunable of the service, with the defaults a node
uses), `PeerAddress` parsing of ``NODEID@HOST:PORT``, `PeerInfo` and the
connected/disconnected events, and `BanList`. Bans are kept by node id and by
address: a non-loopback address is banned by its IP; on loopback, where a
devnet runs all its nodes on one IP, by IP and port, so one faulty local
node does not cut the others off.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from p2p.framing import DEFAULT_MAX_MESSAGE_BYTES
from p2p.identity import is_node_id

Direction = Literal["inbound", "outbound"]


@dataclass(frozen=True)
class P2PConfig:
    """Tunables of `P2PService`. Times are in seconds."""

    max_inbound: int = 40
    max_outbound: int = 10
    send_queue_size: int = 1024  # per peer; full => that peer is dropped
    inbound_queue_size: int = 4096  # messages delivered to the node
    event_queue_size: int = 1024  # connected/disconnected events
    handshake_timeout: float = 10.0  # TCP connect + Noise + Hello
    ban_seconds: float = 600.0
    dial_backoff_initial: float = 1.0
    dial_backoff_max: float = 60.0
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    write_timeout: float = 20.0  # one message stuck in the socket this long => drop
    ping_interval: float = 15.0
    idle_timeout: float = 60.0  # nothing received this long => drop
    seen_cache_size: int = 200_000
    known_cache_size: int = 20_000  # per peer

    def __post_init__(self) -> None:
        for name in ("send_queue_size", "inbound_queue_size", "event_queue_size", "seen_cache_size", "known_cache_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("max_inbound", "max_outbound"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("handshake_timeout", "write_timeout", "ping_interval", "idle_timeout", "dial_backoff_initial"):
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


def address_ban_key(host: str, port: int) -> str:
    """The key an address is banned under (see the module docstring)."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    return f"addr:{host}:{port}" if loopback else f"addr:{host}"


def node_ban_key(node_id: str) -> str:
    return f"id:{node_id}"


class BanList:
    """Ban keys with expiry times on a caller-supplied monotonic clock."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._reasons: dict[str, str] = {}

    def ban(self, key: str, until: float, reason: str) -> None:
        if until > self._until.get(key, float("-inf")):
            self._until[key] = until
            self._reasons[key] = reason

    def unban(self, key: str) -> None:
        self._until.pop(key, None)
        self._reasons.pop(key, None)

    def banned_until(self, key: str, now: float) -> float | None:
        until = self._until.get(key)
        if until is None:
            return None
        if until <= now:
            self.unban(key)
            return None
        return until

    def is_banned(self, key: str, now: float) -> bool:
        return self.banned_until(key, now) is not None

    def active(self, now: float) -> dict[str, tuple[float, str]]:
        """key -> (seconds remaining, reason) for every unexpired ban."""
        for key in [k for k, u in self._until.items() if u <= now]:
            self.unban(key)
        return {k: (u - now, self._reasons[k]) for k, u in self._until.items()}

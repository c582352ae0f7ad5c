"""`config.toml`: the node's local settings (addresses, timeouts, mempool limits, logging).

Settings that every node of a chain must agree on live in `genesis.json`
instead. Each section is a frozen dataclass; loading checks every value's type
and range and names the key at fault, so a typo is one clear line at start-up,
not a surprise later.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

import tomli_w

from plume_node.errors import UserError

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")


class ConfigError(UserError):
    """A config.toml that cannot be read or holds a bad value."""


@dataclass(frozen=True)
class ConsensusConfig:
    block_time_ms: int = 1000  # most time from a commit to the next height (when no tx is waiting)
    create_empty_blocks: bool = True
    commit_grace_ms: int = 300  # after a commit, wait this long (at most) for every validator's precommit
    min_block_interval_ms: int = 250  # with transactions waiting: least time from one height's start to the next's
    timeout_propose_ms: int = 3000
    timeout_propose_delta_ms: int = 500
    timeout_prevote_ms: int = 1000
    timeout_prevote_delta_ms: int = 500
    timeout_precommit_ms: int = 1000
    timeout_precommit_delta_ms: int = 500


@dataclass(frozen=True)
class P2PConfig:
    listen_addr: str = "0.0.0.0:26656"
    persistent_peers: list[str] = field(default_factory=list)  # NODEID@HOST:PORT
    max_inbound: int = 40
    max_outbound: int = 10
    max_pending_inbound: int = 16  # inbound handshakes in progress, on top of max_inbound
    max_inbound_per_ip: int = 8  # non-persistent inbound peers per IP (loopback exempt)
    send_queue_size: int = 1000
    ban_seconds: int = 600
    handshake_timeout_ms: int = 5000
    max_message_bytes: int = 8 * 1024 * 1024
    sync_progress_ms: int = 5000  # while block sync catches up, a progress line in the log at most this often


@dataclass(frozen=True)
class RPCConfig:
    enabled: bool = True
    listen_addr: str = "127.0.0.1:8545"
    cors_origins: list[str] = field(default_factory=lambda: ["*"])
    max_body_bytes: int = 5 * 1024 * 1024
    max_batch: int = 100
    # eth_call / eth_estimateGas / log queries (docs/rpc.md, "Limits")
    gas_cap: int = 50_000_000  # most gas one execution gets, like geth's --rpc.gascap
    batch_gas_cap: int = 500_000_000  # gas all executions of one request body may use
    evm_timeout_ms: int = 5000  # wall time all executions of one request body share
    max_concurrent_executions: int = 2  # worker threads; they share the GIL with consensus
    # HTTP
    body_timeout_ms: int = 10_000  # a request body must arrive within this
    max_concurrent_requests: int = 256  # more in progress are answered 503
    send_timeout_ms: int = 10_000  # a client that accepts no data this long is disconnected
    # WebSocket (docs/rpc.md, "WebSocket")
    max_ws_connections: int = 100  # more upgrades are answered 503
    max_ws_subscriptions: int = 100  # per connection
    ws_send_queue: int = 1000  # messages waiting for a client; past it the client is dropped
    ws_send_queue_bytes: int = 4 * 1024 * 1024  # their size; past it the client is dropped


@dataclass(frozen=True)
class MempoolSettings:
    max_txs: int = 5000
    max_bytes: int = 32 * 1024 * 1024
    max_tx_bytes: int = 128 * 1024
    price_bump_percent: int = 10
    max_per_sender: int = 64
    max_nonce_gap: int = 64
    ttl_seconds: int = 3 * 3600


@dataclass(frozen=True)
class MetricsConfig:
    # GET /metrics and /health are always served on the JSON-RPC port; this
    # adds a listener of their own (e.g. one reachable by Prometheus only).
    listen_addr: str = ""  # HOST:PORT, empty = no separate listener
    # /health answers 503 when a height has been in progress this many block
    # times (block_time_ms + timeout_propose_ms each) while not syncing.
    stall_block_times: int = 5
    min_free_disk_bytes: int = 64 * 1024 * 1024  # /health answers 503 below this under the data directory


@dataclass(frozen=True)
class ComplianceConfig:
    # Local policy and alerts (docs/compliance.md); the rules live in HOME/compliance.toml.
    observer: bool = False  # refuse every RPC method that submits or signs (also `start --observer`)
    alerts_file: str = ""  # JSON-lines file the alerts are appended to; empty = HOME/compliance-alerts.jsonl
    webhook_url: str = ""  # POST each alert here (http:// or https://); empty = no webhook
    webhook_timeout_ms: int = 5000  # per attempt
    webhook_retries: int = 3  # attempts after the first, 1 s, 2 s, 4 s... apart
    webhook_queue: int = 1000  # alerts waiting for the webhook; past it they are only in the file


@dataclass(frozen=True)
class Config:
    moniker: str = "plume-node"
    log_level: str = "info"
    log_format: str = "text"  # or "json": one JSON object a line (docs/operator.md, "Logs")
    log_file: str = ""  # append logs to this file instead of stderr
    fee_address: str = ""  # coinbase of the blocks this validator proposes (its operator account)
    consensus: ConsensusConfig = field(default_factory=ConsensusConfig)
    p2p: P2PConfig = field(default_factory=P2PConfig)
    rpc: RPCConfig = field(default_factory=RPCConfig)
    mempool: MempoolSettings = field(default_factory=MempoolSettings)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    compliance: ComplianceConfig = field(default_factory=ComplianceConfig)

    def check(self) -> None:
        """Range checks the types alone cannot express."""
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"log_level must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"log_format must be one of {', '.join(LOG_FORMATS)}, got {self.log_format!r}")
        if self.metrics.listen_addr:
            parse_host_port(self.metrics.listen_addr, "metrics.listen_addr")
        if self.metrics.stall_block_times < 1:
            raise ConfigError(f"metrics.stall_block_times must be at least 1, got {self.metrics.stall_block_times}")
        if not 0 <= self.consensus.min_block_interval_ms <= 60_000:
            raise ConfigError(
                f"consensus.min_block_interval_ms must be between 0 and 60000, got {self.consensus.min_block_interval_ms}"
            )
        if not 0 <= self.consensus.commit_grace_ms <= 60_000:
            raise ConfigError(
                f"consensus.commit_grace_ms must be between 0 and 60000, got {self.consensus.commit_grace_ms}"
            )
        if self.consensus.block_time_ms < 100:
            raise ConfigError(
                f"consensus.block_time_ms must be at least 100, got {self.consensus.block_time_ms}"
            )
        for name in ("p2p.listen_addr", "rpc.listen_addr"):
            section, key = name.split(".")
            parse_host_port(getattr(getattr(self, section), key), name)
        for peer in self.p2p.persistent_peers:
            parse_peer(peer)
        for key in ("gas_cap", "batch_gas_cap", "evm_timeout_ms", "max_concurrent_executions",
                    "body_timeout_ms", "max_concurrent_requests", "send_timeout_ms", "max_ws_connections",
                    "max_ws_subscriptions", "ws_send_queue", "ws_send_queue_bytes"):
            if getattr(self.rpc, key) < 1:
                raise ConfigError(f"rpc.{key} must be at least 1, got {getattr(self.rpc, key)}")
        url = self.compliance.webhook_url
        if url and not url.startswith(("http://", "https://")):
            raise ConfigError(f"compliance.webhook_url must start with http:// or https://, got {url[:200]!r}")
        if self.compliance.webhook_queue < 1 or self.compliance.webhook_timeout_ms < 1:
            raise ConfigError("compliance.webhook_queue and compliance.webhook_timeout_ms must be at least 1")
        for name in ("consensus", "p2p", "rpc", "mempool", "metrics", "compliance"):
            section = getattr(self, name)
            for f in fields(section):
                value = getattr(section, f.name)
                if isinstance(value, int) and not isinstance(value, bool) and value < 0:
                    raise ConfigError(f"{name}.{f.name} must not be negative, got {value}")

    def replace(self, **changes: Any) -> "Config":
        return dataclasses.replace(self, **changes)


def parse_host_port(value: str, what: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{what} must be HOST:PORT (e.g. 127.0.0.1:8545), got {value!r}")
    return host.strip("[]"), int(port)


def parse_peer(value: str) -> tuple[str, str, int]:
    node_id, sep, addr = value.partition("@")
    if not sep or len(node_id) != 40 or any(c not in "0123456789abcdef" for c in node_id.lower()):
        raise ConfigError(
            f"persistent peer must be NODEID@HOST:PORT with a 40-hex-digit node id, got {value!r}"
        )
    host, port = parse_host_port(addr, "persistent peer address")
    return node_id.lower(), host, port


def _from_mapping(cls: type, data: dict[str, Any], where: str) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for key in data:
        if key not in known:
            raise ConfigError(f"unknown setting {where}{key} in config.toml (known: {', '.join(sorted(known))})")
    values = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value, hint = data[f.name], hints[f.name]
        name = f"{where}{f.name}"
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"[{name}] must be a table")
            values[f.name] = _from_mapping(hint, value, f"{name}.")
            continue
        expected = getattr(hint, "__origin__", hint)
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if ok and expected is list:
            ok = all(isinstance(v, str) for v in value)
        if not ok:
            raise ConfigError(f"config.toml: {name} must be {_type_word(hint)}, got {value!r}")
        values[f.name] = value
    return cls(**values)


def _type_word(hint: Any) -> str:
    return {int: "an integer", str: "a string", bool: "true or false"}.get(hint, "a list of strings")


def load_config(path: Path) -> Config:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing; run `plume-node init --home {path.parent}` first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses per nested array or table
        raise ConfigError(f"{path} is not a Plume config: its values are nested too deeply") from None
    config = _from_mapping(Config, data, "")
    config.check()
    return config


def dump_config(config: Config) -> str:
    header = (
        "# Plume node local settings. Chain-wide parameters live in genesis.json.\n"
        "# Durations are in milliseconds. See docs/operator.md for every key.\n\n"
    )
    return header + tomli_w.dumps(dataclasses.asdict(config))


def set_dotted(config: Config, dotted: str, raw: str) -> Config:
    """Return `config` with `section.key` (or `key`) set from a string, typed like the field."""
    parts = dotted.split(".")
    if len(parts) not in (1, 2):
        raise ConfigError(f"setting {dotted!r} must be KEY or SECTION.KEY")
    data = dataclasses.asdict(config)
    target = data if len(parts) == 1 else data.get(parts[0])
    if not isinstance(target, dict) or parts[-1] not in target:
        raise ConfigError(f"unknown config setting {dotted!r}")
    current = target[parts[-1]]
    target[parts[-1]] = _coerce(raw, current, dotted)
    new = _from_mapping(Config, data, "")
    new.check()
    return new


def _coerce(raw: str, current: Any, name: str) -> Any:
    if isinstance(current, bool):
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
    if isinstance(current, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if isinstance(current, list):
        return [item for item in raw.split(",") if item]
    return raw

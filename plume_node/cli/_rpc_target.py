"""Which node a command talks to when `--rpc` is not given.

In order: `--rpc` (or `PLUME_RPC`); the node of `--home` (or `PLUME_HOME`),
at its config.toml's `rpc.listen_addr`; node 0 of the devnet in `./.devnet`
when it answers; `http://127.0.0.1:8545`. `--verbose` prints the choice and
why, on stderr (so `--json` output stays one document). A URL without a
scheme gets `http://`; anything else malformed is a usage error (exit 2).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import click

from plume_node.cli._rpc_client import DEFAULT_RPC_URL

MAX_URL_CHARS = 2048
DEVNET_DIR = ".devnet"  # where `devnet up` keeps its devnet (plume_node.cli.devnet.DEFAULT_UP_DIR)
DEVNET_PROBE_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class RpcTarget:
    url: str
    reason: str  # for --verbose: where the URL came from


def normalize_rpc_url(value: str) -> str:
    """`value` as an http(s) URL; `host:port` gets `http://`. Raises `click.BadParameter`."""
    text = value.strip()
    if not text or len(text) > MAX_URL_CHARS or any(c.isspace() or ord(c) < 32 for c in text):
        raise click.BadParameter(f"{value[:100]!r} is not a URL such as http://127.0.0.1:8545")
    if "://" not in text:
        text = "http://" + text
    parts = urllib.parse.urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise click.BadParameter(f"{value[:100]!r}: the node's JSON-RPC URL starts with http:// or https://")
    try:
        port_ok = parts.port is None or 0 < parts.port
    except ValueError:
        port_ok = False
    if not parts.hostname or not port_ok:
        raise click.BadParameter(f"{value[:100]!r} is not a URL such as http://127.0.0.1:8545 (host and port?)")
    return text


def rpc_url_arg(ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> str | None:
    return None if value is None else normalize_rpc_url(value)


def resolve_rpc_target(explicit: str | None, explicit_from: str, home: str | None, cwd: Path) -> RpcTarget:
    if explicit is not None:
        return RpcTarget(explicit, f"from {explicit_from}")
    if home:
        url, why = _home_url(Path(home).expanduser())
        if url:
            return RpcTarget(url, why)
    devnet = _devnet_url(cwd / DEVNET_DIR)
    if devnet:
        return RpcTarget(devnet, f"node 0 of the running devnet in {cwd / DEVNET_DIR}")
    return RpcTarget(DEFAULT_RPC_URL, "the default; no --rpc, no node home, no running ./.devnet")


def _home_url(root: Path) -> tuple[str | None, str]:
    from plume_node.config import ConfigError, load_config

    config_path = root / "config.toml"
    if not config_path.is_file():
        return None, ""
    try:
        config = load_config(config_path)
    except ConfigError:
        return None, ""
    if not config.rpc.enabled:
        return None, ""
    host, _, port = config.rpc.listen_addr.rpartition(":")
    host = host.strip("[]")
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"  # listening on every interface: loopback reaches it
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}", f"rpc.listen_addr of {config_path}"


def _devnet_url(directory: Path) -> str | None:
    if not (directory / "devnet.json").is_file():
        return None
    from plume_node.devnet import load_devnet, rpc_answers
    from plume_node.errors import UserError

    try:
        nodes = load_devnet(directory).nodes
    except UserError:
        return None
    if nodes and rpc_answers(nodes[0].rpc_url, timeout=DEVNET_PROBE_TIMEOUT_S):
        return nodes[0].rpc_url
    return None

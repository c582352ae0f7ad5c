"""Options and helpers shared by `plume-node tx` and `plume-node query`."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from eth_utils import to_checksum_address

from plume_node.cli._rpc_client import DEFAULT_RPC_URL, RpcClient, RpcClientError
from plume_node.cli._rpc_target import resolve_rpc_target, rpc_url_arg
from plume_node.cli._units import AmountError, parse_amount

def rpc_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--rpc URL` and `--verbose`; the command receives `rpc_url` resolved as `_rpc_target` says."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        explicit, verbose = kwargs.pop("rpc_url"), kwargs.pop("verbose")
        source = click.get_current_context().get_parameter_source("rpc_url")
        explicit_from = "PLUME_RPC" if source is ParameterSource.ENVIRONMENT else "--rpc"
        home = kwargs.pop("rpc_home", None) or kwargs.get("home") or os.environ.get("PLUME_HOME") or None
        target = resolve_rpc_target(explicit, explicit_from, home, Path.cwd())
        if verbose:
            click.echo(f"using the node at {target.url} ({target.reason})", err=True)
        return func(*args, rpc_url=target.url, **kwargs)

    wrapper = click.option("--verbose", is_flag=True, help="Say which node (RPC URL) is used and why.")(wrapper)
    return click.option(
        "--rpc",
        "rpc_url",
        envvar="PLUME_RPC",
        callback=rpc_url_arg,
        help=f"JSON-RPC URL of the node (or set PLUME_RPC) [default: --home's node, else a running ./.devnet node 0, else {DEFAULT_RPC_URL}].",
    )(wrapper)

# `--home` for commands that need a home only to find their node (queries); a
# command with its own --home (tx: the keystore) uses that one for the node too.
node_home_option = click.option(
    "--home",
    "rpc_home",
    envvar="PLUME_HOME",
    type=click.Path(file_okay=False),
    help="Talk to the node of this home (its config.toml's RPC address); or set PLUME_HOME.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


def address_arg(ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> str | None:
    if value is None:
        return None
    if not _ADDRESS.match(value):
        raise click.BadParameter(f"{value!r} is not an address: expected 0x and 40 hex digits")
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper() and to_checksum_address(value) != value:
        # mixed case is an EIP-55 checksum: a mistyped one is refused, as web3.py and ethers do
        raise click.BadParameter(
            f"{value} fails its EIP-55 checksum (mixed case): check it for a typo, or give it all lowercase"
        )
    return value


def hash_arg(ctx: click.Context | None, param: click.Parameter | None, value: str) -> str:
    if not _HASH.match(value):
        raise click.BadParameter(f"{value!r} is not a transaction hash: expected 0x and 64 hex digits")
    return value.lower()


def amount_arg(ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_amount(value)
    except AmountError as exc:
        raise click.BadParameter(str(exc)) from None


def rpc_call(client: RpcClient, method: str, *params: Any) -> Any:
    """A node call whose failure ends the command with the node's message."""
    try:
        return client.call(method, *params)
    except RpcClientError as exc:
        raise click.ClickException(str(exc)) from None


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


def to_int(value: str | None) -> int | None:
    return None if value is None else int(value, 16)

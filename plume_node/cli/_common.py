"""Options and helpers shared by `plume-node tx` and `plume-node query`."""

from __future__ import annotations

import json
import re
from typing import Any

import click
from eth_utils import to_checksum_address

from plume_node.cli._rpc_client import DEFAULT_RPC_URL, RpcClient, RpcClientError
from plume_node.cli._units import AmountError, parse_amount

rpc_option = click.option(
    "--rpc",
    "rpc_url",
    default=DEFAULT_RPC_URL,
    show_default=True,
    envvar="PLUME_RPC",
    help="JSON-RPC URL of the node (or set PLUME_RPC).",
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

"""`plume-node init`, `plume-node start` and `plume-node genesis ...`: creating and running a node."""

from __future__ import annotations

import json
import re

import click
from eth_utils import to_checksum_address

from plume_node.config import load_config, parse_host_port
from plume_node.files import write_atomic
from plume_node.genesis import (
    DEFAULT_CHAIN_ID,
    MAX_SAFE_CHAIN_ID,
    GenesisValidator,
    dump_genesis,
    load_genesis,
    parse_address,
)
from plume_node.home import Home
from plume_node.init import DEFAULT_POWER, init_home, refuse_existing
from plume_node.join import obtain_genesis, parse_peers
from plume_node.keystore import PASSWORD_ENV, resolve_password

home_option = click.option(
    "--home",
    "home",
    required=True,
    envvar="PLUME_HOME",
    type=click.Path(file_okay=False),
    help="The node's home directory (config, genesis, keys, data); or set PLUME_HOME.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
_HASH = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


@click.command()
@home_option
@click.option("--chain-id", type=click.IntRange(1, MAX_SAFE_CHAIN_ID), help=f"Chain id of a new chain [default: {DEFAULT_CHAIN_ID}]; with --genesis, the id the chain must have.")
@click.option("--moniker", default="plume-node", show_default=True, help="A human name for this node.")
@click.option("--genesis", "genesis_source", metavar="FILE_OR_URL", help="Join an existing chain: its genesis.json, or the JSON-RPC URL of one of its nodes.")
@click.option("--genesis-hash", metavar="0xHASH", help="With --genesis: the hash the chain's genesis must have (as published by the network).")
@click.option("--peers", metavar="NODEID@HOST:PORT,...", help="Peers to dial and keep dialing (p2p.persistent_peers).")
@click.option("--password-file", type=click.Path(dir_okay=False), help="File holding the operator keystore password.")
@click.option("--force", is_flag=True, help="Replace an existing home (deletes its keys and data).")
@json_option
def init(
    home: str, chain_id: int | None, moniker: str, genesis_source: str | None, genesis_hash: str | None,
    peers: str | None, password_file: str | None, force: bool, as_json: bool,
) -> None:
    """Create a node home: keys, operator account, config.toml and genesis.json.

    Without --genesis the genesis names this node the sole validator of a new
    chain; with it, the node joins that chain as a full node.
    """
    import os
    import sys

    h = Home.at(home)
    refuse_existing(h, force)
    peer_list = parse_peers(peers)
    joined = _joined_genesis(genesis_source, genesis_hash, chain_id)
    if password_file or PASSWORD_ENV in os.environ or sys.stdin.isatty():
        password: str | None = resolve_password(password_file, confirm=True)
    else:
        password = None  # unattended: init generates one and says where it is
    result = init_home(
        h, chain_id=chain_id or DEFAULT_CHAIN_ID, moniker=moniker, password=password, force=force,
        genesis=joined.doc if joined else None, peers=peer_list,
    )
    if as_json:
        click.echo(json.dumps(result.to_json()))
    else:
        _print_init(result, joined)


def _print_init(result, joined) -> None:
    click.echo(f"initialized node home {result.home}")
    if joined:
        click.echo(f"  joins the chain of {joined.source} as a full node")
    click.echo(f"  chain id          {result.chain_id}")
    click.echo(f"  genesis hash      {result.genesis_hash}")
    click.echo(f"  moniker           {result.moniker}")
    click.echo(f"  operator address  {result.operator_address}  (keystore/operator.json)")
    click.echo(f"  validator address {result.validator_address}")
    click.echo(f"  node id           {result.node_id}")
    if result.password_file:
        click.echo(
            f"  no password given and no terminal: the operator password was generated into "
            f"{result.password_file} (0600); move it somewhere safe"
        )
    for peer in result.persistent_peers:
        click.echo(f"  peer              {peer}")
    if joined:
        click.echo("  to become a validator once synced: docs/operator.md, \"Become a validator\"")
    click.echo(f"start it with: plume-node start --home {result.home}")


def _joined_genesis(source: str | None, expected_hash: str | None, chain_id: int | None):
    """The genesis to join (None: a new chain), checked against --genesis-hash and --chain-id."""
    if source is None:
        if expected_hash:
            raise click.UsageError("--genesis-hash needs --genesis")
        return None
    if expected_hash is not None and not _HASH.match(expected_hash):
        raise click.BadParameter("must be 0x and 64 hex digits, as the network publishes it", param_hint="--genesis-hash")
    joined = obtain_genesis(source, expected_hash)
    if chain_id is not None and joined.doc.chain_id != chain_id:
        raise click.BadParameter(
            f"the genesis from {source[:200]} is chain {joined.doc.chain_id}, not {chain_id}: another chain",
            param_hint="--chain-id",
        )
    return joined


@click.command()
@home_option
@click.option("--rpc-addr", help="Serve JSON-RPC on HOST:PORT (overrides rpc.listen_addr).")
@click.option("--p2p-addr", help="Listen for peers on HOST:PORT (overrides p2p.listen_addr).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), help="Overrides log_level.")
@click.option("--log-format", type=click.Choice(["text", "json"]), help="Overrides log_format (json: one object a line).")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Append logs to PATH instead of stderr (overrides log_file).")
@click.option("--observer", is_flag=True, help="Run as a read-only observer: RPC refuses every method that submits or signs (compliance.observer).")
def start(
    home: str, rpc_addr: str | None, p2p_addr: str | None, log_level: str | None,
    log_format: str | None, log_file: str | None, observer: bool,
) -> None:
    """Run the node until SIGINT or SIGTERM."""
    from plume_node.runtime import run_node

    h = Home.at(home)
    if not h.config_path.exists():
        raise click.ClickException(f"{h.root} is not a node home (no config.toml); run `plume-node init --home {home}` first")
    config = load_config(h.config_path)
    if rpc_addr:
        parse_host_port(rpc_addr, "--rpc-addr")
        config = config.replace(rpc=_replace(config.rpc, listen_addr=rpc_addr))
    if p2p_addr:
        parse_host_port(p2p_addr, "--p2p-addr")
        config = config.replace(p2p=_replace(config.p2p, listen_addr=p2p_addr))
    if log_level:
        config = config.replace(log_level=log_level)
    if log_format:
        config = config.replace(log_format=log_format)
    if log_file:
        config = config.replace(log_file=log_file)
    if observer:
        config = config.replace(compliance=_replace(config.compliance, observer=True))
    run_node(h, config)


def _replace(section, **changes):
    import dataclasses

    return dataclasses.replace(section, **changes)


@click.group()
def genesis() -> None:
    """Inspect or extend genesis.json before the first start."""


def _editable_genesis(h: Home):
    if h.started():
        raise click.ClickException(
            f"{h.root} has already started from this genesis; changing it now would fork this node "
            "from its own chain (use a fresh home, or `init --force`)"
        )
    return load_genesis(h.genesis_path)


@genesis.command("add-account")
@click.argument("address")
@click.argument("amount_wei", type=click.IntRange(min=1))
@home_option
@json_option
def add_account(address: str, amount_wei: int, home: str, as_json: bool) -> None:
    """Fund ADDRESS with AMOUNT_WEI at genesis (added to any existing balance)."""
    h = Home.at(home)
    doc = _editable_genesis(h)
    raw = parse_address(address, "ADDRESS")
    doc = doc.with_account(raw, amount_wei)
    write_atomic(h.genesis_path, dump_genesis(doc))
    if as_json:
        click.echo(json.dumps({"address": to_checksum_address(raw), "balance_wei": str(doc.alloc[raw]), "genesis_hash": "0x" + doc.hash().hex()}))
        return
    click.echo(f"genesis: {address} now starts with {doc.alloc[raw]} wei")


@genesis.command("add-validator")
@click.argument("pub_key")
@home_option
@click.option("--power", type=click.IntRange(min=1), default=DEFAULT_POWER, show_default=True)
@click.option("--name", default="", help="The validator's moniker.")
@click.option("--fee-address", required=True, help="Address credited with the tips of blocks it proposes.")
@json_option
def add_validator(pub_key: str, home: str, power: int, name: str, fee_address: str, as_json: bool) -> None:
    """Add a genesis validator by its Ed25519 consensus PUB_KEY (hex, from its keys/validator_key.json)."""
    h = Home.at(home)
    doc = _editable_genesis(h)
    try:
        raw = bytes.fromhex(pub_key.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise click.BadParameter("must be a 32-byte Ed25519 public key in hex", param_hint="PUB_KEY")
    validator = GenesisValidator(name=name, pub_key=raw, power=power, fee_address=parse_address(fee_address, "--fee-address"))
    doc = doc.with_validator(validator)
    write_atomic(h.genesis_path, dump_genesis(doc))
    if as_json:
        click.echo(json.dumps({
            "validator_address": validator.address.hex(), "name": name, "power": power,
            "fee_address": to_checksum_address(validator.fee_address), "genesis_hash": "0x" + doc.hash().hex(),
        }))
        return
    click.echo(f"genesis: validator {validator.address.hex()} ({name or 'unnamed'}) added with power {power}")


@genesis.command("show")
@home_option
@json_option
def show(home: str, as_json: bool) -> None:
    """Print the genesis: its hash, chain id, fees, funded accounts and validators (--json: the whole document)."""
    h = Home.at(home)
    doc = load_genesis(h.genesis_path)
    if as_json:
        click.echo(json.dumps({"hash": "0x" + doc.hash().hex(), "genesis": doc.to_json()}, indent=2))
        return
    click.echo(f"genesis {h.genesis_path}")
    click.echo(f"  hash              0x{doc.hash().hex()}")
    click.echo(f"  chain id          {doc.chain_id}")
    click.echo(f"  genesis time      {doc.genesis_time} (unix seconds)")
    click.echo(f"  gas limit         {doc.gas_limit}")
    click.echo(f"  base fee          {doc.base_fee_per_gas} wei (floor {doc.min_base_fee_per_gas})")
    click.echo(f"  funded accounts   {len(doc.alloc)}, {sum(doc.alloc.values())} wei in all")
    click.echo(f"  validators        {len(doc.validators)}")
    for v in doc.validators:
        click.echo(f"    {v.address.hex()}  power {v.power:<6} operator {to_checksum_address(v.fee_address)}  {v.name}")
    click.echo("  the whole document: --json")

"""`plume-node devnet init|start|stop|status|up`: a local multi-node chain for development.

The logic lives in `plume_node.devnet`; this module parses arguments and
prints. See docs/devnet.md.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click
from eth_utils import to_checksum_address

from plume_node import jsonlimits
from plume_node.devnet import (
    DEFAULT_ACCOUNTS,
    DEFAULT_BASE_PORT,
    DEFAULT_BLOCK_TIME_MS,
    DEFAULT_MNEMONIC,
    Devnet,
    DevnetParams,
    NodeSpec,
    has_devnet,
    init_devnet,
    load_devnet,
    node_status,
    parse_overrides,
    port_free,
    read_dev_accounts,
    run_supervisor,
    stop_devnet,
)
from plume_node.cli._units import format_plume
from plume_node.genesis import DEFAULT_CHAIN_ID, MAX_SAFE_CHAIN_ID, load_genesis
from plume_node.init import OPERATOR_KEY
from staking.permissions.roles import LIST_NAMES, Role

DEFAULT_UP_DIR = ".devnet"
DEFAULT_UP_VALIDATORS = 4

dir_option = click.option(
    "--dir",
    "directory",
    default=DEFAULT_UP_DIR,
    show_default=True,
    type=click.Path(file_okay=False),
    help="The devnet's directory (node homes, devnet.json, accounts.json).",
)
mnemonic_option = click.option(
    "--mnemonic",
    default=DEFAULT_MNEMONIC,
    help="BIP-39 phrase the dev accounts derive from (m/44'/60'/0'/0/i) [default: the well-known test mnemonic].",
)
# `up` and `init` print at most this many dev accounts; accounts.json holds them all.
MAX_PRINTED_ACCOUNTS = 20
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=90.0,
    show_default=True,
    help="Seconds to wait for every node's JSON-RPC to answer.",
)
base_port_option = click.option(
    "--base-port",
    type=click.IntRange(1024, 65534),
    default=DEFAULT_BASE_PORT,
    show_default=True,
    help="Node i listens for peers on P+2i and serves JSON-RPC on P+2i+1 (127.0.0.1).",
)


def _dir(directory: str) -> Path:
    return Path(directory).expanduser().resolve()


@click.group()
def devnet() -> None:
    """Run a local chain of several nodes on this machine."""


@devnet.command("init")
@click.option("--validators", type=click.IntRange(min=1), required=True, help="Number of validator nodes.")
@click.option("--full-nodes", type=click.IntRange(min=0), default=0, show_default=True, help="Number of non-validator nodes.")
@dir_option
@base_port_option
@click.option("--block-time", "block_time_ms", type=click.IntRange(min=100), default=DEFAULT_BLOCK_TIME_MS, show_default=True, help="Block interval when no transaction is waiting, in ms.")
@click.option("--chain-id", type=click.IntRange(1, MAX_SAFE_CHAIN_ID), default=DEFAULT_CHAIN_ID, show_default=True, help="The chain id wallets see (eth_chainId).")
@click.option("--accounts", type=click.IntRange(0, 10_000), default=DEFAULT_ACCOUNTS, show_default=True, help="Funded dev accounts to generate.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="genesis.chain_id|gas_limit|base_fee_per_gas|min_base_fee_per_gas, staking.KEY (unbonding_period, epoch_length, max_validators, ...), slashing.KEY, gov.KEY (voting_period, min_deposit, ...), execution.base_fee_burn_bps, permissions.transact|deploy|validator=true, permissions.admin=0xADDR (default dev account 0), or a config.toml key such as consensus.create_empty_blocks (repeatable).")
@mnemonic_option
@click.option("--force", is_flag=True, help="Replace a devnet already in DIR (deletes its keys and chain data).")
@json_option
def init_cmd(
    validators: int,
    full_nodes: int,
    directory: str,
    base_port: int,
    block_time_ms: int,
    chain_id: int,
    accounts: int,
    settings: tuple[str, ...],
    mnemonic: str,
    force: bool,
    as_json: bool,
) -> None:
    """Create N validator and M full-node homes sharing one genesis."""
    params = DevnetParams(
        validators=validators,
        full_nodes=full_nodes,
        base_port=base_port,
        block_time_ms=block_time_ms,
        chain_id=chain_id,
        accounts=accounts,
        overrides=parse_overrides(settings),
        mnemonic=mnemonic,
    )
    net = init_devnet(_dir(directory), params, force=force)
    if as_json:
        click.echo(json.dumps({"dir": str(net.dir), **net.to_json(), "dev_accounts": read_dev_accounts(net)}, indent=2))
    else:
        _print_summary(net)


def _print_accounts(net: Devnet) -> None:
    """The dev accounts as anvil prints them: index, address, balance, then the private keys and the wallet."""
    info = read_dev_accounts(net)
    shown = info["accounts"][:MAX_PRINTED_ACCOUNTS]
    balance = format_plume(int(info["balance_wei"]))
    click.echo("")
    click.echo("Available Accounts (TEST ONLY: their keys are public; never send them anything of value)")
    click.echo("==================")
    for i, account in enumerate(shown):
        click.echo(f"({i}) {account['address']} ({balance})")
    click.echo("")
    click.echo("Private Keys (TEST ONLY: never use them on a real network)")
    click.echo("==================")
    for i, account in enumerate(shown):
        click.echo(f"({i}) {account['private_key']}")
    if len(info["accounts"]) > len(shown):
        click.echo(f"... and {len(info['accounts']) - len(shown)} more")
    click.echo(f"all {len(info['accounts'])} with their keys: {net.accounts_path}")
    if info.get("mnemonic"):
        click.echo("")
        click.echo("Wallet")
        click.echo("==================")
        click.echo(f"Mnemonic:          {info['mnemonic']}")
        click.echo(f"Derivation path:   {info['derivation_path']}  (account i at i)")
    click.echo("")


def _print_permissions(net: Devnet) -> None:
    """The permission lists that are on, and their admins (nothing when every list is off)."""
    perms = load_genesis(Path(net.nodes[0].home) / "genesis.json").permissions
    on = [name for which, name in LIST_NAMES.items() if perms.list_on(which)]
    if on:
        admins = sorted({to_checksum_address(a) for _, a, role in perms.roles if role == Role.ADMIN})
        click.echo(f"  permissions   {', '.join(on)} list(s) on; admin {', '.join(admins)}; "
                   "validator operators enabled; other accounts need `plume-node tx perms grant`")


def _print_summary(net: Devnet, *, starting: bool = False) -> None:
    click.echo(f"devnet created in {net.dir}")
    click.echo(f"  chain id      {net.chain_id}")
    click.echo(f"  genesis hash  {net.genesis_hash}")
    click.echo(f"  {'node':<7} {'role':<9} {'rpc':<24} {'p2p':<17} node id")
    for node in net.nodes:
        click.echo(f"  {node.name:<7} {node.role:<9} {node.rpc_url:<24} {node.p2p_addr:<17} {node.node_id}")
    click.echo(f"  operator keystore password of every node: {net.password_path}")
    _print_permissions(net)
    _print_accounts(net)
    busy = [f"{port}" for node in net.nodes for port in (node.p2p_port, node.rpc_port) if not port_free(port)]
    if busy:
        click.echo(
            f"warning: port(s) {', '.join(busy)} are in use right now; `devnet start` will refuse until they are "
            "free (or recreate with --force --base-port P)"
        )
    if not starting:
        click.echo(f"start it with: plume-node devnet start --dir {net.dir}")


@devnet.command("start")
@dir_option
@click.option("--nodes", "node_list", metavar="0,1,...", help="Start only these nodes (indices or names); default all.")
@timeout_option
def start_cmd(directory: str, node_list: str | None, timeout: float) -> None:
    """Run the nodes until Ctrl-C or SIGTERM.

    Each node is its own process logging to its HOME/node.log; one that exits
    is reported, never restarted.
    """
    net = load_devnet(_dir(directory))
    nodes = net.select(node_list)
    code = run_supervisor(net, nodes, timeout=timeout, on_ready=lambda: _print_try_it(net, nodes[0]))
    raise SystemExit(code)


@devnet.command("stop")
@dir_option
@click.option("--timeout", type=click.FloatRange(min=1), default=30.0, show_default=True, help="Seconds to wait for the nodes to stop.")
@json_option
def stop_cmd(directory: str, timeout: float, as_json: bool) -> None:
    """Stop the `devnet start` or `devnet up` running DIR (from another terminal), as Ctrl-C would.

    It stops its nodes in order and reports in its own terminal; this command
    waits until it has. Nothing running is not an error.
    """
    net = load_devnet(_dir(directory))
    outcome = stop_devnet(net, timeout, echo=(lambda line: None) if as_json else click.echo)
    if as_json:
        click.echo(json.dumps({"dir": str(net.dir), **outcome.to_json()}))
    raise SystemExit(1 if outcome.still_running else 0)


@devnet.command("status")
@dir_option
@json_option
def status_cmd(directory: str, as_json: bool) -> None:
    """Height, round, step and peers of each node.

    A node that does not answer is "down".
    """
    net = load_devnet(_dir(directory))
    rows = [node_status(node) for node in net.nodes]
    if as_json:
        click.echo(json.dumps({"dir": str(net.dir), "chain_id": net.chain_id, "nodes": rows}, indent=2))
        return
    click.echo(f"devnet {net.dir}  chain id {net.chain_id}")
    click.echo(f"  {'node':<7} {'role':<9} {'state':<8} {'height':>7} {'round':>6} {'step':<10} {'peers':>5}  rpc")
    for row in rows:
        if row["state"] == "up":
            cells = f"{row['height']:>7} {_cell(row.get('round')):>6} {_cell(row.get('step')):<10} {_cell(row.get('peers')):>5}"
        else:
            cells = f"{'':>7} {'':>6} {'':<10} {'':>5}"
        click.echo(f"  {row['name']:<7} {row['role']:<9} {row['state']:<8} {cells}  {row['rpc_url']}")
    if any(row["state"] == "foreign" for row in rows):
        click.echo("  foreign: another program or another node answers on that node's port")


def _cell(value: object) -> str:
    return "?" if value is None else str(value)


@devnet.command("up")
@click.option("--validators", type=click.IntRange(min=1), help=f"Validators of a new devnet [default: {DEFAULT_UP_VALIDATORS}].")
@dir_option
@base_port_option
@mnemonic_option
@timeout_option
def up_cmd(validators: int | None, directory: str, base_port: int, mnemonic: str, timeout: float) -> None:
    """Create a devnet in DIR unless one is there, then start it."""
    path = _dir(directory)
    if has_devnet(path):
        net = load_devnet(path)
        have = len(net.validators)
        if validators is not None and validators != have:
            click.echo(
                f"note: {path} already holds a devnet with {have} validator(s); starting that one "
                f"(to change it: plume-node devnet init --validators {validators} --dir {path} --force)"
            )
        else:
            click.echo(f"using the devnet in {path}")
        _print_accounts(net)
    else:
        params = DevnetParams(validators=validators or DEFAULT_UP_VALIDATORS, base_port=base_port, mnemonic=mnemonic)
        net = init_devnet(path, params)
        _print_summary(net, starting=True)
    code = run_supervisor(net, list(net.nodes), timeout=timeout, on_ready=lambda: _print_try_it(net, net.nodes[0]))
    raise SystemExit(code)


def _print_try_it(net: Devnet, first: NodeSpec) -> None:
    """Where the dev accounts are, and a transfer a new user can paste (signed by `first`'s operator)."""
    try:
        to = jsonlimits.loads(net.accounts_path.read_text())["accounts"][0]["address"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        to = first.operator_address
    click.echo(f"dev accounts and their private keys (test keys only): {net.accounts_path}")
    click.echo(f"MetaMask / web3.py: RPC {first.rpc_url}, chain id {net.chain_id}")
    click.echo("try it, in another terminal:")
    click.echo(
        f"  plume-node tx send --from {OPERATOR_KEY} --home {shlex.quote(str(first.home))} "
        f"--password-file {shlex.quote(str(net.password_path))} "
        f"--to {to} --value 1plume --rpc {first.rpc_url}"
    )

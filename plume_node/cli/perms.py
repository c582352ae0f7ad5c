"""`plume-node tx perms grant|revoke ROLE LIST ADDRESS` and `plume-node query perms ADDRESS`.

The permissions contract at 0x…1003 (docs/compliance.md, "On-chain
permissions"). Transactions go through the staking CLI's path
(`call_contract`): a gas estimate first, so a grant the contract would refuse
(the sender's role does not allow it) is reported with its reason and never
sent. `revoke ROLE` sets the account back to none, and only if it holds ROLE
on that list now (read first with `plume_getPermissions`), so a mistyped role
never demotes the wrong account; likewise `grant` of a role below the one the
account holds (enabled to an admin) is refused unless `--demote` is given.
The query reads `plume_getPermissions`.
"""

from __future__ import annotations

import click
from eth_abi import encode
from eth_utils import to_checksum_address

from plume_node.cli._common import address_arg, echo_json, json_option, node_home_option, rpc_call, rpc_option
from plume_node.cli._rpc_client import RpcClient
from plume_node.cli.query import block_tag, query
from plume_node.cli.query_staking import block_option, table
from plume_node.cli.staking import SendOptions, call_contract, send_options
from plume_node.cli.tx import report, tx
from staking.addresses import PERMISSIONS_ADDRESS
from staking.permissions import abi as perm_abi
from staking.permissions.roles import LIST_NAMES, ROLE_NAMES, Role, list_by_name, role_by_name

PERMISSIONS_CONTRACT = to_checksum_address(PERMISSIONS_ADDRESS)
GRANTABLE = [ROLE_NAMES[r] for r in (Role.ENABLED, Role.MANAGER, Role.ADMIN)]
LISTS = list(LIST_NAMES.values())
SET_ROLE = next(m for m in perm_abi.METHODS.values() if m.name == "setRole")


def _set_role(opts: SendOptions, list_name: str, address: str, role: Role, verb: str) -> None:
    which = list_by_name(list_name)
    args = (int(which), address, int(role))
    data = SET_ROLE.selector + encode(list(SET_ROLE.inputs), list(args))
    sent = call_contract(opts, "setRole", args, to=PERMISSIONS_CONTRACT, data=data, label="permissions")
    summary = {**sent.summary, "method": "setRole", "list": list_name, "account": address, "role": ROLE_NAMES[role]}
    report(summary, opts.as_json, (f"  {verb}: {address} is now {ROLE_NAMES[role]} on the {list_name} list",)
           if "status" in summary else ())


@tx.group("perms")
def perms() -> None:
    """Grant and revoke roles on the permission lists (transact, deploy, validator)."""


def _held_role(opts: SendOptions, address: str, list_name: str) -> str:
    """ADDRESS's role on LIST now (``plume_getPermissions`` at latest)."""
    standing = rpc_call(RpcClient(opts.rpc_url), "plume_getPermissions", address, "latest")
    return standing["lists"][list_name]["role"]


@perms.command("grant")
@click.argument("role", type=click.Choice(GRANTABLE, case_sensitive=False))
@click.argument("list_name", metavar="LIST", type=click.Choice(LISTS, case_sensitive=False))
@click.argument("address", callback=address_arg)
@click.option("--demote", is_flag=True, help="Allow setting a role below the one ADDRESS holds now.")
@send_options
def grant(role: str, list_name: str, address: str, demote: bool, opts: SendOptions) -> None:
    """Give ADDRESS the ROLE (enabled, manager, admin) on LIST: a manager grants enabled, an admin any role."""
    address, list_name, new = to_checksum_address(address), list_name.lower(), role_by_name(role.lower())
    held = _held_role(opts, address, list_name)
    if not demote and role_by_name(held) > new:
        raise click.ClickException(
            f"{address} is {held} on the {list_name} list: granting {ROLE_NAMES[new]} would demote it "
            "(pass --demote to mean it)"
        )
    _set_role(opts, list_name, address, new, "granted")


@perms.command("revoke")
@click.argument("role", type=click.Choice(GRANTABLE, case_sensitive=False))
@click.argument("list_name", metavar="LIST", type=click.Choice(LISTS, case_sensitive=False))
@click.argument("address", callback=address_arg)
@send_options
def revoke(role: str, list_name: str, address: str, opts: SendOptions) -> None:
    """Take ROLE on LIST from ADDRESS (it becomes none); refused unless ADDRESS holds ROLE there now."""
    address, list_name, role = to_checksum_address(address), list_name.lower(), role.lower()
    held = _held_role(opts, address, list_name)
    if held != role:
        raise click.ClickException(f"{address} is {held} on the {list_name} list, not {role}: nothing to revoke")
    _set_role(opts, list_name, address, Role.NONE, "revoked " + role)


@query.command("perms")
@click.argument("address", callback=address_arg)
@block_option
@rpc_option
@node_home_option
@json_option
def query_perms(address: str, block: str, rpc_url: str, as_json: bool) -> None:
    """ADDRESS's role on each permission list, whether each list is on, and whether it may act."""
    result = rpc_call(RpcClient(rpc_url), "plume_getPermissions", to_checksum_address(address), block_tag(block))
    if as_json:
        echo_json({**result, "blockNumber": int(result["blockNumber"], 16)})
        return
    rows = [(name, "on" if s["on"] else "off", s["role"], "yes" if s["allowed"] else "no")
            for name, s in result["lists"].items()]
    click.echo(f"{result['address']} at block {int(result['blockNumber'], 16)}")
    click.echo(table(("LIST", "LIST IS", "ROLE", "MAY ACT"), rows))

"""`plume-node query validators|validator|delegations|unbondings|rewards|staking-params`: the staking contract's state.

They read the node's plume_ staking methods (docs/rpc.md). Lists are fetched
page by page, every page at the block of the first, so a listing is one
consistent state. Text is a table with amounts in PLUME; `--json` gives the
same fields with wei amounts as decimal strings and other numbers as
integers. On-chain strings (monikers) are printed with control characters
replaced, so a validator's name cannot rewrite the terminal.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from plume_node.cli._common import address_arg, echo_json, json_option, node_home_option, rpc_call, rpc_option
from plume_node.cli._rpc_client import RpcClient
from plume_node.cli._staking import format_bps, printable
from plume_node.cli._units import format_plume
from plume_node.cli.query import block_tag, query

PAGE = 100  # the node's largest page
MAX_PAGES = 50  # a listing stops after this many pages (5,000 entries), whatever `total` claims

AMOUNT_KEYS = frozenset({"tokens", "shares", "amount", "minSelfDelegation", "powerReduction"})
INT_KEYS = frozenset({
    "blockNumber", "total", "offset", "commissionBps", "maxCommissionBps", "maxChangeBps", "statusCode", "power",
    "creationHeight", "completionTime", "unbondingPeriod", "maxValidators", "epochLength", "maxEntries",
    "maxValidatorShareBps", "jailedUntil", "missedBlocks",
})

block_option = click.option("--block", "block", default="latest", show_default=True, help="Block number or tag.")


def plain(value: Any) -> Any:
    """An RPC answer for --json: wei amounts as decimal strings, other QUANTITYs as ints."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in AMOUNT_KEYS and isinstance(item, str):
                out[key] = str(int(item, 16))
            elif key in INT_KEYS and isinstance(item, str):
                out[key] = int(item, 16)
            else:
                out[key] = plain(item)
        return out
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def all_pages(client: RpcClient, method: str, key: str, lead: tuple, block: str) -> dict[str, Any]:
    """Every entry of a paged staking method, all read at the block of the first page."""
    first = rpc_call(client, method, *lead, 0, PAGE, block)
    entries = list(first[key])
    total = int(first["total"], 16)
    pinned = first["blockNumber"]
    for _ in range(MAX_PAGES - 1):
        if len(entries) >= total:
            break
        page = rpc_call(client, method, *lead, len(entries), PAGE, pinned)
        if not page[key]:
            break
        entries.extend(page[key])
    return {**first, key: entries}


def table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [headers, *rows]]
    return "\n".join(lines)


def _amount(quantity: str) -> str:
    return format_plume(int(quantity, 16))


def _utc(quantity: str) -> str:
    seconds = int(quantity, 16)
    try:
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, ValueError, OSError):
        return f"time {seconds}"


def _status(v: dict[str, Any]) -> str:
    return v["status"] + (", tombstoned" if v.get("tombstoned") else ", jailed" if v["jailed"] else "")


@query.command("validators")
@block_option
@rpc_option
@node_home_option
@json_option
def validators(block: str, rpc_url: str, as_json: bool) -> None:
    """Every registered validator: status, stake, power and commission."""
    result = all_pages(RpcClient(rpc_url), "plume_getValidators", "validators", (), block_tag(block))
    if as_json:
        echo_json(plain(result))
        return
    rows = [
        (v["operator"], printable(v["moniker"], 24), _status(v), _amount(v["tokens"]), str(int(v["power"], 16)),
         format_bps(int(v["commissionBps"], 16)))
        for v in result["validators"]
    ]
    click.echo(f"{int(result['total'], 16)} validator(s) at block {int(result['blockNumber'], 16)}")
    if rows:
        click.echo(table(("OPERATOR", "MONIKER", "STATUS", "TOKENS", "POWER", "COMMISSION"), rows))


@query.command("validator")
@click.argument("operator", callback=address_arg)
@block_option
@rpc_option
@node_home_option
@json_option
def validator(operator: str, block: str, rpc_url: str, as_json: bool) -> None:
    """The validator operated by OPERATOR."""
    v = rpc_call(RpcClient(rpc_url), "plume_getValidator", operator, block_tag(block))
    if v is None:
        raise click.ClickException(f"no validator is operated by {operator}")
    if as_json:
        echo_json(plain(v))
        return
    lines = [
        f"validator {v['operator']} ({printable(v['moniker'])})",
        f"  consensus key  {v['consensusPubkey']}",
        f"  consensus addr {v['consensusAddress']}",
        f"  status         {_status(v)}",
        f"  power          {int(v['power'], 16)}",
        f"  missed blocks  {int(v.get('missedBlocks', '0x0'), 16)} in the current signing window",
        f"  tokens         {_amount(v['tokens'])}",
        f"  shares         {int(v['shares'], 16)}",
        f"  commission     {format_bps(int(v['commissionBps'], 16))} (max {format_bps(int(v['maxCommissionBps'], 16))}, "
        f"change at most {format_bps(int(v['maxChangeBps'], 16))} a day)",
    ]
    jailed_until = int(v.get("jailedUntil", "0x0"), 16)
    if v["jailed"] and not v.get("tombstoned") and jailed_until:
        lines.insert(4, f"  jailed until   {_utc(v['jailedUntil'])}")
    click.echo("\n".join(lines))


@query.command("delegations")
@click.argument("delegator", callback=address_arg)
@block_option
@rpc_option
@node_home_option
@json_option
def delegations(delegator: str, block: str, rpc_url: str, as_json: bool) -> None:
    """The stake DELEGATOR has delegated, by validator."""
    result = all_pages(RpcClient(rpc_url), "plume_getDelegations", "delegations", (delegator,), block_tag(block))
    if as_json:
        echo_json(plain(result))
        return
    click.echo(f"delegations of {result['delegator']} at block {int(result['blockNumber'], 16)}")
    rows = [(e["validator"], _amount(e["tokens"]), str(int(e["shares"], 16))) for e in result["delegations"]]
    click.echo(table(("VALIDATOR", "TOKENS", "SHARES"), rows) if rows else "  none")


@query.command("unbondings")
@click.argument("delegator", callback=address_arg)
@block_option
@rpc_option
@node_home_option
@json_option
def unbondings(delegator: str, block: str, rpc_url: str, as_json: bool) -> None:
    """DELEGATOR's pending unbonding entries and immature redelegations."""
    result = all_pages(RpcClient(rpc_url), "plume_getUnbondings", "unbondings", (delegator,), block_tag(block))
    if as_json:
        echo_json(plain(result))
        return
    click.echo(f"unbonding entries of {result['delegator']} at block {int(result['blockNumber'], 16)}")
    rows = [
        (e["validator"], str(int(e["creationHeight"], 16)), _amount(e["amount"]), _utc(e["completionTime"]))
        for e in result["unbondings"]
    ]
    click.echo(table(("VALIDATOR", "HEIGHT", "AMOUNT", "PAID AFTER"), rows) if rows else "  none")
    click.echo("redelegations")
    rows = [
        (r["src"], r["dst"], str(int(r["creationHeight"], 16)), _amount(r["amount"]), _utc(r["completionTime"]))
        for r in result["redelegations"]
    ]
    click.echo(table(("FROM", "TO", "HEIGHT", "AMOUNT", "MATURES"), rows) if rows else "  none")


def rewards_plain(result: dict[str, Any]) -> dict[str, Any]:
    """plume_getRewards for --json: every amount (pending, total, commission) as a decimal string."""
    def wei(quantity: str | None) -> str | None:
        return None if quantity is None else str(int(quantity, 16))

    return {
        "blockNumber": int(result["blockNumber"], 16),
        "delegator": result["delegator"],
        "rewards": [{**r, "pending": wei(r["pending"])} for r in result["rewards"]],
        "total": wei(result["total"]),
        "commission": wei(result["commission"]),
    }


@query.command("rewards")
@click.argument("address", callback=address_arg)
@block_option
@rpc_option
@node_home_option
@json_option
def rewards(address: str, block: str, rpc_url: str, as_json: bool) -> None:
    """ADDRESS's pending rewards by validator, its auto-restake settings, and its validator's commission."""
    result = rpc_call(RpcClient(rpc_url), "plume_getRewards", address, block_tag(block))
    if as_json:
        echo_json(rewards_plain(result))
        return
    click.echo(f"rewards of {result['delegator']} at block {int(result['blockNumber'], 16)}")
    rows = [(r["validator"], _amount(r["pending"]), "on" if r["autoRestake"] else "off") for r in result["rewards"]]
    click.echo(table(("VALIDATOR", "PENDING", "AUTO-RESTAKE"), rows) if rows else "  no delegations")
    click.echo(f"total pending rewards  {_amount(result['total'])}")
    if result["commission"] is not None:
        click.echo(f"pending commission     {_amount(result['commission'])} (its validator's)")


@query.command("staking-params")
@block_option
@rpc_option
@node_home_option
@json_option
def staking_params(block: str, rpc_url: str, as_json: bool) -> None:
    """The staking parameters in force."""
    result = rpc_call(RpcClient(rpc_url), "plume_stakingParams", block_tag(block))
    if as_json:
        echo_json(plain(result))
        return
    n = {k: int(v, 16) for k, v in result.items()}
    click.echo(
        f"at block {n['blockNumber']}\n"
        f"  unbonding period     {n['unbondingPeriod']} s\n"
        f"  max validators       {n['maxValidators']}\n"
        f"  epoch length         {n['epochLength']} blocks\n"
        f"  min self-delegation  {format_plume(n['minSelfDelegation'])}\n"
        f"  max entries          {n['maxEntries']} per delegator and validator\n"
        f"  power reduction      {format_plume(n['powerReduction'])} per unit of voting power\n"
        f"  max validator share  {format_bps(n['maxValidatorShareBps'])} of all bonded stake"
    )

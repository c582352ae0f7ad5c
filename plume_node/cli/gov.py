"""`plume-node tx gov ...` and `plume-node query proposals|proposal|gov-params`: the governance contract at 0x…1001.

Transactions go through the staking CLI's path (`call_contract`): a gas
estimate first, so a proposal or vote the contract would refuse is reported
with its reason and never sent; then signed with `--from`/`--home` or
`--private-key-file`. `--change KEY=VALUE` takes a key as in genesis.json
(`staking.unbonding_period`) and an integer value (an amount may carry a
unit: `1plume`); it is ABI-encoded in the parameter's type. Queries read
`plume_getProposals`, `plume_getProposal` (with the live tally) and
`plume_govParams`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click
from eth_abi import encode
from eth_utils import to_checksum_address

from plume_node.cli._common import amount_arg, echo_json, json_option, node_home_option, rpc_call, rpc_option
from plume_node.cli._rpc_client import RpcClient
from plume_node.cli._staking import printable
from plume_node.cli._units import AmountError, format_plume, parse_amount
from plume_node.cli.query import block_tag, query
from plume_node.cli.query_staking import block_option, table
from plume_node.cli.staking import SendOptions, call_contract, send_options
from plume_node.cli.tx import Sent, report, tx
from staking.addresses import GOVERNANCE_ADDRESS
from staking.errors import StakingRevert
from staking.governance import abi as gov_abi
from staking.governance.params_registry import check_key, encode_value
from staking.governance.tally import VoteOption

GOVERNANCE_CONTRACT = to_checksum_address(GOVERNANCE_ADDRESS)
VOTE_OPTIONS = {"yes": VoteOption.YES, "abstain": VoteOption.ABSTAIN, "no": VoteOption.NO, "veto": VoteOption.VETO}
TALLY_KEYS = ("yes", "abstain", "no", "veto")


def gov_calldata(name: str, *args: Any) -> bytes:
    method = next(m for m in gov_abi.METHODS.values() if m.name == name)
    return method.selector + encode(list(method.inputs), list(args))


def parse_change(text: str) -> tuple[str, int]:
    """``KEY=VALUE`` -> (key, integer value); the key must name a governable parameter."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep:
        raise click.BadParameter(f"{text[:80]!r} is not KEY=VALUE", param_hint="--change")
    try:
        check_key(key)
    except StakingRevert as exc:
        raise click.BadParameter(exc.reason, param_hint="--change") from None
    try:
        return key, parse_amount(value.strip())
    except AmountError as exc:
        raise click.BadParameter(f"{key}: {exc}", param_hint="--change") from None


def _send(opts: SendOptions, method: str, args: tuple, value: int = 0) -> Sent:
    data = gov_calldata(method, *args)
    return call_contract(opts, method, args, value, to=GOVERNANCE_CONTRACT, data=data, label="governance")


def _finish(opts: SendOptions, method: str, sent: Sent, details: dict[str, Any], lines: tuple[str, ...]) -> None:
    summary = {**sent.summary, "method": method, **details}
    report(summary, opts.as_json, lines if "status" in summary else ())


def _submitted_id(sent: Sent) -> int | None:
    topic0 = "0x" + gov_abi.PROPOSAL_SUBMITTED.topic0.to_bytes(32, "big").hex()
    for log in sent.logs:
        topics = log.get("topics") or []
        if str(log.get("address", "")).lower() == GOVERNANCE_CONTRACT.lower() and len(topics) > 1 and topics[0] == topic0:
            return int(topics[1], 16)
    return None


@tx.group("gov")
def gov() -> None:
    """Propose parameter changes, deposit on proposals, vote with your bonded stake."""


@gov.command("propose")
@click.option("--title", required=True, help="The proposal's title (at most 140 bytes).")
@click.option("--description", default="", help="What and why (at most 4096 bytes).")
@click.option("--change", "changes", multiple=True, help="KEY=VALUE, repeatable (none: a text proposal).")
@click.option("--deposit", required=True, callback=amount_arg, help="First deposit: wei, or with a unit (10plume).")
@send_options
def propose(title: str, description: str, changes: tuple[str, ...], deposit: int, opts: SendOptions) -> None:
    """Submit a proposal; the deposit is returned on pass or rejection, burned on veto, missing quorum or drop."""
    parsed = [parse_change(c) for c in changes]
    encoded = [(key, encode_value(key, value)) for key, value in parsed]
    sent = _send(opts, "submitProposal", (title, description, encoded), deposit)
    proposal_id = _submitted_id(sent)
    details = {"proposal": proposal_id, "title": title, "changes": {k: str(v) for k, v in parsed},
               "deposit": str(deposit)}
    lines = (f"  proposal {proposal_id}: {printable(title)}",
             *(f"  change {k} = {v}" for k, v in parsed),
             f"  deposited {format_plume(deposit)}")
    _finish(opts, "submitProposal", sent, details, lines)


@gov.command("deposit")
@click.argument("proposal_id", type=click.IntRange(min=1))
@click.argument("amount", callback=amount_arg)
@send_options
def deposit(proposal_id: int, amount: int, opts: SendOptions) -> None:
    """Add AMOUNT to proposal PROPOSAL_ID's deposits."""
    sent = _send(opts, "deposit", (proposal_id,), amount)
    _finish(opts, "deposit", sent, {"proposal": proposal_id, "amount": str(amount)},
            (f"  deposited {format_plume(amount)} on proposal {proposal_id}",))


@gov.command("vote")
@click.argument("proposal_id", type=click.IntRange(min=1))
@click.argument("option", type=click.Choice(list(VOTE_OPTIONS), case_sensitive=False))
@send_options
def vote(proposal_id: int, option: str, opts: SendOptions) -> None:
    """Vote OPTION (yes, no, abstain or veto: no with veto) on PROPOSAL_ID with your bonded stake."""
    sent = _send(opts, "vote", (proposal_id, int(VOTE_OPTIONS[option.lower()])))
    _finish(opts, "vote", sent, {"proposal": proposal_id, "option": option.lower()},
            (f"  voted {option.lower()} on proposal {proposal_id}",))


# -- queries ----------------------------------------------------------------------------

AMOUNT_KEYS = frozenset({"totalDeposit", "minDeposit", "bonded", *TALLY_KEYS})


def plain(value: Any) -> Any:
    """An RPC answer for --json: amounts as decimal strings, other QUANTITYs as ints."""
    if isinstance(value, dict):
        return {k: (str(int(v, 16)) if k in AMOUNT_KEYS else int(v, 16)) if isinstance(v, str) and v.startswith("0x")
                and k not in ("proposer",) else plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _utc(quantity: str) -> str:
    seconds = int(quantity, 16)
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if seconds else "-"


def _share(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.2f}%" if whole else "-"


@query.command("proposals")
@block_option
@rpc_option
@node_home_option
@json_option
def proposals(block: str, rpc_url: str, as_json: bool) -> None:
    """Every governance proposal (the last 100), oldest first."""
    client = RpcClient(rpc_url)
    first = rpc_call(client, "plume_getProposals", 0, 1, block_tag(block))
    total = int(first["total"], 16)
    result = rpc_call(client, "plume_getProposals", max(0, total - 100), 100, first["blockNumber"])
    if as_json:
        echo_json(plain(result))
        return
    rows = [(str(int(p["id"], 16)), p["status"] + (f" ({p['outcome']})" if p["status"] == "rejected" else ""),
             printable(p["title"], 40), format_plume(int(p["totalDeposit"], 16)), _utc(p["votingEnd"]))
            for p in result["proposals"]]
    click.echo(f"{total} proposal(s) at block {int(result['blockNumber'], 16)}")
    if rows:
        click.echo(table(("ID", "STATUS", "TITLE", "DEPOSIT", "VOTING ENDS"), rows))


@query.command("proposal")
@click.argument("proposal_id", type=click.IntRange(min=1))
@block_option
@rpc_option
@node_home_option
@json_option
def proposal(proposal_id: int, block: str, rpc_url: str, as_json: bool) -> None:
    """Proposal PROPOSAL_ID with its tally (live during voting, final once closed)."""
    p = rpc_call(RpcClient(rpc_url), "plume_getProposal", proposal_id, block_tag(block))
    if p is None:
        raise click.ClickException(f"no proposal {proposal_id}")
    if as_json:
        echo_json(plain(p))
        return
    tally = {k: int(p["tally"][k], 16) for k in (*TALLY_KEYS, "bonded")}
    voted = sum(tally[k] for k in TALLY_KEYS)
    lines = [
        f"proposal {int(p['id'], 16)}: {printable(p['title'])}",
        f"  proposer     {p['proposer']}",
        f"  status       {p['status']}" + (f" ({p['outcome']})" if p["status"] == "rejected" else ""),
        f"  deposit      {format_plume(int(p['totalDeposit'], 16))} (deposit period ends {_utc(p['depositEnd'])})",
        f"  voting       {_utc(p['votingStart'])} .. {_utc(p['votingEnd'])}",
        *(f"  change       {c['key']} = {c['value']}" for c in p["changes"]),
        f"  tally        ({'live' if p['tally']['live'] else 'final'}; {int(p['tally']['voters'], 16)} voter(s); "
        f"{_share(voted, tally['bonded'])} of {format_plume(tally['bonded'])} bonded voted)",
        *(f"    {k:<8} {format_plume(tally[k])} ({_share(tally[k], voted)})" for k in TALLY_KEYS),
    ]
    if p["description"]:
        lines.insert(1, f"  description  {printable(p['description'], 200)}")
    click.echo("\n".join(lines))


@query.command("gov-params")
@block_option
@rpc_option
@node_home_option
@json_option
def gov_params(block: str, rpc_url: str, as_json: bool) -> None:
    """The governance parameters, and the current value of every governable parameter."""
    result = rpc_call(RpcClient(rpc_url), "plume_govParams", block_tag(block))
    if as_json:
        echo_json({**plain({k: v for k, v in result.items() if k != "governable"}), "governable": result["governable"]})
        return
    click.echo(f"governance parameters at block {int(result['blockNumber'], 16)}")
    for key, value in sorted(result["governable"].items()):
        click.echo(f"  {key:<45} {value}")

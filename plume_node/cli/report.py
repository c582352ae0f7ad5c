"""`plume-node report compliance`: an audit report over a block range, through JSON-RPC only."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from plume_node.cli._common import rpc_call, rpc_option
from plume_node.cli._rpc_client import RpcClient
from plume_node.compliance.model import Policy
from plume_node.compliance.permissions_report import collect_permission_changes
from plume_node.compliance.policyfile import load_policy
from plume_node.compliance.report import (
    build_report, check_range, iter_blocks, render_html, warmup_start,
)
from plume_node.files import write_atomic

# One plume_fundFlows answer (a block's flows, at most MAX_FLOWS_PER_BLOCK of ~350 bytes) is read up to this size.
MAX_ANSWER_BYTES = 16 * 1024 * 1024


@click.group()
def report() -> None:
    """Reports built from a node's JSON-RPC."""


@report.command("compliance")
@rpc_option
@click.option("--from-block", "first", type=click.IntRange(min=1), required=True, help="First block of the range.")
@click.option("--to-block", "last", type=click.IntRange(min=1), required=True, help="Last block of the range.")
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False, exists=True),
              help="A compliance.toml whose rules judge the range (without it: no rule, only the flow count).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Directory for report.json and report.html (created if missing).")
def compliance(rpc_url: str, first: int, last: int, rules_file: str | None, out_dir: str) -> None:
    """Every movement of blocks FROM..TO that a rule matches, with totals per rule and per
    address, as report.json and report.html (docs/compliance.md, "Audit reports")."""
    check_range(first, last)
    policy = load_policy(Path(rules_file)) if rules_file else Policy()
    client = RpcClient(rpc_url, timeout=60.0, max_response_bytes=MAX_ANSWER_BYTES)

    def call(method: str, *params):
        return rpc_call(client, method, *params)

    chain_id = int(call("eth_chainId"), 16)
    meta = {"chainId": chain_id, "rpc": rpc_url, "rulesFile": rules_file,
            "generatedAt": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    # streamed: a block's answer is judged and dropped before the next is read
    result = build_report(policy, iter_blocks(call, warmup_start(policy, first), first - 1),
                          iter_blocks(call, first, last), meta)
    result["permissionChanges"] = collect_permission_changes(call, first, last)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "report.json", (json.dumps(result, indent=2) + "\n").encode())
    write_atomic(out / "report.html", render_html(result).encode())
    click.echo(f"report of blocks {first}..{last}: {result['flowCount']} fund flows, "
               f"{len(result['movements'])} matched a rule, {len(result['permissionChanges'])} permission change(s); written to {out}/report.json and report.html")

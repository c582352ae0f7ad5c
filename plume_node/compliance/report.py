"""Audit reports: the rules run over a range of committed blocks, as JSON and as an HTML page.

`build_report` is pure (blocks of fund flows in, a JSON-able dict out);
`collect_blocks` reads the blocks through a JSON-RPC call function
(`plume_fundFlows`), so a report needs only a node's RPC. The windows of
the stateful rules are first filled from up to `MAX_WARMUP_BLOCKS` blocks
before the range (their hits are not reported), so a pattern that began
just before the range is judged as a live node judged it.

Every movement a rule matched is listed, flag and reject rules alike: a
reject rule's match in a committed block is a movement that entered through
a node without that policy. `render_html` builds one self-contained page
(tables, and an inline SVG chart of flagged native value per block; no
external assets); every value from the chain is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from eth_utils import to_checksum_address

from plume_node.compliance.flows import MAX_FLOWS_PER_BLOCK
from plume_node.compliance.model import Action, BlockFlows, FundFlow, Policy
from plume_node.compliance.permissions_report import permissions_html
from plume_node.compliance.rules import PolicyEngine
from plume_node.errors import UserError

MAX_REPORT_BLOCKS = 10_000
# Movements listed one by one in a report; past it they count in the totals only.
MAX_REPORT_MOVEMENTS = 100_000
MAX_WARMUP_BLOCKS = 1000
CHART_WIDTH, CHART_HEIGHT = 800, 200


class ReportError(UserError):
    """A range that cannot be reported, or a node answer that is not what plume_fundFlows returns."""


def collect_blocks(call: Callable[..., Any], first: int, last: int) -> list[BlockFlows]:
    return list(iter_blocks(call, first, last))


def iter_blocks(call: Callable[..., Any], first: int, last: int) -> Iterator[BlockFlows]:
    """The blocks first..last read one by one (the report streams them: only their hits are kept)."""
    for number in range(first, last + 1):
        answer = call("plume_fundFlows", hex(number))
        if answer is None:
            raise ReportError(f"the node has no block {number} yet; end the range at its head or wait")
        yield block_of_answer(number, answer)


def block_of_answer(number: int, answer: Any) -> BlockFlows:
    """A plume_fundFlows answer checked as untrusted input: types, counts (MAX_FLOWS_PER_BLOCK), block."""
    try:
        flows_json = answer["flows"]
        if not isinstance(flows_json, list) or len(flows_json) > MAX_FLOWS_PER_BLOCK:
            raise ValueError(f"flows must be a list of at most {MAX_FLOWS_PER_BLOCK}")
        flows = tuple(FundFlow.from_json(f) for f in flows_json)
        accounts = answer["newAccounts"]
        if not isinstance(accounts, list) or len(accounts) > MAX_FLOWS_PER_BLOCK:
            raise ValueError("newAccounts must be a list")
        new = frozenset(bytes.fromhex(a[2:]) for a in accounts)
        if any(len(a) != 20 for a in new):
            raise ValueError("not an address")
        traced = answer.get("internalTraced", True)
        truncated = answer.get("truncatedFlows", 0)
        if type(traced) is not bool or type(truncated) is not int or not 0 <= truncated < 2**63:
            raise ValueError("internalTraced must be a boolean and truncatedFlows an integer")
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
        raise ReportError(f"the node's plume_fundFlows answer for block {number} is malformed ({type(exc).__name__})") from None
    if any(f.block != number for f in flows):
        raise ReportError(f"the node's plume_fundFlows answer for block {number} holds flows of another block")
    return BlockFlows(number, flows, new, truncated=truncated, internal_traced=traced)


def check_range(first: int, last: int) -> None:
    if first < 1 or last < first:
        raise ReportError(f"the range must be 1 <= FROM <= TO, got {first}..{last}")
    if last - first + 1 > MAX_REPORT_BLOCKS:
        raise ReportError(f"{last - first + 1} blocks asked; a report covers at most {MAX_REPORT_BLOCKS}: split the range")


def warmup_start(policy: Policy, first: int) -> int:
    return max(1, first - min(policy.longest_window(), MAX_WARMUP_BLOCKS))


def _asset(flow: FundFlow) -> str:
    return "native" if flow.asset is None else to_checksum_address(flow.asset)


def _add(table: dict, key: str, asset: str, amount: int) -> None:
    entry = table.setdefault(key, {"count": 0, "value": {}})
    entry["count"] += 1
    entry["value"][asset] = entry["value"].get(asset, 0) + amount


def build_report(policy: Policy, warmup: Iterable[BlockFlows], blocks: Iterable[BlockFlows], meta: dict) -> dict:
    """`blocks` may be a stream: each block is judged and dropped, only its hits are kept
    (at most MAX_REPORT_MOVEMENTS listed; every hit counts in the totals)."""
    engine = PolicyEngine(policy)
    for block in warmup:
        engine.observe(block, actions=())
    movements, by_rule, by_address = [], {}, {}
    flagged_native: dict[int, int] = {}
    incomplete: list[dict] = []
    flows = omitted = 0
    first = last = None
    for block in blocks:
        first = block.number if first is None else first
        last = block.number
        flows += len(block.flows)
        flagged_native[block.number] = 0
        if block.truncated or not block.internal_traced:
            incomplete.append({"blockNumber": block.number, "internalTraced": block.internal_traced,
                               "truncatedFlows": block.truncated})
        seen = set()
        for hit in engine.observe(block, actions=(Action.FLAG, Action.REJECT)):
            if len(movements) < MAX_REPORT_MOVEMENTS:
                movements.append(hit.to_json())
            else:
                omitted += 1
            asset = _asset(hit.flow)
            _add(by_rule, hit.rule, asset, hit.flow.amount)
            for party in {hit.flow.sender, hit.flow.recipient}:
                _add(by_address, to_checksum_address(party), asset, hit.flow.amount)
            if hit.flow.asset is None and id(hit.flow) not in seen:  # a movement two rules hit counts once
                seen.add(id(hit.flow))
                flagged_native[block.number] += hit.flow.amount
    return {
        **meta,
        "fromBlock": first,
        "toBlock": last,
        "rules": [{"name": r.name, "kind": r.kind.value, "action": r.action.value} for r in policy.rules],
        "flowCount": flows,
        "movements": movements,
        "movementsOmitted": omitted,
        "incompleteBlocks": incomplete,
        "totalsByRule": _stringify(by_rule),
        "totalsByAddress": _stringify(by_address),
        "flaggedNativeValuePerBlock": {str(n): str(v) for n, v in flagged_native.items()},
    }


def _stringify(table: dict) -> dict:
    """Amounts as decimal strings (JSON numbers lose precision past 2**53)."""
    return {k: {"count": v["count"], "value": {a: str(x) for a, x in v["value"].items()}} for k, v in sorted(table.items())}


# ---- HTML


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(caption: str, headers: list[str], rows: list[list[Any]], table_id: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _chart(per_block: dict[str, str]) -> str:
    """Bars of flagged native value per block, scaled to the largest; an inline SVG."""
    values = [(int(n), int(v)) for n, v in per_block.items()]
    top = max((v for _, v in values), default=0) or 1
    width = CHART_WIDTH / max(1, len(values))
    bars = []
    for i, (number, value) in enumerate(values):
        height = CHART_HEIGHT * value / top
        bars.append(
            f'<rect x="{i * width:.2f}" y="{CHART_HEIGHT - height:.2f}" width="{max(width - 1, 0.5):.2f}" '
            f'height="{height:.2f}" fill="#c0392b"><title>block {number}: {value} wei</title></rect>'
        )
    return (f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" '
            f'viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" aria-label="flagged native value per block">'
            + "".join(bars) + "</svg>")


def render_html(report: dict) -> str:
    movements = [
        [m["flow"]["blockNumber"], m["rule"], m["action"], m["flow"]["kind"], m["flow"]["from"], m["flow"]["to"],
         m["flow"]["amount"], m["flow"]["asset"], m["flow"]["transactionHash"] or "", m["detail"]]
        for m in report["movements"]
    ]
    def totals(table: dict) -> list[list[Any]]:
        return [[key, entry["count"], asset, value] for key, entry in table.items() for asset, value in entry["value"].items()]

    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>Compliance report, blocks {_e(report['fromBlock'])} to {_e(report['toBlock'])}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #999;padding:.2em .5em;font-size:.85em}caption{font-weight:bold;text-align:left}</style>",
        "</head><body>",
        f"<h1>Compliance report: blocks {_e(report['fromBlock'])} to {_e(report['toBlock'])}</h1>",
        f"<p>Chain {_e(report.get('chainId'))}, node {_e(report.get('rpc'))}, generated {_e(report.get('generatedAt'))}; "
        f"{_e(report['flowCount'])} fund flows examined, {len(movements)} matched a rule"
        f"{'' if not report.get('movementsOmitted') else ' listed, ' + _e(report['movementsOmitted']) + ' more in the totals only'}.</p>",
        "<h2>Flagged native value per block (wei)</h2>",
        _chart(report["flaggedNativeValuePerBlock"]),
        _table("Blocks seen incompletely (internal transfers not traced, or flows left out by the bounds)",
               ["block", "internal transfers traced", "flows left out"],
               [[b["blockNumber"], b["internalTraced"], b["truncatedFlows"]] for b in report.get("incompleteBlocks", [])],
               "incomplete-blocks"),
        _table("Rules", ["name", "kind", "action"], [[r["name"], r["kind"], r["action"]] for r in report["rules"]], "rules"),
        _table("Movements matched by a rule", ["block", "rule", "action", "kind", "from", "to", "amount", "asset",
                                               "transaction", "detail"], movements, "movements"),
        _table("Totals per rule", ["rule", "count", "asset", "value"], totals(report["totalsByRule"]), "totals-by-rule"),
        _table("Totals per address", ["address", "count", "asset", "value"], totals(report["totalsByAddress"]),
               "totals-by-address"),
        permissions_html(report.get("permissionChanges", [])),
        "</body></html>",
    ]
    return "\n".join(parts)


__all__ = ["MAX_REPORT_BLOCKS", "MAX_REPORT_MOVEMENTS", "ReportError", "block_of_answer", "build_report", "check_range",
           "collect_blocks", "iter_blocks", "render_html"]

"""Fund flows from logs and calldata (pure), and the report's JSON and HTML built from hand-made blocks."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
import rlp
from eth_abi import encode
from eth_hash.auto import keccak

from plume_node.compliance.flows import (
    ERC20_TRANSFER, ERC1155_BATCH, ERC1155_SINGLE, MAX_BATCH_IDS, MAX_FLOWS_PER_BLOCK, MAX_LOG_FLOWS_PER_CONTRACT,
    counted_log_flows, created_address, log_flows, transaction_flows,
)
from plume_node.compliance.model import Action, BlockFlows, FlowKind, FundFlow, Policy, Rule, RuleKind
from plume_node.compliance.report import MAX_REPORT_BLOCKS, ReportError, build_report, check_range, collect_blocks, render_html
from staking.abi import COMMISSION_WITHDRAWN, REWARDS_CLAIMED
from staking.addresses import STAKING_ADDRESS

A, B, OP, TOKEN = b"\xaa" * 20, b"\xbb" * 20, b"\x0f" * 20, b"\x70" * 20
TX = b"\x11" * 32


def topic(address: bytes) -> int:
    return int.from_bytes(address.rjust(32, b"\x00"), "big")


def test_erc20_and_erc1155_logs():
    [erc20] = log_flows(TOKEN, [ERC20_TRANSFER, topic(A), topic(B)], (7).to_bytes(32, "big"), 5, TX)
    assert (erc20.kind, erc20.sender, erc20.recipient, erc20.amount, erc20.asset) == (FlowKind.ERC20, A, B, 7, TOKEN)
    [single] = log_flows(TOKEN, [ERC1155_SINGLE, topic(OP), topic(A), topic(B)], encode(["uint256", "uint256"], [3, 9]), 5, TX)
    assert (single.token_id, single.amount, single.sender) == (3, 9, A)
    batch = log_flows(TOKEN, [ERC1155_BATCH, topic(OP), topic(A), topic(B)],
                      encode(["uint256[]", "uint256[]"], [[1, 2], [10, 20]]), 5, TX)
    assert [(f.token_id, f.amount) for f in batch] == [(1, 10), (2, 20)]
    huge = log_flows(TOKEN, [ERC1155_BATCH, topic(OP), topic(A), topic(B)],
                     encode(["uint256[]", "uint256[]"], [list(range(1000)), list(range(1000))]), 5, TX)
    assert len(huge) == MAX_BATCH_IDS
    # malformed shapes give nothing, never an exception
    assert log_flows(TOKEN, [ERC20_TRANSFER, topic(A)], b"", 5, TX) == []  # an ERC-721 style log is not ERC-20
    assert log_flows(TOKEN, [ERC1155_BATCH, topic(OP), topic(A), topic(B)], b"\xff" * 64, 5, TX) == []
    assert log_flows(TOKEN, [], b"", 5, TX) == []


def test_staking_payouts_and_deposits():
    [claimed] = log_flows(STAKING_ADDRESS, [REWARDS_CLAIMED.topic0, topic(A), topic(OP)], (5).to_bytes(32, "big"), 1, TX)
    assert (claimed.kind, claimed.sender, claimed.recipient, claimed.amount) == (FlowKind.STAKE_PAYOUT, STAKING_ADDRESS, A, 5)
    [commission] = log_flows(STAKING_ADDRESS, [COMMISSION_WITHDRAWN.topic0, topic(OP)], (6).to_bytes(32, "big"), 1, TX)
    assert commission.recipient == OP and commission.kind is FlowKind.STAKE_PAYOUT
    # the same event from another contract is not the staking contract's
    assert log_flows(TOKEN, [REWARDS_CLAIMED.topic0, topic(A), topic(OP)], (5).to_bytes(32, "big"), 1, TX) == []
    [deposit] = transaction_flows(A, STAKING_ADDRESS, 100, b"", 1)
    assert deposit.kind is FlowKind.STAKE_DEPOSIT


def test_transaction_flows_read_erc20_calldata():
    data = keccak(b"transfer(address,uint256)")[:4] + encode(["address", "uint256"], [B, 12])
    assert [(f.kind, f.sender, f.recipient, f.amount, f.asset) for f in transaction_flows(A, TOKEN, 0, data, 1)] == [
        (FlowKind.ERC20, A, B, 12, TOKEN)]
    data = keccak(b"transferFrom(address,address,uint256)")[:4] + encode(["address", "address", "uint256"], [B, OP, 3])
    assert [(f.sender, f.recipient) for f in transaction_flows(A, TOKEN, 0, data, 1)] == [(B, OP)]
    assert transaction_flows(A, None, 0, b"", 1) == ()


def test_screen_reads_calldata_with_trailing_bytes_and_creation_endowments():
    """Regressions: Solidity ignores calldata past the arguments, so `len == 68` let a transfer
    with one trailing byte through; a creation's endowment went to no one."""
    data = keccak(b"transfer(address,uint256)")[:4] + encode(["address", "uint256"], [B, 12]) + b"\x00"
    assert [(f.recipient, f.amount) for f in transaction_flows(A, TOKEN, 0, data, 1)] == [(B, 12)]
    data = keccak(b"transferFrom(address,address,uint256)")[:4] + encode(["address", "address", "uint256"], [B, OP, 3]) + b"x" * 32
    assert [(f.sender, f.recipient) for f in transaction_flows(A, TOKEN, 0, data, 1)] == [(B, OP)]
    [endowment] = transaction_flows(A, None, 5, b"", 1, nonce=7)
    assert (endowment.kind, endowment.recipient, endowment.amount) == (FlowKind.NATIVE, created_address(A, 7), 5)
    assert created_address(A, 7) == keccak(rlp.encode([A, 7]))[12:]


def test_a_value_zero_call_from_a_denylisted_sender_is_refused():
    from plume_node.compliance.rules import PolicyEngine

    engine = PolicyEngine(Policy((Rule("deny", RuleKind.DENYLIST, Action.REJECT, addresses=frozenset({A})),)))
    parties = FundFlow(FlowKind.NATIVE, A, B, 0, 1)
    assert transaction_flows(A, B, 0, b"\x12\x34", 1) == ()
    assert engine.check((), parties).rule == "deny"
    assert engine.check((), FundFlow(FlowKind.NATIVE, B, OP, 0, 1)) is None


def test_batch_ids_past_the_bound_are_counted():
    _, dropped = counted_log_flows(TOKEN, [ERC1155_BATCH, topic(OP), topic(A), topic(B)],
                                   encode(["uint256[]", "uint256[]"], [list(range(1000)), list(range(1000))]), 5, TX)
    assert dropped == 1000 - MAX_BATCH_IDS


def test_fake_token_logs_never_push_value_flows_out():
    """Regression: a spam transaction first in a block with 20k fake log flows hid every later
    native movement; now value flows are kept first and each contract's log flows are capped."""
    from plume_node.compliance import flows as flows_module

    collector = flows_module._FlowCollector()
    spam = [FundFlow(FlowKind.ERC1155, A, B, 1, 5, TX, asset=TOKEN, token_id=i) for i in range(MAX_LOG_FLOWS_PER_CONTRACT + 10)]
    collector.add_logs(TOKEN, spam, 0)
    for n in range(MAX_FLOWS_PER_BLOCK // MAX_LOG_FLOWS_PER_CONTRACT + 2):  # many spam contracts fill the block
        contract = n.to_bytes(20, "big")
        collector.add_logs(contract, [FundFlow(FlowKind.ERC20, A, B, 1, 5, TX, asset=contract)] * MAX_LOG_FLOWS_PER_CONTRACT, 0)
    real = FundFlow(FlowKind.NATIVE, OP, B, 10**18, 5, TX)
    collector.add_value(real)
    kept = collector.flows()
    assert len(kept) == MAX_FLOWS_PER_BLOCK and real in kept and kept[-1] == real  # block order kept
    assert sum(1 for f in kept if f.asset == TOKEN) == MAX_LOG_FLOWS_PER_CONTRACT
    assert collector.dropped == len(spam) + (MAX_FLOWS_PER_BLOCK // MAX_LOG_FLOWS_PER_CONTRACT + 2) * MAX_LOG_FLOWS_PER_CONTRACT + 1 - len(kept)


def test_flow_json_round_trip():
    flow = FundFlow(FlowKind.ERC1155, A, B, 2**255, 9, TX, asset=TOKEN, token_id=4)
    assert FundFlow.from_json(flow.to_json()) == flow


class Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self.tags = [], []
        self._in = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in = tag == "td"

    def handle_data(self, data):
        if self._in:
            self.cells.append(data)

    def handle_endtag(self, tag):
        self._in = False


def test_report_counts_each_movement_once_and_escapes_everything():
    rules = (Rule("big", RuleKind.THRESHOLD, Action.FLAG, min_value=10),
             Rule("deny", RuleKind.DENYLIST, Action.REJECT, any_asset=True, addresses=frozenset({B})))
    blocks = [BlockFlows(1, (FundFlow(FlowKind.NATIVE, A, B, 50, 1, TX), FundFlow(FlowKind.NATIVE, A, OP, 5, 1, TX))),
              BlockFlows(2, ())]
    report = build_report(Policy(rules), [], blocks, {"chainId": 1, "rpc": "<script>alert(1)</script>"})
    assert [(m["rule"], m["action"]) for m in report["movements"]] == [("big", "flag"), ("deny", "reject")]
    assert report["flaggedNativeValuePerBlock"] == {"1": "50", "2": "0"}  # two rules, one movement
    assert report["totalsByRule"]["big"] == {"count": 1, "value": {"native": "50"}}
    page = render_html(report)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no external assets
    parser = Cells()
    parser.feed(page)
    assert "svg" in parser.tags and "rect" in parser.tags


def test_report_range_and_hostile_answers():
    with pytest.raises(ReportError, match="at most"):
        check_range(1, MAX_REPORT_BLOCKS + 1)
    with pytest.raises(ReportError, match="1 <= FROM <= TO"):
        check_range(5, 4)
    with pytest.raises(ReportError, match="malformed"):
        collect_blocks(lambda *a: {"flows": [{"kind": "nope"}], "newAccounts": []}, 1, 1)
    with pytest.raises(ReportError, match="no block 3"):
        collect_blocks(lambda *a: None, 3, 3)
    for bad in ({"amount": "-5"}, {"from": "0x12"}, {"amount": str(2**256)}):
        flow = {**FundFlow(FlowKind.NATIVE, A, B, 1, 1, TX).to_json(), **bad}
        with pytest.raises(ReportError, match="malformed"):
            collect_blocks(lambda *a: {"flows": [flow], "newAccounts": []}, 1, 1)
    other = FundFlow(FlowKind.NATIVE, A, B, 1, 7, TX).to_json()
    with pytest.raises(ReportError, match="another block"):
        collect_blocks(lambda *a: {"flows": [other], "newAccounts": []}, 1, 1)


def test_the_report_trusts_no_answer():
    """Regressions: "blockNumber": 1e400 raised OverflowError (a traceback), 1.5 was accepted, and
    no count was enforced on an answer."""
    good = FundFlow(FlowKind.NATIVE, A, B, 1, 1, TX).to_json()
    for bad in ({"blockNumber": 1e400}, {"blockNumber": 1.0}, {"blockNumber": True}, {"amount": 5},
                {"amount": "1e3"}, {"tokenId": 3}, {"transactionHash": "0x12"}, {"from": 7}):
        with pytest.raises(ReportError, match="malformed"):
            collect_blocks(lambda *a: {"flows": [{**good, **bad}], "newAccounts": []}, 1, 1)
    with pytest.raises(ReportError, match="malformed"):
        collect_blocks(lambda *a: {"flows": [good] * (MAX_FLOWS_PER_BLOCK + 1), "newAccounts": []}, 1, 1)
    with pytest.raises(ReportError, match="malformed"):
        collect_blocks(lambda *a: {"flows": [], "newAccounts": [], "internalTraced": "no"}, 1, 1)
    # 1e400 in the JSON text parses to inf in Python, as the RPC client reads it
    import json

    answer = json.loads('{"flows": [%s], "newAccounts": []}' % json.dumps({**good, "blockNumber": 0}).replace(
        '"blockNumber": 0', '"blockNumber": 1e400'))
    with pytest.raises(ReportError, match="malformed"):
        collect_blocks(lambda *a: answer, 1, 1)


def test_the_report_streams_blocks_and_marks_incomplete_ones():
    from plume_node.compliance.report import MAX_REPORT_MOVEMENTS, iter_blocks

    answers = {1: {"flows": [FundFlow(FlowKind.NATIVE, A, B, 50, 1, TX).to_json()], "newAccounts": [],
                   "internalTraced": False, "truncatedFlows": 0},
               2: {"flows": [], "newAccounts": [], "internalTraced": True, "truncatedFlows": 4}}
    read = []

    def call(method, number):
        read.append(int(number, 16))
        return answers[int(number, 16)]

    blocks = iter_blocks(call, 1, 2)
    assert read == []  # nothing read before the report asks
    report = build_report(Policy((Rule("big", RuleKind.THRESHOLD, Action.FLAG, min_value=10),)), [], blocks, {})
    assert (report["fromBlock"], report["toBlock"], read) == (1, 2, [1, 2])
    assert report["incompleteBlocks"] == [{"blockNumber": 1, "internalTraced": False, "truncatedFlows": 0},
                                          {"blockNumber": 2, "internalTraced": True, "truncatedFlows": 4}]
    assert report["movementsOmitted"] == 0 and MAX_REPORT_MOVEMENTS > 0
    parser = Cells()
    parser.feed(render_html(report))
    assert "4" in parser.cells and "False" in parser.cells


def test_write_atomic_never_follows_a_planted_tmp_file(tmp_path):
    """Regression: report --out wrote through a predictable report.json.tmp (O_TRUNC, symlinks followed)."""
    from plume_node.files import write_atomic

    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (tmp_path / "report.json.tmp").symlink_to(victim)
    write_atomic(tmp_path / "report.json", b"{}")
    assert victim.read_text() == "keep me" and (tmp_path / "report.json").read_bytes() == b"{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "report.json.tmp", "victim"]

"""The compliance service's per-block work, the service isolated from a node (a stand-in chain
head only): alerts capped and summarised, fundFlows notifications bounded, blocks derived only
when needed, and a failing block marked instead of ending the node."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import trio

from plume_node.compliance import service as service_module
from plume_node.compliance.model import Action, BlockFlows, FlowKind, FundFlow, Policy, Rule, RuleKind
from plume_node.compliance.service import (
    FUND_FLOWS_PER_NOTICE, MAX_ALERTS_PER_BLOCK, MAX_FUND_FLOW_BYTES_PER_BLOCK, ComplianceService, fund_flow_notices,
)
from plume_node.events import ChainEvents, PlumeKind

A, B = b"\xaa" * 20, b"\xbb" * 20
EVERYTHING = Rule("everything", RuleKind.THRESHOLD, Action.FLAG, any_asset=True, min_value=1)
DENY = Rule("deny", RuleKind.DENYLIST, Action.REJECT, addresses=frozenset({B}))


class Listener:
    """Records what the service publishes; `wanted` says which kinds have subscribers."""

    def __init__(self, events: ChainEvents, wanted: set[PlumeKind]) -> None:
        self.wanted, self.got = wanted, []
        events.listen_compliance(self.publish, lambda kind: kind in self.wanted)

    def publish(self, kind, make_results):
        self.got.append((kind, list(make_results())))


def make_service(tmp_path, rules, wanted=()):
    events = ChainEvents()
    listener = Listener(events, set(wanted))
    chain = SimpleNamespace(head=SimpleNamespace(block_number=0))
    service = ComplianceService(chain, events, None, tmp_path / "alerts.jsonl", policy=Policy(tuple(rules)))
    return service, listener


def spam_block(count: int, number: int = 1) -> BlockFlows:
    return BlockFlows(number, tuple(FundFlow(FlowKind.ERC1155, A, B, 1, number, b"\x11" * 32, asset=b"\x70" * 20,
                                             token_id=i) for i in range(count)))


async def test_alerts_of_a_block_are_capped_and_the_rest_summarised(tmp_path, caplog):
    """Regression: 20,000 fake flows under an asset="any" rule wrote 20,000 alert lines (8.8 MB)
    one open/append at a time and took ~1.4 s on the trio thread."""
    service, listener = make_service(tmp_path, [EVERYTHING], wanted={PlumeKind.ALERTS})
    started = time.perf_counter()
    await service._publish(spam_block(20_000), [])
    elapsed = time.perf_counter() - started
    lines = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert len(lines) == MAX_ALERTS_PER_BLOCK + 1 and service.alerts_raised == 20_000
    summary = lines[-1]
    assert summary["kind"] == "summary" and summary["omitted"] == 20_000 - MAX_ALERTS_PER_BLOCK
    assert summary["omittedByRule"] == {"everything": 20_000 - MAX_ALERTS_PER_BLOCK}
    [(kind, results)] = listener.got
    assert kind is PlumeKind.ALERTS and len(results) == MAX_ALERTS_PER_BLOCK + 1
    assert sum("compliance alert:" in r.message for r in caplog.records) <= service_module.ALERT_LOG_LINES_PER_BLOCK
    print(f"20,000 hits: {elapsed * 1000:.0f} ms, {(tmp_path / 'alerts.jsonl').stat().st_size} bytes of alerts")


def test_fund_flow_notices_stay_under_the_byte_bound():
    """Regression: one 6 MB notification for 20,000 flows overflowed the 4 MiB send queue."""
    block = BlockFlows(7, spam_block(20_000, 7).flows, truncated=3)
    notices = fund_flow_notices(block)
    parsed = [json.loads(n) for n in notices]
    assert sum(len(n) for n in notices) <= MAX_FUND_FLOW_BYTES_PER_BLOCK
    assert all(len(p["flows"]) <= FUND_FLOWS_PER_NOTICE for p in parsed)
    assert [p["firstFlow"] for p in parsed] == [i * FUND_FLOWS_PER_NOTICE for i in range(len(parsed))]
    assert parsed[-1]["truncated"] is True
    sent = sum(len(p["flows"]) for p in parsed)
    assert parsed[-1]["truncatedFlows"] == 3 + 20_000 - sent
    small = [json.loads(n) for n in fund_flow_notices(spam_block(3, 8))]
    assert len(small) == 1 and small[0]["truncated"] is False and len(small[0]["flows"]) == 3


def test_blocks_are_derived_only_when_something_needs_them(tmp_path):
    """Regression: any compliance.toml made a validator re-execute every block."""
    service, listener = make_service(tmp_path, [DENY])
    assert not service.needs_blocks()
    listener.wanted.add(PlumeKind.FUND_FLOWS)
    assert service.needs_blocks() and service._wants_trace(notify_flows=True)
    velocity = Rule("v", RuleKind.VELOCITY, Action.REJECT, asset=b"\x70" * 20, max_count=5, window_blocks=10)
    service, _ = make_service(tmp_path, [DENY, velocity])
    assert service.needs_blocks() and not service._wants_trace(notify_flows=False)  # a token rule: logs suffice
    service, _ = make_service(tmp_path, [EVERYTHING])
    assert service.needs_blocks() and service._wants_trace(notify_flows=False)


async def test_a_block_that_fails_is_marked_and_the_service_goes_on(tmp_path, monkeypatch, caplog):
    """Regression: an exception while deriving skipped the block silently; one in judging ended the node."""
    monkeypatch.setattr(service_module, "BLOCK_RETRY_DELAY_S", 0.0)
    service, listener = make_service(tmp_path, [EVERYTHING], wanted={PlumeKind.ALERTS})
    attempts = []

    async def failing(number, *args):
        attempts.append(number)
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "_flows_of", failing)
    await service._process(5)
    assert attempts == [5] * service_module.BLOCK_ATTEMPTS

    async def derived(number, *args):
        return spam_block(1, number), []

    async def bad_judge(block, actions):
        raise ValueError("a bug")

    monkeypatch.setattr(service, "_flows_of", derived)
    monkeypatch.setattr(service, "_judge", bad_judge)
    await service._process(6)  # does not raise
    marks = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [(m["kind"], m["blockNumber"]) for m in marks] == [("unobserved", 5), ("unobserved", 6)]
    assert [kind for kind, _ in listener.got] == [PlumeKind.ALERTS, PlumeKind.ALERTS]


async def test_the_reload_catch_all_keeps_the_node(tmp_path, monkeypatch, caplog):
    service, _ = make_service(tmp_path, [EVERYTHING])

    async def broken():
        raise RuntimeError("unexpected")

    monkeypatch.setattr(service, "reload_off_thread", broken)
    import os
    import signal

    from waiting import await_until

    async with trio.open_nursery() as nursery:
        nursery.start_soon(service._reload_on_sighup)
        await trio.sleep(0.05)
        os.kill(os.getpid(), signal.SIGHUP)
        await await_until(lambda: "the reload failed" in caplog.text, 10, "the reload's failure to be logged")
        nursery.cancel_scope.cancel()
    assert service.engine.policy.rules == (EVERYTHING,)


async def test_a_shutdown_stops_a_long_reexecution_within_the_grace(tmp_path, monkeypatch):
    """Regression: SIGTERM waited for a whole re-execution of a block (uncancellable worker)."""
    from execution.budget import ExecutionAborted

    service, _ = make_service(tmp_path, [EVERYTHING])
    monkeypatch.setattr(service_module, "ChainSnapshot", lambda chain: SimpleNamespace(release=lambda: None))
    stopped = []

    def endless(chain, number, budget, trace, fresh):  # an EVM loop: checks its budget, as py-evm does
        try:
            while True:
                budget.check()
                time.sleep(0.001)
        except ExecutionAborted as exc:
            stopped.append(exc.reason)
            raise

    monkeypatch.setattr(service_module, "derive_block_flows", endless)
    started = time.monotonic()
    with trio.move_on_after(0.3):
        await service._flows_of(1, True, False, False)
    assert time.monotonic() - started < 0.3 + service_module.TRACE_STOP_GRACE_S
    await trio.to_thread.run_sync(lambda: None)  # let the worker's last line run
    assert [r.value for r in stopped] == ["cancelled"]

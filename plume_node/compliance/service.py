"""The node's compliance service: the I/O around the pure rules engine, in trio.

* loads HOME/compliance.toml at start (a bad file stops the start with file,
  line and problem) and again on SIGHUP (a bad reload is logged and the
  previous rules keep running);
* screens each transaction before the mempool admits it (`screen`, the
  mempool's hook): a reject rule refuses it with the rule's name;
* follows the committed chain: for each block, in order, and only when a
  rule or a subscriber needs it (`needs_blocks`), derives its fund flows in
  a worker thread on a database snapshot (`flows.block_flows` re-executes
  the block under a cancellable budget, when internal transfers matter),
  builds the `fundFlows` notifications there too, runs the flag rules in
  slices, and publishes `fundFlows` and `alerts` through `ChainEvents` to
  the WebSocket subscribers (`plume_subscribe`); a block's alerts (at most
  MAX_ALERTS_PER_BLOCK, the rest one summary) are appended to a JSON-lines
  file in one batch off the trio thread and queued for the webhook. A block
  that fails is retried, then marked by an `unobserved` alert: nothing in
  a block ends the node;
* the webhook gets each alert as one POST of its JSON, retried
  `webhook_retries` times 1 s, 2 s, 4 s... apart; at most `webhook_queue`
  alerts wait (past that, new alerts are only in the file, and the count of
  dropped ones is logged). A webhook that is down never holds the chain:
  posting runs in its own task and threads.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from execution.budget import AbortReason, ExecutionAborted, ExecutionBudget
from execution.errors import truncate
from execution.mempool import MempoolError, MempoolErrorCode, PooledTx
from execution.snapshot import ChainSnapshot
from plume_node.compliance.flows import block_flows, created_address, transaction_flows
from plume_node.compliance.model import Action, BlockFlows, FlowKind, FundFlow, Hit, Policy, Rule, RuleKind
from plume_node.events import PlumeKind
from plume_node.compliance.policyfile import POLICY_FILE_NAME, PolicyError, load_policy
from plume_node.compliance.rules import PolicyEngine

log = logging.getLogger("plume.compliance")

ALERTS_FILE_NAME = "compliance-alerts.jsonl"
# At start the windows are filled from this many blocks before the head at most
# (silently: those blocks' alerts were raised, or not, before), while the node runs.
MAX_WARMUP_BLOCKS = 1000
WEBHOOK_MAX_BACKOFF_S = 30.0
# Movements judged between two checkpoints of the trio thread.
OBSERVE_CHUNK = 256
# The webhook's answer is read up to this many bytes (it is not used).
WEBHOOK_MAX_ANSWER_BYTES = 4096
# Alerts of one block listed one by one; the rest become one summary alert.
MAX_ALERTS_PER_BLOCK = 100
# Alerts of one block also written to the log one by one (the rest as one line).
ALERT_LOG_LINES_PER_BLOCK = 5
# fundFlows notifications: flows per notification, and JSON bytes per block in all (half
# the default rpc.ws_send_queue_bytes of 4 MiB, so a reading subscriber is never dropped for it).
FUND_FLOWS_PER_NOTICE = 1000
MAX_FUND_FLOW_BYTES_PER_BLOCK = 2 * 1024 * 1024
# Deriving a block's flows: attempts before the block is marked unobserved, and the first delay.
BLOCK_ATTEMPTS = 3
BLOCK_RETRY_DELAY_S = 1.0
# A block's re-execution stops after this long (its flows are then taken untraced) and
# within this grace of a cancellation (SIGTERM).
TRACE_TIMEOUT_S = 60.0
TRACE_STOP_GRACE_S = 2.0
# Repeated messages (refused transactions, truncated or untraced flows) are logged at most
# LOG_BURST times per LOG_INTERVAL_S each kind; the rest are counted.
LOG_INTERVAL_S = 60.0
LOG_BURST = 10
# Rule kinds judged on committed blocks whatever their action (their windows record them).
BLOCK_RULE_KINDS = frozenset({RuleKind.VELOCITY, RuleKind.STRUCTURING, RuleKind.FRESH_ACCOUNT})


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    timeout_s: float = 5.0
    retries: int = 3
    queue: int = 1000


def policy_path(home_root: Path) -> Path:
    return home_root / POLICY_FILE_NAME


def load_home_policy(home_root: Path) -> Policy | None:
    """HOME/compliance.toml's rules, None without the file; raises PolicyError."""
    path = policy_path(home_root)
    return load_policy(path) if path.exists() else None


class ComplianceService:
    def __init__(
        self,
        chain: Any,
        events: Any,
        policy_file: Path | None,
        alerts_file: Path,
        webhook: WebhookSettings | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.chain = chain
        self.mempool: Any = None  # the node's Mempool (set by the node): pending txs, re-screened on reload
        self.events = events  # ChainEvents: compliance(kind, json) reaches the subscribers
        self.policy_file = policy_file
        self.alerts_file = alerts_file
        self.webhook = webhook
        if policy is None:
            policy = load_policy(policy_file) if policy_file is not None else Policy()
        self.engine = PolicyEngine(policy)
        self.processed = chain.head.block_number
        self._target = self.processed
        self._wake = trio.Event()
        queue = webhook.queue if webhook is not None else 1
        self._webhook_send, self._webhook_receive = trio.open_memory_channel[str](queue)
        self.webhook_dropped = 0
        self.alerts_raised = 0
        self._truncation_log = _Throttled(log, logging.WARNING)
        self._refusal_log = _Throttled(log, logging.INFO)

    @classmethod
    def for_home(cls, home_root: Path, config: Any, chain: Any, events: Any,
                 policy: Policy | None = None) -> "ComplianceService":
        """`policy`: HOME/compliance.toml already loaded (`load_home_policy`), else it is loaded
        here. Raises PolicyError (a UserError) for a bad compliance.toml or denylist."""
        path = policy_path(home_root)
        settings = config.compliance
        webhook = None
        if settings.webhook_url:
            webhook = WebhookSettings(settings.webhook_url, settings.webhook_timeout_ms / 1000,
                                      settings.webhook_retries, settings.webhook_queue)
        alerts = Path(settings.alerts_file) if settings.alerts_file else home_root / ALERTS_FILE_NAME
        return cls(chain, events, path if path.exists() else None, alerts, webhook, policy)

    # ---- the mempool's screen (trio thread, synchronous)

    def screen(self, pooled: PooledTx) -> None:
        hit = self._hit(pooled, self._pending_flows(pooled))
        if hit is not None:
            # throttled: peers can gossip any number of distinct refused transactions
            self._refusal_log.note(f"tx 0x{bytes(pooled.tx_hash).hex()} refused by rule {hit.rule}: {hit.detail}")
            raise MempoolError(
                MempoolErrorCode.POLICY_REJECTED,
                truncate(f"rejected by local policy rule {hit.rule!r} ({hit.kind.value}): {hit.detail}"),
            )

    def _hit(self, pooled: PooledTx, pending: list[FundFlow]) -> Hit | None:
        tx = pooled.tx
        sender = bytes(pooled.sender)
        to = bytes(tx.to) if tx.to else None
        block = self.chain.head.block_number + 1
        flows = transaction_flows(sender, to, tx.value, bytes(tx.data), block, tx.nonce)
        parties = FundFlow(FlowKind.NATIVE, sender, to if to is not None else created_address(sender, tx.nonce), 0, block)
        return self.engine.check(flows, parties, pending)

    def _pending_flows(self, pooled: PooledTx) -> list[FundFlow]:
        """The movements of the sender's other pooled transactions (a replacement's old one excluded)."""
        if self.mempool is None:
            return []
        block = self.chain.head.block_number + 1
        flows: list[FundFlow] = []
        for entry in self.mempool.sender_entries(pooled.sender):
            if entry.nonce != pooled.nonce:
                tx = entry.tx
                flows.extend(transaction_flows(bytes(entry.sender), bytes(tx.to) if tx.to else None, tx.value,
                                               bytes(tx.data), block, tx.nonce))
        return flows

    def rescreen_pool(self) -> int:
        """After a reload: drop the pooled transactions the new reject rules refuse; how many."""
        if self.mempool is None:
            return 0
        refused = []
        for tx_hash in list(self.mempool):
            entry = self.mempool.entry(tx_hash)
            if entry is not None and self._hit(entry, []) is not None:
                refused.append(tx_hash)
        self.mempool.remove(refused)
        if refused:
            log.info("SIGHUP: %d pooled transaction(s) refused by the new rules were dropped", len(refused))
        return len(refused)

    # ---- reload

    def reload(self) -> bool:
        """Read compliance.toml again; on any error keep the running rules (logged). True if replaced."""
        return self._apply(self._read_for_reload())

    async def reload_off_thread(self) -> bool:
        """`reload` with the file read and parsed in a worker thread (a denylist may be large)."""
        return self._apply(await trio.to_thread.run_sync(self._read_for_reload))

    def _read_for_reload(self) -> Policy | None:
        if self.policy_file is None:
            log.warning("SIGHUP: no %s was loaded at start; nothing to reload", POLICY_FILE_NAME)
            return None
        try:
            return load_policy(self.policy_file)
        except PolicyError as exc:
            log.error("SIGHUP: %s; the previous rules stay in force", exc)
            return None

    def _apply(self, policy: Policy | None) -> bool:
        if policy is None:
            return False
        self.engine.replace_policy(policy)
        log.info("SIGHUP: reloaded %s: %d rules", self.policy_file, len(policy.rules))
        self.rescreen_pool()
        return True

    # ---- following the chain

    def needs_blocks(self) -> bool:
        """Whether committed blocks must be derived at all: flag rules, windowed or
        fresh_account rules (their windows), or someone subscribed. A validator whose
        compliance.toml holds only denylist/threshold reject rules never re-executes."""
        return bool(self._block_rules()) or any(self.events.compliance_wanted(k) for k in PlumeKind)

    def _block_rules(self) -> list[Rule]:
        return [r for r in self.engine.policy.rules if r.action is Action.FLAG or r.kind in BLOCK_RULE_KINDS]

    def _wants_trace(self, notify_flows: bool) -> bool:
        """Internal transfers are native value: traced only when a rule watches native value
        movements on committed blocks, or someone subscribed to fundFlows."""
        return notify_flows or any(r.any_asset or r.asset is None for r in self._block_rules())

    def lag_blocks(self) -> int:
        """Committed blocks not yet judged (plume_compliance_lag_blocks)."""
        return max(0, self.chain.head.block_number - self.processed)

    def committed(self, height: int) -> None:
        """ChainEvents on_commit: never blocks."""
        if height > self._target:
            self._target = height
            self._wake.set()

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            if threading.current_thread() is threading.main_thread():
                nursery.start_soon(self._reload_on_sighup)
            if self.webhook is not None:
                nursery.start_soon(self._post_alerts)
            task_status.started()  # the node starts at once; the windows fill while it runs
            await self._warm_up()
            await self._follow()

    async def _warm_up(self) -> None:
        if not self._block_rules():
            return
        head = self.processed
        first = max(1, head - min(self.engine.policy.longest_window(), MAX_WARMUP_BLOCKS) + 1)
        for number in range(first, head + 1):
            derived = await self._derive(number, notify_flows=False)
            if derived is not None:
                await self._judge(derived[0], ())

    async def _follow(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self.processed < self._target:
                number = self.processed + 1
                await self._process(number)
                self.processed = number

    async def _process(self, number: int) -> None:
        """Derive, judge and publish one block; nothing from one block ends the node: a
        failure is retried (`BLOCK_ATTEMPTS`), then the block is marked unobserved."""
        if not self.needs_blocks():
            return
        notify_flows = self.events.compliance_wanted(PlumeKind.FUND_FLOWS)
        derived = await self._derive(number, notify_flows)
        if derived is None:
            await self._unobserved(number, "its fund flows could not be derived")
            return
        try:
            await self._publish(*derived)
        except Exception:  # a bug in judging or publishing: logged, the block marked, the node goes on
            log.exception("compliance: judging or publishing block %d failed", number)
            await self._unobserved(number, "judging or publishing it failed")

    async def _derive(self, number: int, notify_flows: bool) -> tuple[BlockFlows, list[str]] | None:
        trace = self._wants_trace(notify_flows)
        fresh = any(r.kind is RuleKind.FRESH_ACCOUNT for r in self.engine.policy.rules)
        for attempt in range(BLOCK_ATTEMPTS):
            try:
                return await self._flows_of(number, trace, fresh, notify_flows)
            except Exception:
                log.exception("compliance: deriving the fund flows of block %d failed (attempt %d of %d)",
                              number, attempt + 1, BLOCK_ATTEMPTS)
            if attempt + 1 < BLOCK_ATTEMPTS:
                await trio.sleep(BLOCK_RETRY_DELAY_S * 2**attempt)
        return None

    async def _flows_of(self, number: int, trace: bool, fresh: bool,
                        notify_flows: bool) -> tuple[BlockFlows, list[str]]:
        """The block's flows (and its fundFlows notifications) from a worker thread. The worker
        runs under a budget that a cancellation (SIGTERM) stops within TRACE_STOP_GRACE_S."""
        started = time.perf_counter()
        budget = ExecutionBudget.start(gas_cap=2**63, total_gas=2**63, timeout_s=TRACE_TIMEOUT_S)
        running, done = threading.Event(), threading.Event()
        try:
            block, notices = await trio.to_thread.run_sync(
                _flows_in_worker, self.chain, number, budget, trace, fresh, notify_flows, running, done,
                abandon_on_cancel=True)
        except trio.Cancelled:
            budget.cancel()  # the EVM stops at its next budget check (~1 ms)
            with trio.CancelScope(shield=True), trio.move_on_after(TRACE_STOP_GRACE_S):
                while running.is_set() and not done.is_set():  # never let the database close under it
                    await trio.sleep(0.01)
            raise
        if trace and not block.internal_traced:
            self._truncation_log.note(f"block {number}: internal transfers not traced (the re-execution was refused "
                                      f"or ran past {TRACE_TIMEOUT_S:g} s); its receipts' flows only")
        if block.truncated:
            self._truncation_log.note(f"block {number}: {block.truncated} movement(s) left out by the flow bounds")
        log.debug("compliance: block %d: %d flows in %.1f ms", number, len(block.flows),
                  (time.perf_counter() - started) * 1000)
        return block, notices

    async def _judge(self, block: BlockFlows, actions: tuple[Action, ...]) -> list[Hit]:
        """Judge the block in the trio thread (the mempool's screen reads the same windows),
        letting other tasks run every OBSERVE_CHUNK movements: a block of many movements
        never holds consensus for long."""
        engine = self.engine
        rules = engine.begin_block(block, actions)
        hits: list[Hit] = []
        for index, flow in enumerate(block.flows):
            hits.extend(engine.observe_flow(flow, rules))
            if index % OBSERVE_CHUNK == OBSERVE_CHUNK - 1:
                await trio.lowlevel.checkpoint()
        engine.end_block(block.number)
        return hits

    async def _publish(self, block: BlockFlows, flow_notices: list[str]) -> None:
        hits = await self._judge(block, (Action.FLAG,))
        if flow_notices:
            self.events.compliance(PlumeKind.FUND_FLOWS, lambda: flow_notices)
        if hits:
            await self._alert_block(block.number, hits)

    async def _alert_block(self, number: int, hits: list[Hit]) -> None:
        """At most MAX_ALERTS_PER_BLOCK alerts, the rest as one summary alert; the file is
        appended in one batch off the trio thread; at most ALERT_LOG_LINES_PER_BLOCK log lines."""
        self.alerts_raised += len(hits)
        listed = hits[:MAX_ALERTS_PER_BLOCK]
        lines = [_dumps(hit.to_json()) for hit in listed]
        if len(hits) > len(listed):
            lines.append(_dumps(summary_alert(number, hits[len(listed):])))
        for hit in listed[:ALERT_LOG_LINES_PER_BLOCK]:
            log.warning("compliance alert: rule %s: %s", hit.rule, hit.detail)
        if len(hits) > ALERT_LOG_LINES_PER_BLOCK:
            log.warning("compliance: block %d raised %d more alert(s) (see %s)", number,
                        len(hits) - ALERT_LOG_LINES_PER_BLOCK, self.alerts_file)
        self.events.compliance(PlumeKind.ALERTS, lambda: lines)
        await self._append_alerts(lines)
        for line in lines:
            self._queue_webhook(line)

    async def _unobserved(self, number: int, reason: str) -> None:
        """Mark a block the rules could not judge: an alert of kind "unobserved" (file, subscribers)."""
        line = _dumps({"rule": None, "kind": "unobserved", "action": None, "blockNumber": number,
                       "detail": f"block {number} was not judged: {reason} (see the node's log)", "flow": None})
        log.error("compliance: block %d goes unjudged: %s", number, reason)
        self.events.compliance(PlumeKind.ALERTS, lambda: [line])
        await self._append_alerts([line])
        self._queue_webhook(line)

    async def _append_alerts(self, lines: list[str]) -> None:
        try:
            await trio.to_thread.run_sync(_append_lines, self.alerts_file, lines)
        except OSError as exc:
            log.error("compliance: cannot append to %s: %s", self.alerts_file, exc.strerror or exc)

    def _queue_webhook(self, line: str) -> None:
        if self.webhook is None:
            return
        try:
            self._webhook_send.send_nowait(line)
        except trio.WouldBlock:
            self.webhook_dropped += 1
            log.warning("compliance: webhook queue full (%d); %d alert(s) only in %s so far",
                        self.webhook.queue, self.webhook_dropped, self.alerts_file)

    # ---- SIGHUP and the webhook

    async def _reload_on_sighup(self) -> None:
        with trio.open_signal_receiver(signal.SIGHUP) as signals:
            async for _ in signals:
                try:
                    await self.reload_off_thread()
                except Exception:  # a bug in a reload must never end the node: the old rules stay
                    log.exception("SIGHUP: the reload failed; the previous rules stay in force")

    async def _post_alerts(self) -> None:
        assert self.webhook is not None
        async for line in self._webhook_receive:
            await self._post_with_retries(line)

    async def _post_with_retries(self, line: str) -> None:
        assert self.webhook is not None
        delay = 1.0
        for attempt in range(self.webhook.retries + 1):
            try:
                await trio.to_thread.run_sync(_post, self.webhook.url, line, self.webhook.timeout_s,
                                              abandon_on_cancel=True)
                return
            except Exception as exc:  # OSError, HTTPError, a bad URL: all the webhook's problem
                log.warning("compliance: webhook attempt %d failed: %s", attempt + 1, truncate(str(exc)))
            if attempt < self.webhook.retries:
                await trio.sleep(delay)
                delay = min(delay * 2, WEBHOOK_MAX_BACKOFF_S)
        log.error("compliance: webhook gave up on an alert after %d attempts (it is in %s)",
                  self.webhook.retries + 1, self.alerts_file)


def _flows_in_worker(chain: Any, number: int, budget: ExecutionBudget, trace: bool, fresh: bool,
                     notify_flows: bool, running: threading.Event,
                     done: threading.Event) -> tuple[BlockFlows, list[str]]:
    running.set()
    try:
        snapshot = ChainSnapshot(chain)
        try:
            block = derive_block_flows(snapshot, number, budget, trace, fresh)
        finally:
            snapshot.release()
        return block, (fund_flow_notices(block) if notify_flows else [])
    finally:
        done.set()


def derive_block_flows(chain: Any, number: int, budget: ExecutionBudget | None, trace: bool = True,
                       fresh: bool = True) -> BlockFlows:
    """`block_flows`; when a budget refuses the re-execution (its deadline, MODEXP's input bound)
    the flows the receipts and logs show, with `internal_traced` False. A cancellation propagates."""
    try:
        return block_flows(chain, number, budget, trace=trace, wants_new_accounts=fresh)
    except ExecutionAborted as exc:
        if exc.reason is AbortReason.CANCELLED or not trace:
            raise
        log.debug("compliance: block %d: internal transfers not traced: %s", number, truncate(str(exc)))
        return block_flows(chain, number, None, trace=False, wants_new_accounts=fresh)


def fund_flow_notices(block: BlockFlows) -> list[str]:
    """A block's fundFlows notification results: FUND_FLOWS_PER_NOTICE flows each, at most
    MAX_FUND_FLOW_BYTES_PER_BLOCK of JSON in all (past it the rest are left out and the last
    notice says `truncated`), so a block's notices fit a connection's send queue."""
    notices: list[str] = []
    size = 0
    flows = block.flows
    for start in range(0, len(flows), FUND_FLOWS_PER_NOTICE):
        chunk = [f.to_json() for f in flows[start:start + FUND_FLOWS_PER_NOTICE]]
        body = _notice(block, chunk, start, block.truncated > 0)
        if size + len(body) > MAX_FUND_FLOW_BYTES_PER_BLOCK:
            left_out = block.truncated + len(flows) - start
            if notices:  # mark the last notice sent
                notices[-1] = _notice(block, json.loads(notices[-1])["flows"], start - FUND_FLOWS_PER_NOTICE, True, left_out)
            else:
                notices.append(_notice(block, [], 0, True, left_out))
            return notices
        notices.append(body)
        size += len(body)
    return notices


def _notice(block: BlockFlows, flows: list[dict], first: int, truncated: bool, left_out: int | None = None) -> str:
    return _dumps({"blockNumber": block.number, "firstFlow": first, "flows": flows,
                   "internalTraced": block.internal_traced, "truncated": truncated,
                   "truncatedFlows": block.truncated if left_out is None else left_out})


def summary_alert(number: int, omitted: list[Hit]) -> dict[str, Any]:
    """One alert standing for the alerts of a block past MAX_ALERTS_PER_BLOCK."""
    by_rule: dict[str, int] = {}
    for hit in omitted:
        by_rule[hit.rule] = by_rule.get(hit.rule, 0) + 1
    return {"rule": None, "kind": "summary", "action": "flag", "blockNumber": number, "flow": None,
            "omitted": len(omitted), "omittedByRule": by_rule,
            "detail": f"block {number}: {len(omitted)} more alert(s) past the {MAX_ALERTS_PER_BLOCK} listed"}


def _append_lines(path: Path, lines: list[str]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


class _Throttled:
    """Messages logged at most LOG_BURST per LOG_INTERVAL_S; the next one logged says how
    many were held back in between."""

    def __init__(self, logger: logging.Logger, level: int) -> None:
        self.logger, self.level = logger, level
        self.window_start = -float("inf")
        self.logged = 0
        self.held = 0

    def note(self, message: str) -> None:
        now = time.monotonic()
        if now - self.window_start >= LOG_INTERVAL_S:
            self.window_start, self.logged = now, 0
        if self.logged >= LOG_BURST:
            self.held += 1
            return
        suffix = f" ({self.held} similar message(s) held back)" if self.held else ""
        self.logger.log(self.level, "compliance: %s%s", message, suffix)
        self.logged += 1
        self.held = 0


def _post(url: str, body: str, timeout_s: float) -> None:
    request = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        response.read(WEBHOOK_MAX_ANSWER_BYTES)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


__all__ = ["ComplianceService", "WebhookSettings", "load_home_policy", "policy_path"]

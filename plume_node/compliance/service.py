"""The node's compliance service: the I/O around the pure rules engine, in trio.

* loads HOME/compliance.toml at start (a bad file stops the start with file,
  line and problem) and again on SIGHUP (a bad reload is logged and the
  previous rules keep running);
* screens each transaction before the mempool admits it (`screen`, the
  mempool's hook): a reject rule refuses it with the rule's name;
* follows the committed chain: for each block, in order, derives its fund
  flows in a worker thread on a database snapshot (`flows.block_flows`
  re-executes the block: off the consensus path), runs the flag rules, and
  publishes `fundFlows` and `alerts` through `ChainEvents` to the WebSocket
  subscribers (`plume_subscribe`), appends each alert to a JSON-lines
  file, and queues it for the webhook;
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

from execution.errors import truncate
from execution.mempool import MempoolError, MempoolErrorCode, PooledTx
from execution.snapshot import ChainSnapshot
from plume_node.compliance.flows import block_flows, created_address, transaction_flows
from plume_node.compliance.model import Action, BlockFlows, FlowKind, FundFlow, Hit, Policy
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
        tx = pooled.tx
        sender = bytes(pooled.sender)
        to = bytes(tx.to) if tx.to else None
        block = self.chain.head.block_number + 1
        flows = transaction_flows(sender, to, tx.value, bytes(tx.data), block, tx.nonce)
        parties = FundFlow(FlowKind.NATIVE, sender, to if to is not None else created_address(sender, tx.nonce), 0, block)
        hit = self.engine.check(flows, parties)
        if hit is not None:
            log.info("tx 0x%s refused by rule %s: %s", bytes(pooled.tx_hash).hex(), hit.rule, hit.detail)
            raise MempoolError(
                MempoolErrorCode.POLICY_REJECTED,
                truncate(f"rejected by local policy rule {hit.rule!r} ({hit.kind.value}): {hit.detail}"),
            )

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
        return True

    # ---- following the chain

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
        head = self.processed
        first = max(1, head - min(self.engine.policy.longest_window(), MAX_WARMUP_BLOCKS) + 1)
        for number in range(first, head + 1):
            block = await self._flows_of(number)
            if block is not None:
                await self._judge(block, ())

    async def _follow(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self.processed < self._target:
                number = self.processed + 1
                block = await self._flows_of(number)
                self.processed = number
                if block is not None:
                    await self._publish(block)

    async def _flows_of(self, number: int) -> BlockFlows | None:
        started = time.perf_counter()
        try:
            block = await trio.to_thread.run_sync(_flows_in_worker, self.chain, number)
        except Exception:  # a bug here must not end the node: that block goes unobserved
            log.exception("compliance: deriving the fund flows of block %d failed", number)
            return None
        log.debug("compliance: block %d: %d flows in %.1f ms", number, len(block.flows),
                  (time.perf_counter() - started) * 1000)
        return block

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

    async def _publish(self, block: BlockFlows) -> None:
        hits = await self._judge(block, (Action.FLAG,))
        if block.flows:
            self.events.compliance("fundFlows", lambda: _dumps({
                "blockNumber": block.number, "flows": [f.to_json() for f in block.flows]}))
        for hit in hits:
            self._alert(hit)

    def _alert(self, hit: Hit) -> None:
        self.alerts_raised += 1
        line = _dumps(hit.to_json())
        log.warning("compliance alert: rule %s: %s", hit.rule, hit.detail)
        self.events.compliance("alerts", lambda: line)
        try:
            with open(self.alerts_file, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as exc:
            log.error("compliance: cannot append to %s: %s", self.alerts_file, exc.strerror or exc)
        if self.webhook is not None:
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


def _flows_in_worker(chain: Any, number: int) -> BlockFlows:
    snapshot = ChainSnapshot(chain)
    try:
        return block_flows(snapshot, number)
    finally:
        snapshot.release()


def _post(url: str, body: str, timeout_s: float) -> None:
    request = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        response.read(WEBHOOK_MAX_ANSWER_BYTES)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


__all__ = ["ComplianceService", "WebhookSettings", "load_home_policy", "policy_path"]

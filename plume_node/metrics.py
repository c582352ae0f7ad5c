"""Prometheus metrics and the health verdict of one node (docs/operator.md, "Metrics").

Each node has its own `CollectorRegistry` (several nodes may share a process
in tests). Figures that change at events (a commit, an RPC request) are
recorded when they happen; figures the node already holds (height, mempool,
peers, sync, staking) are read when Prometheus scrapes, by `_NodeCollector`,
so nothing is kept twice and nothing runs between scrapes. A scrape runs in
the trio thread: every figure it reads is a field or an O(1) lookup, except
the staking figures, which are read once per committed head and cached.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from eth_utils import to_checksum_address
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from plume_node.stage_cpu import StageClock
from staking import views as staking_views

log = logging.getLogger("plume.metrics")

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
UNKNOWN_METHOD = "unknown"  # the label of every RPC method name the node does not serve
# Steps of a height the consensus driver times (its `timings`, in ms).
TIMED_STEPS = {"build_ms": "build", "validate_ms": "validate", "commit_ms": "commit", "height_ms": "height"}
INTERVAL_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120)
TX_COUNT_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
STEP_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)


class NodeMetrics:
    """The metrics of `node` (a `plume_node.node.Node`) and the hooks that feed them."""

    def __init__(self, node, rpc_methods: Iterable[str] = ()) -> None:
        self.node = node
        self.registry = CollectorRegistry()
        self.rpc_methods = frozenset(rpc_methods)
        self.block_interval = Histogram(
            "plume_consensus_block_interval_seconds", "Wall time between two consecutive commits seen by this node",
            buckets=INTERVAL_BUCKETS, registry=self.registry,
        )
        self.block_txs = Histogram(
            "plume_consensus_block_transactions", "Transactions per committed block",
            buckets=TX_COUNT_BUCKETS, registry=self.registry,
        )
        self.step_duration = Histogram(
            "plume_consensus_step_duration_seconds",
            "Time spent per height in a consensus step (build, validate, commit) and on the whole height",
            ["step"], buckets=STEP_BUCKETS, registry=self.registry,
        )
        self.rpc_requests = Counter(
            "plume_rpc_requests", "JSON-RPC requests by method (unknown names as 'unknown')",
            ["method"], registry=self.registry,
        )
        self.rpc_errors = Counter(
            "plume_rpc_errors", "JSON-RPC requests answered with an error, by method",
            ["method"], registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        self.registry.register(_NodeCollector(node))
        # (height, monotonic time, the app's committed-transactions count) at the
        # last commit, or at the start; the first interval after a start runs
        # from the start, so it is skipped
        self._last_commit = (-1, time.monotonic(), 0)
        self._observed_timings: dict | None = None

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def on_rpc_request(self, method: str, failed: bool) -> None:
        label = method if method in self.rpc_methods else UNKNOWN_METHOD
        self.rpc_requests.labels(label).inc()
        if failed:
            self.rpc_errors.labels(label).inc()

    def on_commit(self, height: int) -> None:
        """A height was committed (by consensus, or the last of a synced batch).

        Runs inside the consensus driver's loop: a failure here is logged and
        costs a sample, never the node."""
        try:
            self._record_commit(height)
        except Exception:
            log.exception("metrics: recording the commit of height %d failed", height)

    def _record_commit(self, height: int) -> None:
        now, txs = time.monotonic(), self.node.app.committed_transactions
        previous, self._last_commit = self._last_commit, (height, now, txs)
        if height != previous[0] + 1:
            return  # a synced batch: no interval to measure
        self.block_interval.observe(now - previous[1])
        # the block's count from the app's running total: reading the block
        # back would decode every transaction in it again
        self.block_txs.observe(txs - previous[2])
        timings = self.node.driver.timings
        if timings is not self._observed_timings and "commit_ms" in timings:
            self._observed_timings = timings  # a new dict each height: observe each once
            for key, step in TIMED_STEPS.items():
                if key in timings:
                    self.step_duration.labels(step).observe(timings[key] / 1000)

    def seconds_since_last_commit(self) -> float:
        """Since this node last committed a height, or since it started."""
        return time.monotonic() - self._last_commit[1]


class _NodeCollector(Collector):
    """Figures read from the node at scrape time."""

    def __init__(self, node) -> None:
        self.node = node
        # (head hash, bonded wei, active set size, (operator, missed blocks) of each active validator)
        self._staking_cache: tuple[bytes, int, int, list[tuple[bytes, int]]] | None = None

    def collect(self) -> Iterator[Metric]:
        node = self.node
        yield _gauge("plume_consensus_height", "Last committed height", node.app.committed_height())
        yield _gauge("plume_consensus_round", "Round of the height in progress", node.engine.round or 0)
        yield _gauge(
            "plume_consensus_seconds_since_last_commit", "Seconds since this node last committed (or started)",
            node.metrics.seconds_since_last_commit(),
        )
        yield CounterMetricFamily(
            "plume_consensus_double_sign_refusals", "Signatures the double-sign guard refused",
            value=node.driver.sign_refusals,
        )
        yield CounterMetricFamily(
            "plume_committed_transactions", "Transactions in the heights this process committed (consensus or sync)",
            value=node.app.committed_transactions,
        )
        yield _stage_cpu(node.stage_clock)
        yield _gauge("plume_mempool_transactions", "Transactions in the mempool", len(node.mempool))
        yield _gauge("plume_mempool_bytes", "Raw bytes of the transactions in the mempool", node.mempool.size_bytes)
        yield from self._network()
        yield from self._staking()
        if node.compliance is not None:
            yield _gauge("plume_compliance_lag_blocks", "Committed blocks the compliance service has not judged yet",
                         node.compliance.lag_blocks())
        yield _gauge("plume_health_ok", "1 while GET /health answers 200", int(check_health(node).ok))

    def _network(self) -> Iterator[Metric]:
        network = self.node.network
        peers = GaugeMetricFamily("plume_p2p_peers", "Connected peers by direction", labels=["direction"])
        inbound = outbound = bans = sent = received = 0
        syncing, target = 0, self.node.app.committed_height()
        if network is not None:
            service = network.service
            for peer in service.peers():
                inbound += peer.direction == "inbound"
                outbound += peer.direction == "outbound"
            bans, sent, received = len(service.bans()), service.bytes_sent, service.bytes_received
            syncing = int(network.syncing() is not None)
            target = network.blocksync.target_height
        peers.add_metric(["inbound"], inbound)
        peers.add_metric(["outbound"], outbound)
        yield peers
        yield _gauge("plume_p2p_bans", "Active bans (peer ids and addresses)", bans)
        yield CounterMetricFamily("plume_p2p_sent_bytes", "Bytes sent to peers (after the handshake)", value=sent)
        yield CounterMetricFamily("plume_p2p_received_bytes", "Bytes received from peers (after the handshake)", value=received)
        yield CounterMetricFamily("plume_p2p_sent_messages", "Messages sent to peers (after the handshake)",
                                  value=network.service.messages_sent if network is not None else 0)
        yield _gauge("plume_sync_syncing", "1 while block sync is catching up", syncing)
        yield _gauge("plume_sync_target_height", "Highest height a connected peer has proven", target)

    def _staking(self) -> Iterator[Metric]:
        head = self.node.chain.head.hash
        if self._staking_cache is None or self._staking_cache[0] != head:
            state = self.node.chain.state_at().accounts
            bonded = staking_views.total_bonded(state)
            missed = staking_views.missed_blocks_of_active_set(state)
            self._staking_cache = (head, bonded, len(missed), missed)
        _, bonded, active, missed = self._staking_cache
        yield _gauge("plume_staking_bonded_wei", "Tokens bonded in the staking contract at the head (wei)", bonded)
        yield _gauge("plume_staking_active_validators", "Size of the active set the staking contract chose last", active)
        gauge = GaugeMetricFamily(
            "plume_validator_missed_blocks",
            "Blocks each validator of the active set missed in its current signing window (the downtime rule)",
            labels=["validator"],
        )
        for operator, count in missed:
            gauge.add_metric([to_checksum_address(operator)], count)
        yield gauge


def _stage_cpu(clock: StageClock) -> CounterMetricFamily:
    family = CounterMetricFamily(
        "plume_cpu_seconds",
        "CPU seconds of this node's threads by stage (docs/performance.md); "
        "process_cpu_seconds_total minus their sum is scheduling and the rest",
        labels=["stage"],
    )
    for stage, seconds in clock.snapshot().items():
        family.add_metric([stage.value], seconds)
    return family


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


# ---- health ------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    ok: bool
    syncing: bool = False
    problem: str = ""  # "stalled" or "disk" when not ok
    reason: str = ""


def check_health(node) -> Health:
    """The verdict GET /health reports (docs/operator.md, "Health")."""
    settings = node.config.metrics
    free = _free_disk_bytes(node.home.data_dir)
    if free is None:
        return Health(False, problem="disk", reason=f"cannot stat the data directory {node.home.data_dir}")
    if free < settings.min_free_disk_bytes:
        return Health(False, problem="disk", reason=(
            f"{free} bytes free under the data directory, below metrics.min_free_disk_bytes "
            f"({settings.min_free_disk_bytes})"
        ))
    if node.syncing() is not None:
        return Health(True, syncing=True)
    in_progress = _height_in_progress_s(node)
    limit = settings.stall_block_times * block_time_s(node.config)
    if in_progress is not None and in_progress > limit:
        return Health(False, problem="stalled", reason=(
            f"height {node.app.committed_height() + 1} in progress for {in_progress:.1f}s "
            f"(limit {limit:.1f}s) and not syncing"
        ))
    return Health(True)


def block_time_s(config) -> float:
    """One block time for stall detection: the pause after a commit plus the
    propose timeout (about what a height takes when its first proposer is offline)."""
    c = config.consensus
    return (c.block_time_ms + c.timeout_propose_ms) / 1000


def _height_in_progress_s(node) -> float | None:
    """How long the engine has worked on the height after the head, or None
    between heights (the pause after a commit, or waiting for transactions
    when empty blocks are off)."""
    working_on = node.engine.height
    if working_on is None or working_on <= node.app.committed_height():
        return None
    return time.perf_counter() - node.driver.height_started


def _free_disk_bytes(path) -> int | None:
    try:
        stat = os.statvfs(path)
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


def health_body(node) -> tuple[int, bytes]:
    """(HTTP status, JSON body) of GET /health."""
    health = check_health(node)
    body: dict = {
        "status": "ok" if health.ok else "unhealthy",
        "height": node.app.committed_height(),
        "syncing": health.syncing,
        "seconds_since_last_commit": round(node.metrics.seconds_since_last_commit(), 1),
    }
    if not health.ok:
        body["problem"], body["reason"] = health.problem, health.reason
    return (200 if health.ok else 503), json.dumps(body).encode()

"""The deterministic simulator: N real engines on a virtual network, one seed.

`run(scenario)` builds the validators (real Ed25519 keys derived from their
index), the nodes (twins get a second node), the network and the fault
schedule, then pops events off the virtual clock until every honest node that
is up has reached the target height (and the last scheduled fault has
happened) or the clock passes `max_time_ms`. Invariants are checked as
commits happen; progress is checked at the end when the network heals.

Two simple models stand in for parts of a real node the engine does not own:
- gossip: a node whose height has not moved for STALL_MS re-sends its own
  messages of the current height and relays the ones its engine accepted, again
  every STALL_MS while stuck (lost messages would otherwise stall a round
  forever, and the protocol's liveness assumes that what one correct node
  received, all eventually receive);
- block sync: every tick, a node behind an honest peer it can reach fetches
  that peer's committed blocks and certificates, commits them and starts the
  next height (this is how a restarted or partitioned node catches up).
"""

from __future__ import annotations

import random
import time
import traceback
from dataclasses import dataclass
from typing import Any

from consensus.messages import Proposal, Vote
from consensus.sim.app import make_junk_payload
from consensus.sim.events import EventQueue
from consensus.sim.evidence import EvidencePool
from consensus.sim.invariants import InvariantChecker
from consensus.sim.keys import CHAIN_ID, validator_key
from consensus.sim.network import Network
from consensus.sim.node import CommittedBlock, SimNode
from consensus.sim.report import Report
from consensus.sim.scenario import Fault, Scenario
from consensus.timeouts import TimeoutConfig
from consensus.validators import Validator, ValidatorSet

TICK_MS = 250  # how often a node checks for sync and for a stall
STALL_MS = 2_000  # no commit for this long: gossip this height's messages again


@dataclass(frozen=True)
class _Deliver:
    recipient: str
    sender: str
    message: Any
    block: bytes | None


@dataclass(frozen=True)
class _NodeEvent:
    """A timer, a height start or a sync delivery, void if the node restarted since."""

    node: str
    incarnation: int
    kind: str  # "timeout" | "start" | "sync"
    payload: Any


@dataclass(frozen=True)
class _Tick:
    node: str


@dataclass(frozen=True)
class _FaultEdge:
    fault: Fault
    starting: bool


def default_timeouts() -> TimeoutConfig:
    return TimeoutConfig()


class Simulation:
    def __init__(self, scenario: Scenario, timeouts: TimeoutConfig | None = None) -> None:
        self.scenario = scenario
        self.target_height = scenario.heights
        self.rng = random.Random(scenario.seed)
        self.queue = EventQueue()
        self.network = Network(self.rng, scenario.delay_ms, scenario.drop, scenario.partitions)
        self.messages = 0
        keys = [validator_key(i) for i in range(scenario.validators)]
        self._base_set = ValidatorSet.new(
            Validator(k.address, k.public_key.raw, scenario.power_of(i)) for i, k in enumerate(keys)
        )
        self._sets: dict[int, Any] = {1: self._base_set}

        timeouts = timeouts or default_timeouts()
        self.nodes: dict[str, SimNode] = {}
        for name in scenario.node_names():
            index = int(name.rstrip("b"))
            self.nodes[name] = SimNode(name, index, keys[index], CHAIN_ID, timeouts, self)
        self._peers = {
            name: tuple(n for n in self.nodes if n != name) for name in self.nodes
        }
        byzantine = scenario.byzantine_validators()
        self.honest = frozenset(n for n, node in self.nodes.items() if node.index not in byzantine)
        # Below 1/3 Byzantine power, two certified commits can never conflict
        # (their quorums share an honest validator), whoever made them: then
        # every node, each twin copy included, is held to agreement. At 1/3 or
        # more only honest nodes are, and the evidence must show the culprits.
        byzantine_power = sum(scenario.power_of(i) for i in byzantine)
        self.agreeing = self.honest if 3 * byzantine_power >= scenario.total_power else frozenset(self.nodes)
        self.checker = InvariantChecker(CHAIN_ID, self.validator_set, self.honest, self.agreeing)
        self.evidence = EvidencePool(CHAIN_ID, self.validator_set)
        self._faults_by_node: dict[int, list[Fault]] = {}
        for fault in scenario.faults:
            self._faults_by_node.setdefault(fault.node, []).append(fault)
        self._last_activity: dict[str, tuple[int, int]] = {}
        self.crashed = ""  # the exception that stopped the run, if one did

    # -- the host interface the nodes call -------------------------------------------

    @property
    def now_ms(self) -> int:
        return self.queue.now_ms

    def validator_set(self, height: int) -> Any:
        # Static membership; priorities advance once per height, as CometBFT does.
        known = max(h for h in self._sets if h <= height)
        vset = self._sets[known]
        for h in range(known + 1, height + 1):
            vset = vset.advance(1)
            self._sets[h] = vset
        return vset

    def behaviour_active(self, node: SimNode, kind: str) -> bool:
        return any(f.kind == kind and f.active(self.now_ms) for f in self._faults_by_node.get(node.index, ()))

    def peers_of(self, node: SimNode) -> tuple[str, ...]:
        return self._peers[node.name]

    def send(self, node: SimNode, message: Any, block: bytes | None, recipients: tuple[str, ...]) -> None:
        if self.behaviour_active(node, "silent"):
            return
        if isinstance(message, Vote):
            self.evidence.observe_vote(message)
        self.relay(node, message, block, recipients)

    def relay(self, node: SimNode, message: Any, block: bytes | None, recipients: tuple[str, ...]) -> None:
        if self.behaviour_active(node, "silent"):
            return
        for recipient in recipients:
            self.messages += 1
            delay = self.network.transit(node.name, recipient, self.now_ms)
            if delay is None:
                continue
            if isinstance(message, Proposal) and self.behaviour_active(self.nodes[recipient], "poisoned"):
                # An outsider beside the recipient got the proposal too and
                # races a copy with junk bytes that arrives first.
                junk = make_junk_payload(message.height, message.round, self.rng.randrange(1 << 32))
                self.queue.schedule(delay, _Deliver(recipient, "outsider", message, junk))
                delay += 1
            self.queue.schedule(delay, _Deliver(recipient, node.name, message, block))

    def schedule_timeout(self, node: SimNode, timeout: Any) -> None:
        self.queue.schedule(int(timeout.duration_ms), _NodeEvent(node.name, node.incarnation, "timeout", timeout))

    def schedule_start(self, node: SimNode, height: int) -> None:
        event = _NodeEvent(node.name, node.incarnation, "start", height)
        self.queue.schedule(self.scenario.block_interval_ms, event)

    def on_commit(
        self, node: SimNode, height: int, block_hash: bytes, block: bytes, certificate: Any,
        already_synced: bool = False,
    ) -> None:
        self.checker.on_commit(node.name, self.now_ms, height, block_hash, block, certificate, already_synced)

    def on_local_conflict(self, node: SimNode, height: int, synced: bytes, decided: bytes) -> None:
        self.checker.local_conflict(node.name, self.now_ms, height, synced, decided, node.name in self.agreeing)

    def on_evidence(self, node: SimNode, evidence: Any) -> None:
        self.evidence.add(evidence, source=f"engine of node {node.name}")

    # -- the event loop ---------------------------------------------------------------

    def _schedule_faults(self) -> None:
        for fault in self.scenario.faults:
            if fault.kind == "crash" or (fault.kind == "twins" and fault.start_ms > 0):
                self.queue.schedule_at(fault.start_ms, _FaultEdge(fault, True))
            if fault.end_ms is not None and fault.kind in ("crash", "twins"):
                self.queue.schedule_at(fault.end_ms, _FaultEdge(fault, False))

    def _handle_fault_edge(self, edge: _FaultEdge) -> None:
        fault = edge.fault
        if fault.kind == "crash":
            node = self.nodes[str(fault.node)]
            if edge.starting and node.up:
                node.crash()
            elif not edge.starting and not node.up:
                node.boot()
        else:  # a twin copy that joins late or leaves
            twin = self.nodes[f"{fault.node}b"]
            if edge.starting and not twin.up:
                twin.boot()
            elif not edge.starting and twin.up:
                twin.crash()

    def _initially_up(self, name: str) -> bool:
        node = self.nodes[name]
        for fault in self._faults_by_node.get(node.index, ()):
            if fault.kind == "crash" and fault.start_ms == 0 and name == str(fault.node):
                return False
            if fault.kind == "twins" and fault.start_ms > 0 and name.endswith("b"):
                return False
        return True

    def _tick(self, node: SimNode) -> None:
        if not node.up:
            return
        if node.committed_height < self.target_height:
            self._maybe_sync(node)
        # Stall detection: a node whose height has not moved for STALL_MS
        # gossips (and again every STALL_MS while it stays stuck).
        since, height = self._last_activity.get(node.name, (self.now_ms, -1))
        if height != node.committed_height:
            self._last_activity[node.name] = (self.now_ms, node.committed_height)
        elif self.now_ms - since >= STALL_MS and node.committed_height < self.target_height:
            node.resend()
            self._last_activity[node.name] = (self.now_ms, node.committed_height)

    def _maybe_sync(self, node: SimNode) -> None:
        best: SimNode | None = None
        for name in self._peers[node.name]:
            peer = self.nodes[name]
            if name not in self.honest or not peer.up:
                continue
            if not self.network.connected(node.name, name, self.now_ms):
                continue
            if peer.committed_height > node.committed_height and (
                best is None or peer.committed_height > best.committed_height
            ):
                best = peer
        if best is None:
            return
        entries: tuple[CommittedBlock, ...] = tuple(best.chain[node.committed_height :])
        self.messages += 1
        delay = self.network.transit(best.name, node.name, self.now_ms)
        if delay is not None:
            self.queue.schedule(delay, _NodeEvent(node.name, node.incarnation, "sync", entries))

    def _done(self) -> bool:
        if self.now_ms < self.scenario.last_fault_change_ms():
            return False
        return all(
            self.nodes[n].committed_height >= self.target_height for n in self.honest if self.nodes[n].up
        )

    def _step(self, event: Any) -> None:
        if isinstance(event, _Deliver):
            self.nodes[event.recipient].deliver(event.message, event.block)
        elif isinstance(event, _NodeEvent):
            node = self.nodes[event.node]
            if node.incarnation != event.incarnation or not node.up:
                return
            if event.kind == "timeout":
                node.fire_timeout(event.payload)
            elif event.kind == "start":
                node.start(event.payload)
            else:
                node.apply_synced(event.payload)
        elif isinstance(event, _Tick):
            self._tick(self.nodes[event.node])
            self.queue.schedule(TICK_MS, event)
        elif isinstance(event, _FaultEdge):
            self._handle_fault_edge(event)

    def run(self) -> Report:
        wall_start = time.perf_counter()
        try:
            self._schedule_faults()
            for name, node in self.nodes.items():
                if self._initially_up(name):
                    node.boot()
                self.queue.schedule_at(TICK_MS + self.rng.randrange(TICK_MS), _Tick(name))
            while len(self.queue) and not self._done():
                at = self.queue.peek_time()
                if at is None or at > self.scenario.max_time_ms:
                    break
                self._step(self.queue.pop())
        except Exception as exc:
            # An engine that raises on some schedule is a finding, not a crash
            # of the simulator: stop and report it with the step that hit it.
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            self.crashed = (
                f"exception: t={self.now_ms}ms: {type(exc).__name__}: {exc} "
                f"(at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} in {frame.name})"
            )
        return self._report(time.perf_counter() - wall_start)

    def _report(self, wall_s: float) -> Report:
        heights = {name: node.committed_height for name, node in self.nodes.items()}
        live_honest = [n for n in self.honest if self.nodes[n].up]
        if self.scenario.heals():
            self.checker.check_progress(self.target_height, heights, sorted(live_honest), self.now_ms)
        violations = list(self.checker.violations) + list(self.evidence.bad)
        if self.crashed:
            violations.insert(0, self.crashed)
        return Report(
            seed=self.scenario.seed,
            validators=self.scenario.validators,
            agreement=self.checker.agreement,
            violations=tuple(violations),
            committed=heights,
            min_height=min((heights[n] for n in live_honest), default=0),
            max_round=self.checker.max_round,
            evidence=self.evidence.addresses(),
            messages=self.messages,
            sim_ms=self.now_ms,
            wall_s=round(wall_s, 3),
            scenario=self.scenario.name or self.scenario.describe(),
        )


def run(scenario: Scenario, timeouts: TimeoutConfig | None = None) -> Report:
    """Run one scenario to completion and report what happened."""
    return Simulation(scenario, timeouts).run()


def evidence_power(scenario: Scenario, report: Report) -> int:
    """The voting power of the validators the report proves to have double-signed."""
    index = {validator_key(i).address.hex(): i for i in range(scenario.validators)}
    return sum(scenario.power_of(index[a]) for a in report.evidence)

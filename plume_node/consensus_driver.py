"""The trio service that drives the sans-I/O consensus engine.

It owns the engine: every event (a vote or proposal from the network, a timer
firing) arrives on one bounded channel and is handled to completion, actions
and all, before the next, so the engine never sees two events at once. The
actions are carried out exactly as docs/consensus-interface.md says: signing
through the double-sign guard (durable before anything is broadcast), blocks
built, validated and committed by the application, timers on trio's clock.

The same driver runs a lone validator and a validator among peers; with no
network attached, `Broadcast` reaches nobody and the engine's own votes are
the quorum.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

import trio

from consensus.actions import (
    BlockVerdict,
    Broadcast,
    Commit,
    EvidenceFound,
    Rejected,
    RejectReason,
    Relay,
    RequestProposal,
    ScheduleTimeout,
    Sign,
    ValidateBlock,
)
from consensus.engine import ConsensusEngine
from consensus.messages import NIL, PRECOMMIT, PREVOTE, CommitCertificate, DuplicateVoteEvidence, Proposal, Vote
from consensus.signer import STEP_PREVOTE, STEP_PROPOSAL, Signer
from consensus.validators import ValidatorSet
from execution.errors import describe, truncate
from plume_node.app import SyncedBlock
from plume_node.config import ConsensusConfig
from plume_node.stage_cpu import Stage, StageClock
from plume_node.storage import StorageWriteError

log = logging.getLogger("plume.consensus")

# How long after a commit the node keeps collecting precommits for the decided
# block before it may start the next height (unless every validator's is in
# sooner), in ms: see docs/consensus.md, "Block interval".
DEFAULT_COMMIT_GRACE_MS = ConsensusConfig.commit_grace_ms
# The least time from one height's start to the next's, in ms, when
# transactions wait: every height costs each node a fixed amount of work
# (votes, the end-of-block hooks, a synced commit), so back-to-back heights of
# a few transactions each would spend the CPU on heights, not transactions.
DEFAULT_MIN_BLOCK_INTERVAL_MS = ConsensusConfig.min_block_interval_ms
# While waiting for a transaction a block would carry, the pool is looked at
# no more often than this (s): a flood of transactions no block can carry yet
# (nonce gaps, fee cap under the base fee) costs one look per period, not one
# per arrival.
POOL_LOOK_INTERVAL_S = 0.02

Event = Callable[[ConsensusEngine], list]


class ConsensusApp(Protocol):
    """What the driver needs of the application (plume_node.app.Application)."""

    def committed_height(self) -> int: ...

    def validator_set(self, height: int) -> ValidatorSet: ...

    def propose_block(self, height: int, round: int) -> tuple[bytes, bytes]: ...

    def validate_block(self, height: int, block_hash: bytes, block: bytes) -> tuple[BlockVerdict, str]:
        """The verdict on `block` as the block `block_hash` names, and why if
        not VALID; PAYLOAD_MISMATCH only when the bytes are provably not that
        block (see docs/consensus-interface.md)."""
        ...

    def commit(self, height: int, block_hash: bytes, block: bytes, certificate: CommitCertificate) -> None: ...

    def record_late_precommits(self, certificate: CommitCertificate) -> bool: ...

    def apply_synced_block(self, height: int, block: bytes, certificate: bytes) -> tuple[SyncedBlock, str]: ...

    def durable_run(self) -> AbstractContextManager[None]:
        """Commits inside are written unsynced and made durable together at its end."""
        ...

    def add_evidence(self, evidence: DuplicateVoteEvidence) -> None: ...

    def has_pending_transactions(self) -> bool: ...

    def has_includable_transactions(self) -> bool: ...


class ConsensusNetwork(Protocol):
    """What the driver needs of the network; the p2p gossip layer implements it."""

    def broadcast_vote(self, vote: Vote) -> None: ...

    def broadcast_proposal(self, proposal: Proposal, block: bytes) -> None: ...

    def broadcast_evidence(self, evidence: DuplicateVoteEvidence) -> None: ...

    def relay(self, message: Vote | Proposal, block: bytes | None) -> None: ...

    def report_invalid(
        self, message: Vote | Proposal, reason: RejectReason, detail: str, payload_digest: bytes = b""
    ) -> None: ...

    def new_height(self, height: int) -> None: ...


class ConsensusDriver:
    def __init__(
        self,
        engine: ConsensusEngine,
        app: ConsensusApp,
        signer: Signer | None,
        *,
        block_time_ms: int,
        create_empty_blocks: bool = True,
        commit_grace_ms: int = DEFAULT_COMMIT_GRACE_MS,
        min_block_interval_ms: int = DEFAULT_MIN_BLOCK_INTERVAL_MS,
        network: ConsensusNetwork | None = None,
        on_commit: Callable[[int], None] | None = None,
        event_buffer: int = 1024,
        stage_clock: StageClock | None = None,
    ) -> None:
        self.engine = engine
        self.app = app
        self.signer = signer
        self.network = network
        self.block_time_ms = block_time_ms
        self.create_empty_blocks = create_empty_blocks
        self.commit_grace_ms = commit_grace_ms
        self.min_block_interval_ms = min_block_interval_ms
        self.on_commit = on_commit
        self._send, self._receive = trio.open_memory_channel[Event](event_buffer)
        self._nursery: trio.Nursery | None = None
        self.height = 0  # the height the engine is working on
        self._tx_arrived = trio.Event()
        self._precommits_in = trio.Event()  # set once every validator's precommit of the decided round is in
        self._pause = trio.CancelScope()  # the wait before the next height; cancelled to start it at once
        self._next_proposer: bytes | None = None  # round 0's proposer of the height after the pause
        self.last_commit_at = 0.0  # trio clock
        self._height_started_at = 0.0  # trio clock, for the minimum block interval
        # how long this height's steps took, for the debug log
        self.timings: dict[str, float] = {}
        self._height_started = time.perf_counter()
        self.sign_refusals = 0  # times the double-sign guard refused (a metric)
        self.stage_clock = stage_clock or StageClock()  # build/validate/commit/sync CPU (the rest is consensus)

    @property
    def height_started(self) -> float:
        """`time.perf_counter()` when the current height started (health: how long it takes)."""
        return self._height_started

    # ---- inputs -------------------------------------------------------------

    def submit_vote(self, vote: Vote, done: Callable[[], None] | None = None) -> bool:
        """Queue a vote from the network; `done()` runs once the engine took it
        (so the network can bound what it has in flight). False if dropped."""
        return self._offer(_then(lambda e: e.on_vote(vote), done))

    def submit_proposal(self, proposal: Proposal, block: bytes, done: Callable[[], None] | None = None) -> bool:
        """As `submit_vote`, for a proposal with its block."""
        return self._offer(_then(lambda e: e.on_proposal(proposal, block), done))

    def submit_synced_blocks(
        self, blocks: list[tuple[int, bytes, bytes]], on_bad: Callable[[SyncedBlock, str], None]
    ) -> bool:
        """Commit blocks fetched by block sync, inside the event loop.

        Ordered with every engine event, so a synced commit never races the
        engine's own. `on_bad(outcome, reason)` is called for the first block
        not committed (BAD_DATA or REFUSED, see `SyncedBlock`).
        """
        return self._offer(lambda e: self._apply_synced_measured(blocks, on_bad))

    def _apply_synced_measured(
        self, blocks: list[tuple[int, bytes, bytes]], on_bad: Callable[[SyncedBlock, str], None]
    ) -> list:
        with self.stage_clock.measure(Stage.BLOCK_SYNC):
            return self._apply_synced(blocks, on_bad)

    def _apply_synced(
        self, blocks: list[tuple[int, bytes, bytes]], on_bad: Callable[[SyncedBlock, str], None]
    ) -> list:
        applied = 0
        # One synced write for the whole run (each block is still one atomic
        # batch); nothing is announced before it.
        with self.app.durable_run():
            for height, block, certificate in blocks:
                if height <= self.app.committed_height():
                    continue  # consensus got there first
                if height != self.app.committed_height() + 1:
                    break
                outcome, reason = self.app.apply_synced_block(height, block, certificate)
                if outcome is not SyncedBlock.COMMITTED:
                    on_bad(outcome, f"synced block {height}: {reason}")
                    break
                applied += 1
        if applied and self.on_commit is not None:
            self.on_commit(self.app.committed_height())
        if applied and (self.engine.height or 0) <= self.app.committed_height():
            return self._start_height_event(self.app.committed_height() + 1)
        return []

    def notify_transactions(self) -> None:
        """The mempool gained transactions (wakes a node that waits for them).
        Only set here; a waiter replaces a set Event, never an unset one
        another waiter may be waiting on."""
        self._tx_arrived.set()

    def _offer(self, event: Event) -> bool:
        # Network input never blocks the network: when the engine is this far
        # behind, dropping is safe (votes are re-gossiped) and bounded.
        try:
            self._send.send_nowait(event)
            return True
        except trio.WouldBlock:
            log.warning("consensus input queue full; dropping a message")
            return False

    # ---- the service --------------------------------------------------------

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            if self.create_empty_blocks:
                await self._execute(self._start_height_event(self.app.committed_height() + 1))
            else:  # as after a commit: the first height, too, waits for a transaction
                self._pause_before(self.app.committed_height() + 1)
            task_status.started()
            async for event in self._receive:
                await self._execute(event(self.engine))
                self._watch_pause()

    async def _execute(self, actions: list) -> None:
        queue = deque(actions)
        while queue:
            action = queue.popleft()
            if isinstance(action, Sign):
                signed = self.signer.sign(action.message) if self.signer is not None else None
                if signed is None:
                    self.sign_refusals += 1
                    log.warning("double-sign guard refused to sign %r", action.message)
                elif isinstance(signed, Proposal):
                    self.app.save_own_proposal(signed)  # durable before it leaves
                queue.extend(self.engine.on_signed(signed))
            elif isinstance(action, Broadcast):
                if self.network is not None:
                    if isinstance(action.message, Proposal):
                        self.network.broadcast_proposal(action.message, action.block or b"")
                    else:
                        self.network.broadcast_vote(action.message)
            elif isinstance(action, ScheduleTimeout):
                self._nursery.start_soon(self._timer, action)
            elif isinstance(action, RequestProposal):
                started = time.perf_counter()
                with self.stage_clock.measure(Stage.BUILD):
                    built, error = self._call_app("propose_block", self.app.propose_block, action.height, action.round)
                self.timings["build_ms"] = (time.perf_counter() - started) * 1000
                if error is None:  # else no proposal: the propose timeout moves the round on
                    queue.extend(self.engine.on_block_proposed(action.height, action.round, *built))
            elif isinstance(action, ValidateBlock):
                queue.extend(self._validate(action))
            elif isinstance(action, Commit):
                with self.stage_clock.measure(Stage.COMMIT):  # this thread's CPU, awaits or not
                    await self._commit(action)
            elif isinstance(action, EvidenceFound):
                log.warning("double-sign evidence against validator %s at height %d",
                            action.evidence.validator.hex(), action.evidence.height)
                self.app.add_evidence(action.evidence)
                if self.network is not None:
                    self.network.broadcast_evidence(action.evidence)
            elif isinstance(action, Relay):
                # Only what the engine verified and kept is passed on.
                if self.network is not None:
                    self.network.relay(action.message, action.block)
            elif isinstance(action, Rejected):
                log.debug("rejected %r: %s (%s)", action.message, action.reason.value, action.detail)
                if self.network is not None:
                    self.network.report_invalid(action.message, action.reason, action.detail, action.payload_digest)
            else:  # pragma: no cover - a new action kind the driver must learn
                raise TypeError(f"unknown consensus action {action!r}")

    def _validate(self, action: ValidateBlock) -> list:
        """Ask the application for its verdict and hand it to the engine. An
        exception while validating is a bug: the block counts as INVALID (not
        PAYLOAD_MISMATCH, which would get the peer that delivered it banned)."""
        started = time.perf_counter()
        with self.stage_clock.measure(Stage.VALIDATE):
            answer, error = self._call_app(
                "validate_block", self.app.validate_block, action.height, action.block_hash, action.block
            )
        verdict, reason = answer if error is None else (BlockVerdict.INVALID, error)
        reason = truncate(reason)  # built from a peer's block: bounded before it is logged or kept
        self.timings["validate_ms"] = (time.perf_counter() - started) * 1000
        if verdict is not BlockVerdict.VALID:
            # Junk bytes cost their sender a ban (logged by p2p): info, not warning.
            level = logging.INFO if verdict is BlockVerdict.PAYLOAD_MISMATCH else logging.WARNING
            log.log(level, "block %s at height %d: %s: %s",
                    action.block_hash.hex()[:12], action.height, verdict.value, reason)
        return self.engine.on_block_validated(action.height, action.round, action.block_hash, verdict, reason)

    @staticmethod
    def _call_app(what: str, call: Callable, *args) -> tuple:
        """(result, None), or (None, reason) when the application call raised.

        For the calls that execute blocks (propose, validate): an exception from
        execution is a bug, and a bug must cost one block, not the validator, so
        it is logged and returned. Commit does not go through here: a height
        that cannot be persisted must stop the node.
        """
        try:
            return call(*args), None
        except StorageWriteError:
            raise  # the disk failed: the node must stop, not propose or vote on
        except Exception as exc:
            reason = f"{what} raised {describe(exc)}"
            log.error("%s", reason, exc_info=True)
            return None, reason

    async def _commit(self, action: Commit) -> None:
        if action.height <= self.app.committed_height():
            return  # block sync committed it already
        started = time.perf_counter()
        self.app.commit(action.height, action.block_hash, action.block, action.certificate)
        self.last_commit_at = trio.current_time()
        self.timings["commit_ms"] = (time.perf_counter() - started) * 1000
        self.timings["height_ms"] = (time.perf_counter() - self._height_started) * 1000
        log.debug(
            "height %d: %s", action.height, " ".join(f"{k}={v:.0f}" for k, v in sorted(self.timings.items()))
        )
        if self.on_commit is not None:
            self.on_commit(action.height)
        self._pause_before(action.height + 1)

    def _pause_before(self, height: int) -> None:
        """Start the pause before `height` (see `_next_height_after_pause`)."""
        self._precommits_in = trio.Event()
        self._pause = trio.CancelScope()
        self._next_proposer = self.app.validator_set(height).proposer_address
        self._watch_pause()  # all precommits may be in already, or the next proposal buffered
        self._nursery.start_soon(self._next_height_after_pause, height)

    async def _next_height_after_pause(self, height: int) -> None:
        """Start `height` as the block interval policy says (docs/consensus.md,
        "Block interval"): never before the commit grace is over (every
        validator's precommit in, or `commit_grace_ms`, at most `block_time_ms`),
        nor before `min_block_interval_ms` from the previous height's start;
        then at once if the pool holds a transaction a block would carry, else
        `block_time_ms` after the commit (with `create_empty_blocks = false`:
        not before a transaction is pooled). Whatever the wait, the height
        starts as soon as its round-0 proposer's proposal is in, so that its
        block is validated the moment it arrives (`_watch_pause`)."""
        committed_at = self.last_commit_at
        grace_ms = None  # how long the grace lasted, for the debug log
        with self._pause:  # a later height's start cancels it (`_start_height_event`)
            with trio.move_on_at(committed_at + min(self.commit_grace_ms, self.block_time_ms) / 1000):
                await self._precommits_in.wait()
            grace_ms = (trio.current_time() - committed_at) * 1000
            idle_start = committed_at + self.block_time_ms / 1000
            await trio.sleep_until(min(self._height_started_at + self.min_block_interval_ms / 1000, idle_start))
            await self._wait_for_transactions(height, idle_start, self.app.has_includable_transactions)
            if not self.create_empty_blocks:
                await self._wait_for_transactions(height, None, self.app.has_pending_transactions)
        if height != self.app.committed_height() + 1:
            return  # block sync moved past this height: another pause (or height) is current
        log.debug("height %d starts %.0f ms after the commit (grace %s, all precommits in: %s, next proposal in: %s)",
                  height, (trio.current_time() - committed_at) * 1000,
                  "cut short" if grace_ms is None else f"{grace_ms:.0f} ms",
                  self._precommits_in.is_set(), self._pause.cancel_called)
        await self._send.send(lambda e, h=height: self._start_height_event(h))

    async def _wait_for_transactions(self, height: int, deadline: float | None, ready: Callable[[], bool]) -> None:
        """Return once `ready()` (looked at on each pooled transaction, at most
        every POOL_LOOK_INTERVAL_S), at `deadline` (trio clock; None: never),
        or once `height` is no longer the next one (block sync moved past it)."""
        with trio.move_on_at(float("inf") if deadline is None else deadline):
            while True:
                if self._tx_arrived.is_set():  # replace only a set Event: another waiter may wait on an unset one
                    self._tx_arrived = trio.Event()
                arrived = self._tx_arrived  # taken before looking: an arrival after the look wakes us
                if height != self.app.committed_height() + 1 or ready():
                    return
                looked_at = trio.current_time()
                with trio.move_on_after(1.0):  # look again anyway: the pool also changes without arrivals
                    await arrived.wait()
                await trio.sleep_until(looked_at + POOL_LOOK_INTERVAL_S)

    def _watch_pause(self) -> None:
        """During the pause after a commit: end it at once when the next
        height's round-0 proposer has proposed (its signed proposal waits in
        the engine's buffer: the sooner we start, the sooner its block is
        judged); end the commit grace once every validator of the decided
        height has a precommit in the deciding round (for the block or not,
        an honest validator sends no other), as no later one can come."""
        if self._pause.cancel_called:
            return
        if self._next_proposer is not None and self.engine.next_height_proposed_by(self._next_proposer):
            self._pause.cancel()
            return
        rs, votes = self.engine.state, self.engine.votes
        if self._precommits_in.is_set() or rs is None or rs.decided is None or votes is None:
            return
        precommits = votes.peek(rs.decided_round, PRECOMMIT)
        if precommits is not None and len(precommits.votes) >= len(rs.validator_set):
            self._precommits_in.set()

    def _start_height_event(self, height: int) -> list:
        # Runs inside the event loop, so starting a height is ordered with
        # every other engine event. Returns the start actions.
        if height != self.app.committed_height() + 1 or (self.engine.height or 0) >= height:
            return []  # stale: block sync moved past it meanwhile
        self._keep_late_precommits(height - 1)
        self._pause.cancel()  # a pause for an earlier height (block sync moved past it) ends now
        self._next_proposer = None  # the pause is over
        self._height_started_at = trio.current_time()
        self.height = height
        self._height_started = time.perf_counter()
        self.timings = {}
        if self.network is not None:
            self.network.new_height(height)
        locked = self.signer.locked(height) if self.signer is not None else None
        actions = self.engine.start_height(height, self.app.validator_set(height), locked=locked)
        # Signed before a stop or crash: hand back our own proposal (with its
        # block) and the guard's last vote, which the guard would not sign again.
        own = self.app.own_proposal(height)
        if own is not None:
            actions += self.engine.on_proposal(*own)
        vote = _last_signed_vote(self.signer, height, own[0].block_hash if own else None)
        if vote is not None:
            actions += self.engine.on_vote(vote)
        return actions

    def _keep_late_precommits(self, committed: int) -> None:
        """Store `committed`'s certificate again if precommits came in after the
        commit (during the block interval): the next proposer puts the stored
        certificate in its block's `last_commit`, from which rewards and
        downtime are counted, so it should name every validator that signed."""
        if self.engine.height != committed:
            return  # block sync moved us here: the certificate came with the block
        certificate = self.engine.decided_certificate()
        if certificate is not None and self.app.record_late_precommits(certificate):
            log.debug("height %d: certificate now carries %d precommits", committed, len(certificate.precommits))

    async def _timer(self, timeout: ScheduleTimeout) -> None:
        await trio.sleep(timeout.duration_ms / 1000)
        if timeout.height == self.height:
            await self._send.send(lambda e: e.on_timeout(timeout))


def _then(event: Event, done: Callable[[], None] | None) -> Event:
    """`event`, calling `done()` after it whatever happens."""
    if done is None:
        return event

    def run(engine: ConsensusEngine) -> list:
        try:
            return event(engine)
        finally:
            done()

    return run


def _last_signed_vote(signer: Signer | None, height: int, proposed: bytes | None) -> Vote | None:
    """The vote the guard last signed at `height`, rebuilt from its record (sign-bytes and signature)."""
    state = signer.state if signer is not None else None
    if state is None or state.height != height or state.step == STEP_PROPOSAL:
        return None
    vote_type = PREVOTE if state.step == STEP_PREVOTE else PRECOMMIT
    for block_hash in {proposed, state.lock_hash, NIL} - {None}:
        vote = Vote(vote_type, state.height, state.round, block_hash, signer.address)
        if vote.sign_bytes(signer.chain_id) == state.sign_bytes:
            return vote.with_signature(state.signature)
    return None

"""CPU time of a node by stage: where each finalized transaction's cost lands.

A `StageClock` adds up CPU seconds (`time.thread_time()`: the CPU of the
thread doing the work, never the wall time it waited) per `Stage`, and the
node exposes the totals as `plume_cpu_seconds_total{stage=...}` (docs/performance.md).
Whatever the stages do not cover (trio's scheduler, untagged tasks, LevelDB's
own threads, the interpreter's start) is the process total minus their sum.

Two ways in:

* a whole trio task tree is given a stage by starting its root with
  `tagged(stage, fn)`: every task spawned under it inherits the tag (a
  context variable), and the clock's trio instrument charges each step of a
  tagged task to its stage (one clock read per step). That is how hypercorn's
  HTTP work and the p2p framing and encryption are counted, code we do not
  call ourselves;
* `measure(stage)` around a piece of synchronous work (building a block,
  validating one) charges that stretch to `stage` instead of the enclosing
  one: stages are exclusive, each CPU second is counted once. It works in any
  thread (RPC workers) and without the instrument (two clock reads).

The totals are shared by the trio thread and worker threads: updated under a lock.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from enum import Enum
from time import thread_time
from typing import Any

import trio


class Stage(Enum):
    """Where a node spends CPU (the label values of `plume_cpu_seconds_total`)."""

    RPC = "rpc"  # JSON-RPC: HTTP, JSON, the methods, admitting submitted transactions, RPC workers
    GOSSIP_RX = "gossip_rx"  # peers' messages other than consensus and sync: transaction admission
    P2P_IO = "p2p_io"  # the p2p service: connections, handshakes, framing, encryption, peer events
    BUILD = "build"  # building this node's proposal
    VALIDATE = "validate"  # validating a proposed block (re-executing it)
    COMMIT = "commit"  # writing a decided height, rechecking the mempool, commit listeners
    CONSENSUS = "consensus"  # the engine: votes and proposals, signatures, timers, catch-up gossip
    BLOCK_SYNC = "block_sync"  # serving and applying synced blocks


# (clock, stage) of the task tree a task belongs to; None outside any tagged tree.
_TASK_STAGE: ContextVar[tuple["StageClock", Stage] | None] = ContextVar("plume_task_stage", default=None)


class _ThreadState(threading.local):
    stage: Stage | None = None  # what the thread's current stretch is charged to
    since: float = 0.0  # thread_time() when that stretch began


class StageClock:
    """CPU seconds by `Stage` for one node (several nodes may share a process)."""

    def __init__(self) -> None:
        self._seconds = dict.fromkeys(Stage, 0.0)
        self._lock = threading.Lock()
        self._state = _ThreadState()
        self.instrument = _TaskStages(self)

    def measure(self, stage: Stage) -> "_Measure":
        """`with clock.measure(stage): ...` charges the block's CPU to `stage`."""
        return _Measure(self, stage)

    def tagged(self, stage: Stage, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """`fn` as the root of a task tree charged to `stage` (for `start_soon`/`start`)."""

        @functools.wraps(fn)  # the task keeps fn's name
        async def run(*args: Any, **kwargs: Any) -> Any:
            _TASK_STAGE.set((self, stage))  # this task's own context, inherited by its children
            # The instrument looks at the tag before a step: yield once, so that
            # fn's first step already finds it (children are tagged from birth).
            await trio.lowlevel.cancel_shielded_checkpoint()
            return await fn(*args, **kwargs)

        return run

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Count tagged task steps until cancelled (the instrument lives as long as this task)."""
        trio.lowlevel.add_instrument(self.instrument)
        try:
            task_status.started()
            await trio.sleep_forever()
        finally:
            with contextlib.suppress(KeyError):  # trio drops an instrument that raised
                trio.lowlevel.remove_instrument(self.instrument)
            self._state.stage = None  # no stretch left open for a later `measure` to charge

    def snapshot(self) -> dict[Stage, float]:
        with self._lock:
            return dict(self._seconds)

    def _charge(self, stage: Stage, seconds: float) -> None:
        with self._lock:
            self._seconds[stage] += seconds


class _Measure:
    """One `measure(stage)` stretch; the enclosing stage pauses meanwhile."""

    __slots__ = ("clock", "stage", "outer")

    def __init__(self, clock: StageClock, stage: Stage) -> None:
        self.clock = clock
        self.stage = stage
        self.outer: Stage | None = None

    def __enter__(self) -> None:
        state = self.clock._state
        now = thread_time()
        self.outer = state.stage
        if self.outer is not None:
            self.clock._charge(self.outer, now - state.since)
        state.stage, state.since = self.stage, now

    def __exit__(self, *exc_info: object) -> None:
        state = self.clock._state
        now = thread_time()
        self.clock._charge(self.stage, now - state.since)
        state.stage, state.since = self.outer, now


class _TaskStages(trio.abc.Instrument):
    """Charges each step of a task tagged for this clock to the tag's stage.

    One clock read per step: the start of the next step (tagged or not) ends
    the previous tagged stretch, so trio's own bookkeeping between two steps
    is charged to the step before it (time blocked in epoll is no CPU and
    costs nothing). Steps of untagged tasks (or another node's) following
    another such step cost one context lookup."""

    def __init__(self, clock: StageClock) -> None:
        self.clock = clock

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        tag = task.context.get(_TASK_STAGE)
        mine = tag is not None and tag[0] is self.clock
        state = self.clock._state
        if state.stage is None and not mine:
            return
        now = thread_time()
        if state.stage is not None:
            self.clock._charge(state.stage, now - state.since)
        state.stage, state.since = (tag[1] if mine else None), now

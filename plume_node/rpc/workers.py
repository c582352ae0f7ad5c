"""RPC execution off the consensus path: worker threads on database snapshots.

`eth_call`, `eth_estimateGas` and log queries can take seconds of CPU. A
method that would run one returns `OffThread(work)` instead of its result;
the dispatcher hands `work` to `RpcWorkers.run`, which calls it in a worker
thread (`trio.to_thread.run_sync`) with a `ReadContext`: a `ChainSnapshot`
(execution/snapshot.py) taken in that thread, so the worker shares no mutable
py-evm or database object with the node's trio thread, and the request's
`ExecutionBudget` (execution/budget.py).

Bounds (config `[rpc]`, see docs/rpc.md):

* `max_concurrent_executions` workers at most (default 2). Workers share the
  GIL with the consensus thread, so keep this small: each running worker takes
  CPU time from consensus.
* every execution of one request body (a call, or all calls of a batch)
  shares one deadline (`evm_timeout_ms`), one gas budget (`batch_gas_cap`)
  and each execution has at most `gas_cap` gas. Waiting for a free worker
  counts against the deadline.
* on shutdown every budget is cancelled: a worker inside the EVM stops within
  about a thousand opcodes, and `drain()` waits a moment for it. Worker
  threads are daemon threads, so even one stuck outside the EVM cannot keep
  the process alive.
* a worker that reaches no budget check (one precompile call can run py_ecc
  pairings for minutes within the gas cap) is interrupted at the trio-side
  backstop, `BACKSTOP_GRACE_S` after the deadline, and at shutdown:
  `_Interrupter` raises `ExecutionInterrupted` in that thread with CPython's
  PyThreadState_SetAsyncExc, only while the thread is inside the request's
  work, so its worker slot is freed rather than held for the rest of the
  computation.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from execution.budget import AbortReason, ExecutionAborted, ExecutionBudget
from execution.snapshot import ChainSnapshot
from plume_node.stage_cpu import Stage, StageClock

if TYPE_CHECKING:
    from execution.chain import PlumeChain

log = logging.getLogger("plume.rpc")

DEFAULT_GAS_CAP = 50_000_000
DEFAULT_BATCH_GAS_CAP = 10 * DEFAULT_GAS_CAP
DEFAULT_EVM_TIMEOUT_S = 5.0
DEFAULT_MAX_CONCURRENT = 2
# The trio-side backstop fires this long after the in-EVM deadline, so the
# worker's own, clearer timeout error normally wins.
BACKSTOP_GRACE_S = 1.0
DRAIN_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class ExecutionLimits:
    gas_cap: int = DEFAULT_GAS_CAP
    batch_gas_cap: int = DEFAULT_BATCH_GAS_CAP
    timeout_s: float = DEFAULT_EVM_TIMEOUT_S
    max_concurrent: int = DEFAULT_MAX_CONCURRENT


@dataclass(frozen=True)
class ReadContext:
    """What work running in a worker may use: a snapshot chain and the request's budget."""

    chain: ChainSnapshot
    budget: ExecutionBudget


@dataclass(frozen=True)
class OffThread:
    """A method's answer to be computed by `work(ReadContext)` in a worker thread."""

    work: Callable[[ReadContext], Any]


class ExecutionInterrupted(ExecutionAborted):
    """Raised inside a worker that ran past its backstop (see `_Interrupter`)."""

    def __init__(self) -> None:  # raised by class, without arguments
        super().__init__(AbortReason.TIMEOUT, "execution timeout: the request was interrupted")


# Two prototypes of one C function: with an exception class, and with NULL (withdraw).
_set_async_exc = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)
_clear_async_exc = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)


class _Interrupter:
    """Which threads run which budget's work, and a way to stop them anywhere.

    An exception is sent to a thread only while it is between `enter` and
    `leave`; `leave` withdraws one not yet delivered, so none can surface in
    trio's thread cache after the work returned.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: dict[int, ExecutionBudget] = {}

    def enter(self, budget: ExecutionBudget) -> None:
        with self._lock:
            self._threads[threading.get_ident()] = budget

    def leave(self) -> None:
        thread_id = threading.get_ident()
        while True:
            try:
                with self._lock:
                    self._threads.pop(thread_id, None)
                    _clear_async_exc(thread_id, None)
                return
            except ExecutionInterrupted:
                continue  # delivered just now, the work is over anyway: still unregister

    def interrupt(self, budget: ExecutionBudget | None = None) -> None:
        """Interrupt the threads working for `budget` (every worker if None)."""
        with self._lock:
            for thread_id, owner in self._threads.items():
                if budget is None or owner is budget:
                    _set_async_exc(thread_id, ExecutionInterrupted)


class RpcWorkers:
    def __init__(self, limits: ExecutionLimits = ExecutionLimits(), stage_clock: StageClock | None = None) -> None:
        self.limits = limits
        self.stage_clock = stage_clock or StageClock()  # the workers' CPU, as Stage.RPC
        self.limiter = trio.CapacityLimiter(max(1, limits.max_concurrent))
        self._budgets: set[ExecutionBudget] = set()
        self._interrupter = _Interrupter()

    def new_budget(self) -> ExecutionBudget:
        """A budget for one request body; `finish` it when the body is answered."""
        budget = ExecutionBudget.start(
            gas_cap=self.limits.gas_cap, total_gas=self.limits.batch_gas_cap, timeout_s=self.limits.timeout_s
        )
        self._budgets.add(budget)
        return budget

    def finish(self, budget: ExecutionBudget) -> None:
        budget.cancel()  # a worker still running for this body has no one to answer
        self._budgets.discard(budget)

    async def run(self, chain: "PlumeChain", budget: ExecutionBudget, work: Callable[[ReadContext], Any]) -> Any:
        """`work(ReadContext)` in a worker thread; raises `ExecutionAborted` past the budget."""
        budget.check()
        with trio.move_on_after(budget.remaining_s() + BACKSTOP_GRACE_S) as scope:
            try:
                return await trio.to_thread.run_sync(
                    _in_worker, self._interrupter, self.stage_clock, chain, budget, work,
                    limiter=self.limiter, abandon_on_cancel=True,
                )
            except trio.Cancelled:
                # The abandoned worker stops at its next budget check, or now
                # if it is somewhere no check is made (a long precompile).
                budget.cancel()
                self._interrupter.interrupt(budget)
                raise
        assert scope.cancelled_caught
        raise ExecutionAborted(
            AbortReason.TIMEOUT, f"execution timeout: the request exceeded {budget.timeout_s:g}s of execution"
        )

    def cancel_all(self) -> None:
        for budget in self._budgets:
            budget.cancel()

    async def drain(self, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Cancel every budget and wait (at most `timeout_s`) for the workers to stop."""
        self.cancel_all()
        self._interrupter.interrupt()
        with trio.CancelScope(shield=True), trio.move_on_after(timeout_s):
            while self.limiter.borrowed_tokens:
                await trio.sleep(0.01)
        if self.limiter.borrowed_tokens:
            log.warning("%d RPC worker(s) still running at shutdown; abandoning them", self.limiter.borrowed_tokens)


def _in_worker(
    interrupter: _Interrupter, clock: StageClock, chain: "PlumeChain", budget: ExecutionBudget,
    work: Callable[[ReadContext], Any],
) -> Any:
    interrupter.enter(budget)
    try:
        with clock.measure(Stage.RPC):  # this worker thread's CPU
            budget.check()  # it may have waited for a free worker past its deadline
            snapshot = ChainSnapshot(chain)
            try:
                return work(ReadContext(snapshot, budget))
            finally:
                snapshot.release()
    finally:
        interrupter.leave()


__all__ = ["ExecutionLimits", "OffThread", "ReadContext", "RpcWorkers"]

"""Bounds on execution that nobody pays for: ``eth_call``, ``eth_estimateGas``, log scans.

An ``ExecutionBudget`` is made for one JSON-RPC request body (a single call
or a whole batch) and shared by every execution it runs:

* ``gas_cap``: the most gas one execution may have (geth's ``--rpc.gascap``);
  a call asking for more runs with the cap.
* ``gas_left``: what all executions of the body may still *use* together;
  each execution's gas used is charged to it, so a batch cannot multiply
  the work of one call.
* ``deadline`` (``time.monotonic``): when every execution of the body stops.
* ``cancel()``: stops them now (the node is shutting down).

The deadline and the cancel flag are checked *inside* the EVM loop: an RPC
execution runs with ``bounded_computation_class``, whose ``consume_gas`` (called
for every opcode) checks the budget every ``CHECK_EVERY_OPCODES`` opcodes and
raises ``ExecutionAborted``. That exception is not a py-evm ``VMError``, so it
is not turned into a failed computation: it unwinds every call frame and ends
the execution. Consensus never executes with a budget.

One precompile escapes that check: MODEXP (0x05) is a single C-level
``pow()`` that holds the interpreter lock for its whole run (an 8-byte
modulus and a 2 MB exponent fit 50M gas and take over a second, stalling
the consensus thread). RPC execution refuses MODEXP inputs longer than
``MAX_MODEXP_INPUT_BYTES`` each, the bound EIP-7823 sets for Ethereum.
Blocks still run MODEXP as the Prague fork defines it: the bound is the
RPC's, not a consensus rule.
"""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from eth.precompiles.modexp import extract_lengths

from execution.errors import ExecutionError

MODEXP_ADDRESS = (5).to_bytes(20, "big")
# EIP-7823's upper bound on each of MODEXP's base, exponent and modulus lengths.
MAX_MODEXP_INPUT_BYTES = 1024

# ~1,000 opcodes take about a millisecond in py-evm: a stop is seen that fast,
# and the clock is read rarely enough not to slow execution down.
CHECK_EVERY_OPCODES = 1000


class AbortReason(enum.Enum):
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    GAS_BUDGET = "gas budget"
    INPUT_BOUND = "input bound"


class ExecutionAborted(ExecutionError):
    """An RPC execution was stopped by its budget; ``reason`` says which bound."""

    def __init__(self, reason: AbortReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(eq=False)  # identity: one budget per request body, kept in sets
class ExecutionBudget:
    """Gas and wall time for the executions of one request body (see the module doc)."""

    gas_cap: int
    gas_left: int
    deadline: float  # time.monotonic() value
    timeout_s: float  # only for messages
    _cancelled: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, *, gas_cap: int, total_gas: int, timeout_s: float) -> "ExecutionBudget":
        return cls(gas_cap, total_gas, time.monotonic() + timeout_s, timeout_s)

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def remaining_s(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def check(self) -> None:
        """Raise ``ExecutionAborted`` if the body must stop now."""
        # the deadline first: past it, a cancel (the body's backstop) is a timeout too
        if time.monotonic() > self.deadline:
            raise ExecutionAborted(
                AbortReason.TIMEOUT, f"execution timeout: the request exceeded {self.timeout_s:g}s of execution"
            )
        if self._cancelled.is_set():
            raise ExecutionAborted(AbortReason.CANCELLED, "execution cancelled: the request was abandoned or the node is stopping")
        if self.gas_left <= 0:
            raise ExecutionAborted(
                AbortReason.GAS_BUDGET, "gas budget exhausted: the request's calls used all the gas allowed for one request"
            )

    def gas_for(self, requested: int) -> int:
        """The gas limit one execution gets: ``requested``, at most the cap."""
        self.check()
        return min(requested, self.gas_cap)

    def charge(self, gas_used: int) -> None:
        with self._lock:  # executions of one batch may run in different workers
            self.gas_left -= gas_used


def bounded_computation_class(base: type[Any], budget: ExecutionBudget) -> type[Any]:
    """A subclass of the computation class ``base`` that obeys ``budget``.

    py-evm creates child computations (CALL, CREATE) with the class of their
    parent, so the bound holds at every depth.
    """
    counter = [CHECK_EVERY_OPCODES]

    def consume_gas(self: Any, amount: int, reason: str) -> None:
        counter[0] -= 1
        if counter[0] <= 0:
            counter[0] = CHECK_EVERY_OPCODES
            budget.check()
        base.consume_gas(self, amount, reason)

    precompiles = dict(base._precompiles)
    if MODEXP_ADDRESS in precompiles:
        precompiles[MODEXP_ADDRESS] = _bounded_modexp(precompiles[MODEXP_ADDRESS])
    return type(
        f"Bounded{base.__name__}", (base,), {"consume_gas": consume_gas, "_precompiles": precompiles}
    )


def _bounded_modexp(modexp: Any) -> Any:
    """MODEXP that refuses (with ExecutionAborted) inputs over EIP-7823's bound."""

    def bounded(computation: Any) -> Any:
        lengths = extract_lengths(computation.msg.data_as_bytes)
        if max(lengths) > MAX_MODEXP_INPUT_BYTES:
            base, exponent, modulus = lengths
            raise ExecutionAborted(
                AbortReason.INPUT_BOUND,
                f"MODEXP input lengths (base {base}, exponent {exponent}, modulus {modulus} bytes) exceed the RPC "
                f"bound of {MAX_MODEXP_INPUT_BYTES} bytes each (EIP-7823); blocks still run it",
            )
        return modexp(computation)

    return bounded


__all__ = [
    "CHECK_EVERY_OPCODES",
    "MAX_MODEXP_INPUT_BYTES",
    "AbortReason",
    "ExecutionAborted",
    "ExecutionBudget",
    "bounded_computation_class",
]

"""``eth_call`` and ``eth_estimateGas`` on a committed block's state.

``tx_fields`` (all optional except as noted; addresses are 20-byte ``bytes``):

* ``from``: sender (default the zero address),
* ``to``: callee, ``None``/absent for contract creation,
* ``gas``: gas limit (default: the block gas limit),
* ``gas_price`` (or ``max_fee_per_gas``): if given and non-zero the sender
  must afford ``gas * price``, as in geth; default 0,
* ``value`` (default 0), ``data`` (default ``b""``), ``nonce`` (default: the
  sender's current nonce).

The call runs as the next block would (number + 1, same timestamp, same gas
limit) but with base fee 0, on an ``Overlay`` that is thrown away: it never
changes the chain. A revert raises ``CallError`` with the revert payload in
``revert_data``; another EVM failure raises ``CallError`` with empty
``revert_data``; an invalid call (nonce, funds, initcode above the EIP-3860
limit) raises ``InvalidCall``, a ``CallError``.

With a ``budget`` (``execution/budget.py``; JSON-RPC always passes one) every
execution gets at most the budget's gas cap, its gas used is charged to the
budget, and the EVM stops with ``ExecutionAborted`` at the budget's deadline
or on cancellation.
"""

from __future__ import annotations

from typing import Any, Protocol

from eth.abc import AtomicDatabaseAPI, BlockHeaderAPI, ComputationAPI, StateAPI, VirtualMachineAPI
from eth.exceptions import Revert
from eth.vm.spoof import SpoofTransaction
from eth_utils import ValidationError

from execution.budget import ExecutionBudget, bounded_computation_class
from execution.errors import CallError, InvalidCall, TransactionFailed, truncate
from execution.vm import calldata_floor
from execution.db import Overlay



class CallHost(Protocol):
    """What a call needs of the chain (``PlumeChain`` is one): declared, not
    imported, so this module and ``execution.chain`` do not import each other."""

    chain_view: AtomicDatabaseAPI
    vm_class: Any

    def get_header(self, number: int | None = None) -> BlockHeaderAPI: ...

    def child_header(
        self, parent: BlockHeaderAPI, *, timestamp: int, coinbase: bytes, extra_data: bytes
    ) -> BlockHeaderAPI: ...

    def new_vm(self, header: BlockHeaderAPI, db: AtomicDatabaseAPI) -> VirtualMachineAPI: ...

ZERO_ADDRESS = b"\x00" * 20
# the tolerance of the gas search: estimates are exact to within this much gas
ESTIMATE_TOLERANCE = 1


def _state_for_call(chain: CallHost, at_block: int | None, budget: ExecutionBudget | None) -> StateAPI:
    parent = chain.get_header(at_block)
    template = chain.child_header(
        parent, timestamp=parent.timestamp, coinbase=ZERO_ADDRESS, extra_data=b"\x00" * 32
    ).copy(base_fee_per_gas=0)
    vm = chain.new_vm(template, Overlay(chain.chain_view))
    state = vm.state
    if budget is not None:
        # an instance attribute: only this throwaway state runs bounded
        state.computation_class = bounded_computation_class(state.computation_class, budget)
    return state


def _gas_limit(state: StateAPI, f: dict[str, Any], budget: ExecutionBudget | None) -> int:
    """The call's gas: as asked (default the block gas limit), at most the budget's cap."""
    requested = int(f.get("gas") or state.gas_limit)
    return requested if budget is None else budget.gas_for(requested)


def _spoof(state: StateAPI, chain: CallHost, f: dict[str, Any], gas: int) -> Any:
    unknown = set(f) - {"from", "to", "gas", "gas_price", "max_fee_per_gas",
                        "max_priority_fee_per_gas", "value", "data", "nonce"}
    if unknown:
        raise CallError(f"unknown call fields: {', '.join(sorted(unknown))}")
    sender = f.get("from") or ZERO_ADDRESS
    to = f.get("to") or b""
    for name, addr in (("from", sender), ("to", to)):
        if type(addr) is not bytes or len(addr) not in ((20,) if name == "from" else (0, 20)):
            raise CallError(f"call field '{name}' must be a 20-byte address")
    price = f.get("gas_price")
    if price is None:
        price = f.get("max_fee_per_gas", 0)
    nonce = f.get("nonce")
    if nonce is None:
        nonce = state.get_nonce(sender)
    unsigned = chain.vm_class.create_unsigned_transaction(
        nonce=nonce,
        gas_price=int(price),
        gas=gas,
        to=to,
        value=int(f.get("value", 0)),
        data=bytes(f.get("data", b"")),
    )
    return SpoofTransaction(unsigned, from_=sender)


def _run(state: StateAPI, tx: Any, budget: ExecutionBudget | None) -> ComputationAPI:
    if budget is not None:
        budget.check()
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(tx)
    except ValidationError as exc:  # refused before executing (e.g. EIP-3860 initcode size)
        raise InvalidCall(f"invalid call: {truncate(str(exc))}") from exc
    except TransactionFailed as exc:  # the VM blew up half-way; the snapshot is reverted
        raise CallError(str(exc)) from exc
    finally:
        state.revert(snapshot)
    if budget is not None:
        budget.charge(tx.gas - computation.get_gas_remaining())
    return computation


def _raise_for(computation: ComputationAPI) -> None:
    if computation.is_error:
        err = computation.error
        if isinstance(err, Revert):
            raise CallError("execution reverted", revert_data=bytes(computation.output))
        raise CallError(f"execution failed: {type(err).__name__}: {err}")


def call(
    chain: CallHost,
    tx_fields: dict[str, Any],
    at_block: int | None = None,
    budget: ExecutionBudget | None = None,
) -> bytes:
    """Run a call on the state after ``at_block`` (head if None); return its output."""
    state = _state_for_call(chain, at_block, budget)
    computation = _run(state, _spoof(state, chain, tx_fields, _gas_limit(state, tx_fields, budget)), budget)
    _raise_for(computation)
    return bytes(computation.output)


def estimate_gas(
    chain: CallHost,
    tx_fields: dict[str, Any],
    at_block: int | None = None,
    budget: ExecutionBudget | None = None,
) -> int:
    """Smallest gas limit with which the call succeeds (binary search, exact).

    Raises ``CallError`` if it fails even with the cap (``tx_fields['gas']`` or
    the block gas limit, at most the budget's cap); a revert carries its payload.
    """
    state = _state_for_call(chain, at_block, budget)
    cap = _gas_limit(state, tx_fields, budget)
    top = _run(state, _spoof(state, chain, tx_fields, gas=cap), budget)
    _raise_for(top)
    # a successful run's gas used is a lower bound (refunds aside), so search from it
    # below the intrinsic gas or the EIP-7623 floor a call is invalid, not failing
    capped = _spoof(state, chain, tx_fields, gas=cap)
    lo = max(capped.intrinsic_gas, calldata_floor(capped)) - 1
    hi = cap
    used = cap - top.get_gas_remaining()
    if used > lo and used <= cap:
        probe = _run(state, _spoof(state, chain, tx_fields, gas=used), budget)
        if not probe.is_error:
            hi = used
        else:
            lo = used
    while hi - lo > ESTIMATE_TOLERANCE:
        mid = (lo + hi) // 2
        if _run(state, _spoof(state, chain, tx_fields, gas=mid), budget).is_error:
            lo = mid
        else:
            hi = mid
    return hi

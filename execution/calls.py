"""``eth_call``, ``eth_estimateGas`` and ``eth_createAccessList`` on a committed block's state.

``tx_fields`` (all optional except as noted; addresses are 20-byte ``bytes``):

* ``from``: sender (default the zero address),
* ``to``: callee, ``None``/absent for contract creation,
* ``gas``: gas limit (default: the block gas limit),
* ``gas_price`` (or ``max_fee_per_gas``): if given and non-zero the sender
  must afford ``gas * price``, as in geth; default 0,
* ``value`` (default 0), ``data`` (default ``b""``), ``nonce`` (default: the
  sender's current nonce),
* ``access_list``: ``((address, (slot, ...)), ...)``; when given the call runs
  as an EIP-2930 transaction (access list gas charged, entries pre-warmed).

``create_access_list`` finds the access list of a call as geth does.

The call runs as the next block would (number + 1, same timestamp, same gas
limit) but with base fee 0, on an ``Overlay`` that is thrown away: it never
changes the chain. A failure raises ``CallError`` with its ``kind``: a
revert (``CallFailure.REVERTED``, the payload in ``revert_data``), another
EVM halt (``VM_ERROR``, named as geth names it), py-evm blowing up
(``INTERNAL``, logged); a call refused before executing (nonce, funds,
intrinsic gas, initcode above the EIP-3860 limit) raises ``InvalidCall``
(``INVALID``, with its ``CallRule``). Messages are the node's own words:
py-evm's exception text goes to the debug log only.

With a ``budget`` (``execution/budget.py``; JSON-RPC always passes one) every
execution gets at most the budget's gas cap, its gas used is charged to the
budget, and the EVM stops with ``ExecutionAborted`` at the budget's deadline
or on cancellation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from eth.abc import AtomicDatabaseAPI, BlockHeaderAPI, ComputationAPI, StateAPI, VirtualMachineAPI
from eth.exceptions import (
    ContractCreationCollision,
    FullStack,
    InsufficientFunds,
    InsufficientStack,
    InvalidInstruction,
    InvalidJumpDestination,
    OutOfBoundsRead,
    OutOfGas,
    ReservedBytesInCode,
    Revert,
    StackDepthLimit,
    VMError,
    WriteProtection,
)
from eth._utils.address import generate_contract_address
from eth.vm.spoof import SpoofTransaction
from eth_utils import ValidationError

from execution.budget import ExecutionBudget, bounded_computation_class
from execution.errors import CallError, CallFailure, CallRule, InvalidCall, InvalidTransaction, TransactionFailed, describe, truncate
from execution.vm import DeployDenied, calldata_floor
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

log = logging.getLogger("plume.execution")

ZERO_ADDRESS = b"\x00" * 20
# EIP-2681: an account whose nonce is 2**64 - 1 can send nothing more.
MAX_NONCE = 2**64 - 1
# the tolerance of the gas search: estimates are exact to within this much gas
ESTIMATE_TOLERANCE = 1


def call_state(chain: CallHost, at_block: int | None, budget: ExecutionBudget | None) -> StateAPI:
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


def call_gas_limit(state: StateAPI, f: dict[str, Any], budget: ExecutionBudget | None) -> int:
    """The call's gas: as asked (default the block gas limit), at most the budget's cap."""
    requested = int(f.get("gas") or state.gas_limit)
    return requested if budget is None else budget.gas_for(requested)


def call_transaction(state: StateAPI, chain: CallHost, f: dict[str, Any], gas: int) -> Any:
    unknown = set(f) - {"from", "to", "gas", "gas_price", "max_fee_per_gas",
                        "max_priority_fee_per_gas", "value", "data", "nonce", "access_list"}
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
    fields = dict(nonce=nonce, gas_price=int(price), gas=gas, to=to, value=int(f.get("value", 0)),
                  data=bytes(f.get("data", b"")))
    access_list = f.get("access_list")
    if access_list is None:
        unsigned = chain.vm_class.create_unsigned_transaction(**fields)
    else:
        # an EIP-2930 transaction: its access list is charged and pre-warmed as in a block
        unsigned = chain.vm_class.get_transaction_builder().new_unsigned_access_list_transaction(
            chain_id=state.execution_context.chain_id, access_list=access_list, **fields
        )
    return SpoofTransaction(unsigned, from_=sender)


def precheck(state: StateAPI, tx: Any) -> None:
    """py-evm's own pre-execution checks, made first so the refusal is in the
    node's words (py-evm's messages print addresses as Python bytes)."""
    sender = tx.sender
    have = state.get_balance(sender)
    cost = tx.gas * tx.gas_price + tx.value
    if have < cost:
        raise InvalidCall(
            f"insufficient funds for gas * price + value: address 0x{sender.hex()} has {have}, needs {cost}",
            CallRule.INSUFFICIENT_FUNDS,
        )
    nonce = state.get_nonce(sender)
    if nonce >= MAX_NONCE:
        raise InvalidCall(f"nonce has max value: address 0x{sender.hex()} has nonce {nonce} (EIP-2681)")
    if tx.nonce != nonce:
        rule = CallRule.NONCE_TOO_LOW if tx.nonce < nonce else CallRule.NONCE_TOO_HIGH
        raise InvalidCall(f"{rule.value}: address 0x{sender.hex()} has nonce {nonce}, the call has {tx.nonce}", rule)


def apply_call(state: StateAPI, tx: Any, budget: ExecutionBudget | None) -> ComputationAPI:
    """Apply ``tx`` to ``state`` (kept: the caller snapshots if it must undo),
    charging its gas to ``budget``. Raises ``InvalidCall`` if it is refused."""
    if budget is not None:
        budget.check()
    precheck(state, tx)
    try:
        computation = state.apply_transaction(tx)
    except InvalidTransaction as exc:  # a Plume rule, in the node's words (e.g. EIP-3860 initcode size)
        raise InvalidCall(f"invalid call: {truncate(str(exc))}") from exc
    except ValidationError as exc:  # py-evm's own check: its text is not for clients
        log.debug("call refused by py-evm: %s", describe(exc))
        raise InvalidCall("invalid call: refused by the transaction validity checks") from exc
    except TransactionFailed as exc:  # the VM blew up half-way (a py-evm bug)
        log.warning("RPC execution failed unexpectedly: %s", exc)
        raise CallError("execution failed: internal error in the EVM (logged by the node)",
                        kind=CallFailure.INTERNAL) from exc
    if budget is not None:
        budget.charge(tx.gas - computation.get_gas_remaining())
    return computation


def run_call(state: StateAPI, tx: Any, budget: ExecutionBudget | None) -> ComputationAPI:
    """Apply ``tx`` and undo its changes: for executions that must leave no trace."""
    snapshot = state.snapshot()
    try:
        return apply_call(state, tx, budget)
    finally:
        state.revert(snapshot)


# An EVM exceptional halt in the words geth uses for it (clients match some of them).
_VM_ERROR_WORDS: tuple[tuple[type[VMError], str], ...] = (
    (OutOfGas, "out of gas"),
    (InsufficientStack, "stack underflow"),
    (FullStack, "stack limit reached"),
    (InvalidJumpDestination, "invalid jump destination"),
    (InvalidInstruction, "invalid opcode"),
    (WriteProtection, "write protection"),
    (StackDepthLimit, "max call depth exceeded"),
    (InsufficientFunds, "insufficient balance for transfer"),
    (ContractCreationCollision, "contract address collision"),
    (OutOfBoundsRead, "return data out of bounds"),
    (ReservedBytesInCode, "invalid code: must not begin with 0xef"),
)


def vm_error_words(err: BaseException) -> str:
    """What an EVM exceptional halt is called, without py-evm's text (a deploy-list refusal names
    the origin: its text is ours, built from a 20-byte address)."""
    if isinstance(err, DeployDenied):
        return f"permission denied: {truncate(str(err))}"
    for kind, words in _VM_ERROR_WORDS:
        if isinstance(err, kind):
            return words
    return "execution failed"


def call_error(computation: ComputationAPI) -> CallError | None:
    """The failure of a finished computation as a ``CallError``, or None if it succeeded."""
    if not computation.is_error:
        return None
    err = computation.error
    if isinstance(err, Revert):
        return CallError("execution reverted", revert_data=bytes(computation.output), kind=CallFailure.REVERTED)
    return CallError(vm_error_words(err), kind=CallFailure.VM_ERROR)


def raise_for(computation: ComputationAPI) -> None:
    failure = call_error(computation)
    if failure is not None:
        raise failure


def call(
    chain: CallHost,
    tx_fields: dict[str, Any],
    at_block: int | None = None,
    budget: ExecutionBudget | None = None,
) -> bytes:
    """Run a call on the state after ``at_block`` (head if None); return its output."""
    state = call_state(chain, at_block, budget)
    computation = run_call(state, call_transaction(state, chain, tx_fields, call_gas_limit(state, tx_fields, budget)), budget)
    raise_for(computation)
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
    state = call_state(chain, at_block, budget)
    cap = call_gas_limit(state, tx_fields, budget)
    top = run_call(state, call_transaction(state, chain, tx_fields, gas=cap), budget)
    raise_for(top)
    # a successful run's gas used is a lower bound (refunds aside), so search from it
    # below the intrinsic gas or the EIP-7623 floor a call is invalid, not failing
    capped = call_transaction(state, chain, tx_fields, gas=cap)
    lo = max(capped.intrinsic_gas, calldata_floor(capped)) - 1
    hi = cap
    used = cap - top.get_gas_remaining()
    if used > lo and used <= cap:
        probe = run_call(state, call_transaction(state, chain, tx_fields, gas=used), budget)
        if not probe.is_error:
            hi = used
        else:
            lo = used
    while hi - lo > ESTIMATE_TOLERANCE:
        mid = (lo + hi) // 2
        if run_call(state, call_transaction(state, chain, tx_fields, gas=mid), budget).is_error:
            lo = mid
        else:
            hi = mid
    return hi


# ---------------------------------------------------------------- access lists

# geth repeats the call with the access list found so far until it stops
# changing; each round is a full execution charged to the budget. A call whose
# list still changes after this many rounds is answered with the last one.
MAX_ACCESS_LIST_ROUNDS = 8

AccessList = tuple[tuple[bytes, tuple[int, ...]], ...]


@dataclass(frozen=True)
class AccessListResult:
    """``eth_createAccessList``'s answer: the list, the gas the call uses with
    it, and how the call failed with it (None if it succeeded)."""

    access_list: AccessList
    gas_used: int
    error: CallError | None


class _AccessRecorder:
    """Every address and storage slot an execution marks warm (EIP-2929), in
    first-touch order, including those of frames that revert (as geth's tracer).

    It wraps the state's public ``mark_address_warm``/``mark_storage_warm``,
    which both py-evm's transaction executor and its opcodes call."""

    def __init__(self, state: StateAPI) -> None:
        self.state = state
        self.addresses: dict[bytes, None] = {}
        self.slots: dict[bytes, dict[int, None]] = {}

    def __enter__(self) -> "_AccessRecorder":
        mark_address, mark_slot = self.state.mark_address_warm, self.state.mark_storage_warm

        def address_warm(address: bytes) -> None:
            self.addresses.setdefault(address, None)
            mark_address(address)

        def slot_warm(address: bytes, slot: int) -> None:
            self.slots.setdefault(address, {}).setdefault(slot, None)
            mark_slot(address, slot)

        self.state.mark_address_warm = address_warm  # type: ignore[method-assign]
        self.state.mark_storage_warm = slot_warm  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        del self.state.mark_address_warm, self.state.mark_storage_warm  # back to the class's methods

    def access_list(self, excluded: set[bytes]) -> AccessList:
        """Every touched address with its slots; an address in ``excluded``
        (sender, recipient, precompiles: warm anyway) only if it has slots."""
        out = []
        for address in dict.fromkeys([*self.addresses, *self.slots]):
            slots = tuple(self.slots.get(address, ()))
            if slots or address not in excluded:
                out.append((address, slots))
        return tuple(out)


def _same_list(a: AccessList, b: AccessList) -> bool:
    return {addr: frozenset(slots) for addr, slots in a} == {addr: frozenset(slots) for addr, slots in b}


def gas_used_by(tx: Any, computation: ComputationAPI) -> int:
    """What the call is charged: gas used less the capped refund (EIP-3529), at least the EIP-7623 floor."""
    used = tx.gas - computation.get_gas_remaining()
    used -= min(computation.get_gas_refund(), used // 5)
    return max(used, calldata_floor(tx))


def create_access_list(
    chain: CallHost,
    tx_fields: dict[str, Any],
    at_block: int | None = None,
    budget: ExecutionBudget | None = None,
) -> AccessListResult:
    """The access list of a call, as geth's ``eth_createAccessList`` finds it.

    Run the call recording what it touches, run it again with that list, and
    so on until the list is stable (at most ``MAX_ACCESS_LIST_ROUNDS``). The
    sender, the recipient (or the created contract) and the precompiles are
    left out unless storage of theirs is read: they are warm anyway. A call
    refused before executing raises ``InvalidCall``; one that fails while
    executing is reported in the result, as geth does.
    """
    state = call_state(chain, at_block, budget)
    gas = call_gas_limit(state, tx_fields, budget)
    current: AccessList = tuple(tx_fields.get("access_list") or ())
    for _ in range(MAX_ACCESS_LIST_ROUNDS):
        tx = call_transaction(state, chain, {**tx_fields, "access_list": current}, gas)
        excluded = {tx.sender, tx.to or generate_contract_address(tx.sender, tx.nonce), state.coinbase}
        excluded.update(state.computation_class.get_precompiles())
        with _AccessRecorder(state) as recorder:
            computation = run_call(state, tx, budget)
        found = recorder.access_list(excluded)
        if _same_list(found, current):
            break
        current = found
    return AccessListResult(current, gas_used_by(tx, computation), call_error(computation))

"""``eth_simulateV1``: calls run in a sequence of simulated blocks on a throwaway state.

The blocks are built on the committed block ``at_block``, one after the
other, on one ``Overlay`` of the state database that is thrown away: nothing
reaches the chain. Each block may override its header fields
(``BlockOverrides``) and the state before its calls (``AccountOverride``);
each call sees the state the previous calls left, as transactions of a block
do.

What differs from a real block, as in geth:

* calls are not signed: ``from`` is taken as given (no signature, no check
  that it has no code); a simulated transaction's hash is keccak of the RLP
  list ``[sender, nonce, gas price, gas, to, value, data]``, and the block's
  transactions root is over those encodings;
* without ``validation`` the base fee is 0 (unless overridden), a call's
  nonce is the sender's (the given one is ignored) and its fee is what it
  says (default 0); with ``validation`` the base fee is the chain's next one,
  the nonce must match, a call without a fee pays the base fee, and the
  on-chain permission lists apply (a sender the transact list, or a creator
  the deploy list, forbids refuses the simulation: ``PERMISSION_DENIED``);
* Plume's end-of-block rules (fee split, rewards, slashing) do not run.

With ``trace_transfers`` every value transfer of a call (the call's own and
those of its inner CALLs and CREATEs, not a SELFDESTRUCT's) is reported as an
ERC-20 ``Transfer(from, to, value)`` log emitted by ``0xeeee…eeee``, in
order with the contracts' own logs, and dropped with them when its frame
reverts, as the spec asks.

Bounds: the ``ExecutionBudget`` (every call's gas at most its cap, the gas of
all calls at most its total, the deadline); the number of blocks, calls and
overrides are bounded by the RPC layer before this runs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import rlp
from eth.abc import BlockHeaderAPI, ComputationAPI, StateAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.rlp.logs import Log
from eth.rlp.receipts import Receipt
from eth_hash.auto import keccak

from execution.budget import ExecutionBudget, bounded_computation_class
from execution.calls import (
    ZERO_ADDRESS,
    CallHost,
    apply_call,
    call_error,
    call_transaction,
    gas_used_by,
)
from execution.db import Overlay
from execution.errors import CallError, CallRule, ExecutionError, InvalidCall
from execution.ordered_trie import trie_root_and_nodes_from_values
from execution.permissions import permission_denied
from execution.vm import expected_base_fee, gas_too_low, initcode_too_large


# The spec's emitter of traced value transfers, and ERC-20's Transfer event.
TRANSFER_LOG_ADDRESS = b"\xee" * 20
TRANSFER_TOPIC = int.from_bytes(keccak(b"Transfer(address,address,uint256)"), "big")


class SimulationRule(enum.Enum):
    """Why a simulation was refused as a whole; the RPC layer maps each to the
    spec's error code (-380xx)."""

    NONCE_TOO_LOW = "nonce too low"
    NONCE_TOO_HIGH = "nonce too high"
    FEE_BELOW_BASE_FEE = "fee below base fee"
    INTRINSIC_GAS = "intrinsic gas too low"
    INSUFFICIENT_FUNDS = "insufficient funds"
    BLOCK_GAS_LIMIT = "block gas limit reached"
    BLOCK_NUMBER_ORDER = "block numbers must increase"
    BLOCK_TIME_ORDER = "block timestamps must not decrease"
    INITCODE_TOO_LARGE = "initcode too large"
    PERMISSION_DENIED = "permission denied"  # the permission lists (0x…1003), with validation only
    INVALID = "invalid call"


class SimulationError(ExecutionError):
    """The simulation as a whole is refused; ``rule`` says which check failed."""

    def __init__(self, rule: SimulationRule, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class AccountOverride:
    address: bytes
    balance: int | None = None
    nonce: int | None = None
    code: bytes | None = None
    # ``state`` replaces the whole storage; ``state_diff`` sets some slots (at most one of them)
    state: tuple[tuple[int, int], ...] | None = None
    state_diff: tuple[tuple[int, int], ...] | None = None


@dataclass(frozen=True)
class BlockOverrides:
    number: int | None = None
    time: int | None = None
    gas_limit: int | None = None
    fee_recipient: bytes | None = None
    prev_randao: bytes | None = None
    base_fee: int | None = None


@dataclass(frozen=True)
class SimulatedBlockSpec:
    overrides: BlockOverrides = BlockOverrides()
    accounts: tuple[AccountOverride, ...] = ()
    calls: tuple[dict[str, Any], ...] = ()  # call fields as ``execution.calls`` takes them


@dataclass(frozen=True)
class SimulatedCall:
    sender: bytes
    encoded: bytes  # rlp([sender, nonce, gas price, gas, to, value, data]); tx_hash is its keccak
    tx_hash: bytes
    output: bytes
    gas_used: int
    logs: tuple[tuple[bytes, tuple[int, ...], bytes], ...]  # (address, topics, data)
    error: CallError | None


@dataclass(frozen=True)
class SimulatedBlock:
    header: BlockHeaderAPI
    calls: tuple[SimulatedCall, ...] = field(default=())


def simulate(
    chain: CallHost,
    blocks: tuple[SimulatedBlockSpec, ...],
    at_block: int | None,
    budget: ExecutionBudget,
    *,
    validation: bool,
    trace_transfers: bool = False,
) -> list[SimulatedBlock]:
    """Run ``blocks`` on the state after ``at_block``; one result per block."""
    parent = chain.get_header(at_block)
    db = Overlay(chain.chain_view)
    out: list[SimulatedBlock] = []
    for spec in blocks:
        budget.check()  # a block without calls runs no opcode that would check it
        template = _next_header(chain, parent, spec.overrides, validation)
        state = chain.new_vm(template, db).state
        state.computation_class = bounded_computation_class(state.computation_class, budget)
        if trace_transfers:
            state.computation_class = transfer_tracing_class(state.computation_class)
        _apply_overrides(state, spec.accounts)
        calls = _run_calls(chain, state, template, spec.calls, budget, validation)
        state.persist()
        parent = _sealed(template, state, calls)
        out.append(SimulatedBlock(parent, calls))
    return out


def transfer_tracing_class(base: type[Any]) -> type[Any]:
    """A subclass of the computation class ``base`` whose frames log the value they receive.

    A frame's computation is made after its value moved and before its first
    opcode, so the log takes its place before the frame's own logs; py-evm
    drops the logs of a frame that fails, this one with them. Children are
    made with the parent's class, so inner calls are traced too.
    """

    def __init__(self: Any, state: StateAPI, message: Any, transaction_context: Any) -> None:
        base.__init__(self, state, message, transaction_context)
        if message.should_transfer_value and message.value:
            topics = (TRANSFER_TOPIC, int.from_bytes(message.sender, "big"), int.from_bytes(message.storage_address, "big"))
            self.add_log_entry(TRANSFER_LOG_ADDRESS, topics, message.value.to_bytes(32, "big"))

    return type(f"TransferTraced{base.__name__}", (base,), {"__init__": __init__})


def _next_header(chain: CallHost, parent: BlockHeaderAPI, o: BlockOverrides, validation: bool) -> BlockHeaderAPI:
    number = parent.block_number + 1 if o.number is None else o.number
    if number <= parent.block_number:
        raise SimulationError(
            SimulationRule.BLOCK_NUMBER_ORDER,
            f"block number {number} does not follow the previous block {parent.block_number}",
        )
    timestamp = parent.timestamp + 1 if o.time is None else o.time
    if timestamp < parent.timestamp:
        raise SimulationError(
            SimulationRule.BLOCK_TIME_ORDER,
            f"block timestamp {timestamp} is before the previous block's {parent.timestamp}",
        )
    header = chain.child_header(parent, timestamp=timestamp, coinbase=o.fee_recipient or ZERO_ADDRESS, extra_data=b"")
    if o.base_fee is not None:
        base_fee = o.base_fee
    else:
        base_fee = expected_base_fee(parent, chain.vm_class.min_base_fee_per_gas) if validation else 0
    changes: dict[str, Any] = {"block_number": number, "base_fee_per_gas": base_fee}
    if o.gas_limit is not None:
        changes["gas_limit"] = o.gas_limit
    if o.prev_randao is not None:
        changes["mix_hash"] = o.prev_randao
    return header.copy(**changes)


def _apply_overrides(state: StateAPI, accounts: tuple[AccountOverride, ...]) -> None:
    for account in accounts:
        if account.balance is not None:
            state.set_balance(account.address, account.balance)
        if account.nonce is not None:
            state.set_nonce(account.address, account.nonce)
        if account.code is not None:
            state.set_code(account.address, account.code)
        if account.state is not None:
            state.delete_storage(account.address)
        for slot, value in account.state or account.state_diff or ():
            state.set_storage(account.address, slot, value)


def _run_calls(
    chain: CallHost,
    state: StateAPI,
    header: BlockHeaderAPI,
    calls: tuple[dict[str, Any], ...],
    budget: ExecutionBudget,
    validation: bool,
) -> tuple[SimulatedCall, ...]:
    out: list[SimulatedCall] = []
    used = 0
    for fields in calls:
        gas_left = header.gas_limit - used
        requested = fields.get("gas")
        if gas_left <= 0 or requested is not None and requested > gas_left:
            asked = "has no gas left" if requested is None else f"asks for {requested} gas"
            raise SimulationError(
                SimulationRule.BLOCK_GAS_LIMIT,
                f"call {len(out)} {asked}: the block has {gas_left} left of {header.gas_limit}",
            )
        gas = budget.gas_for(gas_left if requested is None else requested)
        tx = call_transaction(state, chain, _call_fields(state, header, fields, validation), gas)
        _validate(tx, header, validation)
        if validation:
            _check_permissions(state, tx)
        computation = _apply(state, tx, budget)
        gas_used = gas_used_by(tx, computation)
        used += gas_used
        out.append(_result(tx, computation, gas_used))
    return tuple(out)


def _call_fields(state: StateAPI, header: BlockHeaderAPI, fields: dict[str, Any], validation: bool) -> dict[str, Any]:
    out = dict(fields)
    if not validation:
        out.pop("nonce", None)  # as eth_call: the sender's nonce
    elif out.get("gas_price") is None and out.get("max_fee_per_gas") is None:
        out["gas_price"] = header.base_fee_per_gas
    return out


def _validate(tx: Any, header: BlockHeaderAPI, validation: bool) -> None:
    """The checks made before the EVM's own, with their simulation rule."""
    too_large = initcode_too_large(tx)
    if too_large is not None:
        raise SimulationError(SimulationRule.INITCODE_TOO_LARGE, too_large)
    too_little = gas_too_low(tx)
    if too_little is not None:
        raise SimulationError(SimulationRule.INTRINSIC_GAS, too_little)
    if tx.gas_price < header.base_fee_per_gas:
        raise SimulationError(
            SimulationRule.FEE_BELOW_BASE_FEE,
            f"max fee per gas {tx.gas_price} is below the block's base fee {header.base_fee_per_gas}",
        )


def _check_permissions(state: StateAPI, tx: Any) -> None:
    """The block rule of the permission lists, as a real block would apply it to this call."""
    denied = permission_denied(state.get_storage, tx.sender, tx.to == CREATE_CONTRACT_ADDRESS)
    if denied is not None:
        raise SimulationError(SimulationRule.PERMISSION_DENIED, str(denied))


def _apply(state: StateAPI, tx: Any, budget: ExecutionBudget) -> ComputationAPI:
    try:
        return apply_call(state, tx, budget)
    except InvalidCall as exc:
        raise SimulationError(_RULE_OF_CALL.get(exc.rule, SimulationRule.INVALID), str(exc)) from exc


def _result(tx: Any, computation: ComputationAPI, gas_used: int) -> SimulatedCall:
    error = call_error(computation)
    logs = () if error is not None else tuple(
        (bytes(address), tuple(topics), bytes(data)) for address, topics, data in computation.get_log_entries()
    )
    encoded = rlp.encode([tx.sender, tx.nonce, tx.gas_price, tx.gas, tx.to, tx.value, tx.data])
    return SimulatedCall(
        sender=tx.sender,
        encoded=encoded,
        tx_hash=keccak(encoded),
        output=bytes(computation.output),
        gas_used=gas_used,
        logs=logs,
        error=error,
    )


def _sealed(template: BlockHeaderAPI, state: StateAPI, calls: tuple[SimulatedCall, ...]) -> BlockHeaderAPI:
    """The block's header once its calls ran: gas used, roots and bloom filled in."""
    receipts, cumulative = [], 0
    for call in calls:
        cumulative += call.gas_used
        logs = [Log(address, list(topics), data) for address, topics, data in call.logs]
        receipts.append(Receipt(b"" if call.error else b"\x01", cumulative, logs))
    bloom = 0
    for receipt in receipts:
        bloom |= receipt.bloom
    tx_root, _ = trie_root_and_nodes_from_values([c.encoded for c in calls])
    receipt_root, _ = trie_root_and_nodes_from_values([rlp.encode(r) for r in receipts])
    return template.copy(
        gas_used=cumulative, state_root=state.state_root, transaction_root=tx_root,
        receipt_root=receipt_root, bloom=bloom,
    )


_RULE_OF_CALL = {
    CallRule.NONCE_TOO_LOW: SimulationRule.NONCE_TOO_LOW,
    CallRule.NONCE_TOO_HIGH: SimulationRule.NONCE_TOO_HIGH,
    CallRule.INSUFFICIENT_FUNDS: SimulationRule.INSUFFICIENT_FUNDS,
}

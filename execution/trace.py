"""Value transfers inside a committed block's transactions: re-execution with a computation walk.

Receipts show a transaction's own value and its logs, not the value that
contracts pass on in internal calls. `block_value_transfers` re-executes
the block's transactions on its parent's state (an `Overlay` thrown away:
the chain is never changed) and walks each transaction's computation tree:
every successful message below the top level that moved value from one
account to another (a CALL with value, a CREATE with an endowment) is one
`ValueTransfer`. A computation that failed takes its subtree with it (its
transfers were undone). SELFDESTRUCT balance moves are not messages and are
not reported.

This is consensus-neutral and off the consensus path: the compliance
service calls it in a worker thread on a `ChainSnapshot`, after the block
committed, and only when a rule or a subscriber needs internal transfers
(a validator runs it only if its compliance.toml asks for that). Its cost
is that of executing the block again, in the node's process
(docs/compliance.md, "Fund flows").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from execution.budget import ExecutionBudget, bounded_computation_class
from execution.db import Overlay

# Deepest call nesting walked (the EVM's own limit is 1024); deeper children are not reported.
MAX_TRACE_DEPTH = 1024


@dataclass(frozen=True)
class ValueTransfer:
    tx_index: int
    sender: bytes
    recipient: bytes
    amount: int


def block_value_transfers(chain: Any, number: int, budget: ExecutionBudget | None = None) -> tuple[ValueTransfer, ...]:
    """The internal value transfers of committed block `number`, in execution order.

    `chain` is a `PlumeChain` or a `ChainSnapshot` (get_block, get_header,
    new_vm, chain_view). With a `budget` (JSON-RPC's) the EVM stops with
    `ExecutionAborted` at its deadline or on cancellation."""
    if number < 1:
        return ()
    block = chain.get_block(number)
    parent = chain.get_header(number - 1)
    template = block.header.copy(state_root=parent.state_root, gas_used=0)
    vm = chain.new_vm(template, Overlay(chain.chain_view))
    if budget is not None:  # an instance attribute: only this throwaway state runs bounded
        vm.state.computation_class = bounded_computation_class(vm.state.computation_class, budget)
    found: list[ValueTransfer] = []
    gas_used = 0
    for index, tx in enumerate(block.transactions):
        receipt, computation = vm.apply_transaction(template.copy(gas_used=gas_used), tx)
        gas_used = receipt.gas_used
        _walk(computation, index, 0, found)
    return tuple(found)


def _walk(computation: Any, tx_index: int, depth: int, found: list[ValueTransfer]) -> None:
    if computation.is_error or depth > MAX_TRACE_DEPTH:
        return
    for child in computation.children:
        if child.is_error:
            continue
        msg = child.msg
        if msg.should_transfer_value and msg.value > 0 and msg.sender != msg.storage_address:
            found.append(ValueTransfer(tx_index, bytes(msg.sender), bytes(msg.storage_address), msg.value))
        _walk(child, tx_index, depth + 1, found)


__all__ = ["MAX_TRACE_DEPTH", "ValueTransfer", "block_value_transfers"]

"""The RPC layer's window on `execution.PlumeChain`: lookups that answer None
instead of raising, block tags resolved, call errors turned into RPC errors.

One `ChainView` serves one request: it caches receipts per block so a
getLogs or feeHistory over many transactions reads each block's receipts once.
This is the only module that calls the chain's read API, so a change there is
a change here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import rlp
from eth.abc import BlockHeaderAPI, LogAPI, ReceiptAPI
from eth.exceptions import PyEVMError
from eth_utils import ValidationError

from execution.errors import ExecutionError, NotFound
from execution.simulate import SimulationError
from staking import views as staking_views

from plume_node.rpc.errors import ServerError, execution_error, simulation_error
from plume_node.rpc.params import BlockRef

if TYPE_CHECKING:
    from execution.block import PlumeBlock
    from execution.budget import ExecutionBudget
    from execution.calls import AccessListResult
    from execution.simulate import SimulatedBlock, SimulatedBlockSpec
    from execution.chain import PlumeChain
    from execution.reads import StateView

    from plume_node.rpc.methods_eth import CallRequest


@dataclass(frozen=True)
class AccountReader:
    """Account state at one block, with the method names of py-evm's state API
    (which the mempool's `AccountState` protocol also uses)."""

    view: "StateView"

    def get_balance(self, address: bytes) -> int:
        return self.view.balance(address)

    def get_nonce(self, address: bytes) -> int:
        return self.view.nonce(address)

    def get_code(self, address: bytes) -> bytes:
        return self.view.code(address)

    def get_storage(self, address: bytes, slot: int) -> int:
        return self.view.storage(address, slot)


@dataclass(frozen=True)
class BlockState:
    """The state after one block, with that block's number and time (staking views need "now")."""

    state: AccountReader
    number: int
    timestamp: int


# What a call or estimate may raise for a client's bad or too-costly request
# (as opposed to a node bug): answered as an error, without a traceback.
_EXECUTION_FAILURES = (ExecutionError, ValidationError, PyEVMError)


class ChainView:
    def __init__(self, chain: "PlumeChain", budget: "ExecutionBudget | None" = None) -> None:
        self.chain = chain
        # bounds every call/estimate made through this view (RPC workers pass the request's)
        self.budget = budget
        self._receipts: dict[bytes, tuple[ReceiptAPI, ...]] = {}

    # -- head and blocks
    def head(self) -> BlockHeaderAPI:
        return self.chain.head

    def head_number(self) -> int:
        return self.chain.head.block_number

    def next_base_fee(self) -> int:
        return self.chain.next_base_fee()

    def block_by_number(self, number: int) -> "PlumeBlock | None":
        if number < 0 or number > self.head_number():
            return None
        try:
            return self.chain.get_block(number)
        except NotFound:
            return None

    def header_by_number(self, number: int) -> BlockHeaderAPI | None:
        if number < 0 or number > self.head_number():
            return None
        try:
            return self.chain.get_header(number)
        except NotFound:
            return None

    def block_by_hash(self, block_hash: bytes) -> "PlumeBlock | None":
        try:
            return self.chain.get_block_by_hash(block_hash)
        except NotFound:
            return None

    def header_number_by_hash(self, block_hash: bytes) -> int | None:
        try:
            return self.chain.get_header_by_hash(block_hash).block_number
        except NotFound:
            return None

    def block_size(self, blk: "PlumeBlock") -> int:
        # The size of the Ethereum block (header + txs RLP), as geth reports it.
        return len(rlp.encode(blk.block))

    def receipts(self, blk: "PlumeBlock") -> tuple[ReceiptAPI, ...]:
        cached = self._receipts.get(blk.hash)
        if cached is None:
            cached = self.chain.get_receipts(blk.number)
            self._receipts[blk.hash] = cached
        return cached

    def system_logs(self, blk: "PlumeBlock") -> tuple[LogAPI, ...]:
        """The block's end-of-block logs (they follow its transactions' logs)."""
        return self.chain.get_system_logs_by_hash(blk.hash)

    def transaction_location(self, tx_hash: bytes) -> "tuple[PlumeBlock, int] | None":
        try:
            number, index = self.chain.get_transaction_location(tx_hash)
        except NotFound:
            return None
        blk = self.block_by_number(number)
        if blk is None or index >= len(blk.transactions) or blk.transactions[index].hash != tx_hash:
            return None
        return blk, index

    # -- state
    def state_at(self, ref: BlockRef) -> AccountReader:
        number = resolve_block_number(self, ref)
        if number > self.head_number():
            raise ServerError(f"header not found: block {number} is beyond the head ({self.head_number()})")
        return AccountReader(self.chain.state_at(number))

    def block_state_at(self, ref: BlockRef) -> BlockState:
        number = self._existing(ref)
        header = self.header_by_number(number)
        if header is None:
            raise ServerError(f"header not found: block {number}")
        return BlockState(AccountReader(self.chain.state_at(number)), number, header.timestamp)

    def latest_state(self) -> AccountReader:
        return AccountReader(self.chain.state_at(None))

    def supply_at(self, ref: BlockRef) -> "tuple[int, int, staking_views.SupplyReport]":
        """(block number, genesis supply, the supply report at that block)."""
        number = resolve_block_number(self, ref)
        if number > self.head_number():
            raise ServerError(f"header not found: block {number} is beyond the head ({self.head_number()})")
        view = self.chain.state_at(number)
        return view.block_number, self.chain.genesis.total_supply, staking_views.supply(AccountReader(view))

    # -- execution without a transaction
    def _call_fields(self, request: "CallRequest") -> dict[str, Any]:
        # The nonce is not passed on: like geth, a call skips the nonce check
        # (web3.py sends the next pending nonce when it estimates gas).
        return call_fields(request, with_nonce=False)

    def simulate(
        self, blocks: "tuple[SimulatedBlockSpec, ...]", ref: BlockRef, validation: bool, trace_transfers: bool
    ) -> "list[SimulatedBlock]":
        number = self._existing(ref)
        assert self.budget is not None  # simulations only run in RPC workers, under a budget
        try:
            return self.chain.simulate(blocks, number, self.budget, validation=validation, trace_transfers=trace_transfers)
        except SimulationError as exc:
            raise simulation_error(exc) from None
        except _EXECUTION_FAILURES as exc:
            raise execution_error(exc) from None

    def call(self, request: "CallRequest", ref: BlockRef) -> bytes:
        number = self._existing(ref)
        try:
            return self.chain.call(self._call_fields(request), number, self.budget)
        except _EXECUTION_FAILURES as exc:
            raise execution_error(exc) from None

    def estimate_gas(self, request: "CallRequest", ref: BlockRef) -> int:
        number = self._existing(ref)
        try:
            return self.chain.estimate_gas(self._call_fields(request), number, self.budget)
        except _EXECUTION_FAILURES as exc:
            raise execution_error(exc) from None

    def create_access_list(self, request: "CallRequest", ref: BlockRef) -> "AccessListResult":
        number = self._existing(ref)
        try:
            return self.chain.create_access_list(self._call_fields(request), number, self.budget)
        except _EXECUTION_FAILURES as exc:
            raise execution_error(exc) from None

    def _existing(self, ref: BlockRef) -> int:
        number = resolve_block_number(self, ref)
        if number > self.head_number():
            raise ServerError(f"header not found: block {number} is beyond the head ({self.head_number()})")
        return number


def resolve_block_number(view: ChainView, ref: BlockRef) -> int:
    """The block number `ref` names. Every committed block is final, so
    latest = safe = finalized; pending is the head as well (the next block is
    not known before it is committed). A number may lie beyond the head; an
    unknown hash is an error."""
    if ref.hash is not None:
        number = view.header_number_by_hash(ref.hash)
        if number is None:
            raise ServerError(f"header not found: no block with hash 0x{ref.hash.hex()}")
        return number
    if ref.number is not None:
        return ref.number
    if ref.tag == "earliest":
        return 0
    return view.head_number()


def call_fields(request: "CallRequest", *, with_nonce: bool) -> dict[str, Any]:
    """A parsed call object as the execution layer's ``tx_fields``."""
    fields: dict[str, Any] = {"value": request.value, "data": request.data}
    if with_nonce and request.nonce is not None:
        fields["nonce"] = request.nonce
    for key, value in (
        ("from", request.sender),
        ("to", request.to),
        ("gas", request.gas),
        ("gas_price", request.gas_price),
        ("max_fee_per_gas", request.max_fee_per_gas),
        ("max_priority_fee_per_gas", request.max_priority_fee_per_gas),
        ("access_list", request.access_list),
    ):
        if value is not None:
            fields[key] = value
    return fields

"""Read-side of ``PlumeChain``: what JSON-RPC needs, over committed data only.

All lookups raise ``execution.errors.NotFound`` for an unknown block,
transaction or receipt. Block selectors are a block number (int) or ``None``
for the committed head. ``call``/``estimate_gas`` run on a throwaway overlay:
they never write.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from eth.abc import BlockHeaderAPI, ChainDatabaseAPI, DatabaseAPI, LogAPI, ReceiptAPI, SignedTransactionAPI
from eth.db.account import AccountDB
from eth.exceptions import HeaderNotFound, TransactionNotFound
from eth.vm.forks.prague.blocks import PragueBlock
from eth.vm.forks.prague.receipts import PragueReceiptBuilder
from eth.vm.forks.prague.transactions import PragueTransactionBuilder

from execution.block import PlumeBlock
from execution.calls import AccessListResult, call, create_access_list, estimate_gas
from execution.db import sidecar_key
from execution.errors import NotFound
from execution.proofs import AccountProof, account_proof
from execution.simulate import SimulatedBlock, SimulatedBlockSpec, simulate
from execution.sidecar import Sidecar
from execution.state_db import PlumeAccountDB
from execution.system_logs import decode_logs, system_logs_key
from staking import fees

if TYPE_CHECKING:
    from execution.budget import ExecutionBudget


@dataclass(frozen=True)
class StateView:
    """Read-only account state at one block's state root."""

    block_number: int
    state_root: bytes
    _adb: AccountDB

    def balance(self, address: bytes) -> int:
        return self._adb.get_balance(address)

    def nonce(self, address: bytes) -> int:
        return self._adb.get_nonce(address)

    def code(self, address: bytes) -> bytes:
        return self._adb.get_code(address)

    def storage(self, address: bytes, slot: int) -> int:
        return self._adb.get_storage(address, slot)

    @property
    def accounts(self) -> AccountDB:
        """The account database at this root, for readers written against py-evm's
        ``get_storage``/``get_balance`` (``staking.views``). Read only: writes
        would go nowhere, as nothing persists it."""
        return self._adb

    # the supply counters of staking/fees.py
    def total_burned(self) -> int:
        return fees.total_burned(self._adb)

    def total_supply(self) -> int:
        return fees.total_supply(self._adb)

    def total_issued(self) -> int:
        return fees.total_issued(self._adb)

    def total_slashed(self) -> int:
        return fees.total_slashed(self._adb)

    def reward_pool_balance(self) -> int:
        return fees.reward_pool_balance(self._adb)


class ChainReads:
    """Mixed into ``PlumeChain``; uses its ``chaindb``, ``exec_view`` and head.

    Declares what it reads instead of importing ``execution.chain`` (which
    imports this module): no import circle.
    """

    chaindb: ChainDatabaseAPI
    chain_view: DatabaseAPI
    exec_view: DatabaseAPI
    head: BlockHeaderAPI
    # The last block committed, the object ``PlumeChain.commit_batch`` wrote
    # (built here, or decoded from the proposer's bytes): the head is the block
    # clients ask for most, so it is never decoded again. None in a snapshot
    # and before the first commit of a process.
    head_block: PlumeBlock | None = None

    def _number(self, number: int | None) -> int:
        return self.head.block_number if number is None else number

    def get_header(self, number: int | None = None) -> BlockHeaderAPI:
        """Canonical header at ``number`` (head if None)."""
        head = self.head  # one snapshot: a commit may move it meanwhile
        n = head.block_number if number is None else number
        if n < 0 or n > head.block_number:
            raise NotFound(f"no block #{n}; the head is #{head.block_number}")
        if n == head.block_number:
            return head  # the committed head is canonical at its number; no read and decode
        try:
            return self.chaindb.get_canonical_block_header_by_number(n)
        except HeaderNotFound as exc:
            raise NotFound(f"no block #{n}") from exc

    def get_header_by_hash(self, block_hash: bytes) -> BlockHeaderAPI:
        try:
            header = self.chaindb.get_block_header_by_hash(block_hash)
        except HeaderNotFound as exc:
            raise NotFound(f"no block 0x{block_hash.hex()}") from exc
        # only committed (canonical) blocks are visible
        if header.block_number > self.head.block_number:
            raise NotFound(f"no block 0x{block_hash.hex()}")
        return header

    def get_sidecar_by_hash(self, block_hash: bytes) -> Sidecar:

        raw = self.exec_view.get(sidecar_key(block_hash))
        if raw is None:
            raise NotFound(f"no sidecar for block 0x{block_hash.hex()}")
        return Sidecar.decode(raw)

    def get_sidecar(self, number: int | None = None) -> Sidecar:
        return self.get_sidecar_by_hash(self.get_header(number).hash)

    def _block_for_header(self, header: BlockHeaderAPI) -> PlumeBlock:
        held = self.head_block
        if held is not None and held.hash == header.hash:
            return held
        txs = self.chaindb.get_block_transactions(header, PragueTransactionBuilder)
        block = PragueBlock(header, transactions=list(txs), uncles=[], withdrawals=[])
        return PlumeBlock(block, self.get_sidecar_by_hash(header.hash))

    def get_block(self, number: int | None = None) -> PlumeBlock:
        """Committed block ``number`` (head if None), with its sidecar."""
        return self._block_for_header(self.get_header(number))

    def get_block_by_hash(self, block_hash: bytes) -> PlumeBlock:
        return self._block_for_header(self.get_header_by_hash(block_hash))

    def get_receipts(self, number: int | None = None) -> tuple[ReceiptAPI, ...]:
        """Receipts of block ``number``, in transaction order.

        Receipt ``gas_used`` is cumulative (Ethereum's rule); a transaction's own
        gas is the difference with the previous receipt.
        """
        header = self.get_header(number)
        return tuple(self.chaindb.get_receipts(header, PragueReceiptBuilder))

    def get_system_logs_by_hash(self, block_hash: bytes) -> tuple[LogAPI, ...]:
        """The end-of-block logs of a committed block (execution/system_logs.py), in order."""
        raw = self.exec_view.get(system_logs_key(block_hash))
        return decode_logs(raw) if raw is not None else ()

    def get_transaction_location(self, tx_hash: bytes) -> tuple[int, int]:
        """(block number, index in block) of a committed transaction."""
        try:
            number, index = self.chaindb.get_transaction_index(tx_hash)
        except TransactionNotFound as exc:
            raise NotFound(f"no committed transaction 0x{tx_hash.hex()}") from exc
        return int(number), int(index)

    def get_transaction(self, tx_hash: bytes) -> tuple[SignedTransactionAPI, int, int]:
        """(transaction, block number, index) of a committed transaction."""
        number, index = self.get_transaction_location(tx_hash)
        tx = self.chaindb.get_transaction_by_index(number, index, PragueTransactionBuilder)
        return tx, number, index

    def get_receipt(self, tx_hash: bytes) -> tuple[ReceiptAPI, int, int]:
        """(receipt, block number, index) of a committed transaction."""
        number, index = self.get_transaction_location(tx_hash)
        receipt = self.chaindb.get_receipt_by_index(number, index, PragueReceiptBuilder)
        return receipt, number, index

    def state_at(self, number: int | None = None) -> StateView:
        """Account state after block ``number`` (head if None)."""
        header = self.get_header(number)
        return StateView(
            block_number=header.block_number,
            state_root=header.state_root,
            # read through the process's decoded-node cache (execution/state_db.py)
            _adb=PlumeAccountDB(self.chain_view, header.state_root),
        )

    def proof(self, address: bytes, slots: Sequence[int], number: int | None = None) -> AccountProof:
        """EIP-1186: ``address`` and ``slots`` proven against block ``number``'s state root."""
        return account_proof(self.chain_view, self.get_header(number).state_root, address, slots)

    # call / estimate_gas: see execution/calls.py
    # ``budget`` (execution/budget.py) bounds gas and time; JSON-RPC always passes one
    def call(
        self,
        tx_fields: dict[str, Any],
        at_block: int | None = None,
        budget: ExecutionBudget | None = None,
    ) -> bytes:
        return call(self, tx_fields, at_block, budget)

    def estimate_gas(
        self,
        tx_fields: dict[str, Any],
        at_block: int | None = None,
        budget: ExecutionBudget | None = None,
    ) -> int:
        return estimate_gas(self, tx_fields, at_block, budget)

    def create_access_list(
        self,
        tx_fields: dict[str, Any],
        at_block: int | None = None,
        budget: ExecutionBudget | None = None,
    ) -> AccessListResult:
        return create_access_list(self, tx_fields, at_block, budget)

    def simulate(
        self,
        blocks: tuple[SimulatedBlockSpec, ...],
        at_block: int | None,
        budget: ExecutionBudget,
        *,
        validation: bool,
        trace_transfers: bool = False,
    ) -> list[SimulatedBlock]:
        """eth_simulateV1: see execution/simulate.py."""
        return simulate(self, blocks, at_block, budget, validation=validation, trace_transfers=trace_transfers)

"""The Plume fork of py-evm's PragueVM: BFT header rules, base-fee floor, fee split hook.

What differs from Ethereum's Prague (and why):

* Timestamps are non-decreasing, not strictly increasing: BFT heights can be
  shorter than a second, so several blocks may share one.
* No PoW/beacon machinery: difficulty 0, nonce and mix_hash zero, no uncles, no
  seal check, ``parent_beacon_block_root`` zero, no withdrawals (empty-trie
  root), no blobs (blob gas used/excess 0), no execution-layer requests
  (``requests_hash`` = sha256 of nothing). Finality comes from the commit
  certificate, not from the header.
* ``extra_data`` is exactly 32 bytes: keccak256 of the consensus sidecar.
* ``coinbase`` is the proposer's fee address (tips go there, as in Ethereum).
* Gas limit: constant, equal to the parent's (so, to genesis).
* EIP-1559 base fee with a floor: ``max(min_base_fee_per_gas, eip1559(parent))``.
* End of block: ``staking.end_of_block.END_OF_BLOCK_HOOKS`` run in order,
  inside the state root (``PlumeChain`` runs them after the last
  transaction); the first splits ``base_fee * gas_used`` half to the staking
  reward pool, half burned.
* System contracts: the staking contract at ``0x…1000``, the governance
  contract at ``0x…1001`` and the permissions contract at ``0x…1003`` are
  precompiles (``staking/contract.py``, ``staking/governance/contract.py``,
  ``staking/permissions/contract.py``) registered in ``PlumeComputation``.
* Permissions (docs/compliance.md): while the transact list is on, a
  transaction from a sender without a role on it is invalid
  (``PermissionDenied``), and so is a contract creation by a sender without a
  role on the deploy list while that list is on; a block carrying one is
  invalid. A CREATE/CREATE2 inside a transaction whose origin is not on the
  deploy list fails (``DeployDenied``, as Subnet-EVM's deployer allowlist).
  Roles are read from the state the transaction starts on.
* Wei a SELFDESTRUCT destroys (EIP-6780: a contract created in the same
  transaction naming itself as beneficiary, or a balance a self-destructed
  account still holds when py-evm deletes it at the transaction's end) is
  counted as burned (``staking.fees.BURN_SELF_DESTRUCT``), so the supply
  counter keeps equal to the sum of all balances.
* Only legacy (EIP-155 or not), EIP-2930 and EIP-1559 transactions; blob (type 3)
  and set-code (type 4) transactions are rejected.
* Checked before execution, as the EIPs define them and py-evm does not: a
  contract creation's initcode at most 49,152 bytes (EIP-3860; py-evm raises
  ``OutOfGas`` out of the transaction half-way), and, for every type, a gas
  limit that covers the intrinsic gas (py-evm skips this for type 2, which
  then fails half-way on a negative message gas) and the EIP-7623 calldata
  floor (py-evm charges the floor after execution, past the gas limit).
  Still charged during execution, as py-evm does: the EIP-3860 initcode word
  cost (a creation short of it fails out of gas; the mempool refuses it).
* Whatever a transaction raises after validation passed is re-raised as
  ``TransactionFailed``: callers tell "invalid, nothing changed"
  (``ValidationError``) from "blew up half-way, state is dirty".

A chain gets its own configured subclass from ``make_vm_class(min_base_fee)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from eth.abc import BlockHeaderAPI, SignedTransactionAPI
from eth.exceptions import VMError
from eth.constants import (
    BLANK_ROOT_HASH,
    CREATE_CONTRACT_ADDRESS,
    EMPTY_SHA256,
    GAS_TX,
    EMPTY_UNCLE_HASH,
    POST_MERGE_DIFFICULTY,
    POST_MERGE_MIX_HASH,
    POST_MERGE_NONCE,
    ZERO_HASH32,
)
from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.blocks import PragueBlock, PragueBlockHeader
from eth.vm.forks.prague.computation import PRAGUE_PRECOMPILES, PragueComputation
from eth.vm.forks.prague.constants import STANDARD_TOKEN_COST, TOTAL_COST_FLOOR_PER_TOKEN
from eth.vm.forks.prague.state import PragueState, PragueTransactionExecutor
from eth.vm.forks.shanghai.constants import MAX_INITCODE_SIZE
from eth.vm.spoof import SpoofTransaction
from eth.exceptions import Halt
from eth.vm.forks.tangerine_whistle.constants import GAS_SELFDESTRUCT_EIP150
from eth.vm.opcode_values import SELFDESTRUCT
from eth_utils import ValidationError

from execution.budget import ExecutionAborted
from execution.errors import InvalidTransaction, TransactionFailed, describe
from execution.permissions import permission_denied
from execution.state_db import PlumeAccountDB
from execution.transactions import ALLOWED_TX_TYPES, recover_sender
from staking.addresses import GOVERNANCE_ADDRESS, PERMISSIONS_ADDRESS, STAKING_ADDRESS
from staking.contract import staking_precompile
from staking.governance.contract import governance_precompile
from staking.evidence import EvidenceVerifier
from staking.fees import BURN_SELF_DESTRUCT, record_burn
from staking.permissions.contract import permissions_precompile
from staking.permissions.roles import PermList, state_may_use

DEFAULT_MIN_BASE_FEE = 10**9  # 1 gwei

# Header fields that must hold these constant values on every Plume block.
FIXED_HEADER_FIELDS: dict[str, Any] = {
    "difficulty": POST_MERGE_DIFFICULTY,
    "nonce": POST_MERGE_NONCE,
    "mix_hash": POST_MERGE_MIX_HASH,
    "uncles_hash": EMPTY_UNCLE_HASH,
    "withdrawals_root": BLANK_ROOT_HASH,
    "blob_gas_used": 0,
    "excess_blob_gas": 0,
    "parent_beacon_block_root": ZERO_HASH32,
    "requests_hash": EMPTY_SHA256,
}


def expected_base_fee(parent: BlockHeaderAPI, min_base_fee_per_gas: int) -> int:
    """EIP-1559's update from the parent, floored at ``min_base_fee_per_gas``."""
    return max(min_base_fee_per_gas, calculate_expected_base_fee_per_gas(parent))


def initcode_too_large(transaction: SignedTransactionAPI) -> str | None:
    """Why ``transaction`` breaks the EIP-3860 initcode size limit, or None if it does not."""
    if transaction.to != CREATE_CONTRACT_ADDRESS or len(transaction.data) <= MAX_INITCODE_SIZE:
        return None
    return (
        f"initcode too large: the contract creation carries {len(transaction.data)} bytes of "
        f"initcode, the EIP-3860 limit is {MAX_INITCODE_SIZE} bytes"
    )


def calldata_floor(transaction: SignedTransactionAPI) -> int:
    """EIP-7623: the least gas a transaction with this calldata is charged."""
    zeros = transaction.data.count(0)
    tokens = zeros + (len(transaction.data) - zeros) * STANDARD_TOKEN_COST
    return GAS_TX + TOTAL_COST_FLOOR_PER_TOKEN * tokens


class DeployDenied(VMError):
    """A CREATE/CREATE2 in a transaction whose origin is not on the deploy list (the frame fails, gas burned)."""


def gas_too_low(transaction: SignedTransactionAPI) -> str | None:
    """Why the gas limit cannot pay py-evm's intrinsic gas or the EIP-7623 floor, or None.

    py-evm checks neither up front for a type 2 transaction (it buys the gas,
    bumps the nonce, then fails on a negative message gas), and charges the
    floor only at the end, beyond the gas limit if need be (a sender's balance
    can go negative, a block's gas used past its limit). EIP-7623 makes such a
    transaction invalid, as Plume does.
    """
    intrinsic, floor = transaction.intrinsic_gas, calldata_floor(transaction)
    if transaction.gas >= max(intrinsic, floor):
        return None
    return (
        f"intrinsic gas too low: gas limit {transaction.gas}, the tx needs at least "
        f"{max(intrinsic, floor)} (intrinsic gas {intrinsic}, EIP-7623 calldata floor {floor})"
    )


class PlumeTransactionExecutor(PragueTransactionExecutor):
    def __call__(self, transaction: SignedTransactionAPI) -> Any:
        # py-evm's BaseTransactionExecutor.__call__, with the line between the
        # two kinds of failure drawn: validation changes nothing; past it, any
        # exception leaves a half-applied transaction behind.
        self.validate_transaction(transaction)
        try:
            message = self.build_evm_message(transaction)
            computation = self.build_computation(message, transaction)
            return self.finalize_computation(transaction, computation)
        except ExecutionAborted:
            raise  # an RPC budget stopped it: the caller reports the bound, not a failure
        except Exception as exc:
            raise TransactionFailed(f"transaction failed after validation: {describe(exc)}") from exc

    def validate_transaction(self, transaction: SignedTransactionAPI) -> None:
        type_id = getattr(transaction, "type_id", None) or 0
        if type_id not in ALLOWED_TX_TYPES:
            raise InvalidTransaction(f"transaction type {type_id} is not supported on Plume")
        # py-evm never compares a transaction's chain id with the chain's: without
        # this check a transaction signed for another chain would replay here.
        # Legacy transactions without EIP-155 (chain_id None) stay valid, as on Ethereum.
        tx_chain_id = getattr(transaction, "chain_id", None)
        chain_id = self.vm_state.execution_context.chain_id
        if tx_chain_id is not None and tx_chain_id != chain_id:
            raise InvalidTransaction(
                f"transaction is signed for chain id {tx_chain_id}, this chain is {chain_id}"
            )
        # Fills the tx's cached sender from the process-wide sender cache, so a
        # transaction whose signature was already recovered (mempool, build)
        # is not recovered again.
        if not isinstance(transaction, SpoofTransaction):  # eth_call has no signature
            recover_sender(transaction)
            # The consensus rule of the permission lists; eth_call/estimateGas change
            # nothing, so they are not refused (a creation there still fails below).
            denied = permission_denied(
                self.vm_state.get_storage, transaction.sender, transaction.to == CREATE_CONTRACT_ADDRESS
            )
            if denied is not None:
                raise denied
        # EIP-3860 makes such a transaction invalid; py-evm only notices while
        # executing it, and raises OutOfGas out of the transaction.
        too_large = initcode_too_large(transaction)
        if too_large is not None:
            raise InvalidTransaction(too_large)
        too_little = gas_too_low(transaction)
        if too_little is not None:
            raise InvalidTransaction(too_little)
        super().validate_transaction(transaction)


class BurnCountingSelfDestruct:
    """Prague's SELFDESTRUCT, counting the wei it destroys as burned (``fees.BURN_SELF_DESTRUCT``).

    Under EIP-6780 a contract created in the same transaction that names itself
    as beneficiary destroys its balance (py-evm zeroes it at the opcode); any
    other SELFDESTRUCT moves the balance to the beneficiary (a pre-existing
    contract naming itself keeps it). The counter is written into the state
    like any other change, so a reverted frame takes it back with the rest.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner  # py-evm's opcode (a deprecation wrapper: it charges its own gas)
        self.mnemonic = "SELFDESTRUCT"
        self.gas_cost = GAS_SELFDESTRUCT_EIP150

    def __call__(self, computation: Any) -> None:
        contract = computation.msg.storage_address
        before = computation.state.get_balance(contract)
        try:
            self.inner(computation)
        except Halt:
            destroyed = contract in computation.accounts_to_delete and computation.beneficiaries[-1] == contract
            if destroyed:
                record_burn(computation.state, before, BURN_SELF_DESTRUCT)
            raise


class PlumeComputation(PragueComputation):
    """Prague's computation with the system contracts registered as precompiles, and
    SELFDESTRUCT counting the wei it destroys."""

    opcodes = {
        **PragueComputation.opcodes,
        SELFDESTRUCT: BurnCountingSelfDestruct(PragueComputation.opcodes[SELFDESTRUCT]),
    }
    _precompiles = {
        **PRAGUE_PRECOMPILES,
        STAKING_ADDRESS: staking_precompile,
        GOVERNANCE_ADDRESS: governance_precompile,
        PERMISSIONS_ADDRESS: permissions_precompile,
    }
    # The node's double-sign evidence verifier (staking/evidence.py) for
    # ``submitEvidence``; set per chain by make_vm_class, None in a bare chain.
    evidence_verifier: ClassVar[EvidenceVerifier | None] = None

    @classmethod
    def apply_create_message(
        cls, state: Any, message: Any, transaction_context: Any, parent_computation: Any = None
    ) -> Any:
        """Every contract creation, top-level or CREATE/CREATE2, checks the transaction's
        origin against the deploy list (Subnet-EVM's rule): a factory cannot launder it.
        The verdict is the one taken when the transaction started (``PlumeState.
        get_transaction_context``): a role set earlier in the same transaction does not count."""
        origin = transaction_context.origin
        if not deploy_allowed(state, transaction_context):
            computation = cls(state, message, transaction_context)
            computation.error = DeployDenied(f"0x{origin.hex()} is not on the deploy list")
            return computation
        return super().apply_create_message(state, message, transaction_context, parent_computation)


class PlumeTransactionContext(PragueState.transaction_context_class):  # type: ignore[misc,name-defined]
    """Prague's transaction context, plus the origin's deploy-list verdict at the transaction's start."""

    __slots__ = ["deploy_allowed"]


def deploy_allowed(state: Any, transaction_context: Any) -> bool:
    """The origin's deploy verdict recorded at the transaction's start; read now only for a context
    built outside ``PlumeState.get_transaction_context`` (none is, in the node)."""
    recorded = getattr(transaction_context, "deploy_allowed", None)
    if recorded is None:
        return state_may_use(state.get_storage, PermList.DEPLOY, transaction_context.origin)
    return recorded


class PlumeState(PragueState):
    account_db_class = PlumeAccountDB  # per-block trie update, cached trie nodes (execution/state_db.py)
    computation_class = PlumeComputation
    transaction_executor_class = PlumeTransactionExecutor
    transaction_context_class = PlumeTransactionContext

    def get_transaction_context(self, transaction: Any) -> Any:
        """Built after validation and before any code runs: the deploy list is read here, once per
        transaction, so a CREATE deep in it sees the roles the transaction started with."""
        context = super().get_transaction_context(transaction)
        context.deploy_allowed = state_may_use(self.get_storage, PermList.DEPLOY, context.origin)
        return context

    def delete_account(self, address: bytes) -> None:
        """py-evm deletes the accounts a transaction self-destructed at its end (and empty
        touched ones, EIP-161): a balance such an account still holds (wei it received
        after its SELFDESTRUCT in the same transaction) is destroyed and counted burned."""
        destroyed = self.get_balance(address)
        super().delete_account(address)
        record_burn(self, destroyed, BURN_SELF_DESTRUCT)


class PlumeVM(PragueVM):
    fork = "plume-prague"
    block_class = PragueBlock
    _state_class = PlumeState
    extra_data_max_bytes = 32
    min_base_fee_per_gas: ClassVar[int] = DEFAULT_MIN_BASE_FEE

    @classmethod
    def validate_header(cls, header: BlockHeaderAPI, parent_header: BlockHeaderAPI) -> None:
        """All Plume header rules that can be checked from the header and its parent."""
        problems = header_problems(header, parent_header, cls.min_base_fee_per_gas)
        if problems:
            raise ValidationError("; ".join(problems))

    def validate_seal(self, header: BlockHeaderAPI) -> None:
        # No seal: the commit certificate is the proof of finality.
        return None

    def validate_seal_extension(self, header: BlockHeaderAPI, parents: Any) -> None:
        return None


def header_problems(
    header: BlockHeaderAPI, parent: BlockHeaderAPI, min_base_fee_per_gas: int
) -> list[str]:
    """Every way ``header`` breaks a Plume header rule against ``parent`` (empty if none)."""
    out: list[str] = []
    if not isinstance(header, PragueBlockHeader):
        return [f"header must be a Prague header, got {type(header).__name__}"]
    if header.parent_hash != parent.hash:
        out.append(f"parent hash 0x{header.parent_hash.hex()} is not 0x{parent.hash.hex()}")
    if header.block_number != parent.block_number + 1:
        out.append(f"block number {header.block_number} does not follow {parent.block_number}")
    if header.timestamp < parent.timestamp:
        out.append(
            f"timestamp {header.timestamp} is before the parent's {parent.timestamp} "
            "(Plume timestamps must not decrease)"
        )
    if header.gas_limit != parent.gas_limit:
        out.append(f"gas limit {header.gas_limit} differs from the constant {parent.gas_limit}")
    if header.gas_used > header.gas_limit:
        out.append(f"gas used {header.gas_used} exceeds the gas limit {header.gas_limit}")
    want_fee = expected_base_fee(parent, min_base_fee_per_gas)
    if header.base_fee_per_gas != want_fee:
        out.append(f"base fee {header.base_fee_per_gas} is not the expected {want_fee}")
    if len(header.extra_data) != 32:
        out.append(f"extra_data must be the 32-byte sidecar hash, has {len(header.extra_data)} bytes")
    for name, value in FIXED_HEADER_FIELDS.items():
        if getattr(header, name) != value:
            out.append(f"{name} must be {value!r}, got {getattr(header, name)!r}")
    return out


def make_vm_class(min_base_fee_per_gas: int, evidence_verifier: EvidenceVerifier | None = None) -> type[PlumeVM]:
    """The PlumeVM configured with a chain's base-fee floor and evidence verifier."""
    if min_base_fee_per_gas == PlumeVM.min_base_fee_per_gas and evidence_verifier is None:
        return PlumeVM
    state_class = PlumeState
    if evidence_verifier is not None:
        computation = PlumeComputation.configure(
            __name__="PlumeComputationWithEvidence",
            evidence_verifier=staticmethod(evidence_verifier),  # a plain callable, not a method
        )
        state_class = PlumeState.configure(__name__="PlumeStateWithEvidence", computation_class=computation)
    return PlumeVM.configure(  # type: ignore[return-value]
        __name__=f"PlumeVM_minfee_{min_base_fee_per_gas}",
        min_base_fee_per_gas=min_base_fee_per_gas,
        _state_class=state_class,
    )

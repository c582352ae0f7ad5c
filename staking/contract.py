"""The system contracts' dispatch, and the staking contract at ``0x…1000``: py-evm precompiles.

``dispatch(contract, computation)`` serves every system contract (the staking
contract here, governance at ``0x…1001`` in ``staking/governance/``): py-evm
calls ``staking_precompile(computation)`` for every message to the staking
address, as it calls its own precompiles (``eth/precompiles/``).
In order, before any work:

1. the method's base gas is charged (``UNKNOWN_SELECTOR_GAS`` for a selector
   that names none);
2. a write method refuses a static call (``WriteProtection``, as SSTORE
   does) and any call whose storage address is not the contract's own (a
   DELEGATECALL or CALLCODE would otherwise write another account's storage);
3. value sent to a method that is not payable is refused;
4. calldata longer than the method's bound (``submitEvidence``) is refused;
5. the calldata is decoded strictly (padding checked).

Then the method runs on a ``Store`` that charges gas per slot. A refusal
(``StakingRevert``, or calldata that does not decode) reverts with ABI
``Error(string)``: py-evm undoes the frame's writes, value transfer included,
and keeps the gas used. Every state change emits a log (``staking/abi.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth.exceptions import Revert, WriteProtection

from staking import abi, methods
from staking.addresses import STAKING_ADDRESS
from staking.errors import StakingRevert
from staking.evidence import EvidenceVerifier
from staking.store import Store

LOG_GAS, LOG_TOPIC_GAS, LOG_DATA_GAS = 375, 375, 8  # as the LOG opcodes charge


@dataclass
class Call:
    """One call to the contract, as a method handler sees it."""

    store: Store
    state: Any  # the py-evm state (balances)
    sender: bytes
    value: int
    height: int  # of the block being built or validated
    now: int  # its timestamp
    emit: Callable[[abi.Event, tuple, tuple], None]
    verify_evidence: EvidenceVerifier | None = None  # the node's, through the VM; None in a bare chain
    charge_gas: Callable[[int, str], None] | None = None  # the call's gas meter: another contract's Store, the verifier

    def store_of(self, address: bytes) -> Store:
        """Another system contract's storage, metered on this call's gas."""
        return Store(self.state, address, self.charge_gas)


@dataclass(frozen=True)
class SystemContract:
    """What the dispatch needs of one system contract: where it lives, its methods, their handlers."""

    address: bytes
    label: str  # names it in gas and revert texts ("staking", "governance")
    methods: dict[bytes, abi.Method]  # by selector
    handlers: dict[str, Callable[..., tuple]]  # by method name


def _revert(computation: Any, reason: str) -> None:
    computation.output = abi.revert_data(reason)
    raise Revert(computation.output)


def _emitter(computation: Any, contract: SystemContract) -> Callable[[abi.Event, tuple, tuple], None]:
    def emit(event: abi.Event, indexed: tuple, data: tuple) -> None:
        topics, payload = abi.event_log(event, indexed, data)
        computation.consume_gas(LOG_GAS + LOG_TOPIC_GAS * len(topics) + LOG_DATA_GAS * len(payload), f"{contract.label} log")
        computation.add_log_entry(contract.address, topics, payload)

    return emit


def _check_call(computation: Any, contract: SystemContract, method: abi.Method) -> None:
    msg = computation.msg
    if method.writes and msg.is_static:
        raise WriteProtection(f"{contract.label}.{method.name} writes state and cannot run in a static call")
    if method.writes and msg.storage_address != contract.address:
        _revert(computation, f"{method.name} cannot be called by DELEGATECALL or CALLCODE")
    if msg.value and not method.payable:
        _revert(computation, f"{method.name} is not payable")


def dispatch(contract: SystemContract, computation: Any) -> Any:
    """Run one message to ``contract``: gas, call checks, strict decoding, then its handler."""
    data = computation.msg.data_as_bytes
    method = contract.methods.get(bytes(data[:4]))
    if method is None:
        computation.consume_gas(abi.UNKNOWN_SELECTOR_GAS, f"{contract.label}: unknown selector")
        _revert(computation, f"unknown {contract.label} method selector" if len(data) >= 4 else "calldata shorter than a selector")
    computation.consume_gas(method.base_gas, f"{contract.label}.{method.name}")
    _check_call(computation, contract, method)
    if method.max_calldata is not None and len(data) > method.max_calldata:
        _revert(computation, f"{method.name}: calldata of {len(data)} bytes is over the {method.max_calldata}-byte bound")
    try:
        args = method.decode_args(data)
    except Exception:  # eth_abi raises several types on malformed input
        _revert(computation, f"calldata does not decode as {method.signature}")
    state = computation.state
    call = Call(
        store=Store(state, contract.address, computation.consume_gas),
        state=state,
        sender=computation.msg.sender,
        value=computation.msg.value,
        height=state.block_number,
        now=state.timestamp,
        emit=_emitter(computation, contract),
        verify_evidence=getattr(computation, "evidence_verifier", None),
        charge_gas=computation.consume_gas,
    )
    try:
        result = contract.handlers[method.name](call, *args)
    except StakingRevert as exc:
        _revert(computation, exc.reason)
    computation.output = method.encode_result(result)
    return computation


STAKING_CONTRACT = SystemContract(STAKING_ADDRESS, "staking", abi.METHODS, methods.HANDLERS)


def staking_precompile(computation: Any) -> Any:
    return dispatch(STAKING_CONTRACT, computation)

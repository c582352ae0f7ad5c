"""eth_createAccessList and eth_simulateV1: executions that report more than eth_call.

Both run in a worker thread under the request's `ExecutionBudget`, as
eth_call does (`workers.py`): every execution at most `rpc.gas_cap` gas, all
executions of the body together at most `rpc.batch_gas_cap`, within
`rpc.evm_timeout_ms`. eth_simulateV1's payload is bounded before anything
runs (`MAX_SIMULATE_BLOCKS`, `MAX_SIMULATE_CALLS`, `MAX_OVERRIDE_ACCOUNTS`,
`MAX_OVERRIDE_SLOTS`, `MAX_OVERRIDE_CODE_BYTES`); past a bound the answer is
the spec's -38026 "client adjustable limit exceeded".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import rlp
from execution.errors import CallFailure
from execution.simulate import AccountOverride, BlockOverrides, SimulatedBlock, SimulatedBlockSpec

from plume_node.rpc import params as p
from plume_node.rpc.chainview import ChainView, call_fields
from plume_node.rpc.dispatch import MethodTable, Param
from plume_node.rpc.encode import addr, d, header_fields, q, word
from plume_node.rpc.errors import (
    CLIENT_LIMIT_EXCEEDED,
    VM_ERROR,
    ExecutionReverted,
    InvalidParams,
    RpcError,
)
from plume_node.rpc.methods_eth import LATEST, call_request
from plume_node.rpc.workers import OffThread

table = MethodTable()

# The spec's recommended bound on blocks (BLOCKHASH reaches 256 back).
MAX_SIMULATE_BLOCKS = 256
# calls in all blocks of one request
MAX_SIMULATE_CALLS = 1_000
# account overrides in all blocks of one request, and storage slots they set
MAX_OVERRIDE_ACCOUNTS = 1_000
MAX_OVERRIDE_SLOTS = 10_000
# code given in an override: EIP-170's limit on deployed code
MAX_OVERRIDE_CODE_BYTES = 24_576


# ---- eth_createAccessList ---------------------------------------------------


def _access_list_json(entries: Any) -> list[dict[str, Any]]:
    return [{"address": addr(a), "storageKeys": [word(k) for k in keys]} for a, keys in entries]


def _create_access_list(ctx: Any, request: Any, ref: p.BlockRef) -> dict[str, Any]:
    result = ChainView(ctx.chain, ctx.budget).create_access_list(request, ref)
    answer: dict[str, Any] = {"accessList": _access_list_json(result.access_list), "gasUsed": q(result.gas_used)}
    if result.error is not None:
        # geth: the failure of the last run, as text (the list is still given)
        answer["error"] = _call_error_json(result.error)["message"]
    return answer


@table.register(
    "eth_createAccessList", Param("transaction", call_request), Param("block", p.block_ref, LATEST)
)
def eth_create_access_list(backend: Any, request: Any, ref: p.BlockRef) -> OffThread:
    return OffThread(lambda ctx: _create_access_list(ctx, request, ref))


# ---- eth_simulateV1: parsing ------------------------------------------------


class _Counts:
    """Running totals of one payload, checked against the request bounds."""

    def __init__(self) -> None:
        self.calls = self.accounts = self.slots = 0

    def add(self, what: str, n: int, bound: int) -> None:
        total = getattr(self, what) + n
        if total > bound:
            raise RpcError(CLIENT_LIMIT_EXCEEDED, f"eth_simulateV1: more than {bound} {what} in one request")
        setattr(self, what, total)


def _object(value: Any, name: str, fields: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidParams(f"{name}: expected an object")
    unknown = sorted(set(value) - fields)
    if unknown:
        raise InvalidParams(f"{name}: unknown field(s) {p.names(unknown)}")
    return value


def _slots(value: Any, name: str, counts: _Counts) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, dict):
        raise InvalidParams(f"{name}: expected an object of 32-byte slot: 32-byte value")
    counts.add("slots", len(value), MAX_OVERRIDE_SLOTS)
    return tuple(
        (int.from_bytes(p.hash32(k, f"{name} key"), "big"), int.from_bytes(p.hash32(v, f"{name}[{k[:10]}..]"), "big"))
        for k, v in value.items()
    )


_ACCOUNT_FIELDS = {"balance", "nonce", "code", "state", "stateDiff", "movePrecompileToAddress"}


def _account_override(address: Any, value: Any, name: str, counts: _Counts) -> AccountOverride:
    where = f"{name}[{str(address)[:44]}]"
    o = _object(value, where, _ACCOUNT_FIELDS)
    if o.get("movePrecompileToAddress") is not None:
        raise InvalidParams(f"{where}.movePrecompileToAddress: moving precompiles is not supported")
    if o.get("state") is not None and o.get("stateDiff") is not None:
        raise InvalidParams(f"{where}: give state or stateDiff, not both")
    code = None if o.get("code") is None else p.data(o["code"], f"{where}.code")
    if code is not None and len(code) > MAX_OVERRIDE_CODE_BYTES:
        raise InvalidParams(f"{where}.code: {len(code)} bytes, at most {MAX_OVERRIDE_CODE_BYTES}")
    nonce = None if o.get("nonce") is None else p.quantity(o["nonce"], f"{where}.nonce")
    if nonce is not None and nonce >= 2**64:
        raise InvalidParams(f"{where}.nonce: must be below 2**64")
    return AccountOverride(
        address=p.address(address, f"{name} address"),
        balance=None if o.get("balance") is None else p.quantity(o["balance"], f"{where}.balance"),
        nonce=nonce,
        code=code,
        state=None if o.get("state") is None else _slots(o["state"], f"{where}.state", counts),
        state_diff=None if o.get("stateDiff") is None else _slots(o["stateDiff"], f"{where}.stateDiff", counts),
    )


_BLOCK_FIELDS = {"number", "time", "gasLimit", "feeRecipient", "prevRandao", "baseFeePerGas", "withdrawals", "blobBaseFee"}


def _uint64(value: Any, name: str) -> int:
    number = p.quantity(value, name)
    if number >= 2**64:
        raise InvalidParams(f"{name}: must be below 2**64 (a header field of 64 bits)")
    return number


def _block_overrides(value: Any, name: str) -> BlockOverrides:
    o = _object(value, name, _BLOCK_FIELDS)
    if o.get("withdrawals"):
        raise InvalidParams(f"{name}.withdrawals: Plume has no withdrawals")

    def opt(key: str, parse: Any) -> Any:
        return None if o.get(key) is None else parse(o[key], f"{name}.{key}")

    return BlockOverrides(
        number=opt("number", _uint64),
        time=opt("time", _uint64),
        gas_limit=opt("gasLimit", _uint64),
        fee_recipient=opt("feeRecipient", p.address),
        prev_randao=opt("prevRandao", p.hash32),
        base_fee=opt("baseFeePerGas", p.quantity),
    )


def _block_spec(value: Any, name: str, counts: _Counts) -> SimulatedBlockSpec:
    o = _object(value, name, {"blockOverrides", "stateOverrides", "calls"})
    accounts = o.get("stateOverrides") or {}
    if not isinstance(accounts, dict):
        raise InvalidParams(f"{name}.stateOverrides: expected an object of address: override")
    counts.add("accounts", len(accounts), MAX_OVERRIDE_ACCOUNTS)
    calls = o.get("calls") or []
    if not isinstance(calls, list):
        raise InvalidParams(f"{name}.calls: expected an array of call objects")
    counts.add("calls", len(calls), MAX_SIMULATE_CALLS)
    return SimulatedBlockSpec(
        overrides=_block_overrides(o.get("blockOverrides") or {}, f"{name}.blockOverrides"),
        accounts=tuple(_account_override(a, v, f"{name}.stateOverrides", counts) for a, v in accounts.items()),
        calls=tuple(
            call_fields(call_request(c, f"{name}.calls[{i}]"), with_nonce=True) for i, c in enumerate(calls)
        ),
    )


@dataclass(frozen=True)
class SimulatePayload:
    blocks: tuple[SimulatedBlockSpec, ...]
    validation: bool
    trace_transfers: bool


def _flag(o: dict[str, Any], key: str, name: str) -> bool:
    return False if o.get(key) is None else p.boolean(o[key], f"{name}.{key}")


def simulate_payload(value: Any, name: str) -> SimulatePayload:
    """An eth_simulateV1 payload, checked and bounded."""
    o = _object(value, name, {"blockStateCalls", "validation", "traceTransfers", "returnFullTransactions"})
    if o.get("returnFullTransactions"):
        raise InvalidParams(f"{name}.returnFullTransactions: only transaction hashes are returned by this node")
    blocks = o.get("blockStateCalls")
    if not isinstance(blocks, list) or not blocks:
        raise InvalidParams(f"{name}.blockStateCalls: expected a non-empty array")
    if len(blocks) > MAX_SIMULATE_BLOCKS:
        raise RpcError(CLIENT_LIMIT_EXCEEDED, f"eth_simulateV1: at most {MAX_SIMULATE_BLOCKS} blocks, got {len(blocks)}")
    counts = _Counts()
    return SimulatePayload(
        blocks=tuple(_block_spec(b, f"{name}.blockStateCalls[{i}]", counts) for i, b in enumerate(blocks)),
        validation=_flag(o, "validation", name),
        trace_transfers=_flag(o, "traceTransfers", name),
    )


# ---- eth_simulateV1: answer -------------------------------------------------


def _call_error_json(error: Any) -> dict[str, Any]:
    if error.kind is CallFailure.REVERTED:
        return ExecutionReverted(error.revert_data).to_json()
    return {"code": VM_ERROR, "message": str(error)}


def _block_json(blk: SimulatedBlock) -> dict[str, Any]:
    header = blk.header
    out = header_fields(header)
    out["size"] = q(len(rlp.encode(header)))
    out["transactions"] = [d(c.tx_hash) for c in blk.calls]
    out["uncles"] = []
    out["withdrawals"] = []
    out["calls"], log_index = [], 0
    for index, call in enumerate(blk.calls):
        logs = []
        for address, topics, data in call.logs:
            logs.append({
                "address": addr(address), "topics": [word(t) for t in topics], "data": d(data),
                "blockNumber": q(header.block_number), "blockHash": d(header.hash),
                "blockTimestamp": q(header.timestamp), "transactionHash": d(call.tx_hash),
                "transactionIndex": q(index), "logIndex": q(log_index), "removed": False,
            })
            log_index += 1
        result: dict[str, Any] = {
            "status": q(0 if call.error else 1), "returnData": d(call.output), "gasUsed": q(call.gas_used),
            "logs": logs,
        }
        if call.error is not None:
            result["error"] = _call_error_json(call.error)
        out["calls"].append(result)
    return out


def _simulate(ctx: Any, payload: SimulatePayload, ref: p.BlockRef) -> list[dict[str, Any]]:
    view = ChainView(ctx.chain, ctx.budget)
    return [_block_json(b) for b in view.simulate(payload.blocks, ref, payload.validation, payload.trace_transfers)]


@table.register("eth_simulateV1", Param("payload", simulate_payload), Param("block", p.block_ref, LATEST))
def eth_simulate_v1(backend: Any, payload: SimulatePayload, ref: p.BlockRef) -> OffThread:
    return OffThread(lambda ctx: _simulate(ctx, payload, ref))

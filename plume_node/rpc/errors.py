"""JSON-RPC error values: the codes clients see and the exception that carries them.

Every failure a client can cause or observe leaves the server as one of these
errors, never as an HTTP 500. Codes follow JSON-RPC 2.0 for protocol errors and
the Ethereum execution-apis / geth conventions for node errors:

- -32700 parse error, -32600 invalid request, -32601 method not found,
  -32602 invalid params, -32603 internal error (a bug: the message says so)
- -32000 a node-side rejection (mempool reason, unknown block, range too big)
- 3 "execution reverted", with `data` = the revert bytes, for eth_call and
  eth_estimateGas
"""

from __future__ import annotations

from typing import Any

from execution.budget import ExecutionAborted
from execution.simulate import SimulationError, SimulationRule
from execution.errors import CallError, CallFailure, ExecutionError, truncate

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000
# geth answers -32005 for eth_getLogs queries over its limits; clients (ethers,
# viem) recognise it and split the range.
LIMIT_EXCEEDED = -32005
EXECUTION_REVERTED = 3
# eth_simulateV1's codes (execution-apis): a call's EVM failure other than a
# revert, and the request over a limit the node sets.
VM_ERROR = -32015
CLIENT_LIMIT_EXCEEDED = -38026
_SIMULATION_CODES = {
    SimulationRule.NONCE_TOO_LOW: -38010,
    SimulationRule.NONCE_TOO_HIGH: -38011,
    SimulationRule.FEE_BELOW_BASE_FEE: -38012,
    SimulationRule.INTRINSIC_GAS: -38013,
    SimulationRule.INSUFFICIENT_FUNDS: -38014,
    SimulationRule.BLOCK_GAS_LIMIT: -38015,
    SimulationRule.BLOCK_NUMBER_ORDER: -38020,
    SimulationRule.BLOCK_TIME_ORDER: -38021,
    SimulationRule.INITCODE_TOO_LARGE: -38025,
    SimulationRule.PERMISSION_DENIED: SERVER_ERROR,  # as eth_sendRawTransaction refuses it
    SimulationRule.INVALID: SERVER_ERROR,
}


class RpcError(Exception):
    """An error answered to the client as a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class InvalidParams(RpcError):
    """A parameter is missing, of the wrong type, or out of range."""

    def __init__(self, message: str) -> None:
        super().__init__(INVALID_PARAMS, message)


class InvalidRequest(RpcError):
    def __init__(self, message: str) -> None:
        super().__init__(INVALID_REQUEST, message)


class ServerError(RpcError):
    """The node understood the request and refuses or cannot serve it."""

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(SERVER_ERROR, message, data)


# The 4-byte selector of Solidity's `Error(string)`.
_ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")
# ... and of `Panic(uint256)`, raised by failed asserts and arithmetic checks.
_PANIC_SELECTOR = bytes.fromhex("4e487b71")


def decode_revert_reason(data: bytes) -> str | None:
    """The human reason inside revert data, as geth prints it, or None.

    `Error(string)` gives its string; `Panic(uint256)` gives "panic: 0x..".
    Anything malformed gives None (the raw bytes are still returned as data).
    """
    if len(data) >= 4 + 64 and data[:4] == _ERROR_STRING_SELECTOR:
        body = data[4:]
        offset = int.from_bytes(body[:32], "big")
        if offset + 32 > len(body):
            return None
        length = int.from_bytes(body[offset : offset + 32], "big")
        start = offset + 32
        if start + length > len(body):
            return None
        try:
            return body[start : start + length].decode("utf-8")
        except UnicodeDecodeError:
            return None
    if len(data) == 4 + 32 and data[:4] == _PANIC_SELECTOR:
        return f"panic: {hex(int.from_bytes(data[4:], 'big'))}"
    return None


class ExecutionReverted(RpcError):
    """A call or gas estimate hit REVERT; `data` is the revert bytes as hex."""

    def __init__(self, revert_data: bytes) -> None:
        reason = decode_revert_reason(revert_data)
        message = "execution reverted" if reason is None else f"execution reverted: {reason}"
        super().__init__(EXECUTION_REVERTED, message, "0x" + revert_data.hex())
        self.revert_data = revert_data


def execution_error(exc: Exception) -> RpcError:
    """The answer for an RPC execution that failed, was refused or was stopped.

    A revert is code 3 with its data; a budget stop (timeout, gas budget,
    shutdown) and any other execution or validation failure are -32000 with a
    short message in the node's words. An exception of py-evm's own (not one of
    the execution layer's errors) gets a fixed message: its text names Python
    types and prints bytes as ``b'...'``. None of these is a node bug, so none
    is logged with a traceback.
    """
    if isinstance(exc, CallError) and exc.kind is CallFailure.REVERTED:
        return ExecutionReverted(exc.revert_data)
    if isinstance(exc, ExecutionAborted):
        return ServerError(str(exc), data=exc.reason.value)
    if isinstance(exc, ExecutionError):
        return ServerError(truncate(str(exc) or "execution failed"))
    return ServerError("execution failed: the request was refused by the EVM's checks")


def simulation_error(exc: SimulationError) -> RpcError:
    """eth_simulateV1 refused as a whole: the spec's code for the rule it broke."""
    return RpcError(_SIMULATION_CODES[exc.rule], truncate(str(exc)))

"""Errors raised by the execution layer. Each message says what was wrong."""

from __future__ import annotations

import enum

from eth_utils import ValidationError

from staking.permissions.roles import PermList

# Error text that carries input (a transaction's fields, an exception raised on
# it) is cut to this many characters before it is logged or returned.
MAX_REASON_CHARS = 200


def truncate(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(exc: BaseException) -> str:
    """One truncated line naming an exception: ``TypeName: message``."""
    return truncate(f"{type(exc).__name__}: {exc}".replace("\n", " "))


class ExecutionError(Exception):
    """Base class of execution-layer errors."""


class DecodeError(ExecutionError):
    """Bytes that are not a valid encoded sidecar, block or transaction."""


class InvalidBlock(ExecutionError):
    """A block that must not be committed; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GenesisMismatch(ExecutionError):
    """The database holds a chain whose genesis differs from the configured one."""


class NotFound(ExecutionError, KeyError):
    """A block, transaction or receipt the chain does not have."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class CallFailure(enum.Enum):
    """How an RPC execution (call, estimate, access list, simulation) failed."""

    REVERTED = "reverted"  # REVERT: ``revert_data`` holds the payload
    VM_ERROR = "vm error"  # another EVM exceptional halt (out of gas, bad jump, ...)
    INVALID = "invalid"  # refused before executing (nonce, funds, gas, initcode size, ...)
    INTERNAL = "internal"  # py-evm raised unexpectedly: a node bug, logged


class CallError(ExecutionError):
    """``call``/``estimate_gas`` failed; ``kind`` says how, the message in the
    node's own words (never py-evm's text), ``revert_data`` the REVERT payload."""

    def __init__(self, message: str, revert_data: bytes = b"", kind: CallFailure = CallFailure.VM_ERROR) -> None:
        super().__init__(message)
        self.revert_data = revert_data
        self.kind = kind


class CallRule(enum.Enum):
    """Which pre-execution rule an ``InvalidCall`` breaks."""

    NONCE_TOO_LOW = "nonce too low"
    NONCE_TOO_HIGH = "nonce too high"
    INSUFFICIENT_FUNDS = "insufficient funds"
    OTHER = "other"


class InvalidCall(CallError):
    """``call``/``estimate_gas`` refused before executing: the call breaks a rule
    the EVM checks first (nonce, funds, gas, EIP-3860 initcode size, ...)."""

    def __init__(self, message: str, rule: CallRule = CallRule.OTHER) -> None:
        super().__init__(message, kind=CallFailure.INVALID)
        self.rule = rule


class InvalidTransaction(ValidationError):
    """A transaction breaks a validity rule Plume checks itself (type, chain id,
    initcode size, intrinsic gas): py-evm's ``ValidationError`` with a message
    in the node's own words, which may be shown to a client as it is."""


class PermissionDenied(InvalidTransaction):
    """The permission lists (0x…1003) forbid the sender this transaction: ``perm_list`` says which list."""

    def __init__(self, perm_list: PermList, account: bytes) -> None:
        self.perm_list = perm_list
        self.account = account
        what = "send transactions" if perm_list is PermList.TRANSACT else "create contracts"
        super().__init__(
            f"permission denied: 0x{account.hex()} has no role on the {perm_list.name.lower()} list, "
            f"which is on: it may not {what}"
        )


class TransactionFailed(ExecutionError):
    """A transaction raised something other than a validation error after the
    EVM had started to change state (a py-evm bug, or a case it does not
    handle); the state it ran on is dirty and must be thrown away."""

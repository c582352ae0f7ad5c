"""Errors raised by the execution layer. Each message says what was wrong."""

from __future__ import annotations

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


class CallError(ExecutionError):
    """``call``/``estimate_gas`` failed: reverted (``revert_data`` holds the revert
    payload) or hit another EVM error (``revert_data`` is empty)."""

    def __init__(self, message: str, revert_data: bytes = b"") -> None:
        super().__init__(message)
        self.revert_data = revert_data


class InvalidCall(CallError):
    """``call``/``estimate_gas`` refused before executing: the call breaks a rule
    the EVM checks first (nonce, funds, gas, EIP-3860 initcode size, ...)."""


class TransactionFailed(ExecutionError):
    """A transaction raised something other than a validation error after the
    EVM had started to change state (a py-evm bug, or a case it does not
    handle); the state it ran on is dirty and must be thrown away."""

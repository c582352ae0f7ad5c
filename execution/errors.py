"""Errors raised by the execution layer. Each message says what was wrong."""

from __future__ import annotations

# Error text that quotes input (a decoder's complaint about bytes someone sent)
# is cut to this many characters: enough to diagnose, too little to flood a log.
MAX_REASON_CHARS = 200


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

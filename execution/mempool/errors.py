"""Why the mempool refused a transaction: one error type, one code per reason.

Owns `MempoolErrorCode` and `MempoolError`. The RPC layer maps every code to a
JSON-RPC error and passes the message through unchanged, so each message
states the numbers that made the check fail (see docs/mempool.md).
"""

from __future__ import annotations

import enum


class MempoolErrorCode(enum.Enum):
    """The reasons a transaction is not admitted to the pool."""

    NONCE_TOO_LOW = "nonce_too_low"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    FEE_BELOW_BASE_FEE = "fee_below_base_fee"
    INTRINSIC_GAS_TOO_LOW = "intrinsic_gas_too_low"
    GAS_LIMIT_EXCEEDS_BLOCK = "gas_limit_exceeds_block"
    WRONG_CHAIN_ID = "wrong_chain_id"
    OVERSIZED = "oversized"
    ALREADY_KNOWN = "already_known"
    POOL_FULL = "pool_full"
    REPLACEMENT_UNDERPRICED = "replacement_underpriced"
    INVALID_SIGNATURE = "invalid_signature"
    MALFORMED = "malformed"
    UNSUPPORTED_TYPE = "unsupported_type"
    NONCE_GAP_TOO_LARGE = "nonce_gap_too_large"
    TIP_ABOVE_FEE_CAP = "tip_above_fee_cap"
    INITCODE_TOO_LARGE = "initcode_too_large"
    EXECUTION_FAILED = "execution_failed"  # raised while a block was built; no fault of the relaying peer
    POLICY_REJECTED = "policy_rejected"  # a reject rule of this node's local policy (`Mempool.screen`)
    PERMISSION_DENIED = "permission_denied"  # the on-chain permission lists (0x…1003) forbid the sender: a consensus rule


class MempoolError(Exception):
    """A transaction was refused; `code` says why, `message` says with which numbers."""

    def __init__(self, code: MempoolErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"MempoolError({self.code.name}, {self.message!r})"

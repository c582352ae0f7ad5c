"""The staking contract from the command line: calldata, commission rates, refusals, events.

No click here. Calldata is built from the contract's own dispatch table
(`staking.abi.METHODS`), so the CLI and the contract cannot disagree on a
signature. A rate is written `5%` or `500bps`; a bare number is refused
because it could mean either.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from eth_abi import decode, encode
from eth_utils import to_checksum_address

from plume_node.errors import UserError
from staking.abi import ERROR_SELECTOR, METHODS, Event, Method
from staking.addresses import STAKING_ADDRESS
from staking.params import BPS

STAKING_CONTRACT = to_checksum_address(STAKING_ADDRESS)
# Gas limit = the node's estimate plus this margin: a slot written between the
# estimate and the block (another delegator's transaction) can cost more.
GAS_MARGIN_PERCENT = 25
MAX_SHOWN_TEXT = 64  # characters of an on-chain string (moniker) printed in a table

_RATE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(%|bps)\s*$", re.IGNORECASE)


class RateError(ValueError):
    """A commission rate that is malformed, ambiguous or out of 0..100%."""


class StakingRefused(UserError):
    """The staking contract refuses the call (its gas estimate reverted); nothing was sent."""

    def __init__(self, method: str, reason: str, contract: str = "staking") -> None:
        super().__init__(f"the {contract} contract refuses {method}: {reason} (nothing was sent)")
        self.method = method
        self.reason = reason


def parse_bps(text: str) -> int:
    """Basis points in "5%", "0.25%" or "500bps"; raises RateError otherwise."""
    match = _RATE.match(text)
    if match is None:
        raise RateError(
            f"invalid rate {text!r}: write a percentage like 5% or 0.25%, or basis points like 500bps "
            f"(a bare number is ambiguous)"
        )
    number, unit = match.group(1), match.group(2).lower()
    try:
        value = Decimal(number) * (100 if unit == "%" else 1)
    except InvalidOperation:
        raise RateError(f"invalid rate {text!r}") from None
    if value != value.to_integral_value():
        raise RateError(f"invalid rate {text!r}: that is a fraction of a basis point (0.01%)")
    bps = int(value)
    if bps > BPS:
        raise RateError(f"invalid rate {text!r}: above 100% (10000bps)")
    return bps


def format_bps(bps: int) -> str:
    """Basis points as a percentage: 500 -> "5%", 25 -> "0.25%"."""
    whole, frac = divmod(bps, 100)
    return f"{whole}%" if frac == 0 else f"{whole}.{frac:02d}".rstrip("0") + "%"


def method_named(name: str) -> Method:
    for method in METHODS.values():
        if method.name == name:
            return method
    raise KeyError(f"the staking ABI has no method {name}")


def encode_call(name: str, *args: Any) -> bytes:
    """Calldata for ``name(args)``: its selector and the ABI-encoded arguments."""
    method = method_named(name)
    return method.selector + encode(list(method.inputs), list(args))


def refusal_reason(revert_data_hex: Any, message: str) -> str:
    """The contract's Error(string) reason from an RPC error's data, else the node's message.

    Decoded here with eth_abi rather than with the RPC server's decoder, which
    would make every `plume-node` command load py-evm.
    """
    if isinstance(revert_data_hex, str) and revert_data_hex.startswith("0x"):
        try:
            raw = bytes.fromhex(revert_data_hex[2:])
            if raw[:4] == ERROR_SELECTOR:
                return str(decode(["string"], raw[4:])[0])
        except Exception:  # eth_abi raises several types on malformed data; fall back to the message
            pass
    return message


def event_values(logs: tuple[dict[str, Any], ...], event: Event, contract: str = STAKING_CONTRACT) -> tuple | None:
    """The non-indexed values of the first ``event`` log ``contract`` (default staking) emitted, or None."""
    topic0 = "0x" + event.topic0.to_bytes(32, "big").hex()
    for log in logs:
        topics = log.get("topics") or []
        if str(log.get("address", "")).lower() == contract.lower() and topics and topics[0] == topic0:
            return tuple(decode(list(event.data), bytes.fromhex(log["data"][2:])))
    return None


def printable(text: str, limit: int = MAX_SHOWN_TEXT) -> str:
    """An on-chain string made safe for a terminal: control characters shown as '?', cut to ``limit``."""
    safe = "".join(c if c.isprintable() else "?" for c in text)
    return safe if len(safe) <= limit else safe[: limit - 3] + "..."

"""Parsing and validating JSON-RPC parameters into Python values.

Each parser takes the raw JSON value and the parameter's name, and either
returns a typed value or raises `InvalidParams` saying which parameter is
wrong and why, so a client author can fix the call from the message alone.
The rules are those of the Ethereum execution-apis: QUANTITY is `0x`-prefixed
hex without leading zeros, DATA is `0x`-prefixed hex with an even number of
digits, addresses are 20 bytes and hashes 32.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from execution.errors import truncate

from plume_node.rpc.errors import InvalidParams

_HEX_DIGITS = re.compile(r"^[0-9a-fA-F]*$")
# Numbers bigger than 2**256 are not Ethereum quantities; refusing them early
# also keeps a malicious 10 MB hex string from becoming a huge int.
_MAX_QUANTITY_DIGITS = 64

BLOCK_TAGS = ("latest", "earliest", "pending", "safe", "finalized")


def quantity(value: Any, name: str) -> int:
    """A QUANTITY: "0x" + hex digits, no leading zeros ("0x0" for zero)."""
    if not isinstance(value, str):
        raise InvalidParams(f"{name}: expected a hex quantity string like \"0x1a\", got {_kind(value)}")
    if not value.startswith(("0x", "0X")):
        raise InvalidParams(f"{name}: hex quantity {_short(value)} must start with 0x")
    digits = value[2:]
    if not digits:
        raise InvalidParams(f"{name}: hex quantity \"0x\" has no digits (zero is \"0x0\")")
    if not _HEX_DIGITS.match(digits):
        raise InvalidParams(f"{name}: {_short(value)} is not valid hex")
    if len(digits) > 1 and digits[0] == "0":
        raise InvalidParams(f"{name}: hex quantity {_short(value)} has leading zero digits")
    if len(digits) > _MAX_QUANTITY_DIGITS:
        raise InvalidParams(f"{name}: hex quantity {_short(value)} is larger than 256 bits")
    return int(digits, 16)


def data(value: Any, name: str, *, size: int | None = None) -> bytes:
    """DATA: "0x" + an even number of hex digits (exactly `size` bytes if given)."""
    if not isinstance(value, str):
        raise InvalidParams(f"{name}: expected 0x-prefixed hex data, got {_kind(value)}")
    if not value.startswith(("0x", "0X")):
        raise InvalidParams(f"{name}: hex data {_short(value)} must start with 0x")
    digits = value[2:]
    if len(digits) % 2:
        raise InvalidParams(f"{name}: hex data {_short(value)} has an odd number of digits")
    if not _HEX_DIGITS.match(digits):
        raise InvalidParams(f"{name}: {_short(value)} is not valid hex")
    raw = bytes.fromhex(digits)
    if size is not None and len(raw) != size:
        raise InvalidParams(f"{name}: expected {size} bytes, got {len(raw)}")
    return raw


def address(value: Any, name: str) -> bytes:
    """A 20-byte address. Mixed case is accepted as given (no checksum check,
    as geth): a wrong checksum is the wallet's business, not the node's."""
    return data(value, name, size=20)


def hash32(value: Any, name: str) -> bytes:
    return data(value, name, size=32)


def storage_slot(value: Any, name: str) -> int:
    """A storage position: geth accepts both a quantity and 32-byte data here."""
    if isinstance(value, str) and value.startswith(("0x", "0X")) and len(value) == 66:
        return int.from_bytes(hash32(value, name), "big")
    if isinstance(value, str) and value.startswith(("0x", "0X")):
        # Tolerate leading zeros in positions (web3 sends "0x00" style slots).
        digits = value[2:]
        if digits and _HEX_DIGITS.match(digits) and len(digits) <= 64:
            return int(digits, 16)
    raise InvalidParams(f"{name}: expected a storage position (hex quantity or 32-byte hex), got {_short(value)}")


def boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidParams(f"{name}: expected true or false, got {_kind(value)}")
    return value


@dataclass(frozen=True)
class BlockRef:
    """Which block a read refers to: exactly one of `tag`, `number`, `hash`."""

    tag: str | None = None
    number: int | None = None
    hash: bytes | None = None


def block_ref(value: Any, name: str, *, allow_hash: bool = True) -> BlockRef:
    """A block tag, a hex block number, or (EIP-1898) {"blockNumber"} / {"blockHash"}."""
    if isinstance(value, str):
        if value in BLOCK_TAGS:
            return BlockRef(tag=value)
        if value.startswith(("0x", "0X")):
            if allow_hash and len(value) == 66:
                return BlockRef(hash=hash32(value, name))
            return BlockRef(number=quantity(value, name))
        raise InvalidParams(
            f"{name}: {_short(value)} is neither a block number (0x..) nor one of {', '.join(BLOCK_TAGS)}"
        )
    if isinstance(value, dict) and allow_hash:
        if "blockHash" in value:
            unknown = set(value) - {"blockHash", "requireCanonical"}
            if unknown:
                raise InvalidParams(f"{name}: unknown field(s) {names(unknown)} in block reference")
            # Every block of this chain is final and canonical, so requireCanonical
            # only needs to be a boolean.
            if "requireCanonical" in value:
                boolean(value["requireCanonical"], f"{name}.requireCanonical")
            return BlockRef(hash=hash32(value["blockHash"], f"{name}.blockHash"))
        if "blockNumber" in value:
            if set(value) != {"blockNumber"}:
                raise InvalidParams(f"{name}: a blockNumber reference takes no other fields")
            return block_ref(value["blockNumber"], f"{name}.blockNumber", allow_hash=False)
        raise InvalidParams(f"{name}: a block reference object needs blockHash or blockNumber")
    raise InvalidParams(f"{name}: expected a block number or tag, got {_kind(value)}")


def names(keys: Any) -> str:
    """Keys a client sent, for an error message: JSON-quoted, sorted, comma-separated,
    cut to ~200 characters (a key may be megabytes long)."""
    text = ", ".join(json.dumps(str(k)[:64]) for k in sorted(keys, key=str)[:16])
    return truncate(text)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}" if len(repr(value)) < 30 else "a number"
    if isinstance(value, str):
        return f"the string {_short(value)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    if len(text) > 48:
        text = text[:45] + "..."
    return '"' + text + '"' if isinstance(value, str) else text

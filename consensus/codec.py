"""Canonical msgpack helpers shared by every encoded value.

Canonical means: a list of fields in a fixed order, ints and bytes only,
packed with `use_bin_type=True` (msgpack always picks the shortest int form).
Decoding is strict: it refuses anything that would not re-encode to the same
bytes (non-minimal ints, str instead of bin, trailing data, wrong arity), so a
value has exactly one encoding and hashes of encodings are stable.
"""

from __future__ import annotations

from typing import Any

import msgpack

from .errors import DecodeError

MAX_INT64 = 2**63 - 1
MAX_ROUND = 2**31 - 1
MAX_ENCODED_SIZE = 4 * 1024 * 1024


def pack(fields: list[Any]) -> bytes:
    return msgpack.packb(fields, use_bin_type=True)


def unpack(data: bytes, arity: int, max_size: int = MAX_ENCODED_SIZE) -> list[Any]:
    """Decode `data` as a list of exactly `arity` fields, or raise DecodeError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError("expected bytes")
    data = bytes(data)
    if len(data) > max_size:
        raise DecodeError(f"encoding too large ({len(data)} > {max_size} bytes)")
    try:
        obj = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
        )
    except Exception as exc:  # msgpack raises several unrelated types
        raise DecodeError(f"malformed msgpack: {exc.__class__.__name__}") from None
    return check_list(obj, arity, "value")


def check_list(obj: Any, arity: int, what: str) -> list[Any]:
    if type(obj) is not list:
        raise DecodeError(f"{what}: expected a list")
    if len(obj) != arity:
        raise DecodeError(f"{what}: expected {arity} fields, got {len(obj)}")
    return obj


def check_int(obj: Any, what: str, lo: int, hi: int) -> int:
    # `type(...) is int` rejects bool, which msgpack decodes from true/false.
    if type(obj) is not int:
        raise DecodeError(f"{what}: expected an int")
    if not lo <= obj <= hi:
        raise DecodeError(f"{what}: {obj} out of range [{lo}, {hi}]")
    return obj


def check_bytes(obj: Any, what: str, sizes: tuple[int, ...] | None = None, max_len: int | None = None) -> bytes:
    if type(obj) is not bytes:
        raise DecodeError(f"{what}: expected bytes")
    if sizes is not None and len(obj) not in sizes:
        raise DecodeError(f"{what}: length {len(obj)} not in {sizes}")
    if max_len is not None and len(obj) > max_len:
        raise DecodeError(f"{what}: length {len(obj)} > {max_len}")
    return obj


def ensure_canonical(data: bytes, reencoded: bytes) -> None:
    if bytes(data) != reencoded:
        raise DecodeError("not the canonical encoding")

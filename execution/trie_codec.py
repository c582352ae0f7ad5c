"""RLP for trie nodes only: byte strings and (nested) lists of them, nothing else.

``rlp.encode``/``rlp.decode`` infer a sedes for every item and check types
through ABCs; a trie node is always a list of byte strings or embedded nodes,
so these two do the same work directly (a few times faster). Both follow the
RLP spec (Yellow Paper, appendix B) and agree with ``rlp`` byte for byte (a
property test checks it). ``decode_node`` is strict: it accepts only the
canonical encoding of a list (shortest length prefixes, a single byte below
0x80 never prefixed, no trailing bytes), as ``rlp.decode`` does, and raises
``rlp.DecodingError`` for anything else.
"""

from __future__ import annotations

from typing import Any

from rlp import DecodingError


def _prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes((offset + length,))
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((offset + 55 + len(size),)) + size


def encode_node(node: Any) -> bytes:
    """RLP of a byte string or a (nested) list of byte strings."""
    if isinstance(node, (bytes, bytearray)):
        if len(node) == 1 and node[0] < 0x80:
            return bytes(node)
        return _prefix(len(node), 0x80) + node
    payload = b"".join([encode_node(item) for item in node])
    return _prefix(len(payload), 0xC0) + payload


def decode_node(encoded: bytes) -> Any:
    """The item ``encoded`` holds (bytes or nested lists); DecodingError unless canonical."""
    if not isinstance(encoded, (bytes, bytearray)):
        raise DecodingError("an encoded node must be bytes", encoded)
    item, end = _item(encoded, 0)
    if end != len(encoded):
        raise DecodingError("trailing bytes after the node", encoded)
    return item


def _header(data: bytes, pos: int) -> tuple[bool, int, int]:
    """(is a list, payload start, payload end) of the item at ``pos``."""
    if pos >= len(data):
        raise DecodingError("node ends early", data)
    first = data[pos]
    if first < 0x80:
        return False, pos, pos + 1
    is_list = first >= 0xC0
    short = first - (0xC0 if is_list else 0x80)
    if short < 56:
        start, length = pos + 1, short
        if not is_list and length == 1 and start < len(data) and data[start] < 0x80:
            raise DecodingError("single byte below 0x80 must not be prefixed", data)
    else:
        size = short - 55
        start = pos + 1 + size
        length_bytes = data[pos + 1 : start]
        if len(length_bytes) != size or length_bytes[0] == 0:
            raise DecodingError("bad long length prefix", data)
        length = int.from_bytes(length_bytes, "big")
        if length < 56:
            raise DecodingError("long length prefix for a short item", data)
    end = start + length
    if end > len(data):
        raise DecodingError("node ends early", data)
    return is_list, start, end


def _item(data: bytes, pos: int) -> tuple[Any, int]:
    is_list, start, end = _header(data, pos)
    if not is_list:
        return bytes(data[start:end]), end
    items = []
    while start < end:
        item, start = _item(data, start)
        items.append(item)
    if start != end:
        raise DecodingError("list payload overruns its length", data)
    return items, end

"""Bounds on RLP structure, checked by a linear scan before py-evm decodes anything.

py-evm's RLP decoder recurses once per nested list and copies the rest of the
input at each level, so a 128 KiB transaction nested 40,000 lists deep costs
seconds of CPU before it fails, and a block-sized one minutes. No valid
Prague transaction nests deeper than `MAX_TX_DEPTH` lists, and no valid block
deeper than `MAX_BLOCK_DEPTH` around its transactions, so anything deeper is
refused here, in time linear in its size, without recursion.
"""

from __future__ import annotations

# A typed transaction's payload: [fields..., access_list [ [address, [keys]] ] ]
MAX_TX_DEPTH = 4
# A block: [header [...], transactions [legacy tx [...] | typed tx bytes], uncles [...], withdrawals [[...]]]
MAX_BLOCK_DEPTH = 3


class RlpShapeError(ValueError):
    """The bytes are not RLP, or nest deeper than the limit."""


def _item(data: bytes | memoryview, pos: int) -> tuple[int, int, bool]:
    """(payload start, item end, is a list) of the RLP item at `pos`."""
    end_of_data = len(data)
    prefix = data[pos]
    if prefix < 0x80:
        return pos, pos + 1, False
    is_list = prefix >= 0xC0
    short_base, long_base = (0xC0, 0xF7) if is_list else (0x80, 0xB7)
    if prefix <= long_base:
        start, length = pos + 1, prefix - short_base
    else:
        size = prefix - long_base
        if pos + 1 + size > end_of_data:
            raise RlpShapeError("RLP length prefix runs past the end of the data")
        start, length = pos + 1 + size, int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
    if start + length > end_of_data:
        raise RlpShapeError("RLP item runs past the end of the data")
    return start, start + length, is_list


def check_depth(data: bytes | memoryview, max_depth: int) -> None:
    """Raise RlpShapeError if `data` is not one RLP item nesting at most `max_depth` lists."""
    if not data:
        raise RlpShapeError("empty RLP")
    open_lists: list[int] = []  # end offsets of the lists we are inside
    pos = 0
    total_end = _item(data, 0)[1]
    while pos < total_end:
        while open_lists and pos >= open_lists[-1]:
            open_lists.pop()
        start, end, is_list = _item(data, pos)
        if open_lists and end > open_lists[-1]:
            raise RlpShapeError("RLP item runs past the end of its list")
        if is_list:
            if len(open_lists) >= max_depth:
                raise RlpShapeError(f"RLP nests deeper than {max_depth} lists")
            open_lists.append(end)
            pos = start
        else:
            pos = end


def list_items(data: bytes | memoryview) -> list[memoryview]:
    """The top-level items of the RLP list `data` (each item's whole encoding)."""
    view = memoryview(data)
    start, end, is_list = _item(view, 0)
    if not is_list:
        raise RlpShapeError("expected an RLP list")
    items = []
    pos = start
    while pos < end:
        item_end = _item(view, pos)[1]
        if item_end > end:
            raise RlpShapeError("RLP item runs past the end of its list")
        items.append(view[pos:item_end])
        pos = item_end
    return items


def item_payload(data: bytes | memoryview) -> tuple[memoryview, bool]:
    """(payload, is a list) of the RLP item that starts `data` (its prefix as it is, unchecked)."""
    view = memoryview(data)
    start, end, is_list = _item(view, 0)
    return view[start:end], is_list


def check_transaction_shape(raw: bytes | memoryview) -> None:
    """A transaction's wire bytes: legacy RLP list, or type byte + RLP payload."""
    check_depth(raw[1:] if raw[0] < 0x80 else raw, MAX_TX_DEPTH)


def block_parts(block_rlp: bytes | memoryview) -> tuple[list[memoryview], list[memoryview]]:
    """(the block's four items, the items of its transaction list).

    The header, uncles and withdrawals are checked to nest at most
    MAX_BLOCK_DEPTH lists counting the block's own; the transactions are not
    scanned here: `check_block_tx_shape` checks one before it is decoded (a
    transaction the node already holds with the same bytes need not be).
    """
    parts = list_items(block_rlp)
    for index, part in enumerate(parts):
        if index != 1:  # all but the transactions
            check_depth(part, MAX_BLOCK_DEPTH - 1)
    if len(parts) != 4:
        raise RlpShapeError(f"a block is 4 RLP items (header, transactions, uncles, withdrawals), got {len(parts)}")
    return parts, list_items(parts[1])


def check_block_tx_shape(item: bytes | memoryview) -> None:
    """One item of a block's transaction list: a legacy tx (a list of scalars at
    depth MAX_BLOCK_DEPTH) or a typed tx's envelope (an RLP string)."""
    start, end, is_list = _item(item, 0)
    if is_list:
        check_depth(item, MAX_BLOCK_DEPTH - 2)
    elif end > start:
        check_transaction_shape(item[start:end])

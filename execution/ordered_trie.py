"""Transaction and receipt trie roots built in one pass.

py-evm's ``make_trie_root_and_nodes`` inserts items one by one into a
``HexaryTrie``: every insert re-walks, re-encodes and re-hashes the path to the
root, so a block of n items costs O(n log n) node encodings and hashes, and it
keeps the last 128 blocks' items in a global cache. The keys of these tries
are known up front (``rlp(index)``), so the trie can be built bottom-up from
the sorted keys, encoding and hashing every node exactly once.

Same result as py-evm by construction (a Merkle Patricia trie is canonical for
its key set) and by test (tests/execution/test_exec_ordered_trie.py checks root
and node set against py-evm's builder). Keys are handled as hex strings: one
character per nibble makes slicing and grouping cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import rlp
from eth.constants import BLANK_ROOT_HASH
from eth_hash.auto import keccak



def _hex_prefix(path: str, leaf: bool) -> bytes:
    """The hex-prefix encoding of a nibble path given as a hex string."""
    if len(path) % 2:
        return bytes.fromhex(("3" if leaf else "1") + path)
    return bytes.fromhex(("20" if leaf else "00") + path)


def _ref(node: list[Any], nodes: dict[bytes, bytes]) -> Any:
    encoded = rlp.encode(node)
    if len(encoded) < 32:
        return node  # embedded in its parent
    h = keccak(encoded)
    nodes[h] = encoded
    return h


def _build(items: list[tuple[str, bytes]], lo: int, hi: int, depth: int, nodes: dict[bytes, bytes]) -> list[Any]:
    if hi - lo == 1:
        key, value = items[lo]
        return [_hex_prefix(key[depth:], True), value]
    first, last = items[lo][0], items[hi - 1][0]
    end = depth
    limit = min(len(first), len(last))
    while end < limit and first[end] == last[end]:
        end += 1
    if end > depth:  # all keys share more nibbles: extension node
        child = _build(items, lo, hi, end, nodes)
        return [_hex_prefix(first[depth:end], False), _ref(child, nodes)]
    branch: list[Any] = [b""] * 17
    i = lo
    if len(items[i][0]) == depth:  # a key ends here: the branch's value
        branch[16] = items[i][1]
        i += 1
    while i < hi:
        nibble = items[i][0][depth]
        j = i + 1
        while j < hi and items[j][0][depth] == nibble:
            j += 1
        branch[int(nibble, 16)] = _ref(_build(items, i, j, depth + 1, nodes), nodes)
        i = j
    return branch


def trie_root_and_nodes_from_values(values: Sequence[bytes]) -> tuple[bytes, dict[bytes, bytes]]:
    """Root and stored nodes of the trie {rlp(i): values[i]} (empty values are absent)."""
    items = sorted(
        (rlp.encode(i).hex(), v) for i, v in enumerate(values) if v != b""
    )
    if not items:
        return BLANK_ROOT_HASH, {}
    nodes: dict[bytes, bytes] = {}
    root = rlp.encode(_build(items, 0, len(items), 0, nodes))
    root_hash = keccak(root)
    nodes[root_hash] = root
    return root_hash, nodes


def ordered_trie_root_and_nodes(items: Sequence[Any]) -> tuple[bytes, dict[bytes, bytes]]:
    """Drop-in for py-evm's ``make_trie_root_and_nodes`` (transactions, receipts)."""
    return trie_root_and_nodes_from_values([item.encode() for item in items])

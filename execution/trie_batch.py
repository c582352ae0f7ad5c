"""One-pass batch update of a Merkle-Patricia (hexary) trie, and a cache of its nodes.

py-evm turns a block's account changes into a new state root by calling
``HexaryTrie.set`` once per changed account. Each call walks from the root,
decodes every node on its path from the database, re-encodes and re-hashes
every node on the path, and writes them, only for the next account's insert
to replace most of them again (the root and the upper branches are rewritten
once per account). ``apply_batch`` does the same update once per block:

1. the changes are sorted by key (a key is handled as its hex string, one
   character per nibble);
2. one recursive descent from the root visits each node that any change
   touches exactly once: at a branch the sorted changes split into runs by
   their next nibble, and only the children with changes are descended into;
   untouched children keep their references unchanged (no decode, no hash);
3. on the way back up each new node is normalised as py-trie does (a branch
   left with one child folds into an extension or leaf, an extension whose
   child became a leaf or extension merges with it, an empty subtrie
   disappears), then encoded, hashed and written once.

The result is the trie py-trie builds for the same changes (same root, same
contents; a property test checks any batch against ``HexaryTrie``). Nodes
are in py-trie's raw form: ``b""`` is blank, a 2-list ``[hex-prefix path,
value-or-child]`` a leaf or extension, a 17-list a branch; a child whose
encoding is shorter than 32 bytes is embedded in its parent, others are
referenced by keccak256 of their encoding. The root is always stored by hash.

All keys of one trie must have the same length (the account and storage
tries key by keccak256, 32 bytes), so no key is a prefix of another and
branch nodes never hold a value.

``NodeCache`` keeps decoded nodes by hash. Nodes are content-addressed, so a
cached entry never goes stale and needs no invalidation; it is bounded (two
generations of ``TRIE_NODE_CACHE_ENTRIES``, the older dropped when the newer
fills) and shared by every trie in the process. Cached nodes are shared
values: nothing here mutates a decoded node, and readers must not either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Union

import rlp
from eth_hash.auto import keccak

from execution.trie_codec import decode_node, encode_node

BLANK_NODE = b""
BLANK_ROOT = keccak(rlp.encode(b""))  # the empty trie's root (py-evm's BLANK_ROOT_HASH)
HASH_LENGTH = 32  # a child encoded in 32 bytes or more is referenced by its hash

# Decoded trie nodes kept per generation (two generations): a branch node is
# about 1.5 KB decoded, so at most ~50 MB. Enough for the upper levels of a
# state trie of millions of accounts plus every node a few blocks touched.
TRIE_NODE_CACHE_ENTRIES = 16_384

Node = Union[bytes, list]  # raw py-trie node: b"" | [path, value/child] | 17 children
Change = tuple[str, Union[bytes, None]]  # (key as hex, new value or None to delete)


class NodeCache:
    """Decoded trie nodes by hash; two generations, so a hit survives one rotation."""

    def __init__(self, entries: int = TRIE_NODE_CACHE_ENTRIES) -> None:
        if entries < 1:
            raise ValueError("the trie node cache needs room for at least one node")
        self.entries = entries
        self._young: dict[bytes, Node] = {}
        self._old: dict[bytes, Node] = {}

    def get(self, node_hash: bytes) -> Node | None:
        node = self._young.get(node_hash)
        if node is None:
            node = self._old.get(node_hash)
            if node is not None:
                self.put(node_hash, node)  # still in use: keep it through the next rotation
        return node

    def put(self, node_hash: bytes, node: Node) -> None:
        young = self._young
        if len(young) >= self.entries:
            # rebinding whole dicts (no in-place eviction) keeps concurrent readers safe
            self._old, young = young, {}
            self._young = young
        young[node_hash] = node

    def clear(self) -> None:
        self._young, self._old = {}, {}

    def __len__(self) -> int:
        return len(self._young) + len(self._old)


NODE_CACHE = NodeCache()  # the process's cache (nodes are content-addressed: safe to share)


def load_node(db: Mapping[bytes, bytes], node_hash: bytes, cache: NodeCache = NODE_CACHE) -> Node:
    """The decoded node stored under ``node_hash`` (KeyError if the store lacks it)."""
    node = cache.get(node_hash)
    if node is None:
        node = decode_node(db[node_hash])
        cache.put(node_hash, node)
    return node


def apply_batch(
    db: MutableMapping[bytes, bytes],
    root_hash: bytes,
    changes: Iterable[tuple[bytes, bytes | None]],
    cache: NodeCache = NODE_CACHE,
) -> bytes:
    """Apply ``changes`` ((key, value), value None or b"" = delete) to the trie at
    ``root_hash`` in ``db``; write the new nodes into ``db`` and return the new root.

    A key given twice takes its last value. Raises KeyError if a node the
    update needs is missing from ``db``, ValueError for keys of mixed length.
    """
    batch: dict[str, bytes | None] = {}
    for key, value in changes:
        batch[key.hex()] = value or None
    if not batch:
        return root_hash
    if len({len(k) for k in batch}) != 1:
        raise ValueError("all keys of a trie must have the same length")
    items = sorted(batch.items())
    writer = _Writer(db, cache)
    root = _resolve(writer, root_hash) if root_hash != BLANK_ROOT else BLANK_NODE
    new_root = _update(writer, root, items, 0)
    return writer.store_root(new_root)


class _Writer:
    """Reads nodes through the cache; encodes, hashes and stores new ones."""

    def __init__(self, db: MutableMapping[bytes, bytes], cache: NodeCache) -> None:
        self.db = db
        self.cache = cache

    def ref(self, node: Node) -> Any:
        """How a parent refers to ``node``: embedded if short, else its stored hash."""
        if node == BLANK_NODE:
            return BLANK_NODE
        encoded = encode_node(node)
        if len(encoded) < HASH_LENGTH:
            return node
        return self._store(encoded, node)

    def store_root(self, node: Node) -> bytes:
        """The root is stored by hash whatever its size (as py-trie does)."""
        if node == BLANK_NODE:
            return BLANK_ROOT
        return self._store(encode_node(node), node)

    def _store(self, encoded: bytes, node: Node) -> bytes:
        node_hash = keccak(encoded)
        self.db[node_hash] = encoded
        self.cache.put(node_hash, node)
        return node_hash


def _resolve(writer: _Writer, ref: Any) -> Node:
    """The node a parent's reference points at (embedded nodes are already decoded)."""
    if isinstance(ref, list) or ref == BLANK_NODE:
        return ref
    return load_node(writer.db, ref, writer.cache)


def _update(writer: _Writer, node: Node, items: list[Change], depth: int) -> Node:
    """``node`` (the subtrie at nibble ``depth``) with the sorted ``items`` applied."""
    if node == BLANK_NODE:
        return _build(writer, [(k, v) for k, v in items if v is not None], depth)
    if len(node) == 17:
        return _update_branch(writer, node, items, depth)
    path, is_leaf = hp_decode(node[0])
    if is_leaf:
        return _update_leaf(writer, path, node[1], items, depth)
    return _update_extension(writer, path, node[1], items, depth)


def _update_leaf(writer: _Writer, path: str, value: bytes, items: list[Change], depth: int) -> Node:
    """A leaf is one entry: merge it with the changes and build the subtrie afresh."""
    merged = {items[0][0][:depth] + path: value}
    merged.update(items)
    live = sorted((k, v) for k, v in merged.items() if v is not None)
    return _build(writer, live, depth)


def _update_extension(writer: _Writer, path: str, child_ref: Any, items: list[Change], depth: int) -> Node:
    end = depth + len(path)
    # items are sorted: if the first and the last run through the extension, all do
    if items[0][0][depth:end] == path and items[-1][0][depth:end] == path:
        child = _update(writer, _resolve(writer, child_ref), items, end)
        return _extend(writer, path, child)
    # Some change leaves the extension's path: split it into an equivalent
    # branch (its first nibble) and update that.
    branch: list = [BLANK_NODE] * 17
    rest = child_ref if len(path) == 1 else writer.ref([hp_encode(path[1:], False), child_ref])
    branch[int(path[0], 16)] = rest
    return _update_branch(writer, branch, items, depth)


def _update_branch(writer: _Writer, node: list, items: list[Change], depth: int) -> Node:
    new_children: dict[int, Node] = {}
    for nibble, run in _runs(items, depth):
        new_children[nibble] = _update(writer, _resolve(writer, node[nibble]), run, depth + 1)
    live = [i for i in range(16) if (new_children[i] if i in new_children else node[i]) != BLANK_NODE]
    if not live:
        return BLANK_NODE
    if len(live) == 1:  # one child left: fold the branch into it
        only = live[0]
        if only in new_children:
            return _extend(writer, "0123456789abcdef"[only], new_children[only])
        return _extend(writer, "0123456789abcdef"[only], _resolve(writer, node[only]), node[only])
    branch = list(node)
    for nibble, child in new_children.items():
        branch[nibble] = writer.ref(child)
    return branch


def _runs(items: list[Change], depth: int) -> Iterable[tuple[int, list[Change]]]:
    """Split sorted items into runs sharing the nibble at ``depth``."""
    start = 0
    for i in range(1, len(items) + 1):
        if i == len(items) or items[i][0][depth] != items[start][0][depth]:
            yield int(items[start][0][depth], 16), items[start:i]
            start = i


def _extend(writer: _Writer, path: str, child: Node, child_ref: Any = None) -> Node:
    """``path`` followed by ``child``, merged into one node where the child allows.

    ``child_ref``: the child's existing reference, if it is unchanged (saves re-hashing it).
    """
    if child == BLANK_NODE:
        return BLANK_NODE
    if len(child) == 17:
        return [hp_encode(path, False), writer.ref(child) if child_ref is None else child_ref]
    child_path, is_leaf = hp_decode(child[0])
    return [hp_encode(path + child_path, is_leaf), child[1]]


def _build(writer: _Writer, live: list[tuple[str, bytes]], depth: int) -> Node:
    """A fresh subtrie holding the sorted, distinct ``live`` entries below ``depth``."""
    if not live:
        return BLANK_NODE
    first = live[0][0]
    if len(live) == 1:
        return [hp_encode(first[depth:], True), live[0][1]]
    last = live[-1][0]
    shared = depth
    while first[shared] == last[shared]:  # keys differ, so this stops inside them
        shared += 1
    if shared > depth:
        return [hp_encode(first[depth:shared], False), writer.ref(_build(writer, live, shared))]
    branch: list = [BLANK_NODE] * 17
    for nibble, run in _runs(live, depth):
        branch[nibble] = writer.ref(_build(writer, run, depth + 1))
    return branch


def hp_encode(path: str, is_leaf: bool) -> bytes:
    """Hex-prefix encoding of a nibble path given as a hex string (Yellow Paper, appendix C)."""
    flag = 2 if is_leaf else 0
    if len(path) % 2:
        return bytes.fromhex("%x" % (flag + 1) + path)
    return bytes.fromhex("%x0" % flag + path)


def hp_decode(encoded: bytes) -> tuple[str, bool]:
    """(nibble path as a hex string, is a leaf) of a hex-prefix encoded path."""
    text = encoded.hex()
    flag = int(text[0], 16)
    return (text[1:] if flag & 1 else text[2:]), bool(flag & 2)

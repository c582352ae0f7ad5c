"""``execution.trie_batch.trie_get`` reads exactly what py-trie's ``HexaryTrie.get``
reads, for any trie and key: present, absent, a prefix of a stored key, a key
a stored key is a prefix of, the empty trie; and a missing node is reported."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie
from trie.exceptions import MissingTrieNode, ValidationError

from execution.state_db import CachingHexaryTrie
from execution.trie_batch import BLANK_ROOT, MissingNode, NodeCache, apply_batch, trie_get

# few distinct byte values, so keys share long prefixes (extensions, embedded nodes)
key_bytes = st.sampled_from([0x00, 0x01, 0x10, 0x11, 0xFF]) | st.integers(0, 255)
keys = st.lists(key_bytes, min_size=0, max_size=5).map(bytes)
values = st.binary(min_size=1, max_size=40)  # short values keep children embedded


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, values, max_size=30), st.lists(keys, max_size=20), st.sampled_from([1, 4, 10_000]))
def test_trie_get_equals_hexary_trie_get_for_mixed_length_keys(contents, probes, cache_size) -> None:
    reference = HexaryTrie({})
    for key, value in contents.items():  # py-trie allows keys of any length (values in branches)
        reference[key] = value
    cache = NodeCache(cache_size)
    for key in [*contents, *probes, *(k[:-1] for k in contents), *(k + b"\x00" for k in contents)]:
        found = trie_get(reference.db, reference.root_hash, key, cache)
        assert found == contents.get(key, b"")
        try:
            assert found == reference.get(key)
        except ValidationError:
            # py-trie refuses a key that ends inside an extension's path (a key
            # shorter than the stored ones); Plume's tries key by 32-byte hashes
            assert found == b""


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32) | st.lists(key_bytes, min_size=32, max_size=32).map(bytes),
                max_size=40, unique=True), st.lists(st.binary(min_size=32, max_size=32), max_size=10))
def test_trie_get_reads_an_apply_batch_trie_as_hexary_trie_does(stored, probes) -> None:
    db: dict[bytes, bytes] = {}
    root = apply_batch(db, BLANK_ROOT, [(key, key[::-1][:7]) for key in stored], NodeCache(10_000))
    reference = HexaryTrie(db, root)
    for key in [*stored, *probes]:
        assert trie_get(db, root, key, NodeCache(2)) == reference.get(key)


def test_the_empty_trie_holds_nothing() -> None:
    assert trie_get({}, BLANK_ROOT, b"\x01" * 32) == b""


def test_a_missing_node_raises_missing_node_and_the_caching_trie_raises_py_tries_error() -> None:
    db: dict[bytes, bytes] = {}
    keys_ = [bytes([i]) * 32 for i in range(4)]
    value = os.urandom(40)  # nodes unlike any other test's: the shared NODE_CACHE holds none of them
    root = apply_batch(db, BLANK_ROOT, [(key, value) for key in keys_], NodeCache(10))
    complete = dict(db)
    child = next(h for h in db if h != root)
    del db[child]
    with pytest.raises(MissingNode) as raised:
        for key in keys_:
            trie_get(db, root, key, NodeCache(10))
    assert raised.value.node_hash == child
    with pytest.raises(MissingTrieNode):
        for key in keys_:
            CachingHexaryTrie(db, root).get(key)
    assert all(trie_get(complete, root, key) == value for key in keys_)

"""``execution.trie_batch.apply_batch`` builds exactly the trie py-trie's ``HexaryTrie``
builds for the same changes (same root, same contents), for any batch; the node
codec agrees with ``rlp``; the node cache stays bounded."""

from __future__ import annotations

import pytest
import rlp
from eth.rlp.accounts import Account
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie

from execution.state_db import encode_account
from execution.trie_batch import BLANK_ROOT, NodeCache, apply_batch, hp_decode, hp_encode, load_node
from execution.trie_codec import decode_node, encode_node


def keys_of(length: int) -> st.SearchStrategy[bytes]:
    # few distinct byte values, so keys share long prefixes and nodes split and fold often
    return st.binary(min_size=length, max_size=length) | st.lists(
        st.sampled_from([0x00, 0x01, 0x10, 0x11, 0xFF]), min_size=length, max_size=length
    ).map(bytes)


values = st.none() | st.binary(min_size=1, max_size=40)  # None deletes; short values embed nodes


@st.composite
def batches(draw):
    length = draw(st.sampled_from([1, 2, 3, 32]))
    pool = draw(st.lists(keys_of(length), min_size=1, max_size=24, unique=True))
    rounds = draw(st.lists(st.lists(st.tuples(st.sampled_from(pool), values), max_size=30),
                           min_size=1, max_size=4))
    cache_size = draw(st.sampled_from([1, 3, 10_000]))
    return pool, rounds, cache_size


@settings(max_examples=300, deadline=None)
@given(batches())
def test_apply_batch_equals_hexary_trie(case) -> None:
    pool, rounds, cache_size = case
    db: dict[bytes, bytes] = {}
    cache = NodeCache(cache_size)
    reference = HexaryTrie({})
    root = BLANK_ROOT
    for changes in rounds:
        for key, value in changes:  # in order: the last change of a key wins
            if value is None:
                del reference[key]
            else:
                reference[key] = value
        root = apply_batch(db, root, changes, cache)
        assert root == reference.root_hash
        written = HexaryTrie(db, root)  # the new trie is complete in `db`
        for key in pool:
            assert written.get(key) == reference.get(key)


def test_empty_batch_keeps_the_root_and_writes_nothing() -> None:
    db: dict[bytes, bytes] = {}
    assert apply_batch(db, BLANK_ROOT, []) == BLANK_ROOT
    assert db == {}


def test_deleting_everything_gives_the_blank_root() -> None:
    db: dict[bytes, bytes] = {}
    root = apply_batch(db, BLANK_ROOT, [(bytes([i]) * 32, b"v%d" % i) for i in range(40)])
    assert root != BLANK_ROOT
    assert apply_batch(db, root, [(bytes([i]) * 32, None) for i in range(40)]) == BLANK_ROOT


def test_mixed_key_lengths_are_refused() -> None:
    with pytest.raises(ValueError):
        apply_batch({}, BLANK_ROOT, [(b"\x01", b"a"), (b"\x01\x02", b"b")])


def test_a_missing_node_raises_key_error() -> None:
    db: dict[bytes, bytes] = {}
    root = apply_batch(db, BLANK_ROOT, [(bytes([i]) * 32, b"x" * 40) for i in range(4)])
    with pytest.raises(KeyError):
        apply_batch({}, root, [(b"\x07" * 32, b"y")], NodeCache(1))


nodes = st.recursive(
    st.binary(max_size=70),
    lambda children: st.lists(children, max_size=17),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(nodes)
def test_node_codec_agrees_with_rlp(node) -> None:
    encoded = rlp.encode(node)
    assert encode_node(node) == encoded
    assert decode_node(encoded) == rlp.decode(encoded)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_node_decoder_accepts_exactly_what_rlp_accepts(data) -> None:
    try:
        expected = rlp.decode(data)
    except rlp.DecodingError:
        with pytest.raises(rlp.DecodingError):
            decode_node(data)
    else:
        assert decode_node(data) == expected


@given(st.text("0123456789abcdef", max_size=64), st.booleans())
def test_hex_prefix_round_trip(path, is_leaf) -> None:
    assert hp_decode(hp_encode(path, is_leaf)) == (path, is_leaf)


def test_node_cache_is_bounded_and_keeps_recent_nodes() -> None:
    cache = NodeCache(4)
    for i in range(100):
        cache.put(bytes([i]) * 32, [b"%d" % i])
    assert len(cache) <= 8
    assert cache.get(bytes([99]) * 32) == [b"99"]
    assert cache.get(bytes([0]) * 32) is None


def test_load_node_decodes_once() -> None:
    db: dict[bytes, bytes] = {}
    cache = NodeCache(100)
    root = apply_batch(db, BLANK_ROOT, [(bytes([i]) * 32, b"x" * 40) for i in range(4)], cache)
    stored = load_node(db, root, cache)
    db.clear()  # later reads come from the cache, not the store
    assert load_node(db, root, cache) is stored


uints = st.integers(0, 2**256 - 1) | st.sampled_from([0, 1, 127, 128, 255, 256])


@settings(max_examples=300, deadline=None)
@given(uints, uints, st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_account_encoding_agrees_with_rlp(nonce, balance, storage_root, code_hash) -> None:
    account = Account(nonce=nonce % 2**64, balance=balance, storage_root=storage_root, code_hash=code_hash)
    assert encode_account(account) == rlp.encode(account, sedes=Account)

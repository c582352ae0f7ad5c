"""The one-pass transaction/receipt trie builder equals py-evm's HexaryTrie builder."""

from __future__ import annotations

from eth.db.trie import _make_trie_root_and_nodes
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.ordered_trie import trie_root_and_nodes_from_values


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=80), max_size=300))
def test_same_root_and_nodes_as_pyevm(values: list[bytes]) -> None:
    values_t = tuple(values)
    assert trie_root_and_nodes_from_values(values_t) == _make_trie_root_and_nodes(values_t)


def test_sizes_around_rlp_key_boundaries() -> None:
    for n in (0, 1, 2, 16, 17, 127, 128, 129, 256, 257, 1500):
        values = tuple(bytes([i % 251]) * (1 + i % 37) for i in range(n))
        assert trie_root_and_nodes_from_values(values) == _make_trie_root_and_nodes(values)

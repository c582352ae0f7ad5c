"""Fixtures shared by the in-process node tests."""

from __future__ import annotations

import dataclasses

import pytest
from node_helpers import fast_config, make_home

from consensus.crypto import PrivateKey
from plume_node.genesis import GenesisValidator, dump_genesis, load_genesis
from plume_node.node import Node


@pytest.fixture
def node(tmp_path):
    """A lone validator with a fresh home, 100 ms blocks; run it with `running(node)`."""
    home = make_home(tmp_path / "home")
    n = Node.open(home, fast_config(home, block_time_ms=100))
    yield n
    n.close()


@pytest.fixture
def node_with_other_validator(tmp_path):
    """(node, key): the node holds 3 of 4 voting power; the test plays the
    other validator (power 1) with `key`."""
    home = make_home(tmp_path / "home")
    doc = load_genesis(home.genesis_path)
    other = PrivateKey.from_seed(b"\x42" * 32)
    ours = dataclasses.replace(doc.validators[0], power=3)
    theirs = GenesisValidator(name="other", pub_key=other.public_key.raw, power=1, fee_address=b"\x01" * 20)
    home.genesis_path.write_bytes(dump_genesis(dataclasses.replace(doc, validators=(ours, theirs))))
    n = Node.open(home, fast_config(home, block_time_ms=100))
    yield n, other
    n.close()

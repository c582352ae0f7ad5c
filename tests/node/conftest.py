"""Fixtures shared by the in-process node tests."""

from __future__ import annotations

import pytest
from node_helpers import fast_config, make_home

from plume_node.node import Node


@pytest.fixture
def node(tmp_path):
    """A lone validator with a fresh home, 100 ms blocks; run it with `running(node)`."""
    home = make_home(tmp_path / "home")
    n = Node.open(home, fast_config(home, block_time_ms=100))
    yield n
    n.close()

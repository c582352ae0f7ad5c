"""Fixtures for the execution tests (not the mempool's, which need none)."""

from __future__ import annotations

import pytest
from eth.db.atomic import AtomicDB

from execution.chain import PlumeChain
from plume_exec_helpers import make_genesis


@pytest.fixture
def genesis():
    return make_genesis()


@pytest.fixture
def mem_chain(genesis) -> PlumeChain:
    """A chain over py-evm's in-memory AtomicDB (fast; LevelDB tests use tmp_path)."""
    return PlumeChain(AtomicDB(), genesis)


@pytest.fixture
def level_chain(tmp_path, genesis):
    from plume_node.storage import open_database

    db = open_database(tmp_path / "db", create=True)
    yield PlumeChain(db, genesis)
    db.close()

"""Properties over random transaction mixes: whatever one node builds, another node
validates to the same roots; invalid transactions are left out, never break a block.
A long soak (PLUME_SOAK=1) adds restarts on a real LevelDB."""

from __future__ import annotations

import os
import random

import pytest
from eth.db.atomic import AtomicDB
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.block import PlumeBlock
from execution.chain import PlumeChain
from plume_exec_helpers import (
    ADDRS,
    COINBASE,
    ETHER,
    GWEI,
    ODD_GAS_CONTRACT,
    SINK,
    make_genesis,
    open_chain,
    sidecar,
    transfer,
)
from staking import fees

# (sender, nonce offset from the expected one, value in ether, tip in gwei, odd-gas call?, tx kind)
tx_spec = st.tuples(
    st.integers(0, 5),
    st.sampled_from([0, 0, 0, 0, 1, -1]),
    st.sampled_from([0, 1, 10**6]),  # 10**6 ether: more than anyone has
    st.integers(0, 3),
    st.booleans(),
    st.sampled_from([0, 1, 2]),
)


def _balances(state) -> int:
    return sum(state.balance(a) for a in (*ADDRS, SINK, COINBASE, ODD_GAS_CONTRACT, fees.REWARD_POOL_ADDRESS))


def _txs_for(chain: PlumeChain, specs, expected: list[int]):
    txs = []
    for who, off, value, tip, odd, kind in specs:
        nonce = max(0, expected[who] + off)
        tx = transfer(who, nonce, value=value * ETHER, tip=tip * GWEI, kind=kind,
                      to=ODD_GAS_CONTRACT if odd else SINK, gas=30_000, max_fee=50 * GWEI)
        txs.append(tx)
        if off == 0 and value < 10**6:
            expected[who] += 1
    return txs


@settings(max_examples=25, deadline=None)
@given(blocks=st.lists(st.lists(tx_spec, max_size=8), min_size=1, max_size=3))
def test_built_blocks_always_validate_elsewhere(blocks) -> None:
    g = make_genesis()
    proposer, validator = PlumeChain(AtomicDB(), g), PlumeChain(AtomicDB(), g)
    expected = [0] * len(ADDRS)
    for r, specs in enumerate(blocks):
        result = proposer.build_block(_txs_for(proposer, specs, expected), timestamp=0,
                                      coinbase=COINBASE, sidecar=sidecar(round=r))
        wire = PlumeBlock.decode(result.block.encode())
        validator.validate_block(wire)
        validator.commit(wire)
        proposer.commit(result.block)
        assert validator.head.state_root == proposer.head.state_root
        state = validator.state_at()
        # nonces advanced by exactly the included transactions
        for i, a in enumerate(ADDRS):
            assert state.nonce(a) == sum(1 for t in result.included if t.sender == a) + \
                proposer.state_at(proposer.height - 1).nonce(a)
        assert _balances(state) == state.total_supply()
        expected = [state.nonce(a) for a in ADDRS]


@pytest.mark.skipif(os.environ.get("PLUME_SOAK") != "1", reason="soak test: set PLUME_SOAK=1")
def test_soak_restarts_on_leveldb(tmp_path) -> None:
    rng = random.Random(1234)
    g = make_genesis()
    db, chain = open_chain(tmp_path / "db", g)
    replica = PlumeChain(AtomicDB(), g)
    expected = [0] * len(ADDRS)
    try:
        for height in range(1, 301):
            specs = [(rng.randrange(6), rng.choice([0, 0, 0, 1, -1]), rng.choice([0, 1]),
                      rng.randrange(3), rng.random() < 0.3, rng.randrange(3)) for _ in range(rng.randrange(40))]
            result = chain.build_block(_txs_for(chain, specs, expected), timestamp=height,
                                       coinbase=COINBASE, sidecar=sidecar(round=height % 3))
            chain.commit(result.block)
            replica.validate_block(PlumeBlock.decode(result.block.encode()))
            replica.commit(result.block)
            assert replica.head.hash == chain.head.hash
            expected = [chain.state_at().nonce(a) for a in ADDRS]
            if height % 50 == 0:
                db.close()
                db, chain = open_chain(tmp_path / "db", g, create=False)
                assert chain.head.hash == replica.head.hash
        for n in range(0, chain.height + 1, 7):
            assert chain.get_header(n).state_root == replica.get_header(n).state_root
    finally:
        db.close()

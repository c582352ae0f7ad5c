"""All-honest validators on a synchronous network decide in round 0."""

from __future__ import annotations

import pytest

from consensus.round_state import RoundStep
from engine_harness import CHAIN, Network


@pytest.mark.parametrize("powers", [[1], [1, 1, 1, 1], [10, 1, 1, 1], [5, 3, 2, 7, 1, 1, 4]])
def test_all_honest_commit_round_zero(powers):
    net = Network(powers)
    net.start(1)
    hashes = {n.commits[0].block_hash for n in net.nodes}
    assert len(hashes) == 1
    for n in net.nodes:
        assert len(n.commits) == 1
        c = n.commits[0]
        assert (c.height, c.round) == (1, 0)
        c.certificate.verify(net.vset, CHAIN)
        assert n.engine.step == RoundStep.COMMITTED


def test_several_heights_rotate_proposers():
    net = Network([1, 1, 1, 1])
    vset = net.vset
    proposers = []
    for h in range(1, 6):
        net.start(h, vset)
        proposers.append(vset.proposer_address)
        assert all(len(n.commits) == h for n in net.nodes)
        assert len({n.commits[-1].block_hash for n in net.nodes}) == 1
        vset = vset.advance(1)
    assert len(set(proposers[:4])) == 4

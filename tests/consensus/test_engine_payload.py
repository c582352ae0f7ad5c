"""Block bytes that are not the block a proposal names cannot poison its hash.

A proposal's signature covers only its block hash, so anyone who saw a
genuine proposal can send a copy with other bytes. The application tells
"these bytes are not that block" (`BlockVerdict.PAYLOAD_MISMATCH`) apart from
"that block is invalid" (`INVALID`): only the latter makes the node prevote
nil. A mismatched copy is `Rejected(PAYLOAD_MISMATCH)` with the digest of its
bytes (so the network blames whoever delivered them), a later copy with the
real bytes is judged and decided, and the memory of rejected bytes is bounded.
"""

from __future__ import annotations

import pytest

from consensus.actions import BlockVerdict, Commit, Rejected, RejectReason, Relay, ValidateBlock
from consensus.engine import MAX_REJECTED_PAYLOADS
from consensus.messages import NIL, PREVOTE, payload_digest
from consensus.timeouts import Step
from engine_harness import Driver, block_for, index_of_proposer, make_set, of_type, own_votes, sign_proposal

POWERS = [1, 1, 1, 1]


def _non_proposer(**kw) -> Driver:
    keys, vset = make_set(POWERS)
    return Driver(POWERS, me=(index_of_proposer(vset, keys, 0) + 1) % len(POWERS), **kw)


def _genuine(d: Driver):
    bh, payload = block_for("A")
    return sign_proposal(d.keys[d.proposer_index(0)], 1, 0, bh), payload


def test_junk_copy_first_then_genuine_copy_is_prevoted_and_committed():
    d = _non_proposer()
    d.start()
    p, payload = _genuine(d)
    junk = b"junk raced ahead of the genuine copy"
    acts = d._run(d.engine.on_proposal(p, junk))
    assert [(r.reason, r.message, r.payload_digest) for r in of_type(acts, Rejected)] == [
        (RejectReason.PAYLOAD_MISMATCH, p, payload_digest(junk))
    ]
    assert own_votes(acts) == [] and d.relayed == []  # waiting, not nil
    acts = d._run(d.engine.on_proposal(p, payload))  # the same proposal, the real bytes
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [p.block_hash]
    assert d.relayed == [Relay(p, payload)]  # relayed only with the bytes that validated
    others = d.others()[:2]
    d.prevotes_from(others, 0, p.block_hash)
    acts = d.precommits_from(others, 0, p.block_hash)
    assert [(c.block_hash, c.block) for c in of_type(acts, Commit)] == [(p.block_hash, payload)]


def test_bytes_of_another_block_do_not_make_the_node_prevote_nil():
    d = _non_proposer()
    d.start()
    p, payload = _genuine(d)
    _, other_block = block_for("B")  # a well-formed block, just not the one named
    acts = d._run(d.engine.on_proposal(p, other_block))
    assert [r.reason for r in of_type(acts, Rejected)] == [RejectReason.PAYLOAD_MISMATCH]
    assert d.engine.state.validity.get(p.block_hash) is None
    assert [v.block_hash for v in own_votes(d.timeout(Step.PROPOSE), PREVOTE)] == [NIL]  # as with no block


def test_an_invalid_block_with_matching_bytes_is_still_prevoted_nil_and_not_judged_again():
    d = _non_proposer()
    d.start()
    p, payload = _genuine(d)
    d.invalid.add(p.block_hash)
    acts = d._run(d.engine.on_proposal(p, payload))
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [NIL]
    assert of_type(acts, Rejected) == [] and d.relayed == []  # nobody provably at fault
    acts = d._run(d.engine.on_proposal(p, b"other bytes"))  # the verdict is final for the hash
    assert of_type(acts, ValidateBlock) == [] and of_type(acts, Rejected) == []


def test_rejected_payloads_are_bounded_and_each_distinct_junk_is_judged_and_blamed():
    d = _non_proposer()
    d.start()
    p, payload = _genuine(d)
    floods = [b"junk %d" % i for i in range(3 * MAX_REJECTED_PAYLOADS)]
    for junk in floods:
        acts = d._run(d.engine.on_proposal(p, junk))
        assert [r.payload_digest for r in of_type(acts, Rejected)] == [payload_digest(junk)]
    assert len(d.engine.state.rejected_payloads) == MAX_REJECTED_PAYLOADS
    assert d.engine.state.blocks == {}  # no junk bytes held
    # A remembered one is not judged again; a forgotten one is (and blamed again).
    assert of_type(d._run(d.engine.on_proposal(p, floods[-1])), ValidateBlock) == []
    assert len(of_type(d._run(d.engine.on_proposal(p, floods[0])), Rejected)) == 1
    acts = d._run(d.engine.on_proposal(p, payload))
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [p.block_hash]


def test_junk_copy_after_the_block_validated_is_ignored():
    d = _non_proposer()
    d.start()
    p, payload = _genuine(d)
    d._run(d.engine.on_proposal(p, payload))
    acts = d._run(d.engine.on_proposal(p, b"late junk"))
    assert of_type(acts, ValidateBlock) == [] and of_type(acts, Rejected) == []
    assert d.engine.state.blocks[p.block_hash] == payload


def test_a_rejected_proposal_names_the_bytes_of_its_copy():
    d = _non_proposer()
    d.start()
    p, payload = _genuine(d)
    forged = p.with_signature(bytes(64))
    acts = d._run(d.engine.on_proposal(forged, payload))
    assert [(r.reason, r.payload_digest) for r in of_type(acts, Rejected)] == [
        (RejectReason.BAD_SIGNATURE, payload_digest(payload))
    ]


def test_a_verdict_must_be_typed():
    d = _non_proposer(auto_validate=False)
    d.start()
    p, payload = _genuine(d)
    d._run(d.engine.on_proposal(p, payload))
    with pytest.raises(TypeError):
        d.engine.on_block_validated(1, 0, p.block_hash, False)

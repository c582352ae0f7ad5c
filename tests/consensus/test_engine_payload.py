"""Block bytes that are not the block a proposal names cannot poison its hash.

A proposal's signature covers only its block hash, so anyone who saw a
genuine proposal can send a copy with other bytes. The application tells
"these bytes are not that block" (`BlockVerdict.PAYLOAD_MISMATCH`) apart from
"that block is invalid" (`INVALID`): only the latter makes the node prevote
nil. A mismatched copy is `Rejected(PAYLOAD_MISMATCH)` with the digest of its
bytes (so the network blames whoever delivered them), a later copy with the
real bytes is judged and decided, and the memory of rejected bytes is bounded.
Copies that arrive while other bytes for their hash are judged (or that wait
together in the next-height buffer) are judged in turn, within bounds.
"""

from __future__ import annotations

import pytest

from consensus.actions import BlockVerdict, Commit, Rejected, RejectReason, Relay, ValidateBlock
from consensus.buffer import MAX_PAYLOADS_PER_PROPOSAL, FutureBuffer
from consensus.engine import MAX_QUEUED_PAYLOADS, MAX_REJECTED_PAYLOADS
from consensus.messages import NIL, PREVOTE, payload_digest
from consensus.timeouts import Step
from engine_harness import Driver, block_for, index_of_proposer, key, make_set, of_type, own_votes, sign_proposal

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


def test_copies_arriving_while_other_bytes_are_judged_wait_their_turn_bounded():
    d = _non_proposer(auto_validate=False)
    d.start()
    p, payload = _genuine(d)
    (first,) = of_type(d._run(d.engine.on_proposal(p, b"junk 0")), ValidateBlock)
    for i in range(1, MAX_QUEUED_PAYLOADS + 3):  # more junk than the queue holds
        assert of_type(d._run(d.engine.on_proposal(p, b"junk %d" % i)), ValidateBlock) == []
    assert of_type(d._run(d.engine.on_proposal(p, payload)), ValidateBlock) == []  # over the bound: dropped
    assert sum(len(q) for q in d.engine.state.queued_payloads.values()) == MAX_QUEUED_PAYLOADS
    judged = [first.block]
    while True:
        acts = d._run(d.engine.on_block_validated(1, 0, p.block_hash, BlockVerdict.PAYLOAD_MISMATCH))
        nxt = of_type(acts, ValidateBlock)
        if not nxt:
            break
        judged += [v.block for v in nxt]
    assert judged == [b"junk %d" % i for i in range(MAX_QUEUED_PAYLOADS + 1)]
    # The real bytes come again (another relayer): judged, prevoted.
    (v,) = of_type(d._run(d.engine.on_proposal(p, payload)), ValidateBlock)
    acts = d._run(d.engine.on_block_validated(1, 0, p.block_hash, BlockVerdict.VALID))
    assert [x.block_hash for x in own_votes(acts, PREVOTE)] == [p.block_hash]


def test_next_height_junk_copy_buffered_first_does_not_crowd_out_the_real_bytes():
    d = _non_proposer()
    d.start()
    bh, payload = block_for("next")
    p = sign_proposal(d.keys[d.proposer_index(0)], 2, 0, bh)  # same set: same proposer at height 2
    for block in (b"junk raced ahead", payload):
        assert d._run(d.engine.on_proposal(p, block)) == []
    assert d.engine.buffered == 2
    d.height = 2
    acts = d.start()
    assert [r.reason for r in of_type(acts, Rejected)] == [RejectReason.PAYLOAD_MISMATCH]
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [bh]
    assert d.relayed == [Relay(p, payload)]


def test_buffered_copies_are_capped_and_do_not_spend_the_proposers_quota():
    buffer = FutureBuffer()
    buffer.advance_to(1)
    bh, payload = block_for("next")
    p = sign_proposal(key(1), 2, 0, bh)
    copies = [b"junk %d" % i for i in range(MAX_PAYLOADS_PER_PROPOSAL + 2)]
    kept = [buffer.add(p, block, known_sender=True) for block in copies]
    assert kept == [True] * MAX_PAYLOADS_PER_PROPOSAL + [False, False]
    assert not buffer.add(p, copies[0], known_sender=True)  # the same bytes again: a duplicate
    other = sign_proposal(key(1), 2, 1, bh)  # the proposer's own second proposal still fits
    assert buffer.add(other, payload, known_sender=True)

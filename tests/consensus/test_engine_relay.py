"""What the engine tells its driver to relay, and how it types rejections.

A node relays a consensus message only after the engine verified and kept
it (`Relay`); a message that fails verification is `Rejected` with a typed
reason and is never relayed. Proposals are relayed once their block is known
valid, with the validated payload; next-height messages are relayed only when
`start_height` replays and verifies them; the next-height buffer is bounded
in bytes as well as in count.
"""

from __future__ import annotations

from consensus.actions import BlockVerdict, Rejected, RejectReason, Relay
from consensus.buffer import FutureBuffer
from consensus.messages import NIL, PREVOTE, Vote
from engine_harness import Driver, block_for, key, of_type, precommit, prevote, sign_proposal


def _forged(vote: Vote) -> Vote:
    return vote.with_signature(bytes(64))


def test_valid_vote_is_relayed_once():
    d = Driver([1, 1, 1, 1], me=0)
    d.start()
    v = prevote(d.others()[0], 1, 0, NIL)
    d.vote(v)
    assert [r.message for r in d.relayed] == [v]
    d.vote(v)  # a duplicate is not relayed again
    assert len(d.relayed) == 1


def test_forged_vote_is_rejected_with_bad_signature_and_not_relayed():
    d = Driver([1, 1, 1, 1], me=0)
    d.start()
    acts = d.vote(_forged(prevote(d.others()[0], 1, 0, NIL)))
    assert [(a.reason, type(a.reason)) for a in of_type(acts, Rejected)] == [
        (RejectReason.BAD_SIGNATURE, RejectReason)
    ]
    assert d.relayed == []


def test_vote_from_outside_the_set_is_rejected_as_not_validator_and_not_relayed():
    d = Driver([1, 1, 1, 1], me=0)
    d.start()
    acts = d.vote(prevote(key(77), 1, 0, NIL))
    assert [a.reason for a in of_type(acts, Rejected)] == [RejectReason.NOT_VALIDATOR]
    assert d.relayed == []


def test_next_height_vote_is_relayed_only_when_replayed_at_start_height():
    d = Driver([1, 1, 1, 1], me=0)
    d.start()
    v = prevote(d.others()[0], 2, 0, NIL)
    assert d.vote(v) == []
    assert d.relayed == [] and d.engine.buffered == 1
    d.height = 2
    d.start()
    assert [r.message for r in d.relayed] == [v]


def test_next_height_vote_from_unknown_sender_is_dropped_at_replay_as_not_validator():
    d = Driver([1, 1, 1, 1], me=0)
    d.start()
    outsider = prevote(key(55), 2, 0, NIL)
    assert d.vote(outsider) == []  # cannot be judged yet: buffered, neither relayed nor rejected
    d.height = 2
    acts = d.start()
    assert [a.reason for a in of_type(acts, Rejected)] == [RejectReason.NOT_VALIDATOR]
    assert d.relayed == []


def test_far_future_proposal_yields_nothing():
    d = Driver([1, 1, 1, 1], me=0)
    d.start()
    bh, payload = block_for("far")
    for height in (3, 1000):
        p = sign_proposal(key(123), height, 0, bh)
        assert d.engine.on_proposal(p, payload) == []
    assert d.engine.buffered == 0


def test_proposal_is_relayed_after_its_block_validates_with_the_validated_payload():
    d = Driver([1, 1, 1, 1], me=1, auto_validate=False)
    d.start()
    bh, payload = block_for("A")
    p = sign_proposal(d.keys[d.proposer_index(0)], 1, 0, bh)
    d._run(d.engine.on_proposal(p, payload))
    assert d.relayed == []  # the signature covers the hash only: wait for the block
    d._run(d.engine.on_block_validated(1, 0, bh, BlockVerdict.VALID))
    assert d.relayed == [Relay(p, payload)]


def test_proposal_with_an_invalid_block_is_not_relayed():
    d = Driver([1, 1, 1, 1], me=1, auto_validate=False)
    d.start()
    bh, _ = block_for("A")
    p = sign_proposal(d.keys[d.proposer_index(0)], 1, 0, bh)
    d._run(d.engine.on_proposal(p, b"junk that does not hash to the proposal"))
    d._run(d.engine.on_block_validated(1, 0, bh, BlockVerdict.PAYLOAD_MISMATCH))
    assert d.relayed == []


def test_proposal_from_a_non_proposer_is_rejected_as_not_proposer():
    d = Driver([1, 1, 1, 1], me=0)
    d.start()
    not_proposer = next(i for i in range(4) if i != d.proposer_index(0))
    _, acts = d.propose(0, "A", proposer=not_proposer)
    assert [a.reason for a in of_type(acts, Rejected)] == [RejectReason.NOT_PROPOSER]
    assert d.relayed == []


def test_next_height_buffer_is_capped_in_bytes():
    buffer = FutureBuffer(max_bytes=3500, max_unknown_bytes=2000)
    buffer.advance_to(1)  # buffering for height 2
    bh, _ = block_for("big")
    big = b"\x00" * 1500
    first = sign_proposal(key(1), 2, 0, bh)
    second = sign_proposal(key(2), 2, 0, bh)
    third = sign_proposal(key(3), 2, 0, bh)
    assert buffer.add(first, big, known_sender=False)
    assert not buffer.add(second, big, known_sender=False)  # over the unknown senders' bytes
    assert buffer.add(second, big, known_sender=True)
    assert not buffer.add(third, big, known_sender=True)  # over the total
    assert len(buffer) == 2 and buffer.size_bytes <= 3500


def test_forged_votes_for_far_rounds_leave_no_vote_sets_behind():
    """Review finding: a vote set was created before the signature check, so
    every forged vote left an empty set for its round, scanned on every event."""
    d = Driver([1, 1, 1, 1], me=0)
    d.start()
    rounds = range(1000, 1050)
    for r in rounds:
        d.vote(_forged(precommit(d.others()[0], 1, r, b"\x11" * 32)))
        d.vote(_forged(prevote(d.others()[1], 1, r, b"\x11" * 32)))
    assert not set(rounds) & set(d.engine.votes.precommit_rounds())
    assert all(d.engine.votes.peek(r, PREVOTE) is None for r in rounds)
    assert d.relayed == []

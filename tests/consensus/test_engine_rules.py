"""Engine rules other than locking: commit at any round, timeouts and their
growth, fast round change, buffering bounds, evidence, rejections, signing."""

from __future__ import annotations

import pytest

from consensus.actions import (
    BlockVerdict,
    Commit,
    EvidenceFound,
    Rejected,
    RejectReason,
    ScheduleTimeout,
    Sign,
    ValidateBlock,
)
from consensus.buffer import MAX_PROPOSALS_PER_SENDER, MAX_UNKNOWN_VOTES, MAX_VOTES_PER_SENDER
from consensus.engine import MAX_FUTURE_ROUNDS_PER_SENDER
from consensus.messages import NIL, PRECOMMIT, PREVOTE, Vote
from consensus.round_state import RoundStep
from consensus.timeouts import Step, TimeoutConfig
from engine_harness import (
    CHAIN,
    Driver,
    block_for,
    driver_proposing_at,
    key,
    of_type,
    own_votes,
    precommit,
    prevote,
    sign_proposal,
    sign_vote,
)

T = TimeoutConfig(propose_ms=300, propose_delta_ms=50, prevote_ms=100, prevote_delta_ms=20,
                  precommit_ms=110, precommit_delta_ms=30)


# ---------------------------------------------------------------- commit

def test_commit_on_precommits_of_a_past_round():
    d = driver_proposing_at(3)
    d.start()
    a, _ = d.propose(0, "A")
    d.prevotes_from(d.others()[:1], 0, NIL)
    d.prevotes_from(d.others()[1:2], 0, NIL)
    d.timeout(Step.PREVOTE, 0)  # we precommit nil
    d.prevotes_from(d.others()[:2], 1, NIL)  # the others are in round 1 already
    assert d.engine.round == 1
    # Late precommits of round 0 for A (the others saw a POL we missed).
    acts = d.precommits_from(d.others(), 0, a)
    commits = of_type(acts, Commit)
    assert len(commits) == 1
    c = commits[0]
    assert (c.height, c.round, c.block_hash) == (1, 0, a)
    assert c.block == block_for("A")[1]
    c.certificate.verify(d.vset, CHAIN)
    assert d.engine.step == RoundStep.COMMITTED
    # Nothing more is decided or signed at this height (late votes are still
    # checked for double-signs: these conflict with the nil prevotes above).
    acts = d.prevotes_from(d.others(), 1, a) + d.timeout(Step.PROPOSE, 1)
    assert {type(x) for x in acts} <= {EvidenceFound}


def test_commit_waits_for_the_block_and_its_validation():
    d = driver_proposing_at(3, auto_validate=False)
    d.start()
    b, payload = block_for("B")
    acts = d.precommits_from(d.others(), 0, b)
    assert of_type(acts, Commit) == []  # no block yet
    _, acts = d.propose(0, "B")
    assert of_type(acts, Commit) == [] and len(of_type(acts, ValidateBlock)) == 1
    acts = d._run(d.engine.on_block_validated(1, 0, b, BlockVerdict.VALID))
    assert [(c.round, c.block_hash) for c in of_type(acts, Commit)] == [(0, b)]


def test_no_commit_of_invalid_block():
    d = driver_proposing_at(3)
    d.start()
    bad = block_for("bad")[0]
    d.invalid.add(bad)
    d.propose(0, "bad")
    acts = d.precommits_from(d.others(), 0, bad)
    assert of_type(acts, Commit) == []


def test_commit_at_a_future_round_of_the_height():
    d = driver_proposing_at(3)
    d.start()
    b, _ = d.propose(2, "B")  # stored: round 2 is within reach
    acts = d.precommits_from(d.others(), 2, b)
    assert [(c.round, c.block_hash) for c in of_type(acts, Commit)] == [(2, b)]


def test_own_vote_counts_only_after_signing():
    """With 3 equal validators the engine's own prevote is needed for +2/3;
    until on_signed returns it, nothing locks."""
    keys_powers = [1, 1, 1]
    d = Driver(keys_powers, me=0)
    eng = d.engine
    acts = eng.start_height(1, d.vset)
    pi = d.proposer_index(0)
    if pi == 0:
        pytest.skip("key order made us proposer")  # pragma: no cover - deterministic keys
    a, payload = block_for("A")
    acts = eng.on_proposal(sign_proposal(d.keys[pi], 1, 0, a), payload)
    assert len(of_type(acts, ValidateBlock)) == 1
    acts = eng.on_block_validated(1, 0, a, BlockVerdict.VALID)
    (sign,) = of_type(acts, Sign)
    other = next(i for i in (1, 2) if i != pi)
    acts = eng.on_vote(prevote(d.keys[pi], 1, 0, a)) + eng.on_vote(prevote(d.keys[other], 1, 0, a))
    # 2 of 3 is not > 2/3 without our own vote.
    assert of_type(acts, Sign) == []
    acts = eng.on_signed(d.signer.sign(sign.message))
    signs = of_type(acts, Sign)
    assert [(s.message.type, s.message.block_hash) for s in signs] == [(PRECOMMIT, a)]


def test_refused_signature_is_not_counted():
    d = Driver([1, 1, 1], me=0)
    eng = d.engine
    eng.start_height(1, d.vset)
    pi = d.proposer_index(0)
    a, payload = block_for("A")
    eng.on_proposal(sign_proposal(d.keys[pi], 1, 0, a), payload)
    acts = eng.on_block_validated(1, 0, a, BlockVerdict.VALID)
    assert len(of_type(acts, Sign)) == 1
    assert eng.on_signed(None) == []
    other = next(i for i in (1, 2) if i != pi)
    acts = eng.on_vote(prevote(d.keys[pi], 1, 0, a)) + eng.on_vote(prevote(d.keys[other], 1, 0, a))
    assert of_type(acts, Sign) == []  # still only 2 of 3


# ---------------------------------------------------------------- timeouts

def test_timeouts_grow_per_round():
    assert [T.duration_ms(Step.PROPOSE, r) for r in range(3)] == [300, 350, 400]
    assert [T.duration_ms(Step.PREVOTE, r) for r in range(3)] == [100, 120, 140]
    assert [T.duration_ms(Step.PRECOMMIT, r) for r in range(3)] == [110, 140, 170]
    d = driver_proposing_at(3, timeouts=T)
    acts = d.start()
    assert of_type(acts, ScheduleTimeout) == [ScheduleTimeout(1, 0, Step.PROPOSE, 300)]
    acts = d.timeout(Step.PROPOSE, 0)
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [NIL]
    acts = d.prevotes_from(d.others()[:1], 0, NIL)
    assert of_type(acts, ScheduleTimeout) == []
    acts = d.prevotes_from(d.others()[1:2], 0, block_for("X")[0])  # +2/3 of anything
    assert of_type(acts, ScheduleTimeout) == [ScheduleTimeout(1, 0, Step.PREVOTE, 100)]
    acts = d.timeout(Step.PREVOTE, 0)
    assert [v.block_hash for v in own_votes(acts, PRECOMMIT)] == [NIL]
    acts = d.precommits_from(d.others()[:1], 0, NIL)
    assert of_type(acts, ScheduleTimeout) == []
    acts = d.precommits_from(d.others()[1:2], 0, block_for("X")[0])
    assert of_type(acts, ScheduleTimeout) == [ScheduleTimeout(1, 0, Step.PRECOMMIT, 110)]
    acts = d.timeout(Step.PRECOMMIT, 0)
    assert d.engine.round == 1
    assert of_type(acts, ScheduleTimeout) == [ScheduleTimeout(1, 1, Step.PROPOSE, 350)]


def test_stale_timeouts_are_ignored():
    d = driver_proposing_at(3, timeouts=T)
    d.start()
    d.timeout(Step.PROPOSE, 0)
    assert d.timeout(Step.PROPOSE, 0) == []  # step already left
    assert d.engine.on_timeout(ScheduleTimeout(7, 0, Step.PRECOMMIT, 1)) == []  # other height
    assert d.timeout(Step.PRECOMMIT, 5) == [] and d.engine.round == 0  # other round


def test_prevote_nil_quorum_precommits_nil_without_timeout():
    d = driver_proposing_at(3)
    d.start()
    d.timeout(Step.PROPOSE, 0)
    acts = d.prevotes_from(d.others()[:2], 0, NIL)
    assert [v.block_hash for v in own_votes(acts, PRECOMMIT)] == [NIL]


# ---------------------------------------------------------------- round skip

def test_fast_round_change_needs_more_than_one_third():
    d = Driver([1, 1, 1, 1, 1, 1], me=0)  # f+1 means > 2 of 6
    d.start()
    others = d.others()
    acts = d.prevotes_from(others[:2], 4, NIL)  # exactly 1/3: not enough
    assert d.engine.round == 0
    acts = d.votes([precommit(others[2], 1, 4, NIL)])
    assert d.engine.round == 4
    assert any(isinstance(a, ScheduleTimeout) and a.round == 4 and a.step == Step.PROPOSE for a in acts)


def test_fast_round_change_counts_power_not_heads():
    d = Driver([5, 1, 1, 1, 1], me=1)
    d.start()
    big = d.keys[0]
    d.votes([prevote(big, 1, 2, NIL)])  # 5 of 9 > 1/3 from one validator
    assert d.engine.round == 2


def test_fast_round_change_counts_a_proposal_sender():
    d = driver_proposing_at(3)
    d.start()
    b, _ = d.propose(2, "B")
    assert d.engine.round == 0  # 1 of 4
    voter = next(k for k in d.others() if k.address != d.engine.proposer_for(2))
    d.votes([prevote(voter, 1, 2, b)])  # proposer + one voter: 2 of 4 > 1/3
    assert d.engine.round == 2
    # The proposal stored for round 2 is acted on at once.
    assert [v.block_hash for v in own_votes(d.log, PREVOTE)][-1] == b


# ---------------------------------------------------------------- buffering

def test_next_height_messages_are_buffered_and_replayed():
    d = Driver([1, 1, 1, 1], me=0)
    d.start()
    nxt = d.vset.advance(1)
    p_idx = next(i for i, k in enumerate(d.keys) if k.address == nxt.proposer_address)
    b, payload = block_for("H2")
    eng = d.engine
    assert eng.on_proposal(sign_proposal(d.keys[p_idx], 2, 0, b), payload) == []
    for k in d.others():
        assert eng.on_vote(prevote(k, 2, 0, b)) == []
        assert eng.on_vote(precommit(k, 2, 0, b)) == []
    assert eng.on_vote(prevote(d.others()[0], 3, 0, b)) == []  # h+2: dropped
    assert eng.buffered == 1 + 2 * 3
    # Finish height 1 by a commit, then enter height 2: the buffer decides it.
    a, _ = d.propose(0, "A")
    d.precommits_from(d.others(), 0, a)
    assert eng.step == RoundStep.COMMITTED
    d.height = 2
    acts = d.start(vset=nxt)
    commits = of_type(acts, Commit)
    assert [(c.height, c.block_hash) for c in commits] == [(2, b)]


def test_next_height_buffer_caps_per_sender():
    d = Driver([1, 1, 1, 1], me=0)
    d.start()
    eng = d.engine
    k = d.others()[0]
    for r in range(MAX_VOTES_PER_SENDER + 10):
        eng.on_vote(prevote(k, 2, r, NIL))
    assert eng.buffered == MAX_VOTES_PER_SENDER
    for r in range(1, MAX_PROPOSALS_PER_SENDER + 5):
        eng.on_proposal(sign_proposal(k, 2, r, block_for(f"p{r}")[0]), b"x")
    assert eng.buffered == MAX_VOTES_PER_SENDER + MAX_PROPOSALS_PER_SENDER
    # Another sender is not crowded out.
    assert eng.on_vote(prevote(d.others()[1], 2, 0, NIL)) == []
    assert eng.buffered == MAX_VOTES_PER_SENDER + MAX_PROPOSALS_PER_SENDER + 1
    # Unknown senders share a bounded pool.
    for i in range(MAX_UNKNOWN_VOTES + 20):
        eng.on_vote(prevote(key(1000 + i), 2, 0, NIL))
    assert eng.buffered == MAX_VOTES_PER_SENDER + MAX_PROPOSALS_PER_SENDER + 1 + MAX_UNKNOWN_VOTES


def test_next_height_forgery_from_known_sender_is_rejected_not_buffered():
    d = Driver([1, 1, 1, 1], me=0)
    d.start()
    k = d.others()[0]
    forged = Vote(PREVOTE, 2, 0, NIL, k.address, b"\x01" * 64)
    acts = d.engine.on_vote(forged)
    assert [a.reason for a in of_type(acts, Rejected)] == [RejectReason.BAD_SIGNATURE]
    assert d.engine.buffered == 0


def test_future_rounds_capped_per_sender():
    d = Driver([1, 1, 1, 1, 1, 1, 1], me=0)  # f+1 = 3 of 7: two votes move nothing
    d.start()
    k = d.others()[0]
    for r in range(1, 10):
        d.vote(prevote(k, 1, r, NIL))
    votes = d.engine.votes
    assert votes.rounds_with_sender(k.address, 0) == MAX_FUTURE_ROUNDS_PER_SENDER
    # A new vote in a round it already occupies is still taken.
    d.vote(precommit(k, 1, 1, NIL))
    assert d.engine.votes.precommits(1).votes.get(k.address) is not None


# ---------------------------------------------------------------- evidence / rejection

def test_duplicate_vote_evidence_detected_once_and_verifiable():
    d = Driver([1, 1, 1, 1], me=0)
    d.start()
    k = d.others()[0]
    a, b = block_for("A")[0], block_for("B")[0]
    assert of_type(d.vote(prevote(k, 1, 0, a)), EvidenceFound) == []
    assert d.vote(prevote(k, 1, 0, a)) == []  # exact duplicate: ignored
    evs = of_type(d.vote(prevote(k, 1, 0, b)), EvidenceFound)
    assert len(evs) == 1
    ev = evs[0].evidence
    ev.verify(d.vset, CHAIN)
    assert ev.validator == k.address and ev.vote_a.block_hash < ev.vote_b.block_hash
    assert of_type(d.vote(prevote(k, 1, 0, b)), EvidenceFound) == []  # reported once
    # The conflicting vote counts for its own value (a POL must not be
    # hideable by equivocating), but only the first counts toward "any".
    pv = d.engine.votes.prevotes(0)
    assert pv.power_for(a) == 1 and pv.power_for(b) == 1 and pv.total == 1
    # Nil vs block is a double-sign too.
    evs = of_type(d.vote(precommit(k, 1, 0, a)) + d.vote(precommit(k, 1, 0, NIL)), EvidenceFound)
    assert len(evs) == 1 and evs[0].evidence.vote_a.block_hash == NIL


def test_rejections():
    d = Driver([1, 1, 1, 1], me=0)
    d.start()
    outsider = key(99)
    acts = d.vote(prevote(outsider, 1, 0, NIL))
    assert [a.reason for a in of_type(acts, Rejected)] == [RejectReason.NOT_VALIDATOR]
    k = d.others()[0]
    wrong_chain = sign_vote(k, PREVOTE, 1, 0, NIL, chain="other-chain")
    assert [a.reason for a in of_type(d.vote(wrong_chain), Rejected)] == [RejectReason.BAD_SIGNATURE]
    assert d.engine.votes.prevotes(0).votes == {}
    not_proposer = next(i for i in range(4) if i != d.proposer_index(0))
    _, acts = d.propose(0, "A", proposer=not_proposer)
    assert [a.reason for a in of_type(acts, Rejected)] == [RejectReason.NOT_PROPOSER]
    bad_sig = sign_proposal(d.keys[d.proposer_index(0)], 1, 0, block_for("A")[0]).with_signature(b"\0" * 64)
    acts = d.engine.on_proposal(bad_sig, b"A")
    assert [a.reason for a in of_type(acts, Rejected)] == [RejectReason.BAD_SIGNATURE]
    assert d.engine.state.proposals == {}


def test_old_height_messages_ignored():
    d = Driver([1, 1, 1, 1], me=0, height=5)
    d.start()
    assert d.vote(prevote(d.others()[0], 4, 0, NIL)) == []


def test_non_validator_follows_and_commits():
    d = Driver([1, 1, 1, 1], me=None)
    acts = d.start()
    assert of_type(acts, Sign) == []
    a, acts = d.propose(0, "A")
    assert of_type(acts, Sign) == []
    acts = d.precommits_from(d.keys[:3], 0, a)
    assert [c.block_hash for c in of_type(acts, Commit)] == [a]


def test_start_height_must_increase():
    d = Driver([1], me=0)
    d.start()
    with pytest.raises(ValueError):
        d.engine.start_height(1, d.vset)


def test_junk_payload_does_not_poison_the_hash():
    """A Byzantine proposer pairs an honest block's hash with junk bytes: the
    hash stays unknown (not invalid), and a later proposal with the real bytes
    for that hash is validated."""
    d = driver_proposing_at(3, auto_validate=False)
    d.start()
    a, payload = block_for("A")
    p0 = d.proposer_index(0)
    acts = d._run(d.engine.on_proposal(sign_proposal(d.keys[p0], 1, 0, a), b"junk"))
    (v,) = of_type(acts, ValidateBlock)
    acts = d._run(d.engine.on_block_validated(1, 0, a, BlockVerdict.PAYLOAD_MISMATCH, "hash mismatch"))
    assert own_votes(acts) == []  # not a verdict on the block: no nil prevote because of it
    acts = d.timeout(Step.PROPOSE, 0)  # as if no block had come
    assert [x.block_hash for x in own_votes(acts, PREVOTE)] == [NIL]
    d.prevotes_from(d.others()[:2], 0, NIL)
    d.timeout(Step.PREVOTE, 0)
    d.precommits_from(d.others()[:2], 0, NIL)
    d.timeout(Step.PRECOMMIT, 0)
    p1 = d.proposer_index(1)
    acts = d._run(d.engine.on_proposal(sign_proposal(d.keys[p1], 1, 1, a), payload))
    assert [x.block for x in of_type(acts, ValidateBlock)] == [payload]
    assert own_votes(acts) == []  # waiting for the answer
    acts = d._run(d.engine.on_block_validated(1, 1, a, BlockVerdict.VALID))
    assert [x.block_hash for x in own_votes(acts, PREVOTE)] == [a]
    # Once the hash is known valid, junk paired with it later is ignored.
    d.prevotes_from(d.others()[:2], 1, NIL)
    d.timeout(Step.PREVOTE, 1)
    d.precommits_from(d.others()[:2], 1, NIL)
    d.timeout(Step.PRECOMMIT, 1)
    p2 = d.proposer_index(2)
    acts = d._run(d.engine.on_proposal(sign_proposal(d.keys[p2], 1, 2, a), b"junk"))
    assert of_type(acts, ValidateBlock) == []
    assert d.engine.state.blocks[a] == payload


def test_own_vote_signed_after_commit_is_still_broadcast():
    d = Driver([1, 1, 1, 1], me=0)
    eng = d.engine
    eng.start_height(1, d.vset)
    pi = d.proposer_index(0)
    if pi == 0:  # pragma: no cover - deterministic keys make 0 a non-proposer
        pytest.skip("engine is the proposer")
    a, payload = block_for("A")
    eng.on_proposal(sign_proposal(d.keys[pi], 1, 0, a), payload)
    (sign,) = of_type(eng.on_block_validated(1, 0, a, BlockVerdict.VALID), Sign)  # our prevote, not yet signed
    acts = []
    for k in d.others():
        acts += eng.on_vote(precommit(k, 1, 0, a))
    assert len(of_type(acts, Commit)) == 1
    acts = eng.on_signed(d.signer.sign(sign.message))
    assert [type(x).__name__ for x in acts] == ["Broadcast"]


def test_equivocating_proposer_second_block_can_lock_and_commit():
    """The proposer of round 0 sends us block A but the others block B; they
    prevote and precommit B. The first proposal decides our prevote, but the
    second is kept, so the POL for B locks us and the precommits commit B."""
    d = driver_proposing_at(3)
    d.start()
    a, acts = d.propose(0, "A")
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [a]
    b, acts = d.propose(0, "B")  # same proposer, same round, other block
    assert len(of_type(acts, ValidateBlock)) == 1
    acts = d.prevotes_from(d.others(), 0, b)
    assert [v.block_hash for v in own_votes(acts, PRECOMMIT)] == [b]
    assert d.engine.state.locked_value == b
    acts = d.precommits_from(d.others()[:2], 0, b)
    assert [c.block_hash for c in of_type(acts, Commit)] == [b]


def test_equivocating_proposer_alternatives_are_bounded():
    from consensus.engine import MAX_ALT_PROPOSALS_PER_ROUND

    d = driver_proposing_at(3)
    d.start()
    for i in range(MAX_ALT_PROPOSALS_PER_ROUND + 5):
        d.propose(0, f"junk{i}")
    assert len(d.engine.state.round_proposals(0)) == 1 + MAX_ALT_PROPOSALS_PER_ROUND
    # ... except for a block that already has a +2/3 quorum.
    c = block_for("C")[0]
    d.precommits_from(d.others(), 0, c)
    _, acts = d.propose(0, "C")
    assert [x.block_hash for x in of_type(acts, Commit)] == [c]


def test_equivocator_cannot_hide_a_pol():
    """The simulator's seed-873 finding, at unit scale: validator X prevotes
    nil to us first and B to the others; when X's B prevote reaches us too,
    it counts for B (and is evidence), so we see the POL."""
    d = Driver([1, 1, 1, 1, 1], me=0)
    d.start()
    pi = d.proposer_index(0)
    others = [k for k in d.others() if k.address != d.keys[pi].address]
    x = others[0]
    b, _ = d.propose(0, "B")
    d.vote(prevote(x, 1, 0, NIL))
    d.prevotes_from([d.keys[pi], others[1]], 0, b)
    assert d.engine.state.locked_round == -1  # 3 of 5 for B: not yet +2/3
    acts = d.vote(prevote(x, 1, 0, b))
    assert len(of_type(acts, EvidenceFound)) == 1
    assert [v.block_hash for v in own_votes(acts, PRECOMMIT)] == [b]


def test_restart_mid_height_guard_refuses_then_engine_catches_up():
    """A validator signed up to round 2, crashed and restarts at round 0 with
    the same guard: its round-0/1 votes are refused (nothing sent), fast round
    change takes it to the others' round, where it signs again."""
    from consensus.signer import MemoryStore, Signer

    d = driver_proposing_at(3)
    store = MemoryStore()
    d.signer = Signer(d.keys[d.me], store, CHAIN)
    d.start()
    d.timeout(Step.PROPOSE, 0)
    d.prevotes_from(d.others()[:2], 2, NIL)  # others are in round 2: jump
    assert d.engine.round == 2
    d.timeout(Step.PROPOSE, 2)
    assert (store.state.height, store.state.round, store.state.step) == (1, 2, 3)  # precommitted nil
    # Crash; a fresh engine with the same guard.
    d2 = Driver([1, 1, 1, 1], me=d.me)
    d2.signer = Signer(d.keys[d.me], store, CHAIN)
    d2.start(locked=d2.signer.locked(1))
    acts = d2.timeout(Step.PROPOSE, 0)
    assert of_type(acts, Sign) and own_votes(acts) == []  # asked, refused, nothing sent
    acts = d2.prevotes_from(d.others()[:2], 4, NIL)  # round 4: not our turn to propose
    assert d2.engine.round == 4
    acts = d2.timeout(Step.PROPOSE, 4)
    assert [(v.round, v.block_hash) for v in own_votes(acts, PREVOTE)] == [(4, NIL)]


def test_the_decided_certificate_gains_the_precommits_that_come_after_the_commit():
    d = Driver([1, 1, 1, 1], me=0)
    d.start()
    assert d.engine.decided_certificate() is None  # nothing decided yet
    a, _ = d.propose(0, "A", proposer=d.proposer_index(0))
    late = d.others()[2]
    d.prevotes_from(d.others(), 0, a)
    commits = of_type(d.precommits_from(d.others()[:2], 0, a), Commit)
    assert len(commits) == 1 and len(commits[0].certificate.precommits) == 3  # ours and two others
    first = d.engine.decided_certificate()
    assert first == commits[0].certificate
    assert of_type(d.precommits_from([late], 0, a), Commit) == []  # decided once
    final = d.engine.decided_certificate()
    assert len(final.precommits) == 4 and late.address in {v.validator for v in final.precommits}
    final.verify(d.vset, CHAIN)

"""Lock / proof-of-lock rules (Algorithm 1 lines 22-43), after CometBFT's
TestStateLock* family: one engine, the test plays the other three of four
equal validators with real signatures and asserts on the engine's votes."""

from __future__ import annotations

from consensus.actions import BlockVerdict, RequestProposal
from consensus.messages import NIL, PRECOMMIT, PREVOTE
from consensus.timeouts import Step
from engine_harness import Driver, block_for, driver_proposing_at, of_type, own_proposals, own_votes


def lock_on_round0(d: Driver, tag: str = "A") -> bytes:
    """Round 0: proposal `tag`, +2/3 prevotes for it => we lock and precommit it;
    precommits never reach +2/3, so we time out into round 1."""
    d.start()
    a, acts = d.propose(0, tag)
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [a]
    acts = d.prevotes_from(d.others()[:2], 0, a)
    assert [v.block_hash for v in own_votes(acts, PRECOMMIT)] == [a]
    rs = d.engine.state
    assert (rs.locked_round, rs.locked_value) == (0, a)
    assert (rs.valid_round, rs.valid_value) == (0, a)
    d.precommits_from(d.others()[:1], 0, NIL)
    d.precommits_from(d.others()[1:2], 0, NIL)  # +2/3 precommits, none for a block
    acts = d.timeout(Step.PRECOMMIT, 0)
    assert d.engine.round == 1
    return a


def test_lock_on_pol_and_precommit():
    d = driver_proposing_at(3)
    lock_on_round0(d)


def test_locked_prevotes_nil_for_other_block_without_pol():
    """TestStateLock_NoPOL: locked on A, a new block B without POL => prevote nil."""
    d = driver_proposing_at(3)
    a = lock_on_round0(d)
    b, acts = d.propose(1, "B")
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [NIL]
    assert d.engine.state.locked_value == a


def test_locked_prevotes_its_locked_block_reproposed_without_pol():
    d = driver_proposing_at(3)
    a = lock_on_round0(d)
    _, acts = d.propose(1, "A")
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [a]


def test_relock_on_higher_pol():
    """TestStateLock_POLRelock: locked on A at 0; +2/3 prevotes for B at 1 with
    the proposal for B => lock moves to B and we precommit B."""
    d = driver_proposing_at(3)
    lock_on_round0(d)
    b, acts = d.propose(1, "B")
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [NIL]
    acts = d.prevotes_from(d.others(), 1, b)
    assert [v.block_hash for v in own_votes(acts, PRECOMMIT)] == [b]
    rs = d.engine.state
    assert (rs.locked_round, rs.locked_value) == (1, b)
    assert (rs.valid_round, rs.valid_value) == (1, b)


def test_nil_pol_does_not_unlock():
    """TestStateLock_POLDoesNotUnlock: +2/3 nil prevotes at a higher round make
    us precommit nil but keep the lock; the next new block still gets nil."""
    d = driver_proposing_at(3)
    a = lock_on_round0(d)
    d.propose(1, "B")
    acts = d.prevotes_from(d.others(), 1, NIL)
    assert [v.block_hash for v in own_votes(acts, PRECOMMIT)] == [NIL]
    assert d.engine.state.locked_value == a and d.engine.state.locked_round == 0
    d.precommits_from(d.others()[:2], 1, NIL)
    d.timeout(Step.PRECOMMIT, 1)
    assert d.engine.round == 2
    _, acts = d.propose(2, "C")
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [NIL]


def test_pol_waits_for_quorum_of_prevotes():
    """A proposal citing pol_round=1 is not prevoted until +2/3 prevotes for it
    at round 1 are actually held; a POL short of +2/3 is no POL."""
    d = driver_proposing_at(3)
    lock_on_round0(d)
    d.propose(1, "B")
    d.prevotes_from(d.others()[:2], 1, NIL)
    d.timeout(Step.PREVOTE, 1)
    d.precommits_from(d.others()[:2], 1, NIL)
    d.timeout(Step.PRECOMMIT, 1)
    assert d.engine.round == 2
    b = block_for("B")[0]
    _, acts = d.propose(2, "B", pol_round=1)
    assert own_votes(acts, PREVOTE) == []
    acts = d.prevotes_from(d.others()[2:], 1, b)
    assert own_votes(acts, PREVOTE) == []  # 1 of 4 for B: not a POL
    acts = d.timeout(Step.PROPOSE, 2)
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [NIL]


def test_prevote_reproposal_with_pol_newer_than_lock():
    d = driver_proposing_at(3)
    a = lock_on_round0(d)
    b = block_for("B")[0]
    # Round 1: we never saw the proposal; three others prevoted B (a POL we get late).
    d.timeout(Step.PROPOSE, 1)
    d.precommits_from(d.others()[:2], 1, NIL)
    d.timeout(Step.PRECOMMIT, 1)
    assert d.engine.round == 2
    _, acts = d.propose(2, "B", pol_round=1)
    assert own_votes(acts, PREVOTE) == []
    acts = d.prevotes_from(d.others(), 1, b)
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [b]
    assert d.engine.state.locked_value == a  # prevoting is not locking


def test_pol_older_than_lock_is_refused():
    """Locked on B at round 1; a proposal of A justified by a POL of round 0
    (older than our lock) gets nil, though the POL is real."""
    d = driver_proposing_at(3)
    d.start()
    a, _ = d.propose(0, "A")
    d.prevotes_from(d.others(), 0, a)  # POL for A at round 0; we lock A
    d.precommits_from(d.others(), 0, NIL)
    d.timeout(Step.PRECOMMIT, 0)
    b, _ = d.propose(1, "B")
    d.prevotes_from(d.others(), 1, b)  # relock on B at round 1
    assert (d.engine.state.locked_round, d.engine.state.locked_value) == (1, b)
    d.precommits_from(d.others(), 1, NIL)
    d.timeout(Step.PRECOMMIT, 1)
    _, acts = d.propose(2, "A", pol_round=0)
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [NIL]


def test_pol_equal_to_lock_round_is_accepted():
    """The boundary locked_round == pol_round: our locked block re-proposed
    with the POL of the round we locked in is prevoted."""
    d = driver_proposing_at(3)
    a = lock_on_round0(d)
    d.prevotes_from(d.others()[2:], 0, a)  # complete the round-0 POL view
    d.timeout(Step.PROPOSE, 1)
    d.precommits_from(d.others()[:2], 1, NIL)
    d.timeout(Step.PRECOMMIT, 1)
    _, acts = d.propose(2, "A", pol_round=0)
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [a]


def test_missing_proposal_with_pol_does_not_lock():
    """TestStateLock_MissingProposalWhenPOLSeenDoesNotUpdateLock."""
    d = driver_proposing_at(3)
    a = lock_on_round0(d)
    b = block_for("B")[0]
    d.timeout(Step.PROPOSE, 1)  # no proposal in round 1: prevote nil
    acts = d.prevotes_from(d.others(), 1, b)
    assert own_votes(acts, PRECOMMIT) == []  # no proposal for b in round 1 => no lock
    assert d.engine.state.locked_value == a
    acts = d.timeout(Step.PREVOTE, 1)
    assert [v.block_hash for v in own_votes(acts, PRECOMMIT)] == [NIL]
    assert d.engine.state.locked_value == a


def test_does_not_lock_on_old_round_quorum():
    """TestStateLock_DoesNotLockOnOldProposal: +2/3 prevotes for a round-0
    block that arrive after we moved to round 1 do not lock."""
    d = driver_proposing_at(3)
    d.start()
    a, _ = d.propose(0, "A")
    d.prevotes_from(d.others()[:1], 0, NIL)
    d.prevotes_from(d.others()[1:2], 0, NIL)
    d.timeout(Step.PREVOTE, 0)
    d.precommits_from(d.others()[:2], 0, NIL)
    d.timeout(Step.PRECOMMIT, 0)
    assert d.engine.round == 1
    d.prevotes_from(d.others()[2:], 0, a)
    assert d.engine.state.locked_round == -1


def test_locked_proposer_reproposes_locked_value():
    """TestStateLock_ProposerReproposes: our valid value is re-proposed with
    pol_round = valid round instead of asking the application for a block."""
    d = driver_proposing_at(1)
    d.start()
    a, _ = d.propose(0, "A")
    d.prevotes_from(d.others()[:2], 0, a)
    assert d.engine.state.locked_value == a
    d.precommits_from(d.others()[:2], 0, NIL)
    acts = d.timeout(Step.PRECOMMIT, 0)
    assert of_type(acts, RequestProposal) == []
    props = own_proposals(acts)
    assert len(props) == 1 and props[0].block_hash == a and props[0].pol_round == 0 and props[0].round == 1
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [a]


def test_proposer_without_valid_value_requests_a_block():
    d = driver_proposing_at(0)
    acts = d.start()
    assert of_type(acts, RequestProposal) == [RequestProposal(1, 0)]
    props = own_proposals(acts)
    assert len(props) == 1 and props[0].pol_round == -1
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [props[0].block_hash]


def test_invalid_block_gets_nil_prevote():
    d = driver_proposing_at(3)
    d.start()
    bad = block_for("bad")[0]
    d.invalid.add(bad)
    _, acts = d.propose(0, "bad")
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [NIL]
    # Even +2/3 prevotes for it (a Byzantine majority or a buggy app) do not lock.
    acts = d.prevotes_from(d.others(), 0, bad)
    assert own_votes(acts, PRECOMMIT) == []
    assert d.engine.state.locked_round == -1


def test_validation_is_asynchronous():
    d = driver_proposing_at(3, auto_validate=False)
    d.start()
    a, acts = d.propose(0, "A")
    assert own_votes(acts) == []  # waits for the application
    acts = d._run(d.engine.on_block_validated(1, 0, a, BlockVerdict.VALID))
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [a]


def test_restart_with_lock_keeps_it():
    """start_height(locked=...) (from Signer.locked) restores the lock: a new
    block gets nil, the locked block gets our prevote."""
    d = driver_proposing_at(3)
    a = block_for("A")[0]
    d.start(locked=(0, a))
    assert (d.engine.state.locked_round, d.engine.state.locked_value) == (0, a)
    _, acts = d.propose(0, "B")
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [NIL]
    d.prevotes_from(d.others()[:2], 0, NIL)
    d.timeout(Step.PREVOTE, 0)
    d.precommits_from(d.others()[:2], 0, NIL)
    d.timeout(Step.PRECOMMIT, 0)
    _, acts = d.propose(1, "A")
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [a]


def test_relock_same_block_updates_locked_round():
    """TestStateLock_POLRelock: locked on A at 0, a POL for A at round 1
    moves the lock's round to 1."""
    d = driver_proposing_at(3)
    a = lock_on_round0(d)
    _, acts = d.propose(1, "A", pol_round=0)
    d.prevotes_from(d.others()[2:], 0, a)  # the POL of round 0 completed in our view
    acts = d.prevotes_from(d.others(), 1, a)
    assert [v.block_hash for v in own_votes(acts, PRECOMMIT)] == [a]
    assert (d.engine.state.locked_round, d.engine.state.locked_value) == (1, a)


def test_locked_and_missing_proposal_prevotes_nil():
    """TestStateLock_PrevoteNilWhenLockedAndMissProposal."""
    d = driver_proposing_at(3)
    a = lock_on_round0(d)
    acts = d.timeout(Step.PROPOSE, 1)
    assert [v.block_hash for v in own_votes(acts, PREVOTE)] == [NIL]
    assert d.engine.state.locked_value == a


def test_valid_block_set_on_delayed_prevotes():
    """TestSetValidBlockOnDelayedPrevote: we precommitted nil on a split, then
    the missing prevote for B arrives: B becomes the valid value, not the lock."""
    d = driver_proposing_at(3)
    d.start()
    b, _ = d.propose(0, "B")
    d.prevotes_from(d.others()[:1], 0, NIL)
    d.prevotes_from(d.others()[1:2], 0, b)  # ours (B) + 1 B + 1 nil = +2/3 of anything
    acts = d.timeout(Step.PREVOTE, 0)
    assert [v.block_hash for v in own_votes(acts, PRECOMMIT)] == [NIL]
    d.prevotes_from(d.others()[2:], 0, b)  # now 3 of 4 for B, in step precommit
    rs = d.engine.state
    assert (rs.valid_round, rs.valid_value) == (0, b)
    assert rs.locked_round == -1


def test_valid_block_set_on_delayed_proposal():
    """TestSetValidBlockOnDelayedProposal: +2/3 prevotes for B arrive before
    B's proposal; when the proposal comes, B is the valid value."""
    d = driver_proposing_at(3)
    d.start()
    d.timeout(Step.PROPOSE, 0)  # no proposal yet: prevote nil
    b = block_for("B")[0]
    acts = d.prevotes_from(d.others(), 0, b)
    assert d.engine.state.valid_round == -1
    _, acts = d.propose(0, "B")
    rs = d.engine.state
    assert (rs.valid_round, rs.valid_value) == (0, b)
    # We were still in step prevote (3 B + our nil: no nil quorum), so we lock too.
    assert [v.block_hash for v in own_votes(acts, PRECOMMIT)] == [b]


def test_proposer_proposes_valid_block_without_lock():
    """TestProposeValidBlock shape: valid value known (POL seen after our nil
    precommit), not locked; as next proposer we re-propose it with its POL."""
    d = driver_proposing_at(1)
    d.start()
    b, _ = d.propose(0, "B")
    d.prevotes_from(d.others()[:1], 0, NIL)
    d.prevotes_from(d.others()[1:2], 0, b)
    d.timeout(Step.PREVOTE, 0)  # precommit nil
    d.prevotes_from(d.others()[2:], 0, b)  # POL for B: valid, not locked
    assert d.engine.state.locked_round == -1 and d.engine.state.valid_value == b
    d.precommits_from(d.others()[:2], 0, NIL)
    acts = d.timeout(Step.PRECOMMIT, 0)
    props = own_proposals(acts)
    assert [(p.round, p.block_hash, p.pol_round) for p in props] == [(1, b, 0)]

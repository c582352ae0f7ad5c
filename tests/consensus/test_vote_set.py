"""VoteSet tallies: per-value counting, first-vote totals, bounded conflicts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.messages import NIL, PREVOTE, Vote
from consensus.vote_set import (
    ADDED,
    CONFLICT,
    CONFLICT_DROPPED,
    DUPLICATE,
    MAX_EXTRA_VALUES,
    MAX_PARKED_PER_VALIDATOR,
    VoteSet,
)
from engine_harness import make_set

KEYS, VSET = make_set([1, 2, 3, 4, 5])
HASHES = [NIL, b"\1" * 32, b"\2" * 32, b"\3" * 32, b"\4" * 32]


def vote(i: int, h: bytes) -> Vote:
    # Tallies do not check signatures (the engine does before adding).
    return Vote(PREVOTE, 1, 0, h, KEYS[i].address, b"\0" * 64)


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=40))
def test_tallies_match_a_naive_count(seq):
    vs = VoteSet(VSET)
    first: dict[int, int] = {}
    values: dict[int, list[int]] = {}
    for i, hi in seq:
        known = hi == 0  # only nil is "known" here: others are capped conflicts
        status, _ = vs.add(vote(i, HASHES[hi]), known_value=known)
        mine = values.setdefault(i, [])
        if hi in mine:
            assert status == DUPLICATE
        elif i not in first:
            assert status == ADDED
            first[i] = hi
            mine.append(hi)
        elif known or sum(1 for x in mine[1:] if x != 0) < MAX_EXTRA_VALUES:
            assert status == CONFLICT
            mine.append(hi)
        else:
            assert status == CONFLICT_DROPPED
    power = {v.address: v.power for v in VSET.validators}
    for hi, h in enumerate(HASHES):
        expect = sum(power[KEYS[i].address] for i, vals in values.items() if hi in vals)
        assert vs.power_for(h) == expect
    assert vs.total == sum(power[KEYS[i].address] for i in first)
    assert vs.has_quorum_any() == (vs.total >= VSET.quorum_power)


def test_conflict_counts_for_its_value_but_not_twice_toward_any():
    vs = VoteSet(VSET)
    assert vs.add(vote(4, HASHES[1]))[0] == ADDED
    status, first = vs.add(vote(4, HASHES[2]))
    assert status == CONFLICT and first.block_hash == HASHES[1]
    p = VSET.power_of(KEYS[4].address)
    assert vs.power_for(HASHES[1]) == vs.power_for(HASHES[2]) == vs.total == p


def test_a_vote_dropped_for_an_unproposed_value_counts_once_it_is_proposed():
    """Seed 306225 of the random engine tests: an equivocator's prevote for the
    value that got a POL reached one node before the proposal did, over the
    cap for unknown values, and was lost; that node never saw the POL and the
    height never ended."""
    vs = VoteSet(VSET)
    extra = [b"\x10" * 32, b"\x11" * 32]
    wanted = b"\x12" * 32
    assert vs.add(vote(4, HASHES[1]), known_value=False)[0] == ADDED
    for h in extra:
        assert vs.add(vote(4, h), known_value=False)[0] == CONFLICT
    assert vs.add(vote(4, wanted), known_value=False)[0] == CONFLICT_DROPPED
    assert vs.power_for(wanted) == 0
    assert vs.readmit(wanted) == [vote(4, wanted)]
    assert vs.power_for(wanted) == VSET.power_of(KEYS[4].address)
    assert vs.readmit(wanted) == []  # counted once
    assert vs.total == VSET.power_of(KEYS[4].address)  # still one first vote toward "any"


def test_parked_votes_are_bounded_per_validator():
    vs = VoteSet(VSET)
    vs.add(vote(4, HASHES[1]), known_value=False)
    values = [bytes([0x20 + i]) * 32 for i in range(MAX_EXTRA_VALUES + MAX_PARKED_PER_VALIDATOR + 3)]
    for h in values:
        vs.add(vote(4, h), known_value=False)
    parked = values[MAX_EXTRA_VALUES:]
    assert all(vs.readmit(h) == [] for h in parked[:-MAX_PARKED_PER_VALIDATOR])  # evicted, oldest first
    assert all(vs.readmit(h) == [vote(4, h)] for h in parked[-MAX_PARKED_PER_VALIDATOR:])

"""CometBFT proposer selection: sequences from types/validator_set_test.go,
the update rules, and agreement of ValidatorSet with the pure functions."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.errors import DecodeError, InvalidValidatorSet
from consensus.proposer import (
    MAX_INT64,
    MIN_INT64,
    MAX_TOTAL_VOTING_POWER,
    Entry,
    apply_changes,
    average_priority,
    increment,
)
from consensus.validators import Validator, ValidatorSet
from engine_harness import key, make_set


def addr(name: bytes) -> bytes:
    # CometBFT's tests use short addresses; zero-padding keeps their byte order.
    return name.ljust(20, b"\0")


def new_set(vals: list[tuple[bytes, int]]) -> tuple[list[Entry], Entry]:
    """CometBFT's NewValidatorSet over bare entries: returns (entries, proposer)."""
    entries = apply_changes([], [Entry(addr(a), p) for a, p in vals])
    return entries, increment(entries, 1)


def sequence(entries: list[Entry], first: Entry, n: int) -> list[bytes]:
    out, cur = [], first
    for _ in range(n):
        out.append(cur.address.rstrip(b"\0"))
        cur = increment(entries, 1)
    return out


def test_proposer_selection_1():
    entries, first = new_set([(b"foo", 1000), (b"bar", 300), (b"baz", 330)])
    expected = (
        "foo baz foo bar foo foo baz foo bar foo foo baz foo foo bar foo baz foo foo bar"
        " foo foo baz foo bar foo foo baz foo bar foo foo baz foo foo bar foo baz foo foo bar"
        " foo baz foo foo bar foo baz foo foo bar foo baz foo foo foo baz bar foo foo foo baz"
        " foo bar foo foo baz foo bar foo foo baz foo bar foo foo baz foo bar foo foo baz foo"
        " foo bar foo baz foo foo bar foo baz foo foo bar foo baz foo foo"
    )
    assert b" ".join(sequence(entries, first, 99)).decode() == expected


def test_proposer_selection_2():
    a0, a1, a2 = bytes(19) + b"\0", bytes(19) + b"\1", bytes(19) + b"\2"
    # Equal power: in address order.
    entries, first = new_set([(a0, 100), (a1, 100), (a2, 100)])
    seq = sequence(entries, first, 15)
    assert [x.ljust(20, b"\0") for x in seq] == [a0, a1, a2] * 5
    # 400 vs 100s: first, but not twice in a row.
    entries, first = new_set([(a0, 100), (a1, 100), (a2, 400)])
    assert first.address == a2 and increment(entries, 1).address == a0
    # 401: enough to propose twice in a row.
    entries, first = new_set([(a0, 100), (a1, 100), (a2, 401)])
    assert first.address == a2
    assert increment(entries, 1).address == a2
    assert increment(entries, 1).address == a0
    # Proportional: 4/12, 5/12, 3/12 over 120 rounds.
    entries, first = new_set([(a0, 4), (a1, 5), (a2, 3)])
    counts = Counter(x.ljust(20, b"\0") for x in sequence(entries, first, 120))
    assert (counts[a0], counts[a1], counts[a2]) == (40, 50, 30)


def test_proposer_selection_3_increment_times_is_repeated_increment():
    """TestProposerSelection3: equal powers go round-robin forever, whatever
    mix of advance(1) and advance(n) is used."""
    keys, vs = make_set([1, 1, 1, 1])
    order = []
    cur = vs
    for _ in range(4):
        order.append(cur.proposer_address)
        cur = cur.advance(1)
    assert len(set(order)) == 4
    cur, j = vs, 0
    import random
    rng = random.Random(7)
    for _ in range(500):
        assert cur.proposer_address == order[j % 4]
        cur = ValidatorSet.decode(cur.encode())  # survives a round-trip
        times = rng.choice([1, 1, 1, 2, 3, 4])
        cur = cur.advance(times)
        j += times


@pytest.mark.parametrize(
    "prios,times,avg",
    [((1, 2, 3), 1, 2), ((10, -10, 1), 11, 0), ((100, -10, 1), 1, 91 // 3)],
)
def test_averaging_in_increment(prios, times, avg):
    """TestAveragingInIncrementProposerPriority (zero powers: only centring moves)."""
    entries = [Entry(addr(n), 0, p) for n, p in zip((b"a", b"b", b"c"), prios)]
    increment(entries, times)
    assert [e.priority for e in entries] == [p - avg for p in prios]


def test_averaging_with_voting_power():
    """TestAveragingInIncrementProposerPriorityWithVotingPower, all 11 cases."""
    vp0, vp1, vp2 = 10, 1, 1
    total = 12
    cases = [
        ([0 + vp0 - total, vp1, vp2], 1, 0),
        ([(vp0 - total) + vp0 - total, 2 * vp1, 2 * vp2], 2, 0),
        ([3 * (vp0 - total), 3 * vp1, 3 * vp2], 3, 0),
        ([4 * (vp0 - total), 4 * vp1, 4 * vp2], 4, 0),
        ([4 * (vp0 - total) + vp0, 5 * vp1 - total, 5 * vp2], 5, 1),
        ([6 * vp0 - 5 * total, 6 * vp1 - total, 6 * vp2], 6, 0),
        ([7 * vp0 - 6 * total, 7 * vp1 - total, 7 * vp2], 7, 0),
        ([8 * vp0 - 7 * total, 8 * vp1 - total, 8 * vp2], 8, 0),
        ([9 * vp0 - 7 * total, 9 * vp1 - total, 9 * vp2 - total], 9, 2),
        ([10 * vp0 - 8 * total, 10 * vp1 - total, 10 * vp2 - total], 10, 0),
        ([11 * vp0 - 9 * total, 11 * vp1 - total, 11 * vp2 - total], 11, 0),
    ]
    for want, times, proposer in cases:
        entries = [Entry(bytes([i]).ljust(20, b"\0"), p, 0) for i, p in enumerate((vp0, vp1, vp2))]
        chosen = increment(entries, times)
        assert [e.priority for e in entries] == want, times
        assert chosen is entries[proposer]


def test_average_uses_floor_division_like_big_int():
    es = [Entry(addr(b"a"), 0, MAX_INT64), Entry(addr(b"b"), 0, 0), Entry(addr(b"c"), 0, 0)]
    assert average_priority(es) == MAX_INT64 // 3
    es = [Entry(addr(b"a"), 0, MIN_INT64), Entry(addr(b"b"), 0, MIN_INT64)]
    assert average_priority(es) == MIN_INT64


def test_rescaling_truncates_toward_zero_and_bounds_the_window():
    es = [Entry(addr(b"a"), 1, 1000), Entry(addr(b"b"), 1, -1001), Entry(addr(b"c"), 1, 1)]
    increment(es, 1)
    prios = [e.priority for e in es]
    assert max(prios) - min(prios) <= 2 * 3 + 3  # window 2*total, plus one step's move


def test_new_validator_starts_at_minus_1_125_total():
    keys, vs = make_set([10, 10, 10, 10])
    newcomer = Validator.from_pub_key(key(50).public_key.raw, 8)
    old_prios = {v.address: vs.priority_of(v.address) for v in vs.validators}
    vs2 = vs.with_changes([newcomer])
    # -(48 + 48 >> 3) = -54 before centring; centring shifts everyone by the same avg.
    raw_new = -(48 + (48 >> 3))
    avg = (sum(old_prios.values()) + raw_new) // 5
    assert vs2.priority_of(newcomer.address) == raw_new - avg
    for a, p in old_prios.items():
        assert vs2.priority_of(a) == p - avg
    assert vs2.total_power == 48


def test_power_zero_removes_and_updates_keep_priority():
    keys, vs = make_set([10, 20, 30])
    target = vs.validators[0]
    vs2 = vs.with_changes([Validator(target.address, target.pub_key, 0)])
    assert target.address not in vs2 and len(vs2) == 2
    other = vs.validators[1]
    vs3 = vs.with_changes([Validator(other.address, other.pub_key, 25)])
    assert vs3.power_of(other.address) == 25


@pytest.mark.parametrize("bad", ["dup", "remove_unknown", "remove_all", "negative", "too_much"])
def test_invalid_updates(bad):
    keys, vs = make_set([10, 20])
    v0, v1 = vs.validators
    updates = {
        "dup": [Validator(v0.address, v0.pub_key, 5), Validator(v0.address, v0.pub_key, 6)],
        "remove_unknown": [Validator.from_pub_key(key(77).public_key.raw, 0)],
        "remove_all": [Validator(v0.address, v0.pub_key, 0), Validator(v1.address, v1.pub_key, 0)],
        "negative": [Validator(v0.address, v0.pub_key, -1)],
        "too_much": [Validator(v0.address, v0.pub_key, MAX_TOTAL_VOTING_POWER)],
    }[bad]
    with pytest.raises(InvalidValidatorSet):
        vs.with_changes(updates)


def test_set_construction_checks():
    k = key(1)
    v = Validator.from_pub_key(k.public_key.raw, 1)
    with pytest.raises(InvalidValidatorSet):
        ValidatorSet.new([])
    with pytest.raises(InvalidValidatorSet):
        ValidatorSet.new([Validator(v.address, v.pub_key, 0)])
    with pytest.raises(InvalidValidatorSet):
        ValidatorSet.new([Validator(b"\1" * 20, v.pub_key, 1)])  # address not of the key
    with pytest.raises(InvalidValidatorSet):
        ValidatorSet.new([v, v])
    assert ValidatorSet.new([v]).quorum_power == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 1000), min_size=1, max_size=7), st.integers(1, 40))
def test_priorities_stay_centred_and_windowed(powers, rounds):
    keys, vs = make_set(powers)
    counts: Counter = Counter()
    cur = vs
    for _ in range(rounds):
        counts[cur.proposer_address] += 1
        cur = cur.advance(1)
        total = cur.total_power
        assert abs(sum(cur.priorities)) < len(powers) + 1
        assert max(cur.priorities) - min(cur.priorities) <= 3 * total
    # Fairness: over enough rounds each validator proposes about its share.
    for v in vs.validators:
        share = rounds * v.power / vs.total_power
        assert abs(counts[v.address] - share) <= len(powers) + 1


def test_quorum_power():
    for powers, q in [([1], 1), ([1, 1, 1], 3), ([1, 1, 1, 1], 3), ([3, 3], 5), ([100, 50], 101)]:
        _, vs = make_set(powers)
        assert vs.quorum_power == q
        assert vs.quorum_power * 3 > 2 * vs.total_power
        assert (vs.quorum_power - 1) * 3 <= 2 * vs.total_power


def test_validator_set_decode_rejects_tampering():
    _, vs = make_set([1, 2, 3])
    assert ValidatorSet.decode(vs.encode()) == vs
    import msgpack
    f = msgpack.unpackb(vs.encode())
    f[2] = b"\7" * 20  # proposer not in the set
    with pytest.raises(DecodeError):
        ValidatorSet.decode(msgpack.packb(f, use_bin_type=True))
    f = msgpack.unpackb(vs.encode())
    f[0] = list(reversed(f[0]))
    with pytest.raises(DecodeError):
        ValidatorSet.decode(msgpack.packb(f, use_bin_type=True))


# ---------------------------------------------------------------- updates (CometBFT's TestValSetUpdates*)

def tv(vals: list[tuple[str, int]]) -> list[Entry]:
    return [Entry(addr(n.encode()), p) for n, p in vals]


def new_entries(vals: list[tuple[str, int]]) -> list[Entry]:
    es = apply_changes([], tv(vals))
    increment(es, 1)
    return es


def check_centred_and_scaled(es: list[Entry]) -> None:
    """CometBFT's verifyValidatorSet."""
    total = sum(e.power for e in es)
    s = sum(e.priority for e in es)
    assert -len(es) < s < len(es)
    prios = [e.priority for e in es]
    assert max(prios) - min(prios) <= 2 * total


@pytest.mark.parametrize("start,updates", [
    ([("v1", 10), ("v2", 10)], [("v1", 11), ("v1", 22)]),
    ([("v1", 10), ("v2", 10)], [("v1", 11), ("v2", 22), ("v1", 12)]),
    ([("v1", 10), ("v2", 10)], [("v1", 0), ("v1", 0)]),
    ([("v1", 10), ("v2", 10)], [("v1", 0), ("v2", 20), ("v1", 30)]),
    ([("v1", 10), ("v2", 10), ("v3", 10)], [("v1", 0), ("v3", 5), ("v2", 20), ("v2", 30), ("v1", 0)]),
    ([("v1", 10), ("v2", 10)], [("v1", MAX_INT64)]),
    ([("v1", MAX_TOTAL_VOTING_POWER - 1)], [("v2", 5)]),
    ([("v1", MAX_TOTAL_VOTING_POWER // 3), ("v2", MAX_TOTAL_VOTING_POWER // 3)], [("v3", MAX_TOTAL_VOTING_POWER // 2)]),
    ([("v1", 10), ("v2", 10)], [("v1", -123)]),
    ([("v1", 10), ("v2", 10)], [("v3", 0)]),
    ([("v1", 10), ("v2", 20), ("v3", 30)], [("v1", 0), ("v2", 0), ("v3", 0)]),
])
def test_update_errors_leave_the_set_unchanged(start, updates):
    """TestValSetUpdatesDuplicateEntries / Overflows / OtherErrors."""
    es = new_entries(start)
    before = [(e.address, e.power, e.priority) for e in es]
    with pytest.raises(InvalidValidatorSet):
        apply_changes(es, tv(updates))
    assert [(e.address, e.power, e.priority) for e in es] == before


@pytest.mark.parametrize("start,updates", [
    ([("v4", 40), ("v3", 30), ("v2", 10), ("v1", 10)], [("v4", 44), ("v3", 33), ("v2", 22), ("v1", 11)]),
    ([("v2", 20), ("v1", 10)], [("v3", 30), ("v4", 40), ("v5", 50), ("v6", 60)]),
    ([("v4", 40), ("v3", 30), ("v2", 20), ("v1", 10)], [("v1", 0), ("v3", 0), ("v4", 0)]),
    ([("v4", 40), ("v3", 30), ("v2", 20), ("v1", 10)], [("v1", 0), ("v3", 0), ("v2", 22), ("v5", 50), ("v4", 44)]),
])
def test_update_order_independence(start, updates):
    """TestValSetUpdatesOrderIndependenceTestsExecute."""
    import itertools

    es = new_entries(start)
    results = set()
    for perm in itertools.islice(itertools.permutations(updates), 20):
        out = apply_changes(es, tv(list(perm)))
        check_centred_and_scaled(out)
        results.add(tuple((e.address, e.power, e.priority) for e in out))
    assert len(results) == 1


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_update_priority_order(data):
    """TestValSetUpdatePriorityOrderTests: after any number of elections and a
    change set, added validators all get one priority, -1.125 x (total power
    after updates, before removals) before rescaling and centring, so they
    sit below every old validator whose priority was above that start and
    above every one below it (rescaling and centring keep the order). When
    the total falls, an old validator can be below a newcomer: CometBFT's
    formula, not "newcomers are always lowest" (hypothesis found
    powers [7, 1] -> [1, 1] + a new 1)."""
    n_base = data.draw(st.integers(1, 12))
    start = [(f"v{i}", data.draw(st.integers(1, 1000))) for i in range(n_base)]
    es = new_entries(start)
    increment(es, data.draw(st.integers(1, 500)))
    n_keep = data.draw(st.integers(1, n_base))
    deleted = [(n, 0) for n, _ in start[n_keep:] if data.draw(st.booleans())]
    changed = [(n, data.draw(st.integers(1, 1000))) for n, _ in start[:n_keep] if data.draw(st.booleans())]
    added = [(f"w{i}", data.draw(st.integers(1, 1000))) for i in range(data.draw(st.integers(0, 6)))]
    before = {e.address: e.priority for e in es}
    out = apply_changes(es, tv(added + changed + deleted))
    check_centred_and_scaled(out)
    deleted_addrs = {addr(n.encode()) for n, _ in deleted}
    assert not deleted_addrs & {e.address for e in out}
    if added:
        added_addrs = {addr(n.encode()) for n, _ in added}
        added_prios = {e.priority for e in out if e.address in added_addrs}
        assert len(added_prios) == 1
        (added_prio,) = added_prios
        kept = sum(e.power for e in out) + sum(e.power for e in es if e.address in deleted_addrs)
        start_prio = -(kept + (kept >> 3))
        for e in out:
            if e.address in added_addrs:
                continue
            if before[e.address] > start_prio:
                assert e.priority >= added_prio
            elif before[e.address] < start_prio:
                assert e.priority <= added_prio

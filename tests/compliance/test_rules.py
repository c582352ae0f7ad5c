"""The rules engine, one rule kind at a time, on hand-made fund flows (pure: no node)."""

from __future__ import annotations

import random

from hypothesis import given, settings, strategies as st

from plume_node.compliance.model import Action, BlockFlows, FlowKind, FundFlow, Policy, Rule, RuleKind
from plume_node.compliance.rules import PolicyEngine, WindowLimits, just_under

ALICE, BOB, CAROL = b"\xa1" * 20, b"\xb0" * 20, b"\xc0" * 20
TOKEN = b"\x70" * 20
ETHER = 10**18


def flow(sender=ALICE, recipient=BOB, amount=1, block=1, asset=None) -> FundFlow:
    kind = FlowKind.NATIVE if asset is None else FlowKind.ERC20
    return FundFlow(kind, sender, recipient, amount, block, b"\x11" * 32, asset=asset)


def engine(*rules: Rule, limits: WindowLimits = WindowLimits()) -> PolicyEngine:
    return PolicyEngine(Policy(tuple(rules)), limits)


def test_denylist_rejects_either_party_and_every_asset():
    rule = Rule("sanctions", RuleKind.DENYLIST, Action.REJECT, any_asset=True, addresses=frozenset({CAROL}))
    e = engine(rule)
    hit = e.check([flow(recipient=CAROL)])
    assert hit is not None and hit.rule == "sanctions" and hit.kind is RuleKind.DENYLIST and "recipient" in hit.detail
    assert e.check([flow(sender=CAROL, asset=TOKEN)]).rule == "sanctions"
    assert e.check([flow()]) is None


def test_threshold_is_inclusive_and_per_asset():
    rule = Rule("big", RuleKind.THRESHOLD, Action.FLAG, min_value=10 * ETHER)
    e = engine(rule)
    hits = e.observe(BlockFlows(1, (flow(amount=10 * ETHER - 1), flow(amount=10 * ETHER), flow(amount=99 * ETHER, asset=TOKEN))))
    assert [h.flow.amount for h in hits] == [10 * ETHER]  # the token movement is another asset
    assert e.check([flow(amount=10 * ETHER)]) is None  # a flag rule never rejects


def test_velocity_counts_the_window_only():
    rule = Rule("fast", RuleKind.VELOCITY, Action.FLAG, window_blocks=3, max_value=5 * ETHER)
    e = engine(rule)
    assert e.observe(BlockFlows(1, (flow(amount=3 * ETHER, block=1),))) == ()
    assert e.observe(BlockFlows(3, (flow(amount=2 * ETHER, block=3),))) == ()  # 5 in blocks 1..3: not over
    hits = e.observe(BlockFlows(3, (flow(amount=1, block=3),)))
    assert len(hits) == 1 and hits[0].rule == "fast"
    # block 4's window is 2..4: block 1's 3 ether is out
    assert e.observe(BlockFlows(4, (flow(amount=ETHER, block=4),))) == ()


def test_velocity_count_and_reject_sees_committed_history():
    rule = Rule("many", RuleKind.VELOCITY, Action.REJECT, window_blocks=10, max_count=2)
    e = engine(rule)
    e.observe(BlockFlows(1, (flow(block=1), flow(block=1))))
    assert e.check([flow(block=2)]).rule == "many"
    assert e.check([flow(sender=BOB, block=2)]) is None


def test_structuring_needs_min_count_just_under_the_threshold():
    rule = Rule("smurf", RuleKind.STRUCTURING, Action.FLAG, threshold=10 * ETHER, margin_percent=10,
                min_count=3, window_blocks=5)
    assert just_under(rule, 9 * ETHER) and just_under(rule, 10 * ETHER - 1)
    assert not just_under(rule, 9 * ETHER - 1) and not just_under(rule, 10 * ETHER)
    e = engine(rule)
    near = 95 * ETHER // 10
    assert e.observe(BlockFlows(1, (flow(amount=near, block=1), flow(amount=ETHER, block=1)))) == ()
    assert e.observe(BlockFlows(2, (flow(amount=near, block=2),))) == ()
    hits = e.observe(BlockFlows(3, (flow(amount=near, block=3),)))
    assert [h.rule for h in hits] == ["smurf"]
    # outside the window (blocks 5..9 at block 9) the count starts again
    assert e.observe(BlockFlows(9, (flow(amount=near, block=9),))) == ()


@settings(max_examples=60, deadline=None)
@given(
    amounts=st.lists(st.sampled_from([9 * ETHER, 95 * ETHER // 10, 10 * ETHER, ETHER, 12 * ETHER]), min_size=0, max_size=12),
    seed=st.integers(0, 2**32),
)
def test_structuring_alerts_do_not_depend_on_order_within_a_window(amounts, seed):
    """The number of structuring alerts for a sender's movements of one window is the same in any order."""
    rule = Rule("smurf", RuleKind.STRUCTURING, Action.FLAG, threshold=10 * ETHER, min_count=3, window_blocks=5)
    shuffled = list(amounts)
    random.Random(seed).shuffle(shuffled)
    counts = []
    for order in (amounts, shuffled):
        e = engine(rule)
        hits = []
        for i, amount in enumerate(order):
            number = 1 + i * 4 // max(1, len(order))  # spread over blocks 1..4, inside one window
            hits.extend(e.observe(BlockFlows(number, (flow(amount=amount, block=number),))))
        counts.append(len(hits))
    near = sum(1 for a in amounts if just_under(rule, a))
    assert counts[0] == counts[1] == max(0, near - rule.min_count + 1)


def test_fresh_account_only_within_its_window():
    rule = Rule("fresh", RuleKind.FRESH_ACCOUNT, Action.FLAG, min_value=5 * ETHER, window_blocks=10)
    e = engine(rule)
    e.observe(BlockFlows(1, (flow(sender=ALICE, recipient=BOB, amount=6 * ETHER, block=1),), frozenset({BOB})))
    hits = e.observe(BlockFlows(5, (flow(sender=BOB, recipient=CAROL, amount=5 * ETHER, block=5),)))
    assert [h.rule for h in hits] == ["fresh"]
    assert e.observe(BlockFlows(11, (flow(sender=BOB, recipient=CAROL, amount=5 * ETHER, block=11),))) == ()
    # ALICE was never new: no alert however much she moves
    assert e.observe(BlockFlows(6, (flow(sender=ALICE, amount=50 * ETHER, block=6),))) == ()


def test_windows_are_bounded_and_evict_the_oldest():
    many = Rule("many", RuleKind.VELOCITY, Action.FLAG, window_blocks=100, max_count=1_000_000)
    smurf = Rule("smurf", RuleKind.STRUCTURING, Action.FLAG, threshold=10, window_blocks=100)
    fresh = Rule("fresh", RuleKind.FRESH_ACCOUNT, Action.FLAG, min_value=10**30, window_blocks=100)
    e = engine(many, smurf, fresh, limits=WindowLimits(tracked_senders=6, blocks_per_sender=4, tracked_new_accounts=2))
    for i in range(10):
        sender = bytes([i]) * 20
        for block in range(1, 10):  # nine blocks of nine movements each
            e.observe(BlockFlows(block, tuple(flow(sender=sender, amount=9, block=block) for _ in range(9)),
                                 frozenset({sender})))
    senders = e.windows.by_rule[many]
    assert list(senders) == [bytes([i]) * 20 for i in (7, 8, 9)]  # 6 senders shared by 2 rules
    # a window of 100 blocks in 4 entries: buckets of 34 blocks, blocks 1..9 in the first
    assert all(len(w.entries) == 1 and w.count == 81 for w in senders.values())
    assert len(e.windows.appeared) == 2
    assert e.windows.since(many, bytes([9]) * 20, 0) == (81, 81 * 9)
    # a window that fits the entries is exact, block by block
    short = Rule("short", RuleKind.VELOCITY, Action.FLAG, window_blocks=3, max_count=1_000_000)
    e = engine(short, limits=WindowLimits(tracked_senders=6, blocks_per_sender=4))
    for block in range(1, 10):
        e.observe(BlockFlows(block, (flow(sender=ALICE, amount=9, block=block),)))
    assert [entry[0] for entry in e.windows.by_rule[short][ALICE].entries] == [7, 8, 9]


def test_a_long_velocity_window_sees_more_than_64_active_blocks():
    """Regression: a sender's last 64 active blocks only were remembered while windows of up to
    100,000 blocks were accepted: one movement a block for 200 blocks never broke max_count 150."""
    rule = Rule("slow", RuleKind.VELOCITY, Action.FLAG, window_blocks=1000, max_count=150)
    e = engine(rule)
    hits = []
    for block in range(1, 201):
        hits.extend(e.observe(BlockFlows(block, (flow(sender=ALICE, amount=1, block=block),))))
    assert hits and hits[0].flow.block <= 200
    # buckets of ceil(1000 / 63) = 16 blocks: at most 15 blocks of the window are not counted
    first = hits[0].flow.block
    assert 151 <= first <= 151 + 15


def test_a_block_of_many_movements_costs_linear_work():
    """20,000 movements of one sender against windowed rules: each costs O(1) amortized."""
    import time

    rules = [Rule(f"v{i}", RuleKind.VELOCITY, Action.FLAG, window_blocks=50, max_count=10**9) for i in range(32)]
    e = engine(*rules)
    flows = tuple(flow(amount=1, block=1) for _ in range(20_000))
    started = time.perf_counter()
    e.observe(BlockFlows(1, flows))
    assert time.perf_counter() - started < 20  # the per-movement history scan made this minutes


def test_reject_check_does_not_change_the_windows():
    rule = Rule("many", RuleKind.VELOCITY, Action.REJECT, window_blocks=3, max_count=2)
    e = engine(rule)
    e.observe(BlockFlows(1, (flow(block=1),)))
    for _ in range(5):
        assert e.check([flow(block=2)]) is None  # 2 movements: not over
    assert e.check([flow(block=5)]) is None  # block 1 is out of the window of block 5
    assert e.windows.since(rule, ALICE, 1) == (1, 1)


def test_replace_policy_keeps_the_windows_of_unchanged_rules():
    kept = Rule("kept", RuleKind.VELOCITY, Action.REJECT, window_blocks=10, max_count=2)
    e = engine(kept, Rule("gone", RuleKind.VELOCITY, Action.FLAG, window_blocks=10, max_count=100))
    e.observe(BlockFlows(1, (flow(block=1), flow(block=1))))
    new = Rule("new", RuleKind.VELOCITY, Action.REJECT, window_blocks=10, max_count=1)
    e.replace_policy(Policy((kept, new)))
    assert e.check([flow(block=2)]).rule == "kept"  # its history survived the reload
    assert e.windows.since(new, ALICE, 1) == (0, 0)  # a new rule starts empty

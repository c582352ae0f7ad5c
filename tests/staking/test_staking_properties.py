"""Properties over random sequences of staking calls, transfers, blocks and epochs.

After every step: the total supply is conserved (all balances == the supply
counter of staking/fees.py, base fees burned or pooled), the contract's
balance is bonded + unbonding, validators' tokens add up to totalBonded,
delegation shares add up to each validator's shares, no validator has shares
without tokens or tokens without shares, every refused call left staking
storage and every balance as they were (the sender's fee aside), and after
every block the recorded active set is the top ``max_validators`` by tokens
(non-jailed, power >= 1) chosen at the last epoch end, or at the end of the last block
that jailed a member of the set (every jailing chooses the set again at once).

A long run: PLUME_SOAK=1.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from staking.active_set import cap_powers
from staking import fees, views
from staking.addresses import STAKING_ADDRESS
from staking.params import StakingParams
from staking.store import Store
from staking_harness import ADDRS, PLUME, StakingChain, calldata, consensus_key

SOAK = os.environ.get("PLUME_SOAK") == "1"
PARAMS = StakingParams(
    unbonding_period=60, epoch_length=4, max_validators=3, min_self_delegation=10 * PLUME,
    max_entries=3, power_reduction=PLUME, max_validator_share_bps=5_000,
)
N_GENESIS = 3
who = st.integers(0, 7)
frac = st.sampled_from([0, 1, 2, 2, 3, 3, 4])  # 0 wei, 1 wei, half, all, all + 1 wei

action = st.one_of(
    st.tuples(st.just("create"), st.integers(3, 7), st.sampled_from(["own", "dup", "bad"]),
              st.sampled_from([5, 10, 30, 80])),
    st.tuples(st.just("delegate"), who, who, st.sampled_from([0, 1, PLUME, 20 * PLUME, 100 * PLUME])),
    st.tuples(st.just("undelegate"), who, who, frac),
    st.tuples(st.just("undelegate"), who, who, frac),
    st.tuples(st.just("redelegate"), who, who, who, frac),
    st.tuples(st.just("cancel"), who, who, frac),
    st.tuples(st.just("cancel"), who, who, frac),
    st.tuples(st.just("unjail"), who),
    st.tuples(st.just("autorestake"), who, who, st.booleans()),
    st.tuples(st.just("transfer"), who, who, st.sampled_from([0, PLUME])),
    st.tuples(st.just("advance"), st.integers(1, 5), st.sampled_from([0, 1, 15, 30, 60, 61])),
)


def _amount(value: int, f: int) -> int:
    return (0, 1, value // 2, value, value + 1)[f]


def _registered(state, v: int) -> bytes:
    """Mostly a registered validator (v < 6), sometimes any account (v >= 6: maybe none)."""
    operators = views.validator_operators(state)
    return operators[v % len(operators)] if v < 6 else ADDRS[v]


def _holder(state, w: int) -> int:
    """``w`` if it holds a delegation, else mostly (w < 6) an account that does."""
    holders = [i for i, a in enumerate(ADDRS) if views.delegations(state, a, 0, 1)]
    if w in holders or not holders or w >= 6:
        return w
    return holders[w % len(holders)]


def _delegated(state, w: int, v: int) -> bytes:
    """Mostly a validator ``w`` holds shares of (v < 6), sometimes any account."""
    held = [d.validator for d in views.delegations(state, ADDRS[w])]
    return held[v % len(held)] if held and v < 6 else ADDRS[v]


def _unbonding(state, w: int, v: int) -> tuple[int, bytes, int, int]:
    """(delegator, validator, creation height, amount) of a pending unbonding entry: ``w``'s if it
    has any, else mostly (w < 6) someone's; (w, ADDRS[v], 0, 2) if there is none."""
    entries = [(i, op, e) for i, a in enumerate(ADDRS) for op in views.validator_operators(state)
               for e in views.unbondings(state, a, op)]
    own = [x for x in entries if x[0] == w]
    pool = own or (entries if w < 6 else [])
    if not pool:
        return w, ADDRS[v], 0, 2
    i, op, entry = pool[(w * 8 + v) % len(pool)]
    return i, op, entry.creation_height, entry.amount


def _call(sc: StakingChain, act: tuple) -> tuple[int, bytes, int, bytes] | None:
    """(sender, calldata, value, to) of a transaction step; None for an advance."""
    kind = act[0]
    state = sc.state()
    if kind == "create":
        _, w, key_kind, stake = act
        key = {"own": consensus_key(w), "dup": consensus_key(0), "bad": bytes(32)}[key_kind]
        return w, calldata("createValidator", key, f"v{w}", 100, 1000, 50), stake * PLUME, STAKING_ADDRESS
    if kind == "delegate":
        _, w, v, amount = act
        return w, calldata("delegate", _registered(state, v)), amount, STAKING_ADDRESS
    if kind == "undelegate":
        _, w, v, f = act
        w = _holder(state, w)
        target = _delegated(state, w, v)
        return w, calldata("undelegate", target, _amount(_value(state, w, target), f)), 0, STAKING_ADDRESS
    if kind == "redelegate":
        _, w, src, dst, f = act
        w = _holder(state, w)
        source = _delegated(state, w, src)
        data = calldata("redelegate", source, _registered(state, dst), _amount(_value(state, w, source), f))
        return w, data, 0, STAKING_ADDRESS
    if kind == "cancel":
        _, w, v, f = act
        w, target, height, amount = _unbonding(state, w, v)
        return w, calldata("cancelUnbonding", target, height, _amount(amount, f)), 0, STAKING_ADDRESS
    if kind == "unjail":
        return act[1], calldata("unjail"), 0, STAKING_ADDRESS
    if kind == "autorestake":
        _, w, v, enabled = act
        return w, calldata("setAutoRestake", _delegated(state, w, v), enabled), 0, STAKING_ADDRESS
    if kind == "transfer":
        return act[1], b"", act[3], ADDRS[act[2]]
    return None


def _value(state, w: int, validator: bytes) -> int:
    for d in views.delegations(state, ADDRS[w]):
        if d.validator == validator:
            return d.tokens
    return 0


class ActiveSetModel:
    """The active set the rule says the chain must have recorded, followed block by block."""

    def __init__(self, sc: StakingChain) -> None:
        self.expected = self.choose(sc.state())

    @staticmethod
    def choose(state) -> list[tuple[bytes, int]]:
        infos = [views.validator(state, op, 0) for op in views.validator_operators(state)]
        ranked = sorted(
            (v for v in infos if not v.jailed and v.tokens >= PARAMS.power_reduction),
            key=lambda v: (-v.tokens, v.operator),
        )
        top = ranked[: PARAMS.max_validators]
        # powers capped at the stake cap's share of the set (cap_powers has its own property test)
        powers = cap_powers([v.tokens // PARAMS.power_reduction for v in top], PARAMS.max_validator_share_bps)
        return [(v.operator, power) for v, power in zip(top, powers)]

    def __call__(self, sc: StakingChain) -> None:
        state = sc.state()
        jailed_member = any(getattr(views.validator(state, op, 0), "jailed", False) for op, _ in self.expected)
        if sc.chain.height % PARAMS.epoch_length == 0 or jailed_member:  # a jailing: chosen again at once
            self.expected = self.choose(state) or self.expected  # an empty choice keeps the set
        assert [(v.operator, v.power) for v in views.active_set(state)] == self.expected


def check_invariants(sc: StakingChain) -> None:
    view = sc.chain.state_at()
    state = sc.state()
    assert sum(view.balance(a) for a in sc.accounts()) == fees.total_supply(state)
    bonded, unbonding = views.total_bonded(state), views.total_unbonding(state)
    assert view.balance(STAKING_ADDRESS) == bonded + unbonding
    operators = views.validator_operators(state)
    infos = [views.validator(state, op, 0) for op in operators]
    assert sum(v.tokens for v in infos) == bonded
    pending = 0
    for v in infos:
        assert (v.tokens == 0) == (v.shares == 0), v
        held = [d.shares for a in ADDRS for d in views.delegations(state, a) if d.validator == v.operator]
        assert sum(held) == v.shares
        pending += sum(e.amount for a in ADDRS for e in views.unbondings(state, a, v.operator))
    assert pending == unbonding
    check_queues(sc, state)
    check_auto_restake_list(state)
    members = {v.operator: v.power for v in views.active_set(state)}
    for v in infos:  # the per-validator flags agree with the recorded set
        assert v.power == members.get(v.operator, 0)
        assert (v.status == 2) == (v.operator in members)
    for a in ADDRS:
        for d in views.delegations(state, a):
            assert d.shares > 0  # a listed delegation holds shares
        assert len(views.redelegations(state, a)) <= 32


def check_auto_restake_list(state) -> None:
    """Every listed pair holds shares and knows its place; the cursor stays within the list."""
    store = Store(state, STAKING_ADDRESS)
    count = store.get("autorestake.count")
    assert store.get("autorestake.cursor") <= count
    for i in range(count):
        delegator, validator = store.get_address("autorestake.delegator", i), store.get_address("autorestake.validator", i)
        assert store.get("autorestake.index", delegator, validator) == i + 1
        assert store.get("delegation.shares", delegator, validator) > 0
    assert store.get("autorestake.delegator", count) == 0  # the slot past the end is cleared


def check_queues(sc: StakingChain, state) -> None:
    """Each queue is in completion order, and nothing due at the head block's time is still waiting."""
    store = Store(state, STAKING_ADDRESS)
    now = sc.chain.head.timestamp
    for prefix in ("ubd", "red"):
        head, tail = store.get(prefix + ".queue.head"), store.get(prefix + ".queue.tail")
        times = [store.get(prefix + ".time", store.get(prefix + ".queue.at", i)) for i in range(head, tail)]
        assert times == sorted(times)
        assert all(t > now for t in times), (prefix, times, now)


def run(actions: list[tuple]) -> list[bool | None]:
    """Play ``actions``, checking every invariant after each; whether each call succeeded (None: advance)."""
    sc = StakingChain(PARAMS, n_validators=N_GENESIS, stake=50 * PLUME)
    sc.observers.append(ActiveSetModel(sc))
    check_invariants(sc)
    results: list[bool | None] = []
    for act in actions:
        call = _call(sc, act)
        if call is None:
            sc.advance(act[1], dt=act[2])
            results.append(None)
        else:
            sender, data, value, to = call
            sc.away_from_epoch_end()
            before = sc.snapshot()
            gas = 21_000 if to != STAKING_ADDRESS else 2_000_000
            outcome = sc.raw(sender, data, value=value, to=to, dt=0, gas=gas)
            if not outcome.ok:
                assert outcome.reason, f"{act}: failed without a reason"
                sc.assert_clean_revert(before, outcome)
            results.append(outcome.ok)
        check_invariants(sc)
    return results


@settings(max_examples=300 if SOAK else 25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(action, min_size=10, max_size=80 if SOAK else 40))
def test_random_staking_sequences_keep_every_invariant(actions) -> None:
    run(actions)


def test_a_fixed_sequence_through_every_kind_of_step() -> None:
    # validators in registration order: the 3 genesis ones, then account 4's (index 3)
    steps = [
        (("create", 4, "own", 30), True),
        (("delegate", 5, 3, 20 * PLUME), True),
        (("advance", 4, 1), None),
        (("undelegate", 5, 0, 2), True),  # half of 5's delegation to validator 4
        (("redelegate", 5, 0, 0, 2), True),  # half of the rest to the first genesis validator
        (("redelegate", 5, 1, 1, 3), False),  # on from there before it matured: refused
        (("cancel", 5, 0, 2), True),
        (("undelegate", 4, 3, 3), True),  # the operator takes all: jailed
        (("unjail", 4), False),
        (("advance", 1, 60), None),  # exactly the unbonding period: everything so far matures
        (("advance", 5, 1), None),  # 4's validator left at its jailing; an epoch end
        (("delegate", 4, 3, 20 * PLUME), True),
        (("unjail", 4), True),
        (("redelegate", 5, 1, 1, 3), True),  # matured: now the hop is allowed
        (("transfer", 1, 2, PLUME), True),
        (("autorestake", 5, 1, True), True),
        (("autorestake", 4, 3, True), True),
        (("undelegate", 5, 1, 3), True),  # all of it: the pair leaves the list (checked by the invariants)
        (("autorestake", 5, 6, True), False),  # not a validator 5 delegates to
        (("advance", 5, 1), None),  # an epoch end: a round over the list
        (("create", 6, "dup", 10), False),
        (("create", 7, "bad", 10), False),
        (("advance", 5, 61), None),
    ]
    assert run([s for s, _ in steps]) == [ok for _, ok in steps]

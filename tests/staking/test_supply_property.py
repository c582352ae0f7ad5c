"""The supply adds up at every height: a hypothesis property over random sequences of plain
transfers (base fees burned and pooled, tips to the coinbase), every staking call, blocks
signed by random subsets of the consensus set (the recorded set of two heights before, as
consensus applies it; the rest passed as absent) with a nonzero block reward, downtime
over a short window, double-sign evidence (cutting unbonding and redelegation entries
made since), validators emptied and pruned, unbonding maturity and epoch ends.

After every block (docs/staking.md, "Supply"):

(a) genesis supply + issued - burned == the supply counter == the sum of every balance
    (the harness's accounts, its coinbase, the staking contract and the reward pool),
    and the burn causes add up to the burned total;
(b) the staking contract's balance == bonded + unbonding + undistributed rewards +
    unwithdrawn commission, as ``plume_supply`` reads them (``staking.supply``), and
    again from the parts: each delegation's token value, each unbonding entry, each
    pair's ``pendingRewards`` and each validator's ``pendingCommission``. The parts may
    fall short of the counters only by rounding dust, never exceed them (the dust stays
    in the contract): see ``dust_bound`` and ``stake_gap_loss``.

A refused call leaves the staking contract's storage and every balance as they were,
its fee aside. A long run: PLUME_SOAK=1.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter

from eth.db.atomic import AtomicDB
from hypothesis import HealthCheck, event, given, settings
from hypothesis.control import currently_in_test_context
from hypothesis import strategies as st

from execution.chain import PlumeChain
from staking import fees, views
from staking.addresses import REWARD_POOL_ADDRESS, STAKING_ADDRESS
from staking.end_of_block import NO_CONSENSUS_FACTS, CommitSigner, ConsensusFacts, Misbehaviour
from staking.params import SlashingParams, StakingParams
from staking.rewards import SLASH_PRECISION
from staking.store import Store
from staking.supply import read_supply
from staking_harness import ADDRS, COINBASE, PLUME, TIP, StakingChain, calldata, consensus_key

SOAK = os.environ.get("PLUME_SOAK") == "1"
PARAMS = StakingParams(
    unbonding_period=60, epoch_length=4, max_validators=3, min_self_delegation=10 * PLUME,
    max_entries=3, power_reduction=PLUME, max_validator_share_bps=5_000,
    block_reward=3 * PLUME + 7,  # odd: the split by power leaves remainders in the pool
)
# a short window: random absences jail for downtime within a few blocks
SLASHING = SlashingParams(
    slash_fraction_double_sign_bps=700, max_evidence_age=12, signed_blocks_window=4,
    min_signed_per_window_bps=5_000, slash_fraction_downtime_bps=300, downtime_jail_duration=30,
)
N_GENESIS = 3


class Consensus:
    """What the next block's sidecar says: its signers and evidence (the node's reading of it)."""

    def __init__(self) -> None:
        self.facts = NO_CONSENSUS_FACTS

    def read(self, sidecar) -> ConsensusFacts:
        return self.facts


def supply_chain() -> tuple[StakingChain, Consensus]:
    """The harness chain with rewards on, slashing parameters, and blocks whose signers and
    evidence the test chooses (as test_slashing's ``Evidence`` does)."""
    sc = StakingChain(PARAMS, n_validators=N_GENESIS, stake=50 * PLUME, rewards=True)
    consensus = Consensus()
    genesis = dataclasses.replace(sc.chain.genesis, slashing=SLASHING)
    sc.chain = PlumeChain(AtomicDB(), genesis, read_sidecar=consensus.read)
    return sc, consensus


# -- the identities ---------------------------------------------------------------


def check_supply(sc: StakingChain, gap_loss: int = 0) -> int:
    """Both identities at the head; returns the rewards' rounding dust (``gap_loss``: see ``dust_bound``)."""
    state = sc.state()
    report = read_supply(state)
    balances = sum(state.get_balance(a) for a in sc.accounts())
    assert sc.chain.genesis.total_supply + report.total_issued - report.total_burned == report.total_supply
    assert report.total_supply == balances
    assert sum(amount for _, amount in report.burned_by_cause) == report.total_burned
    assert report.staking_balance == (
        report.bonded + report.unbonding + report.undistributed_rewards + report.unwithdrawn_commission
    )
    return check_parts(state, report, gap_loss)


def check_parts(state, report, gap_loss: int) -> int:
    """The counters again from every delegation, entry, pending reward and commission."""
    store = Store(state, STAKING_ADDRESS)
    operators = views.validator_operators(state)
    tokens_total = values = unbonding = pending = commission = delegations = 0
    for op in operators:
        holders = [a for a in ADDRS if store.get("delegation.shares", a, op)]
        worth = sum(views.pending_rewards(state, a, op) for a in holders)
        held = sum(token_value(store, a, op) for a in holders)
        tokens = store.get("validator.tokens", op)
        # each delegation's value is rounded down: at most a wei short per holder
        assert 0 <= tokens - held <= max(len(holders) - 1, 0)
        assert store.get("rewards.current", op) == 0 or tokens > 0  # no tokens: all of it is commission
        values, pending, tokens_total = values + held, pending + worth, tokens_total + tokens
        delegations += len(holders)
        commission += views.pending_commission(state, op)
        unbonding += sum(e.amount for a in ADDRS for e in views.unbondings(state, a, op))
    assert tokens_total == report.bonded and unbonding == report.unbonding
    assert 0 <= report.bonded - values <= delegations  # the delegations' values, rounded down
    assert commission == report.unwithdrawn_commission
    dust = report.undistributed_rewards - pending
    assert 0 <= dust <= dust_bound(store, operators) + gap_loss, (dust, dust_bound(store, operators), gap_loss)
    return dust


def token_value(store: Store, delegator: bytes, validator: bytes) -> int:
    held, shares = store.get("delegation.shares", delegator, validator), store.get("validator.shares", validator)
    return held * store.get("validator.tokens", validator) // shares if shares else 0


def dust_bound(store: Store, operators: list[bytes]) -> int:
    """What F1 may leave in the contract, owed to nobody: one wei per rounding.

    Every ended period floors its ratio (``current * PRECISION // tokens``: under a wei
    over the whole stake); every settlement and every pending delegation floors its
    payout once per slash it crosses, plus once. Ended periods count settlements too
    (every settlement ends one). The rest of the dust is ``gap_loss`` (``stake_gap_loss``).
    """
    bound = 0
    for op in operators:
        periods = store.get("rewards.period", op) or 1
        slashes = store.get("rewards.slash_count", op)
        holders = sum(1 for a in ADDRS if store.get("rewards.stake", a, op))
        bound += 2 * periods + holders * (slashes + 1)
    return bound


def stake_gap_loss(before, facts: ConsensusFacts, header, block_reward: int) -> int:
    """At most what one block's rewards lose to stake F1 does not see: the delegators'
    recorded ``stake`` adds up to less than the validator's tokens (each was a token value
    rounded down, and other delegators' share trades round in favour of the rest), and a
    period's ratio is per token, so ``part * gap / tokens`` of a signer's part is owed to
    nobody. Only the block's signers get a part (``income * power // set power``): a
    validator with a gap that did not sign loses nothing, so the bound grows only by what
    was allocated. ``before`` is the state the block started from; it must carry no staking
    call (the stakes are those of ``before``)."""
    store = Store(before, STAKING_ADDRESS)
    income = before.get_balance(REWARD_POOL_ADDRESS) + block_reward + header.gas_used * header.base_fee_per_gas
    set_power = sum(m.power for m in (*facts.last_commit_signers, *facts.last_commit_absent))
    loss = 0
    for signer in facts.last_commit_signers:
        op = store.get_address("consensus_key.operator", signer.pub_key)
        tokens = store.get("validator.tokens", op)
        gap = tokens - sum(counted_stake(store, a, op) for a in ADDRS)
        assert gap >= 0, "the delegations' recorded stake is above the validator's tokens"
        loss += -(-(income * signer.power // set_power) * gap // tokens) if tokens else 0
    return loss


def counted_stake(store: Store, delegator: bytes, validator: bytes) -> int:
    """The stake F1 counts a delegation's rewards on now: its recorded ``stake``, cut by
    every slash recorded since it started (rounded up, as ``staking/rewards.py`` does)."""
    stake, start = store.get("rewards.stake", delegator, validator), store.get("rewards.start", delegator, validator)
    for i in range(store.get("rewards.slash_count", validator)):
        if store.get("rewards.slash_period", validator, i) > start:
            stake -= -(-stake * store.get("rewards.slash_fraction", validator, i) // SLASH_PRECISION)
    return stake


# -- the steps --------------------------------------------------------------------

who = st.integers(0, 7)
frac = st.sampled_from([0, 1, 2, 3, 3, 4])  # 0 wei, 1 wei, half, all, all + 1 wei
signers = st.integers(0, 7)  # a bit mask over the active set
seconds = st.sampled_from([0, 1, 1, 15, 61])  # between blocks; 61 matures everything

step = st.one_of(
    st.tuples(st.just("transfers"), st.lists(st.tuples(who, who, st.sampled_from([0, 1, 10**15, PLUME])),
                                             min_size=1, max_size=4), signers, seconds),
    st.tuples(st.just("blocks"), st.integers(1, 5), signers, seconds),
    st.tuples(st.just("double_sign"), st.integers(0, 5), st.integers(0, 14), signers),
    st.tuples(st.just("create"), st.integers(3, 7), st.sampled_from([0, 500, 2_000]), st.sampled_from([10, 30])),
    st.tuples(st.just("delegate"), who, who, st.sampled_from([1, PLUME, 20 * PLUME])),
    st.tuples(st.just("undelegate"), who, who, frac),
    st.tuples(st.just("redelegate"), who, who, who, frac),
    st.tuples(st.just("cancel"), who, who, frac),
    st.tuples(st.just("claim"), who, who),
    st.tuples(st.just("restake"), who, who),
    st.tuples(st.just("autorestake"), who, who, st.booleans()),
    st.tuples(st.just("withdraw"), who),
    st.tuples(st.just("unjail"), who),
    st.tuples(st.just("empty"), who),
    # entries made just before evidence, and a validator emptied then pruned: the paths
    # single random steps reach too rarely (Run.hits counts them; hypothesis reports them)
    st.tuples(st.just("unbond_then_evidence"), who, who, st.sampled_from([2, 3]), st.booleans(), signers),
    st.tuples(st.just("empty_and_prune"), who),
)


def _part(value: int, f: int) -> int:
    return (0, 1, value // 2, value, value + 1)[f]


def _validator(state, v: int) -> bytes:
    """Mostly a registered validator (v < 6), sometimes any account."""
    operators = views.validator_operators(state)
    return operators[v % len(operators)] if v < 6 and operators else ADDRS[v]


def _held(state, w: int, v: int) -> tuple[bytes, int]:
    """(validator, value) of one of ``w``'s delegations, or any validator and 0."""
    held = views.delegations(state, ADDRS[w])
    if held:
        d = held[v % len(held)]
        return d.validator, d.tokens
    return _validator(state, v), 0


def _entry(state, w: int, v: int) -> tuple[bytes, int, int]:
    """(validator, creation height, amount) of one of ``w``'s unbonding entries, or a made-up one."""
    entries = [(op, e) for op in views.validator_operators(state) for e in views.unbondings(state, ADDRS[w], op)]
    if not entries:
        return _validator(state, v), 0, 2
    op, e = entries[v % len(entries)]
    return op, e.creation_height, e.amount


def staking_call(state, step: tuple) -> tuple[int, bytes, int]:
    """(sender, calldata, value) of a staking call step."""
    kind, w, *rest = step
    if kind == "create":
        rate, stake = rest
        return w, calldata("createValidator", consensus_key(w), f"v{w}", rate, 2_000, 100), stake * PLUME
    if kind == "delegate":
        return w, calldata("delegate", _validator(state, rest[0])), rest[1]
    if kind == "undelegate":
        target, value = _held(state, w, rest[0])
        return w, calldata("undelegate", target, _part(value, rest[1])), 0
    if kind == "redelegate":
        source, value = _held(state, w, rest[0])
        return w, calldata("redelegate", source, _validator(state, rest[1]), _part(value, rest[2])), 0
    if kind == "cancel":
        target, height, amount = _entry(state, w, rest[0])
        return w, calldata("cancelUnbonding", target, height, _part(amount, rest[1])), 0
    if kind in ("claim", "restake"):
        name = "claimRewards" if kind == "claim" else "restakeRewards"
        return w, calldata(name, _held(state, w, rest[0])[0]), 0
    if kind == "autorestake":
        return w, calldata("setAutoRestake", _held(state, w, rest[0])[0], rest[1]), 0
    if kind == "withdraw":
        return w, calldata("withdrawCommission"), 0
    return w, calldata("unjail"), 0


def consensus_set(sc: StakingChain) -> list[CommitSigner]:
    """The set that decided the head (the next block's parent): the one recorded at the end of
    two heights before it, as consensus applies a set (chosen at E, deciding E+2 on)."""
    chosen = views.active_set(sc.state(max(0, sc.chain.height - 2)))
    return [CommitSigner(v.operator, v.consensus_pubkey, v.power) for v in chosen]


def commit_facts(sc: StakingChain, mask: int, evidence: tuple[Misbehaviour, ...] = ()) -> ConsensusFacts:
    """The next block's last_commit: the consensus set's members picked by ``mask`` sign (all
    of them for mask 7), the others are absent (they miss the block for downtime)."""
    members = consensus_set(sc)
    signed = tuple(m for i, m in enumerate(members) if mask >> (i % 3) & 1)
    absent = tuple(m for i, m in enumerate(members) if not mask >> (i % 3) & 1)
    return ConsensusFacts(signed, evidence, absent)


def evidence_against(sc: StakingChain, v: int | bytes, age: int) -> tuple[Misbehaviour, ...]:
    """Evidence that a registered validator (the ``v``-th, or operator ``v``) double-signed ``age``
    blocks ago, with the power it had then."""
    height = max(0, sc.chain.height - age)
    then = sc.state(height)
    operators = views.validator_operators(then) or views.validator_operators(sc.state())
    operator = v if isinstance(v, bytes) else operators[v % len(operators)]
    info = views.validator(then, operator, 0) or views.validator(sc.state(), operator, 0)
    power = info.power or info.tokens // PARAMS.power_reduction
    return (Misbehaviour(operator, height, info.consensus_pubkey, power),)


def token_value_of(state, delegator: bytes, validator: bytes) -> tuple[int, int]:
    held = [d for d in views.delegations(state, delegator) if d.validator == validator]
    return (held[0].shares, held[0].tokens) if held else (0, 0)


def entries_since(state, operator: bytes, height: int) -> dict[tuple, int]:
    """The entries a double-sign of ``operator`` at ``height`` may cut: unbondings from it and
    redelegations away from it created since, keyed (kind, delegator, target, creation height),
    with the amount a cut lowers (an unbonding's amount; the redelegated delegation's value)."""
    out: dict[tuple, int] = {}
    for delegator in ADDRS:
        for e in views.unbondings(state, delegator, operator):
            if e.creation_height >= height:
                key = ("unbonding", delegator, operator, e.creation_height)
                out[key] = entry_amount(state, *key)
        for e in views.redelegations(state, delegator):
            if e.src == operator and e.creation_height >= height:
                key = ("redelegation", delegator, e.dst, e.creation_height)
                out[key] = entry_amount(state, *key)
    return out


def entry_amount(state, kind: str, delegator: bytes, target: bytes, height: int) -> int:
    if kind == "unbonding":
        return sum(e.amount for e in views.unbondings(state, delegator, target) if e.creation_height == height)
    return token_value_of(state, delegator, target)[1]


class Run:
    """Plays steps on a supply chain, checking both identities after every block."""

    def __init__(self) -> None:
        self.sc, self.consensus = supply_chain()
        self.max_dust = 0
        self.gap_loss = 0  # what stake_gap_loss allows so far
        self.hits: Counter[str] = Counter()  # which slashing and pruning paths the run reached
        self.sc.observers.append(self.after_block)
        check_supply(self.sc)

    def after_block(self, sc: StakingChain) -> None:
        before = sc.state(sc.chain.height - 1)
        if self.consensus.facts.last_commit_signers:  # only then does the block allocate rewards
            self.gap_loss += stake_gap_loss(before, self.consensus.facts, sc.chain.head, PARAMS.block_reward)
        self.max_dust = max(self.max_dust, check_supply(sc, self.gap_loss))
        self.count_paths(before, sc.state())

    def hit(self, path: str) -> None:
        """Count a path reached (and, in a hypothesis run, report it in its statistics)."""
        self.hits[path] += 1
        if currently_in_test_context():
            event(path)

    def count_paths(self, before, after) -> None:
        """Downtime jailings and removals this block made (entry cuts: ``double_sign``)."""
        old, new = Store(before, STAKING_ADDRESS), Store(after, STAKING_ADDRESS)
        for op in views.validator_operators(after):
            if new.get("slashing.jailed_until", op) > old.get("slashing.jailed_until", op):
                self.hit("downtime jailing")
        if views.validator_count(after) < views.validator_count(before):
            self.hit("validator removed")

    def block_with(self, facts: ConsensusFacts, txs=(), dt: int = 1) -> None:
        self.consensus.facts = facts
        try:
            self.sc.block(txs, dt=dt)
        finally:
            self.consensus.facts = NO_CONSENSUS_FACTS

    def play(self, step: tuple) -> bool | None:
        kind, sc = step[0], self.sc
        if kind == "transfers":
            _, moves, mask, dt = step
            txs = [sc.tx(w, b"", value=amount, to=ADDRS[to], gas=21_000) for w, to, amount in moves]
            self.block_with(commit_facts(sc, mask), txs, dt)
        elif kind == "blocks":
            _, count, mask, dt = step
            for _ in range(count):
                self.block_with(commit_facts(sc, mask), dt=dt)
        elif kind == "double_sign":
            _, v, age, mask = step
            evidence = evidence_against(sc, v, age)
            entries = entries_since(sc.state(), evidence[0].validator, evidence[0].height)
            self.block_with(commit_facts(sc, mask, evidence))
            self.count_entry_cuts(entries)
        elif kind == "empty":
            self.empty(step[1])
        elif kind == "unbond_then_evidence":
            self.unbond_then_evidence(*step[1:])
        elif kind == "empty_and_prune":
            self.empty(step[1])
            for dt in (61, 61):
                self.block_with(commit_facts(sc, 7), dt=dt)
            while sc.chain.height % PARAMS.epoch_length:
                self.block_with(commit_facts(sc, 7))
        else:
            return self.call(step)
        return None

    def count_entry_cuts(self, entries: dict) -> None:
        """Which of the slashable entries (``entries_since``) the evidence's block cut."""
        state = self.sc.state()
        for (kind, delegator, target, height), amount in entries.items():
            now = entry_amount(state, kind, delegator, target, height)
            if now < amount:
                self.hit(f"{kind} entry cut")

    def unbond_then_evidence(self, w: int, v: int, f: int, redelegate: bool, mask: int) -> None:
        """``w`` undelegates (or redelegates) part of one of its delegations; the next block
        carries evidence that the validator double-signed the block before: the entry is cut."""
        state = self.sc.state()
        holders = [i for i in range(len(ADDRS)) if views.delegations(state, ADDRS[i])]
        w = holders[w % len(holders)] if holders else w  # someone with a delegation to take from
        source, value = _held(state, w, v)
        if redelegate:
            step = ("redelegate", w, v, (v + 1) % 6, f)
        else:
            step = ("undelegate", w, v, f)
        if not value or not self.call(step):
            return
        evidence = evidence_against(self.sc, source, 2)
        entries = entries_since(self.sc.state(), source, evidence[0].height)
        self.block_with(commit_facts(self.sc, mask, evidence))
        self.count_entry_cuts(entries)

    def empty(self, v: int) -> None:
        """Every delegator of one validator takes everything out, in one block (with no
        signers): the validator is left with no shares, to be pruned once unbonded."""
        sc = self.sc
        sc.away_from_epoch_end()
        state = sc.state()
        target = _validator(state, v)
        txs = []
        for w, address in enumerate(ADDRS):
            _, value = token_value_of(state, address, target)
            if value:
                txs.append(sc.tx(w, calldata("undelegate", target, value)))
        if txs:
            sc.block(txs, dt=0)

    def call(self, step: tuple) -> bool:
        """One staking call alone in a block with no signers; refused, it changed nothing but its fee."""
        sc = self.sc
        sc.away_from_epoch_end()
        sender, data, value = staking_call(sc.state(), step)
        before = sc.snapshot()
        outcome = sc.raw(sender, data, value=value, dt=0)
        if not outcome.ok:
            assert outcome.reason, f"{step}: refused without a reason"
            assert_refused_changed_nothing(sc, before, outcome)
        return outcome.ok


def assert_refused_changed_nothing(sc: StakingChain, before, outcome) -> None:
    """The block of a refused call (no signers, not an epoch end, nothing maturing) changed
    staking storage not at all and balances only by the call's fee and the block's issuance."""
    after = sc.snapshot()
    assert after.staking_storage_root == before.staking_storage_root, "a refused call changed staking storage"
    base_fee = sc.chain.head.base_fee_per_gas
    expected = dict(before.balances)
    expected[outcome.sender] -= outcome.gas_used * (base_fee + TIP)
    expected[COINBASE] += outcome.gas_used * TIP
    expected[REWARD_POOL_ADDRESS] += outcome.gas_used * base_fee // 2 + PARAMS.block_reward
    assert after.balances == expected


def run(steps: list[tuple]) -> Run:
    r = Run()
    for s in steps:
        r.play(s)
    state = r.sc.state()
    assert fees.total_issued(state) == PARAMS.block_reward * r.sc.chain.height
    return r


@settings(max_examples=300 if SOAK else 20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=5, max_size=60 if SOAK else 30))
def test_the_supply_adds_up_after_every_block(steps) -> None:
    run(steps)


def test_a_fixed_sequence_reaches_every_kind_of_step() -> None:
    """Every step kind does what it is there for (so the random runs are not vacuous)."""
    steps = [
        (("transfers", [(5, 6, PLUME), (6, 7, 1)], 7, 1), None),
        (("create", 4, 2_000, 30), True),  # validator index 3, 20% commission
        (("delegate", 5, 3, 20 * PLUME), True),
        (("blocks", 4, 7, 1), None),  # an epoch end: 4's validator joins the set; all sign
        (("blocks", 3, 7, 1), None),
        (("claim", 5, 0), True),
        (("restake", 5, 0), True),
        (("autorestake", 5, 0, True), True),
        (("withdraw", 4), True),
        (("undelegate", 5, 0, 2), True),
        (("redelegate", 5, 0, 0, 2), True),
        (("cancel", 5, 0, 2), True),
        (("double_sign", 3, 2, 5), None),  # 4's validator, 2 blocks ago: slashed and tombstoned
        (("unjail", 4), False),
        (("blocks", 5, 3, 61), None),  # maturity, an epoch end, an auto-restake round
        (("withdraw", 4), True),
    ]
    r = Run()
    results = [r.play(s) for s, _ in steps]
    assert results == [ok for _, ok in steps]
    report = read_supply(r.sc.state())
    assert report.total_issued == PARAMS.block_reward * r.sc.chain.height
    assert dict(report.burned_by_cause)["Slashing"] > 0 and dict(report.burned_by_cause)["BaseFee"] > 0
    assert report.unbonding == 0 and report.undistributed_rewards > 0


def test_an_emptied_validators_whole_share_is_credited_as_commission() -> None:
    """A validator with no tokens left still signs while consensus still has it (two heights after
    its jailing took it out of the recorded set): its whole share is its operator's commission at
    once (unwithdrawnCommission), nothing waits in its period."""
    r = Run()
    operator = ADDRS[2]
    assert r.play(("undelegate", 2, 0, 3)) is True  # all of its self-delegation: no tokens, jailed
    store = Store(r.sc.state(), STAKING_ADDRESS)
    assert store.get("validator.tokens", operator) == 0
    assert operator not in [v.operator for v in views.active_set(r.sc.state())]  # it left the recorded set
    assert operator in [m.address for m in consensus_set(r.sc)]  # and still decides the head
    before = views.pending_commission(r.sc.state(), operator)
    r.play(("blocks", 1, 7, 1))  # all three sign: a third of the pool is its share
    state = r.sc.state()
    assert views.pending_commission(state, operator) > before
    assert Store(state, STAKING_ADDRESS).get("rewards.current", operator) == 0
    assert read_supply(state).unwithdrawn_commission == sum(
        views.pending_commission(state, op) for op in views.validator_operators(state))
    assert r.play(("withdraw", 2)) is True
    assert views.pending_commission(r.sc.state(), operator) == 0


def test_the_steps_reach_downtime_entry_slashing_and_removal() -> None:
    """The paths the random runs must be able to reach, reached: a downtime jailing (random
    absences over the short window), unbonding and redelegation entries made after an
    infraction cut by its evidence, and an emptied validator pruned; the supply adds up
    after every block of it (checked by the run)."""
    r = Run()
    steps = [
        ("create", 4, 2_000, 30),  # validator index 3
        ("delegate", 5, 3, 20 * PLUME),
        ("blocks", 4, 7, 1),  # an epoch end: it joins the set
        ("blocks", 2, 7, 1),
        ("undelegate", 5, 0, 2),  # half of 5's delegation to it, unbonding
        ("redelegate", 5, 0, 0, 2),  # half of the rest to the first genesis validator
        ("double_sign", 3, 3, 7),  # it double-signed 3 blocks ago: both entries are cut
        ("blocks", 6, 3, 1),  # the consensus set's third member misses every block: jailed
        ("empty", 3),  # everyone leaves the tombstoned validator
        ("blocks", 2, 7, 61),  # unbonded and matured
        ("blocks", 4, 7, 1),  # an epoch end removes it
    ]
    for step in steps:
        r.play(step)
    assert r.hits["unbonding entry cut"] >= 1 and r.hits["redelegation entry cut"] >= 1, r.hits
    assert r.hits["downtime jailing"] >= 1 and r.hits["validator removed"] >= 1, r.hits
    report = read_supply(r.sc.state())
    assert dict(report.burned_by_cause)["AbsentSigners"] > 0

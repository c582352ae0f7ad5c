"""Property tests: the governance tally against a direct computation.

The direct computation walks every validator's holders (who owns which shares)
rather than the voters' delegations, as the rule reads in docs/governance.md:
each share of a counted validator votes as its holder did, else as the
validator's operator did, else not at all; a holder's vote covers only its
first MAX_DELEGATIONS_COUNTED delegations. The decision is checked with exact
fractions. The second test runs random delegations and votes through real
transactions and holds the contract's ``tally`` view to the same computation.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from staking.governance.tally import (
    MAX_DELEGATIONS_COUNTED, Outcome, TallyResult, ValidatorStake, VoteOption, decide, tally,
)
from staking.params import BPS, GovParams, StakingParams
from staking_harness import ADDRS, PLUME, StakingChain
from gov_helpers import GOV, propose

ACCOUNTS = [bytes([i + 1]) * 20 for i in range(24)]


def _weights() -> st.SearchStrategy[dict[int, int]]:
    """A single option (mostly) or a split of 10000 bps over distinct options."""
    def split(options: list[int], cuts: list[int]) -> dict[int, int]:
        points = sorted(set(cuts))
        parts = [b - a for a, b in zip([0, *points], [*points, BPS])]
        out: dict[int, int] = {}
        for option, part in zip(options, parts):
            if part:
                out[option] = out.get(option, 0) + part
        return out

    single = st.sampled_from(list(VoteOption)).map(lambda o: {int(o): BPS})
    weighted = st.builds(
        split,
        st.lists(st.sampled_from([int(o) for o in VoteOption]), min_size=4, max_size=4, unique=True),
        st.lists(st.integers(1, BPS - 1), max_size=3),
    )
    return st.one_of(single, weighted)


def direct(
    validators: dict[bytes, int],  # counted operator -> tokens
    holdings: dict[bytes, dict[bytes, int]],  # validator -> holder -> shares
    order: dict[bytes, list[bytes]],  # holder -> its delegation list's order
    votes: dict[bytes, dict[int, int]],
) -> TallyResult:
    totals = {o: 0 for o in VoteOption}

    def add(weights: dict[int, int], power: int) -> None:
        for option, bps in weights.items():
            totals[option] += power * bps // BPS

    for validator, tokens in validators.items():
        shares = sum(holdings[validator].values())
        unvoted = 0
        for holder, held in holdings[validator].items():
            covered = holder in votes and validator in order[holder][:MAX_DELEGATIONS_COUNTED]
            if covered:
                add(votes[holder], held * tokens // shares)
            else:
                unvoted += held
        if validator in votes:
            add(votes[validator], unvoted * tokens // shares)
    return TallyResult(*(totals[o] for o in VoteOption), bonded=sum(validators.values()))


def direct_decision(result: TallyResult, params: GovParams) -> Outcome:
    voted = result.yes + result.abstain + result.no + result.veto
    if result.bonded == 0 or Fraction(voted, result.bonded) < Fraction(params.quorum_bps, BPS):
        return Outcome.NO_QUORUM
    if Fraction(result.veto, voted) > Fraction(params.veto_threshold_bps, BPS):
        return Outcome.VETOED
    if result.yes + result.no + result.veto and Fraction(result.yes, result.yes + result.no + result.veto) > Fraction(
            params.threshold_bps, BPS):
        return Outcome.PASSED
    return Outcome.NO_MAJORITY


@st.composite
def scenarios(draw):
    n_validators = draw(st.integers(1, 6))
    validators = {ACCOUNTS[i]: draw(st.integers(1, 10**24)) for i in range(n_validators)}
    holdings: dict[bytes, dict[bytes, int]] = {}
    order: dict[bytes, list[bytes]] = {a: [] for a in ACCOUNTS}
    for validator in validators:
        holders = draw(st.lists(st.sampled_from(ACCOUNTS), min_size=1, max_size=8, unique=True))
        holdings[validator] = {h: draw(st.integers(1, 10**24)) for h in holders}
        for h in holders:
            order[h].append(validator)
    for holder in ACCOUNTS:  # delegations to validators outside the counted set, and list order
        extra = draw(st.integers(0, 20)) if draw(st.integers(0, 9)) == 0 else 0
        order[holder] += [bytes([200, i]) * 10 for i in range(extra)]
        order[holder] = draw(st.permutations(order[holder]))
    voters = draw(st.lists(st.sampled_from(ACCOUNTS), unique=True, max_size=len(ACCOUNTS)))
    votes = {v: draw(_weights()) for v in voters}
    return validators, holdings, order, votes


@settings(max_examples=400, deadline=None)
@given(scenarios(), st.integers(1, BPS), st.integers(1, BPS - 1), st.integers(1, BPS))
def test_the_tally_matches_a_direct_computation(scenario, quorum, threshold, veto) -> None:
    validators, holdings, order, votes = scenario
    counted = {v: ValidatorStake(tokens, sum(holdings[v].values())) for v, tokens in validators.items()}
    # what tally.voter_delegations reads: the first MAX_DELEGATIONS_COUNTED entries, counted ones only
    delegations = {
        voter: [(v, holdings[v][voter]) for v in order[voter][:MAX_DELEGATIONS_COUNTED] if v in counted]
        for voter in votes
    }
    result = tally(counted, votes, delegations)
    assert result == direct(validators, holdings, order, votes)
    params = GovParams(quorum_bps=quorum, threshold_bps=threshold, veto_threshold_bps=veto)
    assert decide(result, params) == direct_decision(result, params)


STAKE = StakingParams(unbonding_period=60, epoch_length=1_000, max_validator_share_bps=BPS)
step = st.one_of(
    st.tuples(st.just("delegate"), st.integers(0, 7), st.integers(0, 3), st.integers(1, 50)),
    st.tuples(st.just("vote"), st.integers(0, 7), _weights()),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=10))
def test_the_contract_tally_matches_a_direct_computation(steps) -> None:
    sc = StakingChain(STAKE, gov=GOV)
    pid = propose(sc, 0)
    votes: dict[bytes, dict[int, int]] = {}
    for kind, who, *rest in steps:
        if kind == "delegate":
            validator, amount = rest
            assert sc.send(who, "delegate", ADDRS[validator], value=amount * PLUME, dt=0).ok
        else:
            (weights,) = rest
            outcome = sc.gov_send(who, "voteWeighted", pid, list(weights), list(weights.values()), dt=0)
            has_stake = bool(sc.view("getDelegations", ADDRS[who], 0, 10)[0])
            assert outcome.ok == has_stake, outcome.reason
            if outcome.ok:
                votes[ADDRS[who]] = weights
    validators = {ADDRS[i]: sc.view("getValidator", ADDRS[i])[2] for i in range(4)}
    holdings = {ADDRS[v]: {} for v in range(4)}
    order = {}
    for who in range(8):
        targets, shares, _ = sc.view("getDelegations", ADDRS[who], 0, 10)
        order[ADDRS[who]] = [bytes.fromhex(t[2:]) for t in targets]
        for target, held in zip(order[ADDRS[who]], shares):
            holdings[target][ADDRS[who]] = held
    assert sc.gov_view("tally", pid) == direct(validators, holdings, order, votes).as_tuple()

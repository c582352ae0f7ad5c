"""The governance contract (0x…1001) through real transactions: lifecycle, tally rules, deposits, parameter changes."""

from __future__ import annotations

import pytest

from staking import fees
from staking.addresses import GOVERNANCE_ADDRESS, REWARD_POOL_ADDRESS, STAKING_ADDRESS
from staking.governance import methods as gov_methods
from staking.governance import proposals, rules
from staking.governance.proposals import Status
from staking.governance.tally import Outcome
from staking.params import ExecutionParams, GovParams, ParamError, StakingParams
from staking.store import Store
from staking_harness import ADDRS, PLUME, StakingChain, gov_calldata
from gov_helpers import (
    ABSTAIN, DEPOSIT_PERIOD, GOV, MIN_DEPOSIT, NO, VETO, VOTING_PERIOD, YES,
    change, end_voting, outcome_of, propose, status, uint, vote,
)


@pytest.fixture
def sc() -> StakingChain:
    return StakingChain(gov=GOV)


def test_a_parameter_change_passes_and_an_undelegation_after_it_uses_the_new_period(sc: StakingChain) -> None:
    pid = propose(sc, 0, [change("staking.unbonding_period", 500)])
    assert status(sc, pid) == Status.VOTING_PERIOD  # the initial deposit reached min_deposit
    for i in range(3):
        vote(sc, i, pid, YES)
    assert sc.gov_view("tally", pid) == (300 * PLUME, 0, 0, 0)  # live tally: three validators' stake
    before = sc.balance(ADDRS[0])
    end_voting(sc, pid)
    assert (status(sc, pid), outcome_of(sc, pid)) == (Status.PASSED, Outcome.PASSED)
    assert sc.view("params")[0] == 500
    assert sc.balance(ADDRS[0]) == before + MIN_DEPOSIT  # the deposit came back
    assert sc.balance(GOVERNANCE_ADDRESS) == 0
    outcome = sc.send(1, "undelegate", ADDRS[1], PLUME)
    assert outcome.ok
    (_, times, _) = sc.view("getUnbondings", ADDRS[1], ADDRS[1])
    assert times == [sc.chain.head.timestamp + 500]


def test_the_tally_is_frozen_when_the_proposal_closes(sc: StakingChain) -> None:
    pid = propose(sc, 0)
    vote(sc, 0, pid, YES)
    end_voting(sc, pid)
    frozen = sc.gov_view("tally", pid)
    sc.send(0, "delegate", ADDRS[0], value=PLUME)
    assert sc.gov_view("tally", pid) == frozen == (100 * PLUME, 0, 0, 0)


def test_delegators_holding_the_majority_override_their_validators(sc: StakingChain) -> None:
    # delegators 4..7 put 30 PLUME each behind every validator: 480 of 880 bonded (under the share cap)
    for d in range(4, 8):
        for v in range(4):
            assert sc.send(d, "delegate", ADDRS[v], value=30 * PLUME).ok
    pid = propose(sc, 0, [change("staking.max_validators", 50)])
    for v in range(4):
        vote(sc, v, pid, NO)
    for d in range(4, 8):
        vote(sc, d, pid, YES)
    assert sc.gov_view("tally", pid) == (480 * PLUME, 0, 400 * PLUME, 0)
    end_voting(sc, pid)
    assert status(sc, pid) == Status.PASSED
    assert sc.view("params")[1] == 50


def test_a_validator_vote_counts_for_its_delegators_that_did_not_vote() -> None:
    sc = StakingChain(StakingParams(unbonding_period=60, epoch_length=5, max_validator_share_bps=5_000), gov=GOV)
    assert sc.send(4, "delegate", ADDRS[0], value=50 * PLUME).ok
    assert sc.send(5, "delegate", ADDRS[0], value=30 * PLUME).ok
    pid = propose(sc, 1)
    vote(sc, 0, pid, YES)
    vote(sc, 5, pid, NO)
    assert sc.gov_view("tally", pid) == (150 * PLUME, 0, 30 * PLUME, 0)
    assert sc.gov_view("getVote", pid, ADDRS[0])[2] == 150 * PLUME  # its own 100 and 4's 50
    assert sc.gov_view("getVote", pid, ADDRS[5])[2] == 30 * PLUME
    assert sc.gov_view("getVote", pid, ADDRS[4])[2] == 0  # no vote


def test_weighted_votes_split_the_voters_power(sc: StakingChain) -> None:
    pid = propose(sc, 0)
    assert sc.gov_send(1, "voteWeighted", pid, [YES, NO, ABSTAIN], [5000, 3000, 2000]).ok
    assert sc.gov_view("getVote", pid, ADDRS[1]) == ([YES, ABSTAIN, NO], [5000, 2000, 3000], 100 * PLUME)
    assert sc.gov_view("tally", pid) == (50 * PLUME, 20 * PLUME, 30 * PLUME, 0)
    vote(sc, 1, pid, VETO)  # a second vote replaces the first
    assert sc.gov_view("tally", pid) == (0, 0, 0, 100 * PLUME)


def _gov_burned(sc: StakingChain) -> int:
    return fees.total_gov_burned(sc.state())


def test_missing_quorum_rejects_and_burns_the_deposit(sc: StakingChain) -> None:
    pid = propose(sc, 0)
    vote(sc, 0, pid, YES)  # 100 of 400 bonded: under 33.4%
    supply = fees.total_supply(sc.state())
    end_voting(sc, pid)
    assert (status(sc, pid), outcome_of(sc, pid)) == (Status.REJECTED, Outcome.NO_QUORUM)
    assert _gov_burned(sc) == MIN_DEPOSIT
    assert sc.balance(GOVERNANCE_ADDRESS) == 0
    assert fees.total_supply(sc.state()) <= supply - MIN_DEPOSIT  # (base fees burn too)


def test_a_veto_rejects_and_burns_the_deposit(sc: StakingChain) -> None:
    pid = propose(sc, 0, deposit=4 * PLUME)
    assert sc.gov_send(4, "deposit", pid, value=6 * PLUME).ok
    for v in range(3):
        vote(sc, v, pid, YES)
    vote(sc, 3, pid, VETO)  # 100 of 400: 25%, under 33.4% ...
    end_voting(sc, pid)
    assert status(sc, pid) == Status.PASSED
    pid = propose(sc, 0)
    vote(sc, 0, pid, YES)
    vote(sc, 1, pid, VETO)
    vote(sc, 2, pid, VETO)  # ... 200 of 300 vetoes
    end_voting(sc, pid)
    assert (status(sc, pid), outcome_of(sc, pid)) == (Status.REJECTED, Outcome.VETOED)
    assert _gov_burned(sc) == MIN_DEPOSIT


def test_a_rejected_proposal_returns_every_deposit(sc: StakingChain) -> None:
    pid = propose(sc, 0, deposit=2 * PLUME)
    assert sc.gov_send(5, "deposit", pid, value=8 * PLUME).ok
    assert sc.gov_view("getDeposit", pid, ADDRS[5]) == (8 * PLUME,)
    before = sc.balance(ADDRS[5])
    vote(sc, 0, pid, NO)
    vote(sc, 1, pid, NO)
    vote(sc, 2, pid, YES)
    end_voting(sc, pid)
    assert (status(sc, pid), outcome_of(sc, pid)) == (Status.REJECTED, Outcome.NO_MAJORITY)
    assert sc.balance(ADDRS[5]) == before + 8 * PLUME
    assert _gov_burned(sc) == 0


def test_a_proposal_under_min_deposit_is_dropped_and_its_deposit_burned(sc: StakingChain) -> None:
    pid = propose(sc, 0, deposit=PLUME)
    assert status(sc, pid) == Status.DEPOSIT_PERIOD
    sc.gov_refused(0, "vote", pid, YES, reason="not in its voting period")
    for _ in range(GOV.max_deposit_period + 1):
        sc.block(dt=1)
    assert status(sc, pid) == Status.DROPPED
    assert _gov_burned(sc) == PLUME
    sc.gov_refused(4, "deposit", pid, value=PLUME, reason="is closed")


def test_changing_the_burn_share_to_all_burns_the_whole_base_fee() -> None:
    sc = StakingChain(gov=GOV, execution=ExecutionParams())
    pid = propose(sc, 0, [change("execution.base_fee_burn_bps", 10_000)])
    for i in range(3):
        vote(sc, i, pid, YES)
    end_voting(sc, pid)
    assert status(sc, pid) == Status.PASSED
    pool, burned = sc.balance(REWARD_POOL_ADDRESS), fees.total_burned(sc.state())
    outcome = sc.send(4, "delegate", ADDRS[0], value=PLUME)
    base_fee = sc.chain.head.base_fee_per_gas
    assert sc.balance(REWARD_POOL_ADDRESS) == pool  # block_reward is 0 here: the pool gets nothing
    assert fees.total_burned(sc.state()) == burned + outcome.gas_used * base_fee


def test_several_changes_apply_together(sc: StakingChain) -> None:
    pid = propose(sc, 0, [change("gov.quorum_bps", 5000), change("slashing.max_evidence_age", 77),
                          change("staking.block_reward", 3)])
    for i in range(3):
        vote(sc, i, pid, YES)
    end_voting(sc, pid)
    assert sc.gov_view("params")[3] == 5000
    assert sc.view("params")[7] == 3


# -- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ([("staking.no_such_thing", uint(1))], "unknown parameter key"),
        ([("nonsense", uint(1))], "unknown parameter key"),
        ([("staking.unbonding_period", b"\x01")], "32 bytes"),
        ([("staking.unbonding_period", uint(1) + uint(2))], "32 bytes"),
        ([("execution.base_fee_burn_bps", uint(10_001))], "between 0 and 10000"),
        ([("staking.unbonding_period", uint(0))], "unbonding_period must be between"),
        ([("staking.max_validators", uint(0))], "max_validators must be between"),
        ([("gov.threshold_bps", uint(10_000))], "threshold_bps must be between"),
        ([("staking.block_reward", uint(1)), ("staking.block_reward", uint(2))], "changed twice"),
        ([("staking.block_reward", uint(1))] * 17, "at most 16"),
    ],
)
def test_a_bad_change_is_refused_at_submission(sc: StakingChain, changes, reason: str) -> None:
    sc.gov_refused(0, "submitProposal", "t", "d", changes, value=MIN_DEPOSIT, reason=reason)


def test_bad_submissions_are_refused(sc: StakingChain) -> None:
    sc.gov_refused(0, "submitProposal", "t", "d", [], value=PLUME - 1, reason="initial deposit")
    sc.gov_refused(0, "submitProposal", "x" * 141, "d", [], value=MIN_DEPOSIT, reason="title")
    sc.gov_refused(0, "submitProposal", "t", "x" * 4097, [], value=MIN_DEPOSIT, reason="description")
    sc.gov_refused(0, "submitProposal", " ", "d", [], value=MIN_DEPOSIT, reason="needs a title")


def test_bad_votes_are_refused(sc: StakingChain) -> None:
    pid = propose(sc, 0)
    sc.gov_refused(4, "vote", pid, YES, reason="no bonded stake and no delegation")
    sc.gov_refused(0, "vote", pid, 5, reason="vote option 5")
    sc.gov_refused(0, "vote", pid, 0, reason="vote option 0")
    sc.gov_refused(0, "vote", pid + 1, YES, reason="no proposal")
    sc.gov_refused(0, "voteWeighted", pid, [YES, NO], [5000, 4999], reason="must sum to 10000")
    sc.gov_refused(0, "voteWeighted", pid, [YES, NO], [5000, 5001], reason="must sum to 10000")
    sc.gov_refused(0, "voteWeighted", pid, [YES, YES], [5000, 5000], reason="once")
    sc.gov_refused(0, "voteWeighted", pid, [YES], [5000, 5000], reason="same length")
    sc.gov_refused(0, "voteWeighted", pid, [YES, NO], [10_000, 0], reason="above 0")
    sc.gov_refused(0, "vote", pid, YES, value=1, reason="not payable")
    end_voting(sc, pid)
    sc.gov_refused(0, "vote", pid, YES, reason="not in its voting period")
    sc.gov_refused(0, "deposit", pid, value=PLUME, reason="is closed")
    sc.gov_refused(0, "deposit", pid + 5, value=PLUME, reason="no proposal")


def test_a_vote_after_the_period_ends_is_refused_even_before_the_proposal_closes(sc: StakingChain) -> None:
    pid = propose(sc, 0)
    end = sc.gov_view("getProposal", pid)[8]
    sc.block(dt=end - sc.chain.head.timestamp - 1)
    # the next block's time is the voting end: the vote in it is late, and the block then closes the proposal
    tx = sc.tx(0, gov_calldata("vote", pid, YES), to=GOVERNANCE_ADDRESS)
    sc.block([tx], dt=1)
    receipt, _, _ = sc.chain.get_receipt(tx.hash)
    assert receipt.state_root == b""  # failed
    assert sc.gov_view("getVote", pid, ADDRS[0]) == ([], [], 0)
    assert status(sc, pid) == Status.REJECTED


def test_the_delegator_voter_list_is_bounded_and_validators_need_no_slot(sc: StakingChain, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proposals, "MAX_DELEGATOR_VOTERS", 1)
    for d in (4, 5):
        assert sc.send(d, "delegate", ADDRS[d - 4], value=30 * PLUME).ok
    pid = propose(sc, 0)
    vote(sc, 4, pid, YES)
    vote(sc, 4, pid, NO)  # a voter already listed may change its vote
    sc.gov_refused(5, "vote", pid, YES, reason="delegator voters already")
    for v in range(4):
        vote(sc, v, pid, YES)  # the active set's operators vote whatever the list holds
    assert sc.gov_view("tally", pid) == (430 * PLUME, 0, 30 * PLUME, 0)  # 5 did not vote: validator 1 counts its 30


def test_dust_cannot_fill_the_voter_slots_and_lock_out_the_validators(monkeypatch: pytest.MonkeyPatch) -> None:
    """The attack: dust delegators take every voter slot, a whale with over a third of the stake
    votes yes on ``gov.quorum_bps=1``, and the validators' NO votes are refused. Now dust takes no
    slot, and the validators' votes need none."""
    sc = StakingChain(StakingParams(unbonding_period=60, epoch_length=5, max_validator_share_bps=5_000), gov=GOV)
    monkeypatch.setattr(gov_methods, "MAX_VOTERS", 4, raising=False)  # the bound before the fix
    monkeypatch.setattr(proposals, "MAX_DELEGATOR_VOTERS", 4, raising=False)
    for v in range(4):
        assert sc.send(7, "delegate", ADDRS[v], value=51 * PLUME).ok  # 204 of 604: 33.8%
    for d in (4, 5, 6):
        assert sc.send(d, "delegate", ADDRS[0], value=1).ok
    pid = propose(sc, 7, [change("gov.quorum_bps", 1)])
    for d in (4, 5, 6):
        sc.gov_refused(d, "vote", pid, YES, reason="a delegator's vote needs at least")
    vote(sc, 7, pid, YES)
    for v in range(4):
        vote(sc, v, pid, NO)
    end_voting(sc, pid)
    assert (status(sc, pid), outcome_of(sc, pid)) == (Status.REJECTED, Outcome.NO_MAJORITY)
    assert sc.gov_view("params")[3] == GOV.quorum_bps


def test_only_voting_proposals_are_capped_so_cheap_ones_cannot_block_new_ones(sc: StakingChain, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gov_methods, "MAX_OPEN_PROPOSALS", 2, raising=False)  # the shared cap before the fix
    monkeypatch.setattr(proposals, "MAX_VOTING_PROPOSALS", 2)
    cheap = [propose(sc, 0, deposit=PLUME) for _ in range(2)]  # a tenth of min_deposit each
    funded = propose(sc, 1)  # not blocked by the cheap ones
    assert status(sc, funded) == Status.VOTING_PERIOD
    assert sc.gov_send(2, "deposit", cheap[0], value=MIN_DEPOSIT).ok  # the second voting slot
    sc.gov_refused(3, "deposit", cheap[1], value=MIN_DEPOSIT, reason="2 proposals are in their voting period")
    sc.gov_refused(0, "submitProposal", "t", "d", [], value=MIN_DEPOSIT, reason="in their voting period")
    assert propose(sc, 0, deposit=PLUME) == 4  # a deposit-period proposal is still taken


def test_the_initial_deposit_is_at_least_one_wei() -> None:
    sc = StakingChain(gov=GovParams(min_deposit=5, max_deposit_period=DEPOSIT_PERIOD, voting_period=VOTING_PERIOD))
    sc.gov_refused(0, "submitProposal", "t", "d", [], value=0, reason="initial deposit 0 wei is below 1 wei")


def test_dust_deposits_cannot_fill_the_depositor_slots(sc: StakingChain) -> None:
    pid = propose(sc, 0, deposit=PLUME)
    first = MIN_DEPOSIT // gov_methods.MAX_DEPOSITORS
    sc.gov_refused(1, "deposit", pid, value=1, reason=f"a first deposit must be at least {first} wei")
    assert sc.gov_send(1, "deposit", pid, value=first).ok
    assert sc.gov_send(1, "deposit", pid, value=1).ok  # a depositor already listed may add any amount


def test_due_deposit_periods_all_drop_and_voting_periods_close_in_end_order(sc: StakingChain) -> None:
    late_funded = propose(sc, 0, deposit=PLUME)
    early = propose(sc, 1)  # voting starts now: it ends first
    sc.block(dt=2)
    assert sc.gov_send(2, "deposit", late_funded, value=MIN_DEPOSIT).ok  # voting starts later
    cheap = [propose(sc, 3, deposit=PLUME) for _ in range(3)]
    deposit_end = max(sc.gov_view("getProposal", pid)[6] for pid in cheap)
    voting_end = max(sc.gov_view("getProposal", pid)[8] for pid in (early, late_funded))
    state = _StateApi(sc.state())
    ctx = _Emits()
    ctx.timestamp = max(deposit_end, voting_end)
    rules.process_governance(state, ctx)
    dropped = [indexed[0] for name, indexed, _ in ctx.events if name == "ProposalDropped"]
    closed = [indexed[0] for name, indexed, _ in ctx.events if name == "ProposalRejected"]
    assert dropped == cheap  # every due one in this block
    assert closed == [early]  # not the lower id: the one whose voting ended first


def test_pages_of_proposals(sc: StakingChain) -> None:
    ids = [propose(sc, 0, title=f"p{i}", deposit=PLUME) for i in range(3)]
    assert sc.gov_view("getProposals", 1, 5) == ([2, 3], [1, 1], ["p1", "p2"])
    assert sc.gov_view("getProposals", 3, 5) == ([], [], [])
    assert ids == [1, 2, 3]
    sc.gov_refused(0, "getProposals", 0, 101, reason="page size")


class _Emits:
    """Collects the end-of-block events a rule emits (a BlockContext's ``emit``)."""

    def __init__(self) -> None:
        self.events: list = []

    def emit(self, address, event, indexed, data) -> None:
        self.events.append((event.name, indexed, data))


def test_changes_apply_all_or_none_when_revalidated_at_execution(sc: StakingChain) -> None:
    pid = propose(sc, 0, [change("staking.unbonding_period", 500), change("staking.max_validators", 50)])
    state = sc.state()  # the head state, changed in memory only
    gov_store = Store(state, GOVERNANCE_ADDRESS)
    # as if a bound had moved since submission: the second change no longer fits
    gov_store.set("proposal.change.value", pid, 1, 0)
    ctx = _Emits()
    assert rules.execute_changes(state, gov_store, ctx, pid) == Outcome.INVALID_CHANGE
    assert Store(state, STAKING_ADDRESS).get("param.unbonding_period") == 60  # the valid one did not apply either
    assert ctx.events == []
    gov_store.set("proposal.change.value", pid, 1, 50)
    assert rules.execute_changes(state, gov_store, ctx, pid) == Outcome.PASSED
    assert Store(state, STAKING_ADDRESS).get("param.unbonding_period") == 500
    assert [name for name, _, _ in ctx.events] == ["ParamChanged", "ParamChanged"]


class _StateApi:
    """The head's real AccountDB with py-evm state's ``delta_balance``, as end-of-block hooks use it."""

    def __init__(self, db) -> None:
        self.db = db

    def __getattr__(self, name):
        return getattr(self.db, name)

    def delta_balance(self, address: bytes, delta: int) -> None:
        self.db.set_balance(address, self.db.get_balance(address) + delta)

    def snapshot(self):
        return self.db.record()

    def revert(self, checkpoint) -> None:
        self.db.discard(checkpoint)

    def commit(self, checkpoint) -> None:
        self.db.commit(checkpoint)


def test_closing_emits_the_changes_the_outcome_and_the_deposits(sc: StakingChain) -> None:
    passing = propose(sc, 0, [change("staking.block_reward", 5)])
    vetoed = propose(sc, 1)
    for i in range(3):
        vote(sc, i, passing, YES)
        vote(sc, i, vetoed, VETO)
    end = max(sc.gov_view("getProposal", pid)[8] for pid in (passing, vetoed))
    state = _StateApi(sc.state())
    ctx = _Emits()
    ctx.timestamp = end
    rules.process_governance(state, ctx)  # one proposal per block: the older first
    rules.process_governance(state, ctx)
    assert [(name, indexed) for name, indexed, _ in ctx.events] == [
        ("ParamChanged", (passing,)), ("ProposalPassed", (passing,)), ("DepositsReturned", (passing,)),
        ("ProposalRejected", (vetoed,)), ("DepositsBurned", (vetoed,)),
    ]
    assert ctx.events[0][2] == ("staking.block_reward", 5)
    assert ctx.events[3][2][0] == Outcome.VETOED
    assert ctx.events[4][2] == (MIN_DEPOSIT,)


def test_a_shortened_unbonding_period_applies_to_new_undelegations_while_old_ones_wait() -> None:
    sc = StakingChain(StakingParams(unbonding_period=10_000, epoch_length=5), gov=GOV)
    assert sc.send(1, "undelegate", ADDRS[1], PLUME).ok  # pending until +10,000 s
    assert sc.send(1, "redelegate", ADDRS[1], ADDRS[3], PLUME).ok
    pid = propose(sc, 0, [change("staking.unbonding_period", 30)])
    for i in range(3):
        vote(sc, i, pid, YES)
    end_voting(sc, pid)
    assert status(sc, pid) == Status.PASSED
    assert sc.send(2, "undelegate", ADDRS[2], PLUME).ok
    assert sc.send(2, "redelegate", ADDRS[2], ADDRS[3], PLUME).ok
    (_, times, _) = sc.view("getUnbondings", ADDRS[2], ADDRS[2])
    assert times == [sc.chain.head.timestamp - 1 + 30]  # the undelegation's block, one second before
    before = sc.balance(ADDRS[2])
    sc.advance(1, dt=30)
    assert sc.balance(ADDRS[2]) == before + PLUME  # paid after 30 s, ahead of the 10,000 s entry
    assert sc.view("getRedelegations", ADDRS[2])[0] == []
    assert len(sc.view("getUnbondings", ADDRS[1], ADDRS[1])[0]) == 1  # the old one still waits
    assert len(sc.view("getRedelegations", ADDRS[1])[0]) == 1


@pytest.mark.parametrize("key, value, reason", [
    ("staking.power_reduction", 2 * PLUME, "not governable"),
    ("staking.power_reduction", PLUME, "not governable"),
    ("staking.min_self_delegation", 101 * PLUME, "above an active validator's self-delegation"),
    ("gov.min_deposit", 2**128, "above 1% of the total supply"),
    ("gov.voting_period", 59, "at least 60"),
    ("gov.max_deposit_period", 1, "at least 60"),
    ("gov.quorum_bps", 10_000, "at most 6667"),
    ("gov.threshold_bps", 9_999, "at most 6667"),
    ("gov.veto_threshold_bps", 1, "at least 1000"),
])
def test_changes_that_would_break_the_chain_or_switch_governance_off_are_refused(
        sc: StakingChain, key: str, value: int, reason: str) -> None:
    sc.gov_refused(0, "submitProposal", "t", "d", [(key, uint(value))], value=MIN_DEPOSIT, reason=reason)


def test_a_cross_parameter_check_is_applied_again_at_execution(sc: StakingChain) -> None:
    pid = propose(sc, 0, [change("staking.min_self_delegation", 50 * PLUME)])
    for i in range(3):
        vote(sc, i, pid, YES)
    assert sc.send(3, "undelegate", ADDRS[3], 60 * PLUME).ok  # validator 3 now holds 40 PLUME of its own
    end_voting(sc, pid)
    assert (status(sc, pid), outcome_of(sc, pid)) == (Status.REJECTED, Outcome.INVALID_CHANGE)
    assert sc.view("params")[3] == PLUME


def test_an_exception_while_closing_rejects_the_proposal_and_the_block_stays_valid(
        sc: StakingChain, monkeypatch: pytest.MonkeyPatch) -> None:
    pid = propose(sc, 0, [change("staking.block_reward", 5)])
    for i in range(3):
        vote(sc, i, pid, YES)
    before, reward = sc.balance(ADDRS[0]), sc.view("params")[7]

    def broken_decide(result, params):
        raise ParamError("gov.quorum_bps must be between 1 and 10000, got 0")  # as a corrupt stored value would

    monkeypatch.setattr(rules, "decide", broken_decide)
    end_voting(sc, pid)  # blocks keep coming
    assert (status(sc, pid), outcome_of(sc, pid)) == (Status.REJECTED, Outcome.INVALID_CHANGE)
    assert sc.view("params")[7] == reward != 5  # block_reward unchanged
    assert sc.balance(ADDRS[0]) == before + MIN_DEPOSIT  # the deposit came back
    assert sc.gov_view("tally", pid) == (0, 0, 0, 0)  # the tally's writes were undone with the rest


def test_a_validator_vote_never_counts_negative_stake() -> None:
    from staking.governance.tally import ValidatorStake, tally
    v, d = b"\x01" * 20, b"\x02" * 20
    result = tally({v: ValidatorStake(tokens=100, shares=100)}, {d: {YES: 10_000}, v: {NO: 10_000}}, {d: [(v, 150)]})
    assert (result.yes, result.no) == (150, 0)


def test_an_undecided_proposal_has_no_outcome_not_passed(sc: StakingChain) -> None:
    pid = propose(sc, 0)
    assert outcome_of(sc, pid) == Outcome.NONE != Outcome.PASSED
    for i in range(3):
        vote(sc, i, pid, YES)
    end_voting(sc, pid)
    assert outcome_of(sc, pid) == Outcome.PASSED != Outcome.NONE


def test_governance_deposits_in_the_supply_report_exclude_stray_wei(sc: StakingChain) -> None:
    from staking.supply import read_supply
    pid = propose(sc, 0)
    assert sc.gov_send(1, "deposit", pid, value=PLUME).ok
    state = sc.state()
    state.set_balance(GOVERNANCE_ADDRESS, state.get_balance(GOVERNANCE_ADDRESS) + 5)  # as SELFDESTRUCT or a coinbase would
    assert read_supply(state).governance_deposits == MIN_DEPOSIT + PLUME
    for i in range(3):
        vote(sc, i, pid, YES)
    end_voting(sc, pid)
    assert read_supply(sc.state()).governance_deposits == 0


def test_a_voters_delegations_are_filtered_to_counted_validators_before_the_cut() -> None:
    from staking.delegation import delegations_of
    from staking.governance.tally import MAX_DELEGATIONS_COUNTED, voter_delegations
    from test_staking_delegation import DictState
    staking = Store(DictState(), STAKING_ADDRESS)
    voter = b"\x09" * 20
    validators = [bytes([i + 1]) * 20 for i in range(MAX_DELEGATIONS_COUNTED + 1)]
    for v in validators:
        delegations_of(staking, voter).append(int.from_bytes(v, "big"))
        staking.set("delegation.shares", voter, v, 7)
    counted = {validators[-1]: None}  # only the ninth delegation's validator counts
    assert voter_delegations(staking, voter, counted) == [(validators[-1], 7)]

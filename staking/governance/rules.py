"""The governance rules a proposal's life goes through, and the end-of-block rule that closes periods.

* ``start_voting``: when a proposal's deposits reach ``gov.min_deposit`` (in
  the ``deposit`` or ``submitProposal`` call that reaches it), its voting
  period starts: ``voting_end = now + gov.voting_period``.
* ``process_governance`` (end of every block): each open proposal whose period
  ended at or before the block's time is closed, at most
  ``MAX_CLOSED_PER_BLOCK`` per block (the others wait for the next block; no
  vote or deposit is taken after a period's end):
  - deposit period over without ``min_deposit``: DROPPED, deposits burned;
  - voting period over: tallied (``staking/governance/tally.py``) and decided;
    PASSED applies every change atomically, still re-checked against the
    bounds (``INVALID_CHANGE`` applies none), then deposits are returned;
    NO_MAJORITY returns them; NO_QUORUM and VETOED burn them.
"""

from __future__ import annotations

from typing import Any

from staking import fees
from staking.addresses import GOVERNANCE_ADDRESS, STAKING_ADDRESS
from staking.errors import StakingRevert
from staking.governance import abi as gov_abi
from staking.governance import params_registry, proposals
from staking.governance.proposals import Status
from staking.governance.tally import Outcome, TallyResult, VoteOption, counted_validators, decide, tally, voter_delegations
from staking.params import GovParams
from staking.store import Store

MAX_CLOSED_PER_BLOCK = 1  # proposals one block closes (tallies) at most; the rest wait for the next blocks
BURNING_OUTCOMES = (Outcome.NO_QUORUM, Outcome.VETOED)


def gov_params(state: Any, charge: Any = None) -> GovParams:
    return params_registry.read_section(state, params_registry.SECTIONS["gov"], charge)


def start_voting(store: Store, proposal_id: int, now: int, voting_period: int) -> int:
    store.set("proposal.status", proposal_id, Status.VOTING_PERIOD)
    store.set("proposal.voting_start", proposal_id, now)
    store.set("proposal.voting_end", proposal_id, now + voting_period)
    return now + voting_period


def current_tally(state: Any, store: Store, staking: Store, proposal_id: int) -> TallyResult:
    """The tally of the proposal's votes over the stake as it is now (a live tally)."""
    counted = counted_validators(staking)
    votes = proposals.votes(store, proposal_id)
    delegations = {voter: voter_delegations(staking, voter, counted) for voter in votes}
    return tally(counted, votes, delegations)


def final_tally(store: Store, proposal_id: int) -> TallyResult:
    return TallyResult(*(store.get("proposal.tally", proposal_id, o) for o in VoteOption))


def _return_deposits(state: Any, store: Store, proposal_id: int) -> int:
    total = 0
    for item in proposals.depositors(store, proposal_id).items():
        depositor = item.to_bytes(20, "big")
        amount = store.get("deposit.amount", proposal_id, depositor)
        state.delta_balance(GOVERNANCE_ADDRESS, -amount)
        state.delta_balance(depositor, amount)
        total += amount
    return total


def _settle_deposits(state: Any, store: Store, ctx: Any, proposal_id: int, burn: bool) -> None:
    if burn:
        amount = store.get("proposal.total_deposit", proposal_id)
        fees.burn_deposit(state, GOVERNANCE_ADDRESS, amount)
        ctx.emit(GOVERNANCE_ADDRESS, gov_abi.DEPOSITS_BURNED, (proposal_id,), (amount,))
    else:
        amount = _return_deposits(state, store, proposal_id)
        ctx.emit(GOVERNANCE_ADDRESS, gov_abi.DEPOSITS_RETURNED, (proposal_id,), (amount,))


def drop_proposal(state: Any, store: Store, ctx: Any, proposal_id: int) -> None:
    """Its deposit period ended under min_deposit: dropped, its deposits burned."""
    store.set("proposal.status", proposal_id, Status.DROPPED)
    ctx.emit(GOVERNANCE_ADDRESS, gov_abi.PROPOSAL_DROPPED, (proposal_id,), (store.get("proposal.total_deposit", proposal_id),))
    _settle_deposits(state, store, ctx, proposal_id, burn=True)


def execute_changes(state: Any, store: Store, ctx: Any, proposal_id: int) -> Outcome:
    """Apply every change of a passed proposal, all or none (re-checked against today's values)."""
    changes = proposals.changes(store, proposal_id)
    try:
        updated = params_registry.apply_changes(state, changes)
    except StakingRevert:
        return Outcome.INVALID_CHANGE
    params_registry.commit_changes(state, updated)
    params_registry.apply_permission_changes(state, ctx, changes)
    for key, value in changes:
        ctx.emit(GOVERNANCE_ADDRESS, gov_abi.PARAM_CHANGED, (proposal_id,), (key, value))
    return Outcome.PASSED


def close_voting(state: Any, store: Store, ctx: Any, proposal_id: int) -> Outcome:
    """Its voting period ended: tally over bonded stake now, decide, apply, settle the deposits."""
    result = current_tally(state, store, Store(state, STAKING_ADDRESS), proposal_id)
    for option, value in zip(VoteOption, result.as_tuple()):
        store.set("proposal.tally", proposal_id, option, value)
    outcome = decide(result, gov_params(state))
    if outcome == Outcome.PASSED:
        outcome = execute_changes(state, store, ctx, proposal_id)
    store.set("proposal.outcome", proposal_id, outcome)
    if outcome == Outcome.PASSED:
        store.set("proposal.status", proposal_id, Status.PASSED)
        ctx.emit(GOVERNANCE_ADDRESS, gov_abi.PROPOSAL_PASSED, (proposal_id,), result.as_tuple())
    else:
        store.set("proposal.status", proposal_id, Status.REJECTED)
        ctx.emit(GOVERNANCE_ADDRESS, gov_abi.PROPOSAL_REJECTED, (proposal_id,), (outcome, *result.as_tuple()))
    _settle_deposits(state, store, ctx, proposal_id, burn=outcome in BURNING_OUTCOMES)
    return outcome


def _period_over(store: Store, proposal_id: int, now: int) -> bool:
    if proposals.status(store, proposal_id) == Status.DEPOSIT_PERIOD:
        return now >= store.get("proposal.deposit_end", proposal_id)
    return now >= store.get("proposal.voting_end", proposal_id)


def process_governance(state: Any, ctx: Any) -> None:
    """Close the open proposals whose deposit or voting period is over (at most MAX_CLOSED_PER_BLOCK)."""
    store = Store(state, GOVERNANCE_ADDRESS)
    open_ = proposals.open_list(store)
    due = [pid for pid in open_.items() if _period_over(store, pid, ctx.timestamp)]  # at most MAX_OPEN_PROPOSALS
    for proposal_id in sorted(due)[:MAX_CLOSED_PER_BLOCK]:
        open_.remove(proposal_id)
        if proposals.status(store, proposal_id) == Status.DEPOSIT_PERIOD:
            drop_proposal(state, store, ctx, proposal_id)
        else:
            close_voting(state, store, ctx, proposal_id)

"""The governance rules a proposal's life goes through, and the end-of-block rule that closes periods.

* ``start_voting``: when a proposal's deposits reach ``gov.min_deposit`` (in
  the ``deposit`` or ``submitProposal`` call that reaches it), its voting
  period starts: ``voting_end = now + gov.voting_period`` (refused while
  ``MAX_VOTING_PROPOSALS`` are voting).
* ``process_governance`` (end of every block):
  - ``process_deposit_queue``: every proposal at the head of the deposit
    queue whose deposit period is over without ``min_deposit`` is DROPPED,
    its deposits burned (O(1) each, at most ``MAX_DROPPED_PER_BLOCK``);
  - the voting period that ended first is tallied (``tally.py``) and
    decided, at most ``MAX_CLOSED_PER_BLOCK`` per block: PASSED applies every
    change atomically, still re-checked against the bounds (``INVALID_CHANGE``
    applies none), then deposits are returned; NO_MAJORITY returns them;
    NO_QUORUM and VETOED burn them.
  Each drop and close runs under a state snapshot (``_guarded``): an
  exception undoes it and the proposal fails closed, so governance never
  makes a block invalid.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from staking import fees
from staking.addresses import GOVERNANCE_ADDRESS, STAKING_ADDRESS
from staking.errors import StakingRevert
from staking.governance import abi as gov_abi
from staking.governance import params_registry, proposals
from staking.governance.proposals import Status
from staking.governance.tally import (
    Outcome, TallyResult, VoteOption, counted_validators, decide, power_of, tally, voter_delegations,
)
from staking.params import GovParams, ParamError
from staking.store import Store

MAX_CLOSED_PER_BLOCK = 1  # voting periods one block closes (tallies) at most; the rest wait for the next blocks
MAX_DROPPED_PER_BLOCK = 64  # deposit-queue entries one block looks at (drops or skips), O(1) each
BURNING_OUTCOMES = (Outcome.NO_QUORUM, Outcome.VETOED)


def gov_params(state: Any, charge: Any = None) -> GovParams:
    return params_registry.read_section(state, params_registry.SECTIONS["gov"], charge)


def start_voting(store: Store, proposal_id: int, now: int, voting_period: int) -> int:
    """Its deposits reached min_deposit: it enters the voting period (refused while MAX_VOTING_PROPOSALS vote)."""
    voting = proposals.voting_list(store)
    if len(voting) >= proposals.MAX_VOTING_PROPOSALS:
        raise StakingRevert(f"{proposals.MAX_VOTING_PROPOSALS} proposals are in their voting period; deposit after one closes")
    voting.append(proposal_id)
    store.set("proposal.status", proposal_id, Status.VOTING_PERIOD)
    store.set("proposal.voting_start", proposal_id, now)
    store.set("proposal.voting_end", proposal_id, now + voting_period)
    return now + voting_period


def _tally_inputs(store: Store, staking: Store, proposal_id: int) -> tuple:
    counted = counted_validators(staking)
    votes = proposals.votes(store, proposal_id, counted)
    delegations = {voter: voter_delegations(staking, voter, counted) for voter in votes}
    return counted, votes, delegations


def current_tally(state: Any, store: Store, staking: Store, proposal_id: int) -> TallyResult:
    """The tally of the proposal's votes over the stake as it is now (a live tally)."""
    return tally(*_tally_inputs(store, staking, proposal_id))


def current_power(store: Store, staking: Store, proposal_id: int, voter: bytes) -> int:
    """The stake ``voter``'s vote counts for in the live tally (0 without a vote)."""
    return power_of(voter, *_tally_inputs(store, staking, proposal_id))


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
    store.add("deposit.held", -amount)


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
    except (StakingRevert, ParamError):  # ParamError: a stored value out of bounds, read back
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


def process_deposit_queue(state: Any, store: Store, ctx: Any) -> None:
    """Drop the proposals at the head of the deposit queue whose deposit period is over (O(1) each,
    at most MAX_DROPPED_PER_BLOCK); skip those that entered their voting period."""
    queue = proposals.deposit_queue(store)
    for _ in range(MAX_DROPPED_PER_BLOCK):
        proposal_id = queue.peek()
        if proposal_id is None:
            return
        if proposals.status(store, proposal_id) == Status.DEPOSIT_PERIOD:
            if ctx.timestamp < store.get("proposal.deposit_end", proposal_id):
                return  # in submission order: a later one waits behind it (it takes no deposit once due)
            if not _guarded(state, ctx, lambda: drop_proposal(state, store, ctx, proposal_id)):
                store.set("proposal.status", proposal_id, Status.DROPPED)  # its deposits stay held
        queue.pop()


def _earliest_due_vote(store: Store, now: int) -> int | None:
    """The voting-period proposal whose voting ended first (then the lowest id), if any has ended."""
    ends = [(store.get("proposal.voting_end", pid), pid) for pid in proposals.voting_list(store).items()]
    due = [end_id for end_id in ends if end_id[0] <= now]
    return min(due)[1] if due else None


def _guarded(state: Any, ctx: Any, action: Callable[[], object]) -> bool:
    """Run ``action``; if it raises, undo its writes and its logs and return False.

    No exception from governance may make a block invalid: a bug or a corrupt
    stored value costs the proposal at hand, not the chain."""
    snapshot, logs = state.snapshot(), getattr(ctx, "system_logs", [])
    mark = len(logs)
    try:
        action()
    except Exception:  # anything: the block must still be valid
        state.revert(snapshot)
        del logs[mark:]
        return False
    state.commit(snapshot)
    return True


def fail_closed(state: Any, store: Store, ctx: Any, proposal_id: int) -> None:
    """Closing raised: the proposal is rejected as INVALID_CHANGE, nothing applied, deposits returned
    (if even that raises, they stay held by the contract)."""
    store.set("proposal.status", proposal_id, Status.REJECTED)
    store.set("proposal.outcome", proposal_id, Outcome.INVALID_CHANGE)
    ctx.emit(GOVERNANCE_ADDRESS, gov_abi.PROPOSAL_REJECTED, (proposal_id,), (Outcome.INVALID_CHANGE, 0, 0, 0, 0))
    _guarded(state, ctx, lambda: _settle_deposits(state, store, ctx, proposal_id, burn=False))


def _close_one(state: Any, store: Store, ctx: Any, proposal_id: int) -> None:
    proposals.voting_list(store).remove(proposal_id)
    if not _guarded(state, ctx, lambda: close_voting(state, store, ctx, proposal_id)):
        fail_closed(state, store, ctx, proposal_id)


def process_governance(state: Any, ctx: Any) -> None:
    """Drop the due deposit-period proposals, then close (tally) the voting periods that ended,
    earliest end first, at most MAX_CLOSED_PER_BLOCK per block. Never raises."""
    store = Store(state, GOVERNANCE_ADDRESS)
    process_deposit_queue(state, store, ctx)
    for _ in range(MAX_CLOSED_PER_BLOCK):
        proposal_id = _earliest_due_vote(store, ctx.timestamp)
        if proposal_id is None:
            return
        _close_one(state, store, ctx, proposal_id)

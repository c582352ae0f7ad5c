"""The stake-weighted tally of a proposal's votes, over bonded stake only (as Cosmos x/gov).

Who counts: the validators of the active set (``validator.bonded``) that are
not jailed, with their tokens at tally time. A voter's power is what its
delegations to those validators are worth; a validator's own vote counts for
every share of it held by delegators that did not vote themselves:

    for each voter d, each delegation (d, v, held) to a counted validator v:
        deducted[v] += held
        d's vote gets  held * tokens[v] // shares[v]
    for each voter v that operates a counted validator:
        v's vote gets  (shares[v] - deducted[v]) * tokens[v] // shares[v]

A vote's power is split over its options by weight: ``power * weight_bps //
10000`` per option. Only a voter's first ``MAX_DELEGATIONS_COUNTED``
delegations to counted validators (among the first ``MAX_DELEGATIONS_SCANNED``
of its delegation list) are looked at: the rest follow their validators' votes. ``tally`` is a pure function of plain values, so a
property test can hold it against a direct computation; ``collect`` reads those
values from the staking contract's storage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from staking.delegation import delegations_of
from staking.params import BPS, GovParams
from staking.store import IdList, Store

MAX_DELEGATIONS_COUNTED = 8  # of one voter's delegations to counted validators, counted by a tally
MAX_DELEGATIONS_SCANNED = 16  # of one voter's delegation list, looked at to find those 8 (bounds the reads)


class VoteOption(IntEnum):
    YES = 1
    ABSTAIN = 2
    NO = 3
    VETO = 4  # no with veto


class Outcome(IntEnum):
    """How a closed voting period ended (``reason`` of ProposalRejected; PASSED for ProposalPassed)."""

    NONE = 0  # not decided: the proposal is in its deposit or voting period, or was dropped
    PASSED = 1
    NO_MAJORITY = 2  # yes not above threshold_bps of the non-abstain votes: deposits returned
    NO_QUORUM = 3  # under quorum_bps of the bonded stake voted: deposits burned
    VETOED = 4  # veto above veto_threshold_bps of the votes: deposits burned
    INVALID_CHANGE = 5  # passed, but a change no longer fits its bounds: nothing applied, deposits returned


@dataclass(frozen=True)
class ValidatorStake:
    tokens: int
    shares: int


@dataclass(frozen=True)
class TallyResult:
    yes: int = 0
    abstain: int = 0
    no: int = 0
    veto: int = 0
    bonded: int = 0  # the stake that could have voted: every counted validator's tokens

    @property
    def voted(self) -> int:
        return self.yes + self.abstain + self.no + self.veto

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.yes, self.abstain, self.no, self.veto)


Weights = Mapping[int, int]  # VoteOption -> bps, summing to BPS


def _add(totals: list[int], weights: Weights, power: int) -> None:
    for option, bps in weights.items():
        totals[option] += power * bps // BPS


def tally(
    validators: Mapping[bytes, ValidatorStake],
    votes: Mapping[bytes, Weights],
    delegations: Mapping[bytes, Sequence[tuple[bytes, int]]],
) -> TallyResult:
    """The tally of ``votes`` (voter -> weights) given the counted validators and each voter's
    delegations ((validator, shares held), already cut to MAX_DELEGATIONS_COUNTED)."""
    totals = [0] * (max(VoteOption) + 1)
    deducted = dict.fromkeys(validators, 0)
    for voter, weights in votes.items():
        for validator, held in delegations.get(voter, ()):
            stake = validators.get(validator)
            if stake is None or stake.shares == 0:
                continue
            deducted[validator] += held
            _add(totals, weights, held * stake.tokens // stake.shares)
    for voter, weights in votes.items():
        stake = validators.get(voter)
        if stake is not None and stake.shares:
            # Delegations' shares add up to the validator's, so the rest is never negative; clamped
            # all the same, as a broken invariant must not make a negative total (or a block invalid).
            rest = max(0, stake.shares - deducted[voter])
            _add(totals, weights, rest * stake.tokens // stake.shares)
    bonded = sum(s.tokens for s in validators.values())
    return TallyResult(*(totals[o] for o in VoteOption), bonded=bonded)


def power_of(
    voter: bytes,
    validators: Mapping[bytes, ValidatorStake],
    votes: Mapping[bytes, Weights],
    delegations: Mapping[bytes, Sequence[tuple[bytes, int]]],
) -> int:
    """The stake ``tally`` counts ``voter``'s vote for (0 if it did not vote): its own delegations,
    and if it operates a counted validator, that validator's shares no voting delegator took."""
    if voter not in votes:
        return 0
    power = 0
    for validator, held in delegations.get(voter, ()):
        stake = validators.get(validator)
        if stake is not None and stake.shares:
            power += held * stake.tokens // stake.shares
    stake = validators.get(voter)
    if stake is not None and stake.shares:
        deducted = sum(held for d in votes for v, held in delegations.get(d, ()) if v == voter)
        power += max(0, stake.shares - deducted) * stake.tokens // stake.shares
    return power


def decide(result: TallyResult, params: GovParams) -> Outcome:
    """Quorum first, then veto, then the threshold (each as Cosmos x/gov orders them)."""
    if result.bonded == 0 or result.voted * BPS < params.quorum_bps * result.bonded:
        return Outcome.NO_QUORUM
    if result.veto * BPS > params.veto_threshold_bps * result.voted:
        return Outcome.VETOED
    non_abstain = result.yes + result.no + result.veto
    if non_abstain and result.yes * BPS > params.threshold_bps * non_abstain:
        return Outcome.PASSED
    return Outcome.NO_MAJORITY


# -- reading the inputs from storage --------------------------------------------------


def counted_validators(staking: Store) -> dict[bytes, ValidatorStake]:
    """The active set's validators that are bonded and not jailed, with tokens and shares."""
    out = {}
    for item in IdList(staking, "active").items():
        operator = item.to_bytes(20, "big")
        if staking.get("validator.bonded", operator) and not staking.get("validator.jailed", operator):
            out[operator] = ValidatorStake(staking.get("validator.tokens", operator), staking.get("validator.shares", operator))
    return out


def is_counted(staking: Store, operator: bytes) -> bool:
    """A validator a tally counts: in the active set (``validator.bonded``) and not jailed."""
    return bool(staking.get("validator.bonded", operator)) and not staking.get("validator.jailed", operator)


def voter_delegations(staking: Store, voter: bytes, counted: Mapping[bytes, Any]) -> list[tuple[bytes, int]]:
    """(validator, shares) of ``voter``'s first MAX_DELEGATIONS_COUNTED delegations to counted validators,
    among the first MAX_DELEGATIONS_SCANNED of its delegation list (filtered first, then cut)."""
    out = []
    for item in delegations_of(staking, voter).items(0, MAX_DELEGATIONS_SCANNED):
        validator = item.to_bytes(20, "big")
        if validator in counted:
            out.append((validator, staking.get("delegation.shares", voter, validator)))
            if len(out) == MAX_DELEGATIONS_COUNTED:
                break
    return out


class _CountedNow:
    """``validator in _CountedNow(staking)``: whether a tally would count it now (reads, no active-set pass)."""

    def __init__(self, staking: Store) -> None:
        self.staking = staking

    def __contains__(self, operator: object) -> bool:
        return isinstance(operator, bytes) and is_counted(self.staking, operator)


def voter_power(staking: Store, voter: bytes) -> int:
    """Wei of counted stake ``voter``'s own delegations are worth now, as a tally counts them."""
    power = 0
    for validator, held in voter_delegations(staking, voter, _CountedNow(staking)):
        shares = staking.get("validator.shares", validator)
        power += held * staking.get("validator.tokens", validator) // shares if shares else 0
    return power

"""Rewards: each block's income split among the validators that signed, commission first,
the rest to delegators through F1 cumulative reward ratios (Cosmos x/distribution).

Per block (``allocate_block_rewards``, the ``process_rewards`` hook): the
reward pool's balance (the unburned half of base fees, plus ``block_reward``
wei issued for the block) is split by voting power over the set that decided
the parent: each validator whose precommit is in the block's ``last_commit``
gets ``pool * power // set power``; the part of the members whose precommits
are not there is burned (``fees.BURN_ABSENT_SIGNERS``), so no proposer gains
by leaving precommits out; the divisions' remainders stay in the pool for
the next block. Of a
validator's part, ``commission_bps`` goes to its commission; the rest
accrues to its delegators in the validator's ``current`` period.

F1: a validator's rewards are kept per *period*. A period ends whenever one
of its delegations changes; its ``current`` rewards then become part of a
cumulative ratio, ``ratio[p] = ratio[p-1] + current * PRECISION // tokens``
(reward per token of stake, scaled). A delegation remembers the period it
started after (``start``) and its stake in wei then (``stake``); what it
earned is ``stake * (ratio[end] - ratio[start]) // PRECISION``. So a block
costs work per signing validator, never per delegator, and a delegator's
rewards are settled only when it acts: every change of a delegation pays its
rewards first (to the delegator's balance) and starts it again.

Rounding only ever leaves wei in the contract (counted in ``outstanding``),
never pays more than was allocated.

A slash cuts every delegation's value by the same fraction; F1 records it
(``record_slash``: the period it ended and the fraction) and a delegation's
stake is cut by each recorded fraction (rounded up) as its rewards are
counted past it.

Slots: per validator ``rewards.period`` (0 read as 1), ``rewards.ratio``
(per period), ``rewards.current``, ``rewards.commission``,
``rewards.slash_count``, ``rewards.slash_period`` and
``rewards.slash_fraction`` (per slash); per delegation
``rewards.start``, ``rewards.stake``; ``rewards.outstanding``, the wei
the contract holds for rewards and commission not yet paid, and
``rewards.commission_total``, the sum of every validator's
``rewards.commission`` (the commission part of ``outstanding``; the rest is
owed to delegators, plus rounding dust).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from staking.addresses import REWARD_POOL_ADDRESS, STAKING_ADDRESS
from staking.delegation import token_value
from staking.fees import BURN_ABSENT_SIGNERS, record_burn
from staking.params import BPS
from staking.store import Store

PRECISION = 10**36  # scale of the cumulative reward ratios


def period(store: Store, validator: bytes) -> int:
    return store.get("rewards.period", validator) or 1


def _ratio_now(store: Store, validator: bytes) -> tuple[int, int]:
    """(the period in progress, the cumulative ratio it would end with now)."""
    current_period = period(store, validator)
    tokens = store.get("validator.tokens", validator)
    current = store.get("rewards.current", validator)
    ratio = store.get("rewards.ratio", validator, current_period - 1)
    return current_period, ratio + (current * PRECISION // tokens if tokens else 0)


def end_period(store: Store, validator: bytes) -> int:
    """Close the validator's period in progress into its cumulative ratio; returns its number."""
    ended, ratio = _ratio_now(store, validator)
    if not store.get("validator.tokens", validator):  # nobody to share it: the operator's
        add_commission(store, validator, store.get("rewards.current", validator))
    store.set("rewards.ratio", validator, ended, ratio)
    store.set("rewards.current", validator, 0)
    store.set("rewards.period", validator, ended + 1)
    return ended


SLASH_PRECISION = 10**18  # scale of a recorded slash fraction


def record_slash(store: Store, validator: bytes, fraction: int) -> None:
    """Before a slash takes ``fraction / SLASH_PRECISION`` of the validator's tokens: end
    its period (rewards so far were earned by the whole stake) and remember the fraction,
    so each delegation's stake counts smaller from then on (F1's slash events)."""
    ended = end_period(store, validator)
    count = store.get("rewards.slash_count", validator)
    store.set("rewards.slash_period", validator, count, ended)
    store.set("rewards.slash_fraction", validator, count, fraction)
    store.set("rewards.slash_count", validator, count + 1)


def forget_slashes(store: Store, validator: bytes) -> None:
    """A removed validator's slash records are never read again (no delegation is left):
    the count goes to 0, so a validator registered again by its operator starts with none."""
    store.set("rewards.slash_count", validator, 0)


def first_slash_after(store: Store, validator: bytes, start: int, count: int) -> int:
    """The index of the validator's first recorded slash that ended a period after ``start``
    (``count`` if none). Slashes are recorded in period order, so a binary search finds it
    in ``log2(count)`` reads: a delegation pays only for the slashes since it started."""
    low, high = 0, count
    while low < high:
        middle = (low + high) // 2
        if store.get("rewards.slash_period", validator, middle) <= start:
            low = middle + 1
        else:
            high = middle
    return low


def _earned(store: Store, validator: bytes, start: int, stake: int, final_ratio: int) -> int:
    """Rewards of ``stake`` from period ``start`` to ``final_ratio``, the stake cut by
    every slash recorded in between (in order)."""
    earned = 0
    ratio = store.get("rewards.ratio", validator, start)
    count = store.get("rewards.slash_count", validator)
    for i in range(first_slash_after(store, validator, start, count), count):
        period = store.get("rewards.slash_period", validator, i)
        at_slash = store.get("rewards.ratio", validator, period)
        earned += stake * (at_slash - ratio) // PRECISION
        stake -= -(-stake * store.get("rewards.slash_fraction", validator, i) // SLASH_PRECISION)
        ratio = at_slash
    return earned + stake * (final_ratio - ratio) // PRECISION


def pending(store: Store, delegator: bytes, validator: bytes) -> int:
    """What the delegation has earned and not been paid (a read: nothing changes)."""
    stake = store.get("rewards.stake", delegator, validator)
    if not stake:
        return 0
    _, ratio = _ratio_now(store, validator)
    return _earned(store, validator, store.get("rewards.start", delegator, validator), stake, ratio)


def settle(store: Store, delegator: bytes, validator: bytes) -> int:
    """Before the validator's tokens change: end its period (so the rewards so far are shared
    over the stake that earned them) and take the delegation's rewards out of
    ``outstanding``; returns them (the caller pays or restakes them, then calls ``restart``)."""
    ended = end_period(store, validator)
    stake = store.get("rewards.stake", delegator, validator)
    if not stake:
        return 0
    start = store.get("rewards.start", delegator, validator)
    earned = _earned(store, validator, start, stake, store.get("rewards.ratio", validator, ended))
    store.add("rewards.outstanding", -earned)
    return earned


def restart(store: Store, delegator: bytes, validator: bytes) -> None:
    """Start the delegation earning again from the validator's last ended period, at its value now."""
    _, stake = token_value(store, delegator, validator)
    if stake:
        store.set("rewards.start", delegator, validator, period(store, validator) - 1)
    else:
        store.set("rewards.start", delegator, validator, 0)
    store.set("rewards.stake", delegator, validator, stake)


def add_commission(store: Store, validator: bytes, amount: int) -> None:
    """Credit (or, negative, debit) the operator's commission and the chain's total of it."""
    if amount:
        store.add("rewards.commission", validator, amount)
        store.add("rewards.commission_total", amount)


def forget_commission(store: Store, validator: bytes) -> int:
    """Everything the contract holds for a validator being removed (its commission and
    any delegators' part of its period), out of the books; returns it for paying."""
    commission, current = store.get("rewards.commission", validator), store.get("rewards.current", validator)
    add_commission(store, validator, -commission)
    store.set("rewards.current", validator, 0)
    owed = commission + current
    if owed:
        store.add("rewards.outstanding", -owed)
    return owed


def commission_owed(store: Store, validator: bytes) -> int:
    """The operator's commission, plus its delegators' part while the validator has no tokens
    (nobody else to share it: ``end_period`` would move it to the commission)."""
    owed = store.get("rewards.commission", validator)
    if not store.get("validator.tokens", validator):
        owed += store.get("rewards.current", validator)
    return owed


def take_commission(store: Store, validator: bytes) -> int:
    if not store.get("validator.tokens", validator) and store.get("rewards.current", validator):
        end_period(store, validator)  # the delegators' part of an empty validator is the operator's
    amount = store.get("rewards.commission", validator)
    if amount:
        add_commission(store, validator, -amount)
        store.add("rewards.outstanding", -amount)
    return amount


def pay(state: Any, to: bytes, amount: int) -> None:
    """Wei the contract holds for rewards, to an account's balance."""
    if amount:
        state.delta_balance(STAKING_ADDRESS, -amount)
        state.delta_balance(to, amount)


def allocate(store: Store, validator: bytes, amount: int) -> None:
    """A validator's part of a block's rewards: commission first, the rest to its delegators
    (all of it to the commission while the validator has no tokens: nobody to share it)."""
    commission = amount * store.get("validator.commission", validator) // BPS
    if not store.get("validator.tokens", validator):
        commission = amount
    add_commission(store, validator, commission)
    if amount - commission:
        store.add("rewards.current", validator, amount - commission)


def allocate_block_rewards(state: Any, store: Store, signers: Sequence[tuple[bytes, int]], absent_power: int = 0) -> int:
    """Split the reward pool by power over the whole set that decided the parent: each of
    ``signers`` (operator, power) gets ``pool * power // set power``; the absent members'
    part (``absent_power`` of it) is burned; returns the wei allocated.

    Dividing by the whole set's power, not the signers', is what makes leaving a
    precommit out of ``last_commit`` pay nobody: each signer's share is the same
    whoever else is included. Burning (not keeping) the absent part matters too:
    kept in the pool, it would be shared at the next block among its signers,
    the proposer who left it out included."""
    pool = state.get_balance(REWARD_POOL_ADDRESS)
    set_power = sum(power for _, power in signers) + absent_power
    if not pool or not signers or not set_power:
        return 0  # no certificate (genesis's child): the pool waits
    allocated = 0
    for operator, power in signers:
        share = pool * power // set_power
        if share:
            allocate(store, operator, share)
            allocated += share
    forfeited = pool * absent_power // set_power
    state.delta_balance(REWARD_POOL_ADDRESS, -(allocated + forfeited))
    state.delta_balance(STAKING_ADDRESS, allocated)
    record_burn(state, forfeited, BURN_ABSENT_SIGNERS)
    store.add("rewards.outstanding", allocated)
    return allocated

"""Auto-restake: opted-in delegations compound their pending rewards after every epoch end.

A delegator opts a delegation in with ``setAutoRestake(validator, true)``;
the (delegator, validator) pair joins one list of at most
``MAX_AUTO_RESTAKE_PAIRS``. Each epoch end starts a *round* over the list:
the end-of-block hook ``process_auto_restake`` compounds at most
``AUTO_RESTAKE_PER_BLOCK`` pairs per block, from a cursor, starting in the
epoch-end block itself and continuing in the following blocks, so a pair
compounds within ``ceil(N / AUTO_RESTAKE_PER_BLOCK)`` blocks of the epoch
end. Rounds never overlap: an epoch end reached while a round still runs
queues one more round, which starts when the running one is done.

Compounding a pair is ``restakeRewards`` without gas, through the same rule
functions; when the rules refuse the restake (the stake cap, or rewards too
small to buy one share) the rewards are paid to the delegator's balance
instead. End-of-block work emits no log.

A pair leaves the list on opt-out and when its delegation reaches zero
shares (``forget_if_empty``, called by the methods that sell shares).
Removal swaps the last item in; during a round it keeps the processed items
before the cursor and the others after it, so no pair is skipped or done
twice in a round.

Slots: ``autorestake.count``; per item ``autorestake.delegator``,
``autorestake.validator``; per pair ``autorestake.index`` (position + 1, 0
when out); ``autorestake.cursor``, ``autorestake.running``,
``autorestake.queued``.
"""

from __future__ import annotations

from typing import Any

from staking import rewards
from staking.delegation import add_delegation, check_share_cap, token_value
from staking.errors import StakingRevert
from staking.store import Store

MAX_AUTO_RESTAKE_PAIRS = 10_000  # opted-in (delegator, validator) pairs, in all
AUTO_RESTAKE_PER_BLOCK = 64  # pairs one block compounds at most; the rest wait for the next blocks


def is_enabled(store: Store, delegator: bytes, validator: bytes) -> bool:
    return store.get("autorestake.index", delegator, validator) != 0


def pair_count(store: Store) -> int:
    return store.get("autorestake.count")


def _pair_at(store: Store, index: int) -> tuple[bytes, bytes]:
    return store.get_address("autorestake.delegator", index), store.get_address("autorestake.validator", index)


def _put(store: Store, index: int, delegator: bytes, validator: bytes) -> None:
    store.set_address("autorestake.delegator", index, delegator)
    store.set_address("autorestake.validator", index, validator)
    store.set("autorestake.index", delegator, validator, index + 1)


def _move(store: Store, src: int, dst: int) -> None:
    if src != dst:
        _put(store, dst, *_pair_at(store, src))


def enable(store: Store, delegator: bytes, validator: bytes) -> bool:
    """Add the pair to the list (it must hold shares); False if it was in already."""
    if is_enabled(store, delegator, validator):
        return False
    if not store.get("delegation.shares", delegator, validator):
        raise StakingRevert(f"no delegation from 0x{delegator.hex()} to 0x{validator.hex()} to auto-restake")
    minimum = store.get("param.power_reduction")
    if token_value(store, delegator, validator)[1] < minimum:
        # the list is shared by the whole chain: a place in it costs a unit of power's worth of stake
        raise StakingRevert(f"auto-restake needs a delegation worth at least {minimum} wei (one unit of power)")
    count = pair_count(store)
    if count >= MAX_AUTO_RESTAKE_PAIRS:
        raise StakingRevert(f"the auto-restake list is full (at most {MAX_AUTO_RESTAKE_PAIRS:,} pairs)")
    _put(store, count, delegator, validator)
    store.set("autorestake.count", count + 1)
    return True


def disable(store: Store, delegator: bytes, validator: bytes) -> bool:
    """Take the pair out of the list; False if it was not in."""
    position = store.get("autorestake.index", delegator, validator)
    if not position:
        return False
    last = pair_count(store) - 1
    cursor = store.get("autorestake.cursor")
    if store.get("autorestake.running") and position - 1 < cursor:
        # a processed item: the processed part shrinks by one, the last item (not processed) goes after it
        _move(store, cursor - 1, position - 1)
        _move(store, last, cursor - 1)
        store.set("autorestake.cursor", cursor - 1)
    else:
        _move(store, last, position - 1)
    store.set("autorestake.delegator", last, 0)
    store.set("autorestake.validator", last, 0)
    store.set("autorestake.count", last)
    store.set("autorestake.index", delegator, validator, 0)
    return True


def forget_if_empty(store: Store, delegator: bytes, validator: bytes) -> None:
    """After shares were sold: a delegation left under the opt-in minimum (one unit of
    power's worth, see ``enable``) leaves the list."""
    if not is_enabled(store, delegator, validator):
        return
    if token_value(store, delegator, validator)[1] < store.get("param.power_reduction"):
        disable(store, delegator, validator)


def compound(state: Any, store: Store, delegator: bytes, validator: bytes) -> int:
    """``restakeRewards`` for the pair, without gas; refused by the rules, the rewards are paid instead."""
    earned = rewards.pending(store, delegator, validator)
    if not earned:
        return 0
    snapshot = state.snapshot()
    try:
        check_share_cap(store, validator, earned, earned)
        earned = rewards.settle(store, delegator, validator)
        add_delegation(store, delegator, validator, earned)  # the wei stay in the contract: now bonded
    except StakingRevert:
        state.revert(snapshot)
        earned = rewards.settle(store, delegator, validator)
        rewards.pay(state, delegator, earned)
    else:
        state.commit(snapshot)
    rewards.restart(store, delegator, validator)
    return earned


def start_round(store: Store) -> None:
    """At an epoch end: a round over the list starts, or follows the one still running."""
    if store.get("autorestake.running"):
        store.set("autorestake.queued", 1)
    elif pair_count(store):
        store.set("autorestake.running", 1)
        store.set("autorestake.cursor", 0)


def process(state: Any, store: Store, limit: int = AUTO_RESTAKE_PER_BLOCK) -> int:
    """Compound up to ``limit`` pairs of the running round from its cursor; returns how many."""
    if not store.get("autorestake.running"):
        return 0
    done = 0
    cursor = store.get("autorestake.cursor")
    while done < limit and cursor < pair_count(store):
        delegator, validator = _pair_at(store, cursor)
        done += 1
        if not store.get("delegation.shares", delegator, validator):
            disable(store, delegator, validator)  # the last item moves into the cursor's place
            continue
        compound(state, store, delegator, validator)
        cursor += 1
        store.set("autorestake.cursor", cursor)
    if cursor >= pair_count(store):
        _end_round(store)
    return done


def _end_round(store: Store) -> None:
    """The round is done; the one an epoch end queued meanwhile starts at the next block."""
    store.set("autorestake.cursor", 0)
    if not (store.get("autorestake.queued") and pair_count(store)):
        store.set("autorestake.running", 0)
    store.set("autorestake.queued", 0)

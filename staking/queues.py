"""The unbonding and redelegation queues: entries, their limits, and maturity.

An UNBONDING entry holds undelegated wei until ``completionTime``; at the
end of the first block whose time is at least that, the wei goes from the
contract's balance to the delegator's. A REDELEGATION entry records stake
that moved from ``src`` to ``dst`` at once; until it matures it keeps the
stake slashable for ``src`` (issue of slashing) and forbids hopping on from
``dst``. Entries carry ids from a counter; each queue is a FIFO of ids.

Each queue is ``MAX_QUEUE_LANES`` FIFOs (lanes), each in completion-time
order, so maturity only looks at the lanes' heads. An entry due at
``now + unbonding_period`` joins the lane whose last completion time is the
latest one not after it (best fit), and completes exactly then; so when
governance shortens the period, new entries take another lane and do not
wait behind the old ones. Only when every lane ends later (the period was
shortened ``MAX_QUEUE_LANES`` times within one period) does an entry join
the lane that ends first, and complete with its last entry.

Slots: ``ubd.next_id``; per entry ``ubd.delegator``, ``ubd.validator``,
``ubd.height``, ``ubd.time``, ``ubd.amount``; the list ``ubd.pair`` keyed by
(delegator, validator); per lane the FIFO ``ubd.queue`` and ``ubd.last_time``;
``total_unbonding``. The same under ``red.`` with ``red.src``, ``red.dst``,
the list ``red.by_delegator`` keyed by delegator, and ``red.queue``.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any

from staking.addresses import STAKING_ADDRESS
from staking.errors import StakingRevert
from staking.store import Fifo, IdList, Store

MAX_MATURED_PER_BLOCK = 256  # entries one block completes per queue; the rest wait for the next block
MAX_QUEUE_LANES = 8  # FIFOs per queue, each in time order (entries of different periods mature independently)
MAX_REDELEGATIONS_PER_DELEGATOR = 32  # immature redelegation entries one delegator may hold


@dataclass(frozen=True)
class Unbonding:
    id: int
    creation_height: int
    completion_time: int
    amount: int


@dataclass(frozen=True)
class Redelegation:
    id: int
    src: bytes
    dst: bytes
    creation_height: int
    completion_time: int
    amount: int


def _choose_lane(store: Store, prefix: str, now: int) -> tuple[int, int]:
    """(lane, completion time) of a new entry: the best-fitting lane that stays in time order."""
    due = now + store.get("param.unbonding_period")
    last = [store.get(prefix + ".last_time", i) for i in range(MAX_QUEUE_LANES)]
    fitting = [i for i in range(MAX_QUEUE_LANES) if last[i] <= due]
    if fitting:
        index, time = max(fitting, key=lambda i: last[i]), due
    else:  # every lane ends later: wait behind the one that ends first
        index = min(range(MAX_QUEUE_LANES), key=lambda i: last[i])
        time = last[index]
    store.set(prefix + ".last_time", index, time)
    return index, time


def lane(store: Store, prefix: str, index: int) -> Fifo:
    return Fifo(store, prefix + ".queue", index)


def recent_entries(store: Store, prefix: str, since_height: int, limit: int) -> Iterator[int]:
    """Entries created at or after ``since_height``, each lane newest first; at most ``limit`` looked at."""
    budget = limit
    for index in range(MAX_QUEUE_LANES):
        for entry in lane(store, prefix, index).newest_first(budget):
            budget -= 1
            if store.get(prefix + ".height", entry) < since_height:
                break  # a lane is in creation order: everything before is older
            yield entry


def _new_id(store: Store, prefix: str) -> int:
    return store.add(prefix + ".next_id", 1)


# -- unbonding -----------------------------------------------------------------


def unbonding_pair(store: Store, delegator: bytes, validator: bytes) -> IdList:
    return IdList(store, "ubd.pair", delegator, validator)


def add_unbonding(store: Store, delegator: bytes, validator: bytes, amount: int, height: int, now: int) -> int:
    """Queue ``amount`` wei for ``delegator``; returns the completion time."""
    pair = unbonding_pair(store, delegator, validator)
    limit = store.get("param.max_entries")
    if len(pair) >= limit:
        raise StakingRevert(f"too many unbonding entries with this validator (at most {limit} pending)")
    entry = _new_id(store, "ubd")
    index, time = _choose_lane(store, "ubd", now)
    store.set_address("ubd.delegator", entry, delegator)
    store.set_address("ubd.validator", entry, validator)
    store.set("ubd.height", entry, height)
    store.set("ubd.time", entry, time)
    store.set("ubd.amount", entry, amount)
    pair.append(entry)
    lane(store, "ubd", index).push(entry)
    store.add("total_unbonding", amount)
    store.add("validator.unbonding_entries", validator, 1)  # keeps the validator registered
    return time


def read_unbonding(store: Store, entry: int) -> Unbonding:
    return Unbonding(entry, store.get("ubd.height", entry), store.get("ubd.time", entry), store.get("ubd.amount", entry))


def unbondings(store: Store, delegator: bytes, validator: bytes) -> list[Unbonding]:
    return [read_unbonding(store, e) for e in unbonding_pair(store, delegator, validator).items()]


def take_from_unbonding(store: Store, delegator: bytes, validator: bytes, height: int, amount: int) -> None:
    """Cancel ``amount`` wei of the first entry created at ``height`` (which must hold that much)."""
    if amount <= 0:
        raise StakingRevert("amount must be positive")
    for entry in unbondings(store, delegator, validator):
        if entry.creation_height == height and entry.amount >= amount:
            store.set("ubd.amount", entry.id, entry.amount - amount)
            store.add("total_unbonding", -amount)
            if entry.amount == amount:  # the queue skips it when its time comes
                unbonding_pair(store, delegator, validator).remove(entry.id)
                store.add("validator.unbonding_entries", validator, -1)
            return
    raise StakingRevert(f"no unbonding entry created at height {height} holds {amount} wei")


def complete_unbonding(state: Any, store: Store, entry: int) -> None:
    """Pay a matured entry from the contract's balance to its delegator, and forget it."""
    delegator = store.get_address("ubd.delegator", entry)
    validator = store.get_address("ubd.validator", entry)
    amount = store.get("ubd.amount", entry)
    if amount:
        state.delta_balance(STAKING_ADDRESS, -amount)
        state.delta_balance(delegator, amount)
        store.add("total_unbonding", -amount)
        unbonding_pair(store, delegator, validator).remove(entry)
        store.add("validator.unbonding_entries", validator, -1)
    for name in ("ubd.delegator", "ubd.validator", "ubd.height", "ubd.time", "ubd.amount"):
        store.set(name, entry, 0)


# -- redelegation ----------------------------------------------------------------


def redelegations_of(store: Store, delegator: bytes) -> IdList:
    return IdList(store, "red.by_delegator", delegator)


def read_redelegation(store: Store, entry: int) -> Redelegation:
    return Redelegation(
        entry,
        store.get_address("red.src", entry),
        store.get_address("red.dst", entry),
        store.get("red.height", entry),
        store.get("red.time", entry),
        store.get("red.amount", entry),
    )


def redelegations(store: Store, delegator: bytes) -> list[Redelegation]:
    return [read_redelegation(store, e) for e in redelegations_of(store, delegator).items()]


def check_redelegation(store: Store, delegator: bytes, src: bytes, dst: bytes) -> None:
    """No hop from an immature redelegation into ``src``; entry limits per pair and per delegator."""
    pending = redelegations(store, delegator)
    if any(r.dst == src for r in pending):
        raise StakingRevert("cannot redelegate from a validator whose redelegation to you has not matured")
    if len(pending) >= MAX_REDELEGATIONS_PER_DELEGATOR:
        raise StakingRevert(f"too many pending redelegations (at most {MAX_REDELEGATIONS_PER_DELEGATOR})")
    limit = store.get("param.max_entries")
    if sum(r.src == src and r.dst == dst for r in pending) >= limit:
        raise StakingRevert(f"too many pending redelegations between these validators (at most {limit})")


def add_redelegation(store: Store, delegator: bytes, src: bytes, dst: bytes, amount: int, height: int, now: int) -> int:
    entry = _new_id(store, "red")
    index, time = _choose_lane(store, "red", now)
    store.set_address("red.src", entry, src)
    store.set_address("red.dst", entry, dst)
    store.set_address("red.delegator", entry, delegator)
    store.set("red.height", entry, height)
    store.set("red.time", entry, time)
    store.set("red.amount", entry, amount)
    redelegations_of(store, delegator).append(entry)
    lane(store, "red", index).push(entry)
    return time


def complete_redelegation(state: Any, store: Store, entry: int) -> None:
    redelegations_of(store, store.get_address("red.delegator", entry)).remove(entry)
    for name in ("red.delegator", "red.src", "red.dst", "red.height", "red.time", "red.amount"):
        store.set(name, entry, 0)


# -- maturity (end of block) ---------------------------------------------------------


def mature(state: Any, store: Store, prefix: str, now: int, complete) -> int:
    """Complete up to ``MAX_MATURED_PER_BLOCK`` entries at the heads of ``prefix``'s lanes whose time
    has come (the lane looked at first turns with the block time, so no lane waits for ever)."""
    done = 0
    for step in range(MAX_QUEUE_LANES):
        queue = lane(store, prefix, (now + step) % MAX_QUEUE_LANES)
        while done < MAX_MATURED_PER_BLOCK:
            entry = queue.peek()
            if entry is None or store.get(prefix + ".time", entry) > now:
                break
            complete(state, store, entry)
            queue.pop()
            done += 1
    return done

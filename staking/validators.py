"""Validator records: registration, edits, jailing, and what a validator looks like to views.

Slots (``staking/store.py`` names, keyed by the operator address):
``validator.exists``, ``validator.pubkey`` (bytes32), ``validator.moniker``
(string), ``validator.tokens``, ``validator.shares``, ``validator.commission``,
``validator.max_commission``, ``validator.max_change``,
``validator.commission_time`` (block time of the last rate change),
``validator.jailed``, ``validator.bonded`` (1 while in the active set),
``validator.unbonding_until`` (block time its unbonding ends after leaving the
set), ``validator.power`` (its power in the active set, else 0),
``validator.unbonding_entries`` (unbonding entries from it still queued);
``consensus_key.operator`` keyed by the consensus key; the list
``validators`` of all operators in registration order.
"""

from __future__ import annotations

from dataclasses import dataclass

from staking.ed25519 import is_valid_public_key
from staking.errors import StakingRevert
from staking.params import BPS, DAY
from staking.store import IdList, Store

MAX_MONIKER_BYTES = 64
MAX_REGISTERED_VALIDATORS = 1_000  # bounds the epoch-end scan over all validators
COMMISSION_CHANGE_INTERVAL = DAY  # at most one rate change per 24 h of block time


# The per-operator slots of a validator record (the moniker is a string beside them).
RECORD_FIELDS = (
    "validator.exists", "validator.pubkey", "validator.tokens", "validator.shares",
    "validator.commission", "validator.max_commission", "validator.max_change",
    "validator.commission_time", "validator.jailed", "validator.bonded",
    "validator.unbonding_until", "validator.power", "validator.unbonding_entries", "validator.left_at",
    "validator.created_at",
)


class Status:
    """``getValidator``'s status codes."""

    UNBONDED = 0
    UNBONDING = 1
    BONDED = 2


@dataclass(frozen=True)
class Commission:
    rate_bps: int
    max_rate_bps: int
    max_change_bps: int


def exists(store: Store, operator: bytes) -> bool:
    return store.get("validator.exists", operator) == 1


def require_validator(store: Store, operator: bytes) -> None:
    if not exists(store, operator):
        raise StakingRevert(f"no validator with operator 0x{operator.hex()}")


def operators(store: Store) -> IdList:
    return IdList(store, "validators")


def check_commission(c: Commission) -> None:
    if not c.max_rate_bps <= BPS:
        raise StakingRevert(f"max commission {c.max_rate_bps} bps is above 10000 bps (100%)")
    if not c.rate_bps <= c.max_rate_bps:
        raise StakingRevert(f"commission {c.rate_bps} bps is above the max commission {c.max_rate_bps} bps")
    if not c.max_change_bps <= c.max_rate_bps:
        raise StakingRevert(f"max change {c.max_change_bps} bps is above the max commission {c.max_rate_bps} bps")


def check_moniker(moniker: str) -> None:
    if len(moniker.encode()) > MAX_MONIKER_BYTES:
        raise StakingRevert(f"moniker is longer than {MAX_MONIKER_BYTES} bytes")


def register(store: Store, operator: bytes, pubkey: bytes, moniker: str, c: Commission, now: int) -> None:
    """A new validator with no stake yet (the caller self-delegates next)."""
    if exists(store, operator):
        raise StakingRevert(f"0x{operator.hex()} already operates a validator")
    if not is_valid_public_key(pubkey):
        raise StakingRevert("consensus key is not a valid Ed25519 public key")
    if store.get("slashing.tombstoned_key", pubkey):
        raise StakingRevert("consensus key was tombstoned for double-signing: it can never validate again")
    if store.get("consensus_key.operator", pubkey) != 0:
        raise StakingRevert(f"consensus key 0x{pubkey.hex()} is already used by another validator")
    check_moniker(moniker)
    check_commission(c)
    if len(operators(store)) >= MAX_REGISTERED_VALIDATORS:
        raise StakingRevert(f"the validator registry is full ({MAX_REGISTERED_VALIDATORS} validators)")
    store.set("validator.exists", operator, 1)
    store.set("validator.pubkey", operator, int.from_bytes(pubkey, "big"))
    store.set_address("consensus_key.operator", pubkey, operator)
    store.set_string("validator.moniker", operator, moniker)
    store.set("validator.commission", operator, c.rate_bps)
    store.set("validator.max_commission", operator, c.max_rate_bps)
    store.set("validator.max_change", operator, c.max_change_bps)
    store.set("validator.commission_time", operator, now)
    operators(store).append(int.from_bytes(operator, "big"))


def edit(store: Store, operator: bytes, moniker: str, rate_bps: int, now: int) -> None:
    """New moniker and rate; the rate within its max, moved by at most max_change, once a day."""
    require_validator(store, operator)
    check_moniker(moniker)
    old = store.get("validator.commission", operator)
    if rate_bps != old:
        max_rate = store.get("validator.max_commission", operator)
        max_change = store.get("validator.max_change", operator)
        if rate_bps > max_rate:
            raise StakingRevert(f"commission {rate_bps} bps is above the max commission {max_rate} bps")
        if abs(rate_bps - old) > max_change:
            raise StakingRevert(f"commission may move by at most {max_change} bps per change")
        last = store.get("validator.commission_time", operator)
        if now < last + COMMISSION_CHANGE_INTERVAL:
            raise StakingRevert(f"commission was changed less than 24 h ago (next change from time {last + COMMISSION_CHANGE_INTERVAL})")
        store.set("validator.commission", operator, rate_bps)
        store.set("validator.commission_time", operator, now)
    store.set_string("validator.moniker", operator, moniker)


def jail(store: Store, operator: bytes) -> bool:
    """Set the jail flag; True if it was not set. A validator of the active set makes it be
    chosen again at the end of this block (``active.dirty``), as Cosmos removes a jailed
    validator at its block's end: none stays in consensus until the epoch end. (One
    outside the set changes nothing there: no recomputation for it.)"""
    if store.get("validator.jailed", operator):
        return False
    store.set("validator.jailed", operator, 1)
    if store.get("validator.bonded", operator):
        store.set("active.dirty", 1)
    return True


def status(store: Store, operator: bytes, now: int) -> int:
    if store.get("validator.bonded", operator):
        return Status.BONDED
    if store.get("validator.unbonding_until", operator) > now:
        return Status.UNBONDING
    return Status.UNBONDED


def pubkey(store: Store, operator: bytes) -> bytes:
    return store.get("validator.pubkey", operator).to_bytes(32, "big")

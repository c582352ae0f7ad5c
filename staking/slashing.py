"""Double-sign slashing: a validator proven to have signed two conflicting votes loses a
fraction of its stake, is jailed for good and tombstoned (its key never validates again).

Evidence reaches staking as a ``Misbehaviour`` of the block's context: the node
verified the two signed votes against the validator set of their height and
passes the validator's key and power at that height. For each
(``process_slashings``, right after rewards):

1. Ignored if the key belongs to no validator, if that key is already
   tombstoned (``slashing.tombstoned_key``: each key is slashed for
   double-signing once; a removed validator's operator that registers again
   with a fresh key is judged on the new key), or if the
   evidence is older than ``max_evidence_age`` blocks (``double_sign_refusal``
   says which; ``submitEvidence`` reverts with it).
2. ``amount = power_at_infraction * power_reduction * slash_fraction_double_sign_bps // 10000``:
   the fraction of the stake it had when it signed.
3. Unbonding entries from it created at or after the infraction height lose
   that fraction (they were slashable stake then); redelegations away from it
   created since lose it from the delegation they went to; what is left of
   ``amount`` comes out of the validator's tokens (at most all of them), which
   cuts every delegator's shares' value at once (F1 records the fraction).
4. Everything taken is burned (``fees.burn_slashed``), the validator is
   jailed, tombstoned (``slashing.tombstoned``, and its key in
   ``slashing.tombstoned_key``) and the active set is chosen again at the end
   of this block (``active.dirty``), so consensus drops it two heights later.
5. ``apply_evidence`` emits ``EvidenceApplied(operator, evidenceHash, height)``,
   ``Slashed(operator, DOUBLE_SIGN, burned, height)`` and
   ``Jailed(operator, DOUBLE_SIGN, JAILED_FOREVER)``.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from staking import abi, rewards
from staking.addresses import STAKING_ADDRESS
from staking.delegation import jail_if_under_min_self_delegation, remove_delegation, token_value
from staking.evidence import Misbehaviour
from staking.fees import burn_slashed
from staking.params import BPS
from staking.queues import recent_entries, unbonding_pair
from staking.store import Store

MAX_SLASH_SCAN = 10_000  # queue entries one slash looks at (over all lanes), newest first

Emit = Callable[[abi.Event, tuple, tuple], None]  # emit(event, indexed, data): an EVM log of 0x…1000


def _no_log(event: abi.Event, indexed: tuple, data: tuple) -> None:
    """The emitter of a caller that publishes no logs (unit tests of one rule)."""


def slash_unbondings(store: Store, operator: bytes, since: int, fraction_bps: int) -> int:
    """Cut the unbonding entries from ``operator`` created at or after height ``since``."""
    cut_total = 0
    for entry in recent_entries(store, "ubd", since, MAX_SLASH_SCAN):
        if store.get_address("ubd.validator", entry) != operator:
            continue
        amount = store.get("ubd.amount", entry)
        cut = amount * fraction_bps // BPS
        if cut:
            store.set("ubd.amount", entry, amount - cut)
            store.add("total_unbonding", -cut)
            cut_total += cut
            if cut == amount:  # nothing left to pay: the entry goes, as a cancelled one does
                unbonding_pair(store, store.get_address("ubd.delegator", entry), operator).remove(entry)
                store.add("validator.unbonding_entries", operator, -1)
    return cut_total


def slash_redelegations(state: Any, store: Store, operator: bytes, since: int, fraction_bps: int,
                        emit: Emit = _no_log) -> int:
    """Cut, from the delegation it went to, each redelegation away from ``operator`` made since ``since``."""
    cut_total = 0
    for entry in recent_entries(store, "red", since, MAX_SLASH_SCAN):
        if store.get_address("red.src", entry) != operator:
            continue
        delegator, dst = store.get_address("red.delegator", entry), store.get_address("red.dst", entry)
        cut = min(store.get("red.amount", entry) * fraction_bps // BPS, token_value(store, delegator, dst)[1])
        if cut:
            rewards.pay(state, delegator, rewards.settle(store, delegator, dst))
            cut_total += remove_delegation(store, delegator, dst, cut)
            rewards.restart(store, delegator, dst)
            if delegator == dst and jail_if_under_min_self_delegation(store, dst):
                emit(abi.JAILED, (dst,), (abi.Infraction.LOW_SELF_DELEGATION, 0))
    return cut_total


def slash_tokens(store: Store, operator: bytes, amount: int) -> int:
    """Take up to ``amount`` of the validator's tokens (every share loses the same fraction)."""
    tokens = store.get("validator.tokens", operator)
    taken = min(tokens, amount)
    if taken:
        rewards.record_slash(store, operator, -(-taken * rewards.SLASH_PRECISION // tokens))
        store.set("validator.tokens", operator, tokens - taken)
        store.add("total_bonded", -taken)
    return taken


def slash(state: Any, store: Store, operator: bytes, since: int, power: int, fraction_bps: int,
          emit: Emit = _no_log) -> int:
    """Slash ``fraction_bps`` of the stake ``operator`` had at height ``since`` (its ``power``); returns
    wei burned. ``emit`` gets the ``Jailed`` of a redelegation's destination the cut jails."""
    amount = power * store.get("param.power_reduction") * fraction_bps // BPS
    burned = slash_unbondings(store, operator, since, fraction_bps)
    burned += slash_redelegations(state, store, operator, since, fraction_bps, emit)
    burned += slash_tokens(store, operator, max(0, amount - burned))
    if burned:
        state.delta_balance(STAKING_ADDRESS, -burned)
        burn_slashed(state, burned)
    return burned


def tombstone(store: Store, operator: bytes, pub_key: bytes) -> None:
    store.set("validator.jailed", operator, 1)
    store.set("slashing.tombstoned", operator, 1)
    store.set("slashing.tombstoned_key", pub_key, 1)
    store.set("active.dirty", 1)  # chosen again at the end of this block


class NotApplicable(Enum):
    """Why verified evidence slashes nobody (the value is the revert text of ``submitEvidence``)."""

    NO_VALIDATOR = "the evidence's key belongs to no validator"
    TOMBSTONED = "evidence already applied: the validator's key is tombstoned"
    KEY_REGISTERED_AGAIN = "the key was registered again after the infraction: not this validator's deed"
    TOO_OLD = "evidence older than max_evidence_age"


def double_sign_refusal(store: Store, pub_key: bytes, infraction_height: int, height: int) -> NotApplicable | None:
    """Why evidence against ``pub_key`` at ``infraction_height`` must not slash in block ``height``, or None."""
    operator = store.get_address("consensus_key.operator", pub_key)
    if operator == bytes(20):
        return NotApplicable.NO_VALIDATOR
    if store.get("slashing.tombstoned_key", pub_key):
        return NotApplicable.TOMBSTONED  # each key is slashed for double-signing once
    if store.get("validator.created_at", operator) > infraction_height:
        return NotApplicable.KEY_REGISTERED_AGAIN  # its old validator was removed since
    if height - infraction_height > store.get("param.slashing.max_evidence_age"):
        return NotApplicable.TOO_OLD
    return None


def slash_and_tombstone(state: Any, store: Store, pub_key: bytes, infraction_height: int, power: int,
                        emit: Emit) -> int:
    """Steps 2-4 for evidence ``double_sign_refusal`` let through; returns wei burned."""
    operator = store.get_address("consensus_key.operator", pub_key)
    fraction = store.get("param.slashing.slash_fraction_double_sign_bps")
    burned = slash(state, store, operator, infraction_height, power, fraction, emit)
    tombstone(store, operator, pub_key)
    return burned


def apply_evidence(state: Any, store: Store, misbehaviour: Misbehaviour, height: int,
                   emit: Emit) -> NotApplicable | None:
    """Apply verified evidence in block ``height``: slash, tombstone and emit ``EvidenceApplied``,
    ``Slashed`` and ``Jailed`` (forever). If it applies to nobody, why, and nothing changed."""
    key, infraction = misbehaviour.pub_key, misbehaviour.height
    refusal = double_sign_refusal(store, key, infraction, height)
    if refusal is not None:
        return refusal
    operator = store.get_address("consensus_key.operator", key)
    burned = slash_and_tombstone(state, store, key, infraction, misbehaviour.power, emit)
    emit(abi.EVIDENCE_APPLIED, (operator,), (misbehaviour.evidence_hash, infraction))
    emit(abi.SLASHED, (operator,), (abi.Infraction.DOUBLE_SIGN, burned, infraction))
    emit(abi.JAILED, (operator,), (abi.Infraction.DOUBLE_SIGN, abi.JAILED_FOREVER))
    return None


def is_tombstoned(store: Store, operator: bytes) -> bool:
    """The operator's current validator was tombstoned (the flag goes when it is removed)."""
    return store.get("slashing.tombstoned", operator) == 1

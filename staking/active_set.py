"""The active set: the top ``max_validators`` validators by stake, chosen at every epoch end.

At the end of every block whose height is a multiple of ``epoch_length``,
the contract ranks every registered validator that is not jailed and has at
least one unit of power (``tokens // power_reduction``) by tokens (ties: the
lower operator address first) and records the first ``max_validators`` as
the active set, with their powers, and the height it was chosen at
(``active.updated_at``). Consensus uses it from two heights later (the node
applies it; see docs/staking.md, "When a new set takes effect").

Powers are capped: none above ``max_validator_share_bps`` of the set's total
(``cap_powers``). If no validator qualifies, the set stays as it was: a
chain must always have someone to finalize it.

At the same epoch end, validators nobody delegates to any more, that are
done unbonding and that no unbonding entry points at, are removed
(``prune_empty_validators``): the registry (at most
``MAX_REGISTERED_VALIDATORS``) cannot be filled for good with empty
validators, and their consensus keys are free again.

Slots: the list ``active`` (operators); ``active.updated_at``; per operator
``validator.bonded``, ``validator.power``, ``validator.unbonding_until``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staking import downtime, rewards, validators
from staking.params import BPS, MAX_TOTAL_VOTING_POWER
from staking.store import IdList, Store


@dataclass(frozen=True)
class ActiveValidator:
    operator: bytes
    consensus_pubkey: bytes
    power: int


def active_list(store: Store) -> IdList:
    return IdList(store, "active")


def _address(item: int) -> bytes:
    return item.to_bytes(20, "big")


def ranked_candidates(store: Store) -> list[tuple[int, bytes]]:
    """(tokens, operator) of every validator that may be active, best first."""
    reduction = store.get("param.power_reduction")
    out = []
    for item in validators.operators(store).items():
        operator = _address(item)
        tokens = store.get("validator.tokens", operator)
        if tokens >= reduction and not store.get("validator.jailed", operator):
            out.append((tokens, operator))
    out.sort(key=lambda c: (-c[0], c[1]))
    return out


def cap_powers(powers: list[int], cap_bps: int) -> list[int]:
    """Lower the largest powers until none is above ``cap_bps`` of the total (water-filling).

    The delegation rule refuses stake that would take a validator above the
    cap of all bonded stake, but stake in jailed or inactive validators counts
    in that total and gives no power: capping the powers themselves is what
    keeps one validator from holding a third of the votes. With fewer than
    ``ceil(10000 / cap_bps)`` validators no split can respect the cap, and the
    powers stay as they are.

    In closed form, not by repeated lowering (which can take 10^4 rounds):
    with the ``k`` largest powers lowered to a common limit ``L`` and the rest,
    summing to ``rest``, left as they are, the cap holds when
    ``L * 10000 <= cap * (k * L + rest)``, i.e. ``L <= cap * rest / (10000 - k * cap)``.
    The first ``k`` (from 1) whose largest such ``L`` is at least the next power
    gives the answer; if ``k * cap >= 10000`` first, the ``k`` largest are
    lowered to the ``k``-th largest, which the cap then allows whatever ``rest`` is.
    """
    if len(powers) * cap_bps < BPS or max(powers) * BPS <= cap_bps * sum(powers):
        return powers
    ranked = sorted(powers, reverse=True)
    rest = sum(powers)
    limit = ranked[-1]
    for k in range(1, len(ranked) + 1):
        rest -= ranked[k - 1]
        following = ranked[k] if k < len(ranked) else 0
        if k * cap_bps >= BPS:
            limit = ranked[k - 1]
            break
        limit = rest * cap_bps // (BPS - k * cap_bps)
        if following <= limit:
            break
    return [min(p, limit) for p in powers]


def choose_active_set(store: Store) -> list[tuple[bytes, int]]:
    """(operator, power) of the next active set: the top ``max_validators`` by tokens,
    power ``tokens // power_reduction`` (at most a ``max_validators``-th of the largest
    total consensus accepts), then capped at ``max_validator_share_bps`` of the total."""
    reduction = store.get("param.power_reduction")
    size = store.get("param.max_validators")
    most = MAX_TOTAL_VOTING_POWER // size
    top = ranked_candidates(store)[:size]
    powers = cap_powers([min(tokens // reduction, most) for tokens, _ in top], store.get("param.max_validator_share_bps"))
    return [(operator, power) for (_, operator), power in zip(top, powers)]


def write_active_set(store: Store, chosen: list[tuple[bytes, int]], height: int, now: int) -> None:
    """Replace the recorded active set with ``chosen`` (chosen at ``height``, block time ``now``)."""
    new = dict(chosen)
    listing = active_list(store)
    unbonding_until = now + store.get("param.unbonding_period")
    for item in list(listing.items()):
        operator = _address(item)
        if operator not in new:
            store.set("validator.bonded", operator, 0)
            store.set("validator.power", operator, 0)
            store.set("validator.unbonding_until", operator, unbonding_until)
            store.set("validator.left_at", operator, height)
    old_count = len(listing)
    for i, (operator, power) in enumerate(chosen):
        store.set("active.at", i, int.from_bytes(operator, "big"))
        if not store.get("validator.bonded", operator):  # (re)entering: maybe a fresh signing record
            downtime.restart_on_entering_the_set(store, operator, height)
        store.set("validator.bonded", operator, 1)
        store.set("validator.power", operator, power)
    for i in range(len(chosen), old_count):
        store.set("active.at", i, 0)
    store.set("active.count", len(chosen))
    store.set("active.updated_at", height)


def update_active_set(store: Store, height: int, now: int) -> bool:
    """The epoch-end rule; False if no validator qualified and the old set stays."""
    chosen = choose_active_set(store)
    if not chosen:
        return False
    write_active_set(store, chosen, height, now)
    return True


def remove_validator(state: Any, store: Store, operator: bytes) -> None:
    """Forget a validator nobody delegates to any more: its key and its registry slot
    become free; what it still holds for its operator (commission) is paid out."""
    rewards.pay(state, operator, rewards.forget_commission(store, operator))
    store.set("consensus_key.operator", validators.pubkey(store, operator), 0)
    store.set_string("validator.moniker", operator, "")
    # a validator registered later by the same operator starts with a clean signing record,
    # untombstoned (its old key stays tombstoned: ``slashing.tombstoned_key``) and with no
    # F1 slash records of the old one to walk
    downtime.reset_signing_info(store, operator)
    store.set("slashing.jailed_until", operator, 0)
    store.set("slashing.tombstoned", operator, 0)
    rewards.forget_slashes(store, operator)
    for name in validators.RECORD_FIELDS:
        store.set(name, operator, 0)


# A validator that left the recorded set at E still decides E+1 (the set takes
# effect two heights later); its last precommit is rewarded at the end of E+2.
# Its key is freed only after that, so nobody who registers the key again is
# paid for the old validator's signature.
HEIGHTS_IN_CONSENSUS_AFTER_LEAVING = 2


def removable(store: Store, operator: bytes, now: int, height: int) -> bool:
    """No shares, out of the set (and out of consensus) and done unbonding, no
    unbonding entry pointing at it."""
    return (
        height > store.get("validator.left_at", operator) + HEIGHTS_IN_CONSENSUS_AFTER_LEAVING
        and store.get("validator.shares", operator) == 0
        and store.get("validator.tokens", operator) == 0
        and validators.status(store, operator, now) == validators.Status.UNBONDED
        and store.get("validator.unbonding_entries", operator) == 0
    )


def prune_empty_validators(state: Any, store: Store, now: int, height: int) -> int:
    """Remove every removable validator and compact the registry; returns how many."""
    listing = validators.operators(store)
    kept = []
    for item in list(listing.items()):
        if removable(store, _address(item), now, height):
            remove_validator(state, store, _address(item))
        else:
            kept.append(item)
    removed = len(listing) - len(kept)
    if removed:
        for i, item in enumerate(kept):
            store.set("validators.at", i, item)
        for i in range(len(kept), len(kept) + removed):
            store.set("validators.at", i, 0)
        store.set("validators.count", len(kept))
    return removed


def read_active_set(store: Store) -> tuple[ActiveValidator, ...]:
    return tuple(
        ActiveValidator(op, validators.pubkey(store, op), store.get("validator.power", op))
        for op in map(_address, active_list(store).items())
    )

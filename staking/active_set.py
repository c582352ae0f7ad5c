"""The active set: the top ``max_validators`` validators by stake, chosen at every epoch end.

At the end of every block whose height is a multiple of ``epoch_length``,
the contract ranks every registered validator that is not jailed and has at
least one unit of power (``tokens // power_reduction``) by tokens (ties: the
lower operator address first) and records the first ``max_validators`` as
the active set, with their powers, and the height it was chosen at
(``active.updated_at``). Consensus uses it from two heights later (the node
applies it; see docs/staking.md, "When a new set takes effect").

If no validator qualifies, the set stays as it was: a chain must always
have someone to finalize it.

Slots: the list ``active`` (operators); ``active.updated_at``; per operator
``validator.bonded``, ``validator.power``, ``validator.unbonding_until``.
"""

from __future__ import annotations

from dataclasses import dataclass

from staking import validators
from staking.params import MAX_TOTAL_VOTING_POWER
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


def choose_active_set(store: Store) -> list[tuple[bytes, int]]:
    """(operator, power) of the next active set: top ``max_validators``, total power bounded."""
    reduction = store.get("param.power_reduction")
    chosen: list[tuple[bytes, int]] = []
    total = 0
    for tokens, operator in ranked_candidates(store)[: store.get("param.max_validators")]:
        power = tokens // reduction
        if total + power > MAX_TOTAL_VOTING_POWER:
            break
        chosen.append((operator, power))
        total += power
    return chosen


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
    old_count = len(listing)
    for i, (operator, power) in enumerate(chosen):
        store.set("active.at", i, int.from_bytes(operator, "big"))
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


def read_active_set(store: Store) -> tuple[ActiveValidator, ...]:
    return tuple(
        ActiveValidator(op, validators.pubkey(store, op), store.get("validator.power", op))
        for op in map(_address, active_list(store).items())
    )

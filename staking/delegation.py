"""Share-based delegation: buying and selling a validator's shares, and the stake cap.

A validator holds ``tokens`` (wei) and has issued ``shares``; a delegator
owns some of the shares. Delegating ``a`` wei buys ``a * shares / tokens``
shares (``a`` when none exist); a share is worth ``tokens / shares`` wei, so
a later slash or a compounded reward changes every delegator's value at once
without touching any of them. Rounding always favours the validator's other
delegators: buying rounds shares down, selling rounds the shares given up up.

Slots: ``delegation.shares`` keyed by (delegator, validator); the list
``delegator.validators`` (keyed by delegator) of the validators it holds
shares of; ``total_bonded``, the wei delegated to all validators.
"""

from __future__ import annotations

from staking import validators
from staking.errors import StakingRevert
from staking.params import BPS
from staking.store import IdList, Store


def delegations_of(store: Store, delegator: bytes) -> IdList:
    return IdList(store, "delegator.validators", delegator)


def token_value(store: Store, delegator: bytes, validator: bytes) -> tuple[int, int]:
    """(shares, their value in wei) of a delegation."""
    held = store.get("delegation.shares", delegator, validator)
    if held == 0:
        return 0, 0
    shares = store.get("validator.shares", validator)
    return held, held * store.get("validator.tokens", validator) // shares


def check_share_cap(store: Store, validator: bytes, added: int, total_added: int) -> None:
    """Refuse stake that would take ``validator`` above ``max_validator_share_bps`` of all stake.

    Enforced only once the active set has ``ceil(10000 / cap)`` validators:
    with fewer, no split of the stake can respect it.
    """
    cap = store.get("param.max_validator_share_bps")
    if len(IdList(store, "active")) < -(-BPS // cap):
        return
    tokens = store.get("validator.tokens", validator) + added
    total = store.get("total_bonded") + total_added
    if tokens and tokens * BPS > cap * total:
        raise StakingRevert(
            f"the delegation would give 0x{validator.hex()} {tokens * BPS // max(total, 1)} bps of all stake; "
            f"the cap is {cap} bps"
        )


def add_delegation(store: Store, delegator: bytes, validator: bytes, amount: int) -> int:
    """Buy shares of ``validator`` for ``amount`` wei; returns the shares bought."""
    if amount <= 0:
        raise StakingRevert("amount must be positive")
    tokens = store.get("validator.tokens", validator)
    shares = store.get("validator.shares", validator)
    if shares and not tokens:
        raise StakingRevert("the validator's shares are worth nothing; it accepts no delegation")
    bought = amount if shares == 0 else amount * shares // tokens
    if bought == 0:
        raise StakingRevert(f"{amount} wei buys less than one share of this validator")
    store.set("validator.tokens", validator, tokens + amount)
    store.set("validator.shares", validator, shares + bought)
    held = store.get("delegation.shares", delegator, validator)
    if held == 0:
        delegations_of(store, delegator).append(int.from_bytes(validator, "big"))
    store.set("delegation.shares", delegator, validator, held + bought)
    store.add("total_bonded", amount)
    return bought


def remove_delegation(store: Store, delegator: bytes, validator: bytes, amount: int) -> int:
    """Sell enough shares for ``amount`` wei; returns the wei taken out of the validator.

    That is ``amount``, except when the last shares of the validator are sold:
    then the remaining tokens (``amount`` plus rounding dust) go with them.
    Shares the delegator would keep that are worth less than one wei are sold
    too (their value stays with the validator's other delegators): otherwise
    a delegation could never be emptied.
    """
    if amount <= 0:
        raise StakingRevert("amount must be positive")
    held, value = token_value(store, delegator, validator)
    if held == 0:
        raise StakingRevert(f"no delegation from 0x{delegator.hex()} to 0x{validator.hex()}")
    if amount > value:
        raise StakingRevert(f"cannot take {amount} wei out of a delegation worth {value} wei")
    tokens = store.get("validator.tokens", validator)
    shares = store.get("validator.shares", validator)
    sold = min(held, -(-amount * shares // tokens))
    left = held - sold
    if left and left * (tokens - amount) // (shares - sold) == 0:
        sold = held  # what would be left is worth no wei and could never be taken out: it goes too
    taken = tokens if sold == shares else amount
    store.set("validator.tokens", validator, tokens - taken)
    store.set("validator.shares", validator, shares - sold)
    store.set("delegation.shares", delegator, validator, held - sold)
    if held == sold:
        delegations_of(store, delegator).remove(int.from_bytes(validator, "big"))
    store.add("total_bonded", -taken)
    return taken


def jail_if_under_min_self_delegation(store: Store, operator: bytes) -> bool:
    """After the operator sold shares of its own validator: jail it if its stake is under the minimum."""
    _, self_tokens = token_value(store, operator, operator)
    if self_tokens >= store.get("param.min_self_delegation"):
        return False
    return validators.jail(store, operator)

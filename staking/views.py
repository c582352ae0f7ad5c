"""Read-only views of the staking contract's state for the node (RPC, CLI, the validator set).

Each takes ``state``: anything with ``get_storage(address, slot)`` (a py-evm
``AccountDB`` at some state root) and reads without gas. They return plain
frozen values; the contract's ABI views (``staking/methods.py``) are built
on the same reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staking import autorestake, queues, rewards, validators
from staking.active_set import ActiveValidator, read_active_set
from staking.addresses import STAKING_ADDRESS
from staking.delegation import delegations_of, token_value
from staking.params import StakingParams
from staking.store import Store
from staking.supply import SupplyReport, read_supply


@dataclass(frozen=True)
class ValidatorInfo:
    operator: bytes
    consensus_pubkey: bytes
    moniker: str
    tokens: int
    shares: int
    commission_bps: int
    max_commission_bps: int
    max_change_bps: int
    jailed: bool
    tombstoned: bool  # slashed for double-signing: jailed for good
    status: int  # validators.Status
    power: int  # in the active set, else 0
    jailed_until: int = 0  # block time from which unjail may succeed (0: at once, when jailed)
    missed_blocks: int = 0  # in the current signing window (the downtime rule)


@dataclass(frozen=True)
class Delegation:
    validator: bytes
    shares: int
    tokens: int


def _store(state: Any) -> Store:
    return Store(state, STAKING_ADDRESS)


def params(state: Any) -> StakingParams:
    store = _store(state)
    return StakingParams(**{name: store.get("param." + name) for name in StakingParams.__dataclass_fields__})


def validator(state: Any, operator: bytes, now: int) -> ValidatorInfo | None:
    store = _store(state)
    if not validators.exists(store, operator):
        return None
    get = store.get
    return ValidatorInfo(
        operator=operator,
        consensus_pubkey=validators.pubkey(store, operator),
        moniker=store.get_string("validator.moniker", operator),
        tokens=get("validator.tokens", operator),
        shares=get("validator.shares", operator),
        commission_bps=get("validator.commission", operator),
        max_commission_bps=get("validator.max_commission", operator),
        max_change_bps=get("validator.max_change", operator),
        jailed=bool(get("validator.jailed", operator)),
        tombstoned=bool(get("slashing.tombstoned", operator)),
        status=validators.status(store, operator, now),
        power=get("validator.power", operator),
        jailed_until=get("slashing.jailed_until", operator),
        missed_blocks=get("slashing.missed_count", operator),
    )


def missed_blocks_of_active_set(state: Any) -> list[tuple[bytes, int]]:
    """(operator, blocks missed in its current window) of each validator of the recorded active set."""
    store = _store(state)
    return [(v.operator, store.get("slashing.missed_count", v.operator)) for v in read_active_set(store)]


def validator_operators(state: Any, offset: int = 0, limit: int | None = None) -> list[bytes]:
    return [i.to_bytes(20, "big") for i in validators.operators(_store(state)).items(offset, limit)]


def validator_count(state: Any) -> int:
    return len(validators.operators(_store(state)))


def operator_of_consensus_key(state: Any, pubkey: bytes) -> bytes | None:
    operator = _store(state).get_address("consensus_key.operator", pubkey)
    return None if operator == bytes(20) else operator


def active_set(state: Any) -> tuple[ActiveValidator, ...]:
    return read_active_set(_store(state))


def active_set_chosen_at(state: Any) -> int:
    """The height whose end chose the recorded active set (0: genesis)."""
    return _store(state).get("active.updated_at")


def delegations(state: Any, delegator: bytes, offset: int = 0, limit: int | None = None) -> list[Delegation]:
    store = _store(state)
    out = []
    for item in delegations_of(store, delegator).items(offset, limit):
        target = item.to_bytes(20, "big")
        shares, tokens = token_value(store, delegator, target)
        out.append(Delegation(target, shares, tokens))
    return out


def delegation_count(state: Any, delegator: bytes) -> int:
    """How many validators ``delegator`` holds shares of (for paging ``delegations``)."""
    return len(delegations_of(_store(state), delegator))


def unbondings(state: Any, delegator: bytes, validator_operator: bytes) -> list[queues.Unbonding]:
    return queues.unbondings(_store(state), delegator, validator_operator)


def unbonding_count(state: Any, delegator: bytes, validator_operator: bytes) -> int:
    """Pending unbonding entries of one (delegator, validator) pair: one slot read."""
    return len(queues.unbonding_pair(_store(state), delegator, validator_operator))


def unbonding_page(
    state: Any, delegator: bytes, validator_operator: bytes, offset: int, limit: int
) -> list[queues.Unbonding]:
    """Entries ``offset .. offset+limit`` of one pair, in the order ``unbondings`` gives."""
    store = _store(state)
    pair = queues.unbonding_pair(store, delegator, validator_operator)
    return [queues.read_unbonding(store, entry) for entry in pair.items(offset, limit)]


def redelegations(state: Any, delegator: bytes) -> list[queues.Redelegation]:
    return queues.redelegations(_store(state), delegator)


def total_bonded(state: Any) -> int:
    return _store(state).get("total_bonded")


def total_unbonding(state: Any) -> int:
    return _store(state).get("total_unbonding")


def outstanding_rewards(state: Any) -> int:
    """Wei the contract holds for rewards and commission allocated and not yet paid."""
    return _store(state).get("rewards.outstanding")


def pending_rewards(state: Any, delegator: bytes, validator_operator: bytes) -> int:
    return rewards.pending(_store(state), delegator, validator_operator)


def pending_commission(state: Any, validator_operator: bytes) -> int:
    return rewards.commission_owed(_store(state), validator_operator)


def auto_restake(state: Any, delegator: bytes, validator_operator: bytes) -> bool:
    return autorestake.is_enabled(_store(state), delegator, validator_operator)


def auto_restake_pair_count(state: Any) -> int:
    """Opted-in (delegator, validator) pairs, in all."""
    return autorestake.pair_count(_store(state))


def supply(state: Any) -> SupplyReport:
    """Every supply counter at ``state`` (``staking/supply.py``: what ``plume_supply`` reports)."""
    return read_supply(state)

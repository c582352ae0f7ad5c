"""The staking contract's methods: one handler per ABI method, the rules applied in order.

Each handler takes the ``Call`` and the decoded arguments and returns the
ABI outputs as a tuple. It raises ``StakingRevert`` to refuse; every write
it makes is then undone with the call frame.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from staking import abi, autorestake, downtime, queues, rewards, slashing, validators
from staking.active_set import read_active_set
from staking.delegation import (
    add_delegation,
    check_share_cap,
    delegations_of,
    jail_if_under_min_self_delegation,
    remove_delegation,
    token_value,
)
from staking.errors import StakingRevert
from staking.evidence import MAX_EVIDENCE_BYTES, EvidenceDefect, InvalidEvidence
from staking.addresses import PERMISSIONS_ADDRESS
from staking.params import StakingParams
from staking.permissions.roles import PermList, may_use
from staking.store import Store
from staking.validators import Commission, require_validator

MAX_PAGE = 100  # entries a paginated view returns at most


def create_validator(call: Any, pubkey: bytes, moniker: str, rate: int, max_rate: int, max_change: int) -> tuple:
    store = call.store
    if not may_use(call.store_of(PERMISSIONS_ADDRESS), PermList.VALIDATOR, call.sender):
        raise StakingRevert(f"0x{call.sender.hex()} is not on the validator list (permissions list 2 is on)")
    minimum = store.get("param.min_self_delegation")
    if call.value < minimum:
        raise StakingRevert(f"self-delegation {call.value} wei is below the minimum {minimum} wei")
    validators.register(store, call.sender, pubkey, moniker, Commission(rate, max_rate, max_change), call.now)
    store.set("validator.created_at", call.sender, call.height)
    check_share_cap(store, call.sender, call.value, call.value)
    add_delegation(store, call.sender, call.sender, call.value)
    rewards.restart(store, call.sender, call.sender)
    call.emit(abi.VALIDATOR_CREATED, (call.sender,), (pubkey, moniker, call.value, rate, max_rate, max_change))
    return ()


def edit_validator(call: Any, moniker: str, rate: int) -> tuple:
    validators.edit(call.store, call.sender, moniker, rate, call.now)
    call.emit(abi.VALIDATOR_EDITED, (call.sender,), (moniker, rate))
    return ()


def unjail(call: Any) -> tuple:
    store = call.store
    require_validator(store, call.sender)
    if not store.get("validator.jailed", call.sender):
        raise StakingRevert("the validator is not jailed")
    if slashing.is_tombstoned(store, call.sender):  # this validator, not an earlier one of the operator
        raise StakingRevert("the validator is tombstoned for double-signing: it can never be unjailed")
    until = store.get("slashing.jailed_until", call.sender)
    if call.now < until:
        raise StakingRevert(f"the validator is jailed for downtime until {until} (block time now {call.now})")
    _, self_tokens = token_value(store, call.sender, call.sender)
    minimum = store.get("param.min_self_delegation")
    if self_tokens < minimum:
        raise StakingRevert(f"self-delegation {self_tokens} wei is below the minimum {minimum} wei")
    store.set("validator.jailed", call.sender, 0)
    call.emit(abi.UNJAILED, (call.sender,), ())
    return ()


def _settle(call: Any, validator: bytes) -> int:
    """Before the caller's delegation to ``validator`` changes: its rewards so far are paid."""
    earned = rewards.settle(call.store, call.sender, validator)
    if earned:
        rewards.pay(call.state, call.sender, earned)
        call.emit(abi.REWARDS_CLAIMED, (call.sender, validator), (earned,))
    return earned


def delegate(call: Any, validator: bytes) -> tuple:
    require_validator(call.store, validator)
    check_share_cap(call.store, validator, call.value, call.value)
    _settle(call, validator)
    shares = add_delegation(call.store, call.sender, validator, call.value)
    rewards.restart(call.store, call.sender, validator)
    call.emit(abi.DELEGATED, (call.sender, validator), (call.value, shares))
    return ()


def _after_self_undelegation(call: Any, validator: bytes) -> None:
    if call.sender == validator and jail_if_under_min_self_delegation(call.store, validator):
        call.emit(abi.JAILED, (validator,), (abi.Infraction.LOW_SELF_DELEGATION, 0))


def undelegate(call: Any, validator: bytes, amount: int) -> tuple:
    require_validator(call.store, validator)
    _settle(call, validator)
    taken = remove_delegation(call.store, call.sender, validator, amount)
    autorestake.forget_if_empty(call.store, call.sender, validator)
    rewards.restart(call.store, call.sender, validator)
    _after_self_undelegation(call, validator)
    time = queues.add_unbonding(call.store, call.sender, validator, taken, call.height, call.now)
    call.emit(abi.UNDELEGATED, (call.sender, validator), (taken, call.height, time))
    return (time,)


def redelegate(call: Any, src: bytes, dst: bytes, amount: int) -> tuple:
    store = call.store
    if src == dst:
        raise StakingRevert("source and destination validator are the same")
    require_validator(store, src)
    require_validator(store, dst)
    queues.check_redelegation(store, call.sender, src, dst)
    _settle(call, src)
    _settle(call, dst)
    taken = remove_delegation(store, call.sender, src, amount)
    autorestake.forget_if_empty(store, call.sender, src)
    _after_self_undelegation(call, src)
    # remove_delegation took ``taken`` out of total_bonded; it comes back with the move
    check_share_cap(store, dst, taken, taken)
    add_delegation(store, call.sender, dst, taken)
    rewards.restart(store, call.sender, src)
    rewards.restart(store, call.sender, dst)
    time = queues.add_redelegation(store, call.sender, src, dst, taken, call.height, call.now)
    call.emit(abi.REDELEGATED, (call.sender, src, dst), (taken, time))
    return (time,)


def cancel_unbonding(call: Any, validator: bytes, height: int, amount: int) -> tuple:
    store = call.store
    require_validator(store, validator)
    queues.take_from_unbonding(store, call.sender, validator, height, amount)
    check_share_cap(store, validator, amount, amount)
    _settle(call, validator)
    add_delegation(store, call.sender, validator, amount)
    rewards.restart(store, call.sender, validator)
    call.emit(abi.UNBONDING_CANCELLED, (call.sender, validator), (height, amount))
    return ()


def claim_rewards(call: Any, validator: bytes) -> tuple:
    """Pay the caller's pending rewards from ``validator``; 0, changing nothing, if there are none."""
    if rewards.pending(call.store, call.sender, validator) == 0:
        return (0,)
    earned = _settle(call, validator)
    rewards.restart(call.store, call.sender, validator)
    return (earned,)


def restake_rewards(call: Any, validator: bytes) -> tuple:
    """Add the caller's pending rewards from ``validator`` to its delegation there."""
    store = call.store
    earned = rewards.pending(store, call.sender, validator)
    if earned == 0:
        return (0,)
    check_share_cap(store, validator, earned, earned)
    earned = rewards.settle(store, call.sender, validator)
    add_delegation(store, call.sender, validator, earned)  # the wei stay in the contract: now bonded
    rewards.restart(store, call.sender, validator)
    call.emit(abi.REWARDS_RESTAKED, (call.sender, validator), (earned,))
    return (earned,)


def withdraw_commission(call: Any) -> tuple:
    require_validator(call.store, call.sender)
    amount = rewards.take_commission(call.store, call.sender)
    if amount:
        rewards.pay(call.state, call.sender, amount)
        call.emit(abi.COMMISSION_WITHDRAWN, (call.sender,), (amount,))
    return (amount,)


def set_auto_restake(call: Any, validator: bytes, enabled: bool) -> tuple:
    """Opt the caller's delegation to ``validator`` in or out of compounding at every epoch end.
    Setting what is already set changes nothing and emits no log."""
    require_validator(call.store, validator)
    change = autorestake.enable if enabled else autorestake.disable
    if change(call.store, call.sender, validator):
        call.emit(abi.AUTO_RESTAKE_SET, (call.sender, validator), (enabled,))
    return ()


def submit_evidence(call: Any, evidence: bytes) -> tuple:
    """Anyone may prove a double-sign: verified by the node's verifier, applied as in a block's
    sidecar (``slashing.apply_evidence``); evidence that proves or slashes nothing reverts."""
    if len(evidence) > MAX_EVIDENCE_BYTES:
        raise StakingRevert(f"{EvidenceDefect.TOO_LARGE.value}: {len(evidence)} bytes, at most {MAX_EVIDENCE_BYTES}")
    if call.verify_evidence is None:
        raise StakingRevert("evidence verification unavailable")
    try:
        misbehaviour = call.verify_evidence(evidence, call.height, partial(call.charge_gas, reason="staking.submitEvidence"))
    except InvalidEvidence as exc:
        raise StakingRevert(exc.reason) from None
    refusal = slashing.apply_evidence(call.state, call.store, misbehaviour, call.height, call.emit)
    if refusal is not None:
        raise StakingRevert(refusal.value)  # nothing was changed
    return ()


# -- views ------------------------------------------------------------------------


def validator_view(store: Store, operator: bytes, now: int) -> tuple:
    require_validator(store, operator)
    return (
        validators.pubkey(store, operator),
        store.get_string("validator.moniker", operator),
        store.get("validator.tokens", operator),
        store.get("validator.shares", operator),
        store.get("validator.commission", operator),
        bool(store.get("validator.jailed", operator)),
        validators.status(store, operator, now),
    )


def get_validator(call: Any, operator: bytes) -> tuple:
    return validator_view(call.store, operator, call.now)


def get_signing_info(call: Any, operator: bytes) -> tuple:
    store = call.store
    require_validator(store, operator)
    info = downtime.signing_info(store, operator)
    tombstoned = bool(store.get("slashing.tombstoned", operator))
    return (info.start_height, info.index_offset, info.missed_blocks, info.jailed_until, tombstoned)


def get_commission(call: Any, operator: bytes) -> tuple:
    store = call.store
    require_validator(store, operator)
    return tuple(
        store.get(name, operator)
        for name in ("validator.commission", "validator.max_commission", "validator.max_change", "validator.commission_time")
    )


def get_validator_by_consensus_key(call: Any, pubkey: bytes) -> tuple:
    return (call.store.get_address("consensus_key.operator", pubkey),)


def _page(offset: int, limit: int) -> int:
    if limit > MAX_PAGE:
        raise StakingRevert(f"limit {limit} is above the page size {MAX_PAGE}")
    return limit


def get_validators(call: Any, offset: int, limit: int) -> tuple:
    items = validators.operators(call.store).items(offset, _page(offset, limit))
    return ([i.to_bytes(20, "big") for i in items],)


def validator_count(call: Any) -> tuple:
    return (len(validators.operators(call.store)),)


def get_active_validators(call: Any) -> tuple:
    active = read_active_set(call.store)
    return ([v.operator for v in active], [v.power for v in active])


def get_delegation(call: Any, delegator: bytes, validator: bytes) -> tuple:
    return token_value(call.store, delegator, validator)


def get_delegations(call: Any, delegator: bytes, offset: int, limit: int) -> tuple:
    targets = [i.to_bytes(20, "big") for i in delegations_of(call.store, delegator).items(offset, _page(offset, limit))]
    values = [token_value(call.store, delegator, v) for v in targets]
    return (targets, [s for s, _ in values], [t for _, t in values])


def get_unbondings(call: Any, delegator: bytes, validator: bytes) -> tuple:
    entries = queues.unbondings(call.store, delegator, validator)
    return ([e.creation_height for e in entries], [e.completion_time for e in entries], [e.amount for e in entries])


def get_redelegations(call: Any, delegator: bytes) -> tuple:
    entries = queues.redelegations(call.store, delegator)
    return (
        [e.src for e in entries],
        [e.dst for e in entries],
        [e.creation_height for e in entries],
        [e.completion_time for e in entries],
        [e.amount for e in entries],
    )


def total_bonded(call: Any) -> tuple:
    return (call.store.get("total_bonded"),)


def total_unbonding(call: Any) -> tuple:
    return (call.store.get("total_unbonding"),)


def params_view(call: Any) -> tuple:
    return tuple(call.store.get("param." + name) for name in PARAM_ORDER)


PARAM_ORDER = tuple(StakingParams.__dataclass_fields__)  # params() returns them in this order


def pending_rewards(call: Any, delegator: bytes, validator: bytes) -> tuple:
    return (rewards.pending(call.store, delegator, validator),)


def pending_commission(call: Any, validator: bytes) -> tuple:
    return (rewards.commission_owed(call.store, validator),)


def get_auto_restake(call: Any, delegator: bytes, validator: bytes) -> tuple:
    return (autorestake.is_enabled(call.store, delegator, validator),)


HANDLERS: dict[str, Callable[..., tuple]] = {
    "createValidator": create_validator,
    "editValidator": edit_validator,
    "unjail": unjail,
    "delegate": delegate,
    "undelegate": undelegate,
    "redelegate": redelegate,
    "cancelUnbonding": cancel_unbonding,
    "getValidator": get_validator,
    "getCommission": get_commission,
    "getSigningInfo": get_signing_info,
    "getValidatorByConsensusKey": get_validator_by_consensus_key,
    "getValidators": get_validators,
    "validatorCount": validator_count,
    "getActiveValidators": get_active_validators,
    "getDelegation": get_delegation,
    "getDelegations": get_delegations,
    "getUnbondings": get_unbondings,
    "getRedelegations": get_redelegations,
    "totalBonded": total_bonded,
    "totalUnbonding": total_unbonding,
    "params": params_view,
    "claimRewards": claim_rewards,
    "restakeRewards": restake_rewards,
    "withdrawCommission": withdraw_commission,
    "pendingRewards": pending_rewards,
    "pendingCommission": pending_commission,
    "setAutoRestake": set_auto_restake,
    "getAutoRestake": get_auto_restake,
    "submitEvidence": submit_evidence,
}
assert set(HANDLERS) == {m.name for m in abi.METHODS.values()}, "every ABI method needs a handler"

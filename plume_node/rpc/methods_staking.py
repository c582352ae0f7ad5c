"""plume_* staking methods: the staking contract's state (0x…1000) at a block, without gas.

Each method reads `staking.views` against the state after the block it is
given (default latest) in an RPC worker thread (`workers.py`): a page of
validators is a few thousand storage reads, and `plume_getUnbondings` looks
at every registered validator. Lists are paged (`offset`, `limit`; the limit
is at most `MAX_PAGE`) and every answer says how many there are in all.
Amounts, shares, counts, heights and times are QUANTITY like the rest of the
plume_ namespace; addresses are checksummed; keys DATA.
"""

from __future__ import annotations

from typing import Any

from consensus.crypto import address_of
from staking import views
from staking.validators import MAX_REGISTERED_VALIDATORS, Status

from plume_node.rpc import params as p
from plume_node.rpc.chainview import BlockState, ChainView
from plume_node.rpc.dispatch import MethodTable, Param
from plume_node.rpc.encode import addr, d, q
from plume_node.rpc.errors import InvalidParams
from plume_node.rpc.workers import OffThread, ReadContext

table = MethodTable()

MAX_PAGE = 100  # entries one paged answer holds at most; also the default limit
STATUS_NAMES = {Status.UNBONDED: "unbonded", Status.UNBONDING: "unbonding", Status.BONDED: "bonded"}
_LATEST = p.BlockRef(tag="latest")


def count(value: Any, name: str) -> int:
    """A non-negative count or index: a JSON integer or a hex QUANTITY."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise InvalidParams(f"{name}: must not be negative, got {value}")
        if value >= 2**256:
            raise InvalidParams(f"{name}: larger than 256 bits")
        return value
    return p.quantity(value, name)


def page_limit(value: Any, name: str) -> int:
    limit = count(value, name)
    if limit > MAX_PAGE:
        raise InvalidParams(f"{name}: at most {MAX_PAGE} per page, got {limit}; page with offset")
    return limit


def _block_param() -> Param:
    return Param("block", p.block_ref, _LATEST)


def _at(ctx: ReadContext, ref: p.BlockRef) -> BlockState:
    return ChainView(ctx.chain, ctx.budget).block_state_at(ref)


def validator_json(v: views.ValidatorInfo) -> dict[str, Any]:
    return {
        "operator": addr(v.operator),
        "consensusPubkey": d(v.consensus_pubkey),
        "consensusAddress": d(address_of(v.consensus_pubkey)),
        "moniker": v.moniker,
        "tokens": q(v.tokens),
        "shares": q(v.shares),
        "commissionBps": q(v.commission_bps),
        "maxCommissionBps": q(v.max_commission_bps),
        "maxChangeBps": q(v.max_change_bps),
        "jailed": v.jailed,
        "tombstoned": v.tombstoned,
        "jailedUntil": q(v.jailed_until),
        "missedBlocks": q(v.missed_blocks),
        "status": STATUS_NAMES.get(v.status, "unknown"),
        "statusCode": q(v.status),
        "power": q(v.power),
    }


def _validators(ctx: ReadContext, offset: int, limit: int, ref: p.BlockRef) -> dict[str, Any]:
    at = _at(ctx, ref)
    out = []
    for operator in views.validator_operators(at.state, offset, limit):
        ctx.budget.check()
        info = views.validator(at.state, operator, at.timestamp)
        if info is not None:
            out.append(validator_json(info))
    return {
        "blockNumber": q(at.number),
        "total": q(views.validator_count(at.state)),
        "offset": q(offset),
        "validators": out,
    }


@table.register(
    "plume_getValidators",
    Param("offset", count, 0),
    Param("limit", page_limit, MAX_PAGE),
    _block_param(),
)
def plume_get_validators(backend: Any, offset: int, limit: int, ref: p.BlockRef) -> OffThread:
    """Registered validators in registration order, a page at a time."""
    return OffThread(lambda ctx: _validators(ctx, offset, limit, ref))


def _validator(ctx: ReadContext, operator: bytes, ref: p.BlockRef) -> dict[str, Any] | None:
    at = _at(ctx, ref)
    info = views.validator(at.state, operator, at.timestamp)
    return None if info is None else validator_json(info)


@table.register("plume_getValidator", Param("operator", p.address), _block_param())
def plume_get_validator(backend: Any, operator: bytes, ref: p.BlockRef) -> OffThread:
    """One validator by its operator address, or null."""
    return OffThread(lambda ctx: _validator(ctx, operator, ref))


def _delegations(ctx: ReadContext, delegator: bytes, offset: int, limit: int, ref: p.BlockRef) -> dict[str, Any]:
    at = _at(ctx, ref)
    entries = views.delegations(at.state, delegator, offset, limit)
    return {
        "blockNumber": q(at.number),
        "delegator": addr(delegator),
        "total": q(views.delegation_count(at.state, delegator)),
        "offset": q(offset),
        "delegations": [
            {"validator": addr(e.validator), "shares": q(e.shares), "tokens": q(e.tokens)} for e in entries
        ],
    }


@table.register(
    "plume_getDelegations",
    Param("delegator", p.address),
    Param("offset", count, 0),
    Param("limit", page_limit, MAX_PAGE),
    _block_param(),
)
def plume_get_delegations(backend: Any, delegator: bytes, offset: int, limit: int, ref: p.BlockRef) -> OffThread:
    """The validators `delegator` holds shares of, with the shares and their value."""
    return OffThread(lambda ctx: _delegations(ctx, delegator, offset, limit, ref))


def _unbonding_counts(ctx: ReadContext, state: Any, delegator: bytes) -> list[tuple[bytes, int]]:
    """(validator, pending entries) of every validator `delegator` has entries with.

    Scans every registered validator (at most staking's MAX_REGISTERED_VALIDATORS,
    one slot read each): an entry outlives the delegation it came from, so the
    delegator's list of delegations does not find them all.
    """
    out = []
    for operator in views.validator_operators(state):
        ctx.budget.check()
        pending = views.unbonding_count(state, delegator, operator)
        if pending:
            out.append((operator, pending))
    return out


def _unbonding_page(
    state: Any, delegator: bytes, counts: list[tuple[bytes, int]], offset: int, limit: int
) -> list[dict[str, Any]]:
    """Entries offset .. offset+limit of the concatenation of every pair's entries."""
    out: list[dict[str, Any]] = []
    skip = offset
    for operator, pending in counts:
        if len(out) >= limit:
            break
        if skip >= pending:
            skip -= pending
            continue
        for entry in views.unbonding_page(state, delegator, operator, skip, limit - len(out)):
            out.append(
                {
                    "validator": addr(operator),
                    "creationHeight": q(entry.creation_height),
                    "completionTime": q(entry.completion_time),
                    "amount": q(entry.amount),
                }
            )
        skip = 0
    return out


def _redelegation_json(r: Any) -> dict[str, Any]:
    return {
        "src": addr(r.src),
        "dst": addr(r.dst),
        "creationHeight": q(r.creation_height),
        "completionTime": q(r.completion_time),
        "amount": q(r.amount),
    }


def _unbondings(ctx: ReadContext, delegator: bytes, offset: int, limit: int, ref: p.BlockRef) -> dict[str, Any]:
    at = _at(ctx, ref)
    counts = _unbonding_counts(ctx, at.state, delegator)
    return {
        "blockNumber": q(at.number),
        "delegator": addr(delegator),
        "total": q(sum(pending for _, pending in counts)),
        "offset": q(offset),
        "unbondings": _unbonding_page(at.state, delegator, counts, offset, limit),
        # at most staking's MAX_REDELEGATIONS_PER_DELEGATOR (32): never paged
        "redelegations": [_redelegation_json(r) for r in views.redelegations(at.state, delegator)],
    }


@table.register(
    "plume_getUnbondings",
    Param("delegator", p.address),
    Param("offset", count, 0),
    Param("limit", page_limit, MAX_PAGE),
    _block_param(),
)
def plume_get_unbondings(backend: Any, delegator: bytes, offset: int, limit: int, ref: p.BlockRef) -> OffThread:
    """`delegator`'s pending unbonding entries with every validator, and its immature redelegations."""
    return OffThread(lambda ctx: _unbondings(ctx, delegator, offset, limit, ref))


def _rewards(ctx: ReadContext, delegator: bytes, ref: p.BlockRef) -> dict[str, Any]:
    at = _at(ctx, ref)
    entries = []
    # a delegator holds shares of registered validators only: at most MAX_REGISTERED_VALIDATORS
    for delegation in views.delegations(at.state, delegator, 0, MAX_REGISTERED_VALIDATORS):
        ctx.budget.check()
        validator = delegation.validator
        pending = views.pending_rewards(at.state, delegator, validator)
        entries.append((validator, pending, views.auto_restake(at.state, delegator, validator)))
    operates = views.validator(at.state, delegator, at.timestamp) is not None
    return {
        "blockNumber": q(at.number),
        "delegator": addr(delegator),
        "rewards": [
            {"validator": addr(validator), "pending": q(pending), "autoRestake": auto}
            for validator, pending, auto in entries
        ],
        "total": q(sum(pending for _, pending, _ in entries)),
        "commission": q(views.pending_commission(at.state, delegator)) if operates else None,
    }


@table.register("plume_getRewards", Param("delegator", p.address), _block_param())
def plume_get_rewards(backend: Any, delegator: bytes, ref: p.BlockRef) -> OffThread:
    """`delegator`'s pending rewards with every validator it delegates to, its auto-restake
    settings, their total, and its validator's pending commission (null if it operates none)."""
    return OffThread(lambda ctx: _rewards(ctx, delegator, ref))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _params(ctx: ReadContext, ref: p.BlockRef) -> dict[str, Any]:
    at = _at(ctx, ref)
    values = views.params(at.state).to_mapping()
    return {"blockNumber": q(at.number), **{_camel(k): q(v) for k, v in values.items()}}


@table.register("plume_stakingParams", _block_param())
def plume_staking_params(backend: Any, ref: p.BlockRef) -> OffThread:
    """The staking parameters as the contract's storage holds them at the block."""
    return OffThread(lambda ctx: _params(ctx, ref))

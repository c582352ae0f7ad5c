"""The governable parameters: every field of the params dataclasses, by its genesis.json key.

A key is ``<section>.<field>``: ``staking.*`` (StakingParams), ``slashing.*``
(SlashingParams), ``gov.*`` (GovParams), ``execution.*`` (ExecutionParams).
The table is derived from the dataclasses, so a field added to one is
governable at once. Each section lives in named slots of one system
contract's storage (``SECTIONS``); a change is checked by applying it to the
section's current values and letting the dataclass's ``__post_init__`` check
its bounds, the same rule genesis loading applies.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

from eth_abi import decode, encode

from staking import fees
from staking.addresses import GOVERNANCE_ADDRESS, STAKING_ADDRESS
from staking.delegation import token_value
from staking.errors import StakingRevert
from staking.params import BPS, ExecutionParams, GovParams, ParamError, SlashingParams, StakingParams
from staking.permissions import keys as permission_keys
from staking.store import IdList, Store

Charge = Callable[[int, str], None]
MAX_KEY_BYTES = 80  # a longer key names no parameter (permissions.role.validator.0x<40 hex> is 69)

# Fields genesis sets that no proposal may change, and why.
NOT_GOVERNABLE = {
    "staking.power_reduction": "it is a constant of the chain (wei per unit of voting power): raising it "
    "would freeze the validator set, lowering it would clip powers and shrink double-sign slashes",
}
# Bounds a governance change must keep on top of genesis's, so governance cannot switch itself off:
# (low, high) of the new value; None: genesis's bound.
GOVERNED_BOUNDS = {
    "gov.voting_period": (60, None),  # seconds: time for validators to see and vote
    "gov.max_deposit_period": (60, None),
    "gov.quorum_bps": (None, 6_667),  # a third of the stake offline must not stop every proposal
    "gov.threshold_bps": (None, 6_667),
    "gov.veto_threshold_bps": (1_000, None),  # a 0.01% veto must not reject every proposal
}
MAX_MIN_DEPOSIT_SUPPLY_BPS = 100  # gov.min_deposit may be set to at most 1% of the total supply


@dataclass(frozen=True)
class Section:
    name: str  # the genesis.json section, the key's prefix
    params: type  # its frozen dataclass
    address: bytes  # the system contract whose storage holds it
    prefix: str  # slot name of field f: prefix + f


SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section("staking", StakingParams, STAKING_ADDRESS, "param."),
        Section("slashing", SlashingParams, STAKING_ADDRESS, "param.slashing."),
        Section("gov", GovParams, GOVERNANCE_ADDRESS, "param."),
        Section("execution", ExecutionParams, STAKING_ADDRESS, "param.execution."),
    )
}

# ABI type a field's value is encoded in, by its Python type (every field is an int today).
ABI_TYPES = {int: "uint256", bool: "bool"}


def governable_keys() -> list[str]:
    keys = [f"{s.name}.{f.name}" for s in SECTIONS.values() for f in dataclasses.fields(s.params)]
    return [k for k in keys if k not in NOT_GOVERNABLE]


def split_key(key: str) -> tuple[Section, str]:
    """(section, field) of ``key``; ``StakingRevert`` for a key that names no parameter."""
    if key in NOT_GOVERNABLE:
        raise StakingRevert(f"{key} is not governable: {NOT_GOVERNABLE[key]}")
    section_name, _, field = key.partition(".")
    section = SECTIONS.get(section_name)
    if section is None or field not in {f.name for f in dataclasses.fields(section.params)}:
        shown = key[:MAX_KEY_BYTES]
        raise StakingRevert(f"unknown parameter key {shown!r}; keys are staking.*, slashing.*, gov.*, execution.*, permissions.*")
    return section, field


def check_key(key: str) -> None:
    """``StakingRevert`` unless ``key`` is governable: a parameter or a ``permissions.*`` key."""
    if permission_keys.is_permissions_key(key):
        permission_keys.parse_key(key)
    else:
        split_key(key)


def _field_type(section: Section, field: str) -> type:
    default = getattr(section.params(), field)
    return type(default)


def decode_value(key: str, raw: bytes) -> int:
    """The value of ``key`` ABI-decoded from ``raw`` in the field's type, strictly (exactly one word)."""
    if permission_keys.is_permissions_key(key):
        permission_keys.parse_key(key)
        type_name = "uint256"
    else:
        section, field = split_key(key)
        type_name = ABI_TYPES[_field_type(section, field)]
    if len(raw) != 32:
        raise StakingRevert(f"value of {key} must be one ABI-encoded {type_name} (32 bytes), got {len(raw)} bytes")
    try:
        (value,) = decode([type_name], raw)
    except Exception:  # eth_abi's several decoding errors: not a valid word of that type
        raise StakingRevert(f"value of {key} does not decode as {type_name}") from None
    return value


def encode_value(key: str, value: int) -> bytes:
    if permission_keys.is_permissions_key(key):
        permission_keys.parse_key(key)
        return encode(["uint256"], [value])
    section, field = split_key(key)
    return encode([ABI_TYPES[_field_type(section, field)]], [value])


def read_section(state: Any, section: Section, charge: Charge | None = None) -> Any:
    """The section's current values, from its contract's storage (gas-metered by ``charge`` in a call)."""
    reader = Store(state, section.address, charge)
    values = {f.name: reader.get(section.prefix + f.name) for f in dataclasses.fields(section.params)}
    kinds = {f.name: _field_type(section, f.name) for f in dataclasses.fields(section.params)}
    return section.params(**{k: kinds[k](v) for k, v in values.items()})


def write_section(state: Any, section: Section, values: Any) -> None:
    store = Store(state, section.address)
    for f in dataclasses.fields(values):
        store.set(section.prefix + f.name, int(getattr(values, f.name)))


def apply_changes(state: Any, changes: list[tuple[str, int]], charge: Charge | None = None) -> dict[str, Any]:
    """The sections ``changes`` touch, with the changes applied in order and checked.

    Raises ``StakingRevert`` naming the first change out of bounds; writes nothing.
    """
    updated: dict[str, Any] = {}
    for key, value in changes:
        if permission_keys.is_permissions_key(key):
            permission_keys.check_value(key, value)  # applied by apply_permission_changes
            permission_keys.check_against_state(state, key, value, charge)
            continue
        section, field = split_key(key)
        current = updated.get(section.name) or read_section(state, section, charge)
        try:
            updated[section.name] = dataclasses.replace(current, **{field: value})
        except (ParamError, TypeError) as exc:
            raise StakingRevert(f"{key}={value}: {str(exc)[:200]}") from None
        _check_governed_bounds(key, value)
    _check_across(state, updated, {key for key, _ in changes}, charge)
    return updated


def _check_governed_bounds(key: str, value: int) -> None:
    low, high = GOVERNED_BOUNDS.get(key, (None, None))
    if low is not None and value < low:
        raise StakingRevert(f"{key}={value}: a governance change must keep it at least {low}")
    if high is not None and value > high:
        raise StakingRevert(f"{key}={value}: a governance change must keep it at most {high}")


def _smallest_self_delegation(state: Any, charge: Charge | None) -> int | None:
    """The least wei an active-set operator holds in its own validator (None without an active set)."""
    staking = Store(state, STAKING_ADDRESS, charge)
    values = [token_value(staking, op, op)[1] for op in (i.to_bytes(20, "big") for i in IdList(staking, "active").items())]
    return min(values, default=None)


def _check_across(state: Any, updated: dict[str, Any], keys: set[str], charge: Charge | None) -> None:
    """The checks genesis loading makes across parameters and the chain, re-applied to a change."""
    if "gov.min_deposit" in keys:
        limit = fees.total_supply(state) * MAX_MIN_DEPOSIT_SUPPLY_BPS // BPS
        if updated["gov"].min_deposit > limit:
            raise StakingRevert(f"gov.min_deposit={updated['gov'].min_deposit}: above 1% of the total supply ({limit} wei)")
    if "staking.min_self_delegation" in keys:
        smallest = _smallest_self_delegation(state, charge)
        if smallest is not None and updated["staking"].min_self_delegation > smallest:
            raise StakingRevert(
                f"staking.min_self_delegation={updated['staking'].min_self_delegation}: above an active "
                f"validator's self-delegation ({smallest} wei), which genesis would refuse"
            )


def apply_permission_changes(state: Any, ctx: Any, changes: list[tuple[str, int]]) -> None:
    """The ``permissions.*`` changes of a passed proposal, in order, after ``apply_changes`` checked them."""
    for key, value in changes:
        if permission_keys.is_permissions_key(key):
            permission_keys.apply_change(state, ctx, key, value)


def commit_changes(state: Any, updated: dict[str, Any]) -> None:
    """Write every updated section (all of ``apply_changes``' result, or nothing)."""
    for name, values in updated.items():
        write_section(state, SECTIONS[name], values)

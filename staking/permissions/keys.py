"""Governance keys of the permission lists: switch a list, set a role.

* ``permissions.<list>`` (``transact``, ``deploy``, ``validator``): 1 switches
  the list on, 0 off (ABI uint256).
* ``permissions.role.<list>.0x<40 hex>``: the account's role on the list,
  0 none, 1 enabled, 2 manager, 3 admin (ABI uint256).

A value out of range is refused when the proposal is submitted, as every key
is; so is (at submission and again when it would apply) a role key that
takes the transact role from the operator of a validator in the active set:
governance could otherwise vote itself out of reach. Governance may demote a
list's last admin (it can always grant a new one). A passed proposal applies them in order at the end of the block that
closes its vote, emitting ``ListSwitched`` / ``RoleSet`` (``by`` = the
governance contract) from 0x…1003, like a call would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staking.addresses import GOVERNANCE_ADDRESS, PERMISSIONS_ADDRESS, STAKING_ADDRESS
from staking.errors import StakingRevert
from staking.permissions import abi as perm_abi
from staking.permissions.roles import PermList, Role, active_operator, list_by_name, write_list_on, write_role
from staking.store import Store

PREFIX = "permissions."
ROLE_PREFIX = "permissions.role."
KEY_FORMS = ("permissions.transact", "permissions.deploy", "permissions.validator", "permissions.role.<list>.0x<address>")


@dataclass(frozen=True)
class PermissionKey:
    perm_list: PermList
    account: bytes | None  # None: the key switches the list; else it sets this account's role


def is_permissions_key(key: str) -> bool:
    return key.startswith(PREFIX)


def _bad(key: str) -> StakingRevert:
    return StakingRevert(f"unknown permissions key {key[:80]!r}; keys are {', '.join(KEY_FORMS)}")


def parse_key(key: str) -> PermissionKey:
    """The list (and account) a ``permissions.*`` key names; ``StakingRevert`` if it names none."""
    if key.startswith(ROLE_PREFIX):
        list_name, _, address = key.removeprefix(ROLE_PREFIX).partition(".")
        which = list_by_name(list_name)
        hex_part = address[2:] if address[:2] in ("0x", "0X") else ""
        if which is None or len(hex_part) != 40 or any(c not in "0123456789abcdefABCDEF" for c in hex_part):
            raise _bad(key)
        return PermissionKey(which, bytes.fromhex(hex_part))
    which = list_by_name(key.removeprefix(PREFIX))
    if which is None:
        raise _bad(key)
    return PermissionKey(which, None)


def check_value(key: str, value: int) -> None:
    """A switch is 0 or 1; a role is 0..3."""
    limit = 1 if parse_key(key).account is None else max(Role)
    if not 0 <= value <= limit:
        raise StakingRevert(f"{key}={value}: must be 0..{limit}")


def check_against_state(state: Any, key: str, value: int, charge: Any = None) -> None:
    """Refuse a role key that would take the transact role from an active validator's operator."""
    parsed = parse_key(key)
    if parsed.account is None or parsed.perm_list != PermList.TRANSACT or value >= Role.ENABLED:
        return
    if active_operator(Store(state, STAKING_ADDRESS, charge), parsed.account):
        raise StakingRevert(
            f"{key}={value}: 0x{parsed.account.hex()} operates a validator in the active set, "
            "whose transact role keeps governance reachable"
        )


def apply_change(state: Any, ctx: Any, key: str, value: int) -> None:
    """Apply one checked change (end of block, no gas) and emit its event from 0x…1003."""
    parsed = parse_key(key)
    store = Store(state, PERMISSIONS_ADDRESS)
    if parsed.account is None:
        write_list_on(store, parsed.perm_list, bool(value))
        ctx.emit(PERMISSIONS_ADDRESS, perm_abi.LIST_SWITCHED, (int(parsed.perm_list),), (bool(value),))
        return
    write_role(store, parsed.perm_list, parsed.account, Role(value))
    ctx.emit(PERMISSIONS_ADDRESS, perm_abi.ROLE_SET, (int(parsed.perm_list), parsed.account), (value, GOVERNANCE_ADDRESS))

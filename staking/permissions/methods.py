"""The permissions contract's methods: one handler per ABI method (see staking/methods.py for the shape).

Every refusal raises ``StakingRevert`` with a reason; the call frame's writes are then undone.
"""

from __future__ import annotations

from typing import Any, Callable

from staking.addresses import STAKING_ADDRESS
from staking.errors import StakingRevert
from staking.permissions import abi as perm_abi
from staking.permissions.roles import (
    LIST_NAMES,
    ROLE_NAMES,
    PermList,
    Role,
    guard_refusal,
    list_on,
    refusal,
    role_of,
    write_role,
)


def _list(value: int) -> PermList:
    if value not in tuple(PermList):
        raise StakingRevert(f"list {value} is not 0 (transact), 1 (deploy) or 2 (validator)")
    return PermList(value)


def _role(value: int) -> Role:
    if value not in tuple(Role):
        raise StakingRevert(f"role {value} is not 0 (none), 1 (enabled), 2 (manager) or 3 (admin)")
    return Role(value)


def set_role(call: Any, list_value: int, account: bytes, role_value: int) -> tuple:
    which, new = _list(list_value), _role(role_value)
    actor = role_of(call.store, which, call.sender)
    current = role_of(call.store, which, account)
    why = refusal(actor, current, new)
    if why is None:
        why = guard_refusal(call.store, call.store_of(STAKING_ADDRESS), which, account, current, new)
    if why is not None:
        raise StakingRevert(
            f"setRole {ROLE_NAMES[new]} on the {LIST_NAMES[which]} list for 0x{account.hex()}: {why}"
        )
    write_role(call.store, which, account, new, current)
    call.emit(perm_abi.ROLE_SET, (int(which), account), (int(new), call.sender))
    return ()


def role_of_view(call: Any, list_value: int, account: bytes) -> tuple:
    return (int(role_of(call.store, _list(list_value), account)),)


def is_enabled(call: Any, list_value: int) -> tuple:
    return (list_on(call.store, _list(list_value)),)


def is_allowed(call: Any, account: bytes) -> tuple:
    """IPermissions: whether ``account`` holds a role (enabled or above) on the transact list.

    Whether the list is on does not matter: an RWA token that takes this as its
    KYC registry must not admit everybody on a chain whose transact list is off.
    """
    return (role_of(call.store, PermList.TRANSACT, account) >= Role.ENABLED,)


HANDLERS: dict[str, Callable[..., tuple]] = {
    "setRole": set_role,
    "roleOf": role_of_view,
    "isEnabled": is_enabled,
    "isAllowed": is_allowed,
}
assert set(HANDLERS) == {m.name for m in perm_abi.METHODS.values()}, "every ABI method needs a handler"

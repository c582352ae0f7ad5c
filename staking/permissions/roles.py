"""Roles and lists of the permissions contract, and the rules for changing them.

Three lists (``PermList``): TRANSACT (who may send transactions), DEPLOY (who
may create contracts), VALIDATOR (who may call ``createValidator``). Each is
on or off (``list.on[list]``); while off, everybody may do what it guards.
Each address has one role per list (``role[list][account]``), as Avalanche
Subnet-EVM's allowlist precompiles define them:

* NONE (0): may not use the list's action while the list is on.
* ENABLED (1): may use it.
* MANAGER (2): may use it, and set NONE or ENABLED on accounts that are
  NONE or ENABLED (never touches a manager or an admin).
* ADMIN (3): may use it, and set any role on any account (itself included).

Two guards keep the chain governable whatever the roles' holders do
(``guard_refusal``): a list never loses its last admin (``admin.count``
counts them; the last one cannot demote itself or be demoted by a call),
and nobody may take the transact role from the operator of a validator in
the active set (bonded, not jailed): those operators are the voters whose
stake decides a proposal, so governance can always act through them, and
it is governance that switches lists and can restore any role.

A role is per list: an admin of TRANSACT is NONE on DEPLOY unless granted
there too. Switching a list on or off is not a contract method: genesis sets
it and governance changes it (``permissions.<list>`` key).
"""

from __future__ import annotations

import enum
from typing import Any

from staking.addresses import PERMISSIONS_ADDRESS
from staking.errors import StakingRevert
from staking.store import Store, slot


class PermList(enum.IntEnum):
    TRANSACT = 0
    DEPLOY = 1
    VALIDATOR = 2


class Role(enum.IntEnum):
    NONE = 0
    ENABLED = 1
    MANAGER = 2
    ADMIN = 3


LIST_NAMES = {p: p.name.lower() for p in PermList}  # "transact", "deploy", "validator"
ROLE_NAMES = {r: r.name.lower() for r in Role}  # "none", "enabled", "manager", "admin"


def list_by_name(name: str) -> PermList | None:
    return next((p for p, n in LIST_NAMES.items() if n == name), None)


def role_by_name(name: str) -> Role | None:
    return next((r for r, n in ROLE_NAMES.items() if n == name), None)


def list_on(store: Store, which: PermList) -> bool:
    return store.get("list.on", int(which)) != 0


def role_of(store: Store, which: PermList, account: bytes) -> Role:
    value = store.get("role", int(which), account)
    if value > max(Role):  # only a state override (eth_simulateV1 stateDiff) can store one
        raise StakingRevert(f"stored role {value} of 0x{account.hex()} is not a role (0..3)")
    return Role(value)


def may_use(store: Store, which: PermList, account: bytes) -> bool:
    """Whether ``account`` may do what ``which`` guards: the list is off, or it holds a role on it."""
    return not list_on(store, which) or role_of(store, which, account) >= Role.ENABLED


def refusal(actor: Role, current: Role, new: Role) -> str | None:
    """Why an account with role ``actor`` may not change a role ``current`` into ``new`` (None: it may)."""
    if actor == Role.ADMIN:
        return None
    if actor == Role.MANAGER:
        if current >= Role.MANAGER or new >= Role.MANAGER:
            return "a manager sets only none or enabled, on accounts that are none or enabled; that needs admin"
        return None
    return f"the caller's role is {ROLE_NAMES[actor]}: setting a role needs manager (none/enabled) or admin"


def active_operator(staking: Store, account: bytes) -> bool:
    """Whether ``account`` operates a validator a governance tally counts (in the active set, not jailed)."""
    return bool(staking.get("validator.bonded", account)) and not staking.get("validator.jailed", account)


def guard_refusal(store: Store, staking: Store, which: PermList, account: bytes, current: Role, new: Role) -> str | None:
    """Why a role change would leave the chain ungovernable (None: it would not); ``setRole`` applies it."""
    if current == Role.ADMIN and new < Role.ADMIN and store.get("admin.count", int(which)) <= 1:
        return "it is the list's last admin; a list keeps at least one (grant another admin first)"
    if which == PermList.TRANSACT and current >= Role.ENABLED > new and active_operator(staking, account):
        return "it operates a validator in the active set, whose transact role keeps governance reachable"
    return None


def write_role(store: Store, which: PermList, account: bytes, role: Role, current: Role | None = None) -> None:
    """Set ``account``'s role (``current``: its role now, if the caller read it) and keep ``admin.count``."""
    if current is None:
        current = role_of(store, which, account)
    store.set("role", int(which), account, int(role))
    delta = int(role == Role.ADMIN) - int(current == Role.ADMIN)
    if delta:
        store.set("admin.count", int(which), store.get("admin.count", int(which)) + delta)


def write_list_on(store: Store, which: PermList, on: bool) -> None:
    store.set("list.on", int(which), int(on))


# -- reading roles from a bare state (block validation, the mempool, RPC) ----------


def state_may_use(get_storage: Any, which: PermList, account: bytes) -> bool:
    """``may_use`` over a ``get_storage(address, slot)`` reader: no meter, no Store needed."""
    if get_storage(PERMISSIONS_ADDRESS, slot("list.on", int(which))) == 0:
        return True
    return get_storage(PERMISSIONS_ADDRESS, slot("role", int(which), account)) >= Role.ENABLED

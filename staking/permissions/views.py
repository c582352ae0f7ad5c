"""Read-only views of the permission lists over a state (RPC, CLI, reports): no gas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staking.addresses import PERMISSIONS_ADDRESS
from staking.permissions.roles import PermList, Role, list_on, role_of
from staking.store import Store


@dataclass(frozen=True)
class ListStanding:
    """One account on one list: whether the list is on, its role, and so whether it may act."""

    perm_list: PermList
    on: bool
    role: Role

    @property
    def allowed(self) -> bool:
        return not self.on or self.role >= Role.ENABLED


def standing(state: Any, account: bytes) -> tuple[ListStanding, ...]:
    """``account`` on every list, in list order."""
    store = Store(state, PERMISSIONS_ADDRESS)
    return tuple(ListStanding(which, list_on(store, which), role_of(store, which, account)) for which in PermList)

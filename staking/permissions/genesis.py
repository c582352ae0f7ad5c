"""The permissions contract at genesis: its account, which lists are on, and the first roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staking.addresses import PERMISSIONS_ADDRESS, SYSTEM_CONTRACT_CODE
from staking.params import ParamError
from staking.permissions.roles import PermList, Role, write_list_on, write_role
from staking.store import Store

MAX_GENESIS_ROLES = 1_000  # role entries a genesis may set (admins plus enabled, over all lists)


@dataclass(frozen=True)
class PermissionsGenesis:
    """The genesis ``permissions`` section: lists on (all off by default) and (list, account, role) grants."""

    transact: bool = False
    deploy: bool = False
    validator: bool = False
    roles: tuple[tuple[PermList, bytes, Role], ...] = ()

    def __post_init__(self) -> None:
        if len(self.roles) > MAX_GENESIS_ROLES:
            raise ParamError(f"permissions: {len(self.roles)} role entries; at most {MAX_GENESIS_ROLES}")
        for which, account, role in self.roles:
            if type(account) is not bytes or len(account) != 20:
                raise ParamError(f"permissions: role entries need 20-byte addresses, got {account!r}")
            PermList(which), Role(role)  # noqa: B018 - raises ValueError on a bad value

    def is_default(self) -> bool:
        return self == PermissionsGenesis()

    def list_on(self, which: PermList) -> bool:
        return bool(getattr(self, which.name.lower()))


def init_genesis_permissions(state: Any, perms: PermissionsGenesis) -> None:
    """Create 0x…1003 (nonce 1, code, like 0x…1000) and write the genesis lists and roles."""
    state.set_nonce(PERMISSIONS_ADDRESS, 1)
    state.set_code(PERMISSIONS_ADDRESS, SYSTEM_CONTRACT_CODE)
    store = Store(state, PERMISSIONS_ADDRESS)
    for which in PermList:
        if perms.list_on(which):
            write_list_on(store, which, True)
    for which, account, role in perms.roles:
        write_role(store, PermList(which), account, Role(role))

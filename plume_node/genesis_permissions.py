"""The genesis ``permissions`` section: which lists are on, and the first admins, managers, enabled accounts.

    "permissions": {
      "transact": true, "deploy": false, "validator": false,
      "admins":   ["0xADDR"],                       (admin on every list)
      "managers": {"deploy": ["0xADDR"]},           (or per list)
      "enabled":  {"transact": ["0xADDR", ...]}
    }

Every field is optional; all lists are off by default, and the section is
left out of a genesis file that holds the defaults (the file is as before the
section existed). The genesis *state* always holds the permissions account,
so the genesis block differs from an older release's: its data directory is
refused with ``GenesisMismatch``, as for any consensus-rule release.
An account named under several roles of one list gets the highest.
"""

from __future__ import annotations

from typing import Any

from eth_utils import is_hex_address, to_canonical_address, to_checksum_address

from staking.params import ParamError
from staking.permissions.genesis import MAX_GENESIS_ROLES, PermissionsGenesis
from staking.permissions.roles import LIST_NAMES, PermList, Role, list_by_name

ROLE_FIELDS = {"admins": Role.ADMIN, "managers": Role.MANAGER, "enabled": Role.ENABLED}
KNOWN_FIELDS = {*LIST_NAMES.values(), *ROLE_FIELDS}


class PermissionsGenesisError(ValueError):
    """A malformed ``permissions`` section; the message names the field."""


def _addresses(value: Any, what: str) -> list[bytes]:
    if not isinstance(value, list) or len(value) > MAX_GENESIS_ROLES:
        raise PermissionsGenesisError(f"{what} must be a list of at most {MAX_GENESIS_ROLES} addresses")
    out = []
    for item in value:
        if not isinstance(item, str) or not is_hex_address(item):
            raise PermissionsGenesisError(f"{what} must hold 0x-prefixed 20-byte hex addresses, got {str(item)[:60]!r}")
        out.append(to_canonical_address(item))
    return out


def _role_entries(value: Any, what: str, role: Role) -> list[tuple[PermList, bytes, Role]]:
    """A role field: a list (every list) or an object of list name -> addresses."""
    if isinstance(value, list):
        return [(which, a, role) for a in _addresses(value, what) for which in PermList]
    if not isinstance(value, dict):
        raise PermissionsGenesisError(f"{what} must be a list of addresses or an object of list -> addresses")
    out = []
    for name, addresses in value.items():
        which = list_by_name(name)
        if which is None:
            raise PermissionsGenesisError(f"{what}: unknown list {str(name)[:40]!r}; lists are transact, deploy, validator")
        out.extend((which, a, role) for a in _addresses(addresses, f"{what}.{name}"))
    return out


def parse_permissions(value: Any, what: str = "permissions") -> PermissionsGenesis:
    if not isinstance(value, dict):
        raise PermissionsGenesisError(f"{what} must be an object")
    unknown = set(value) - KNOWN_FIELDS
    if unknown:
        raise PermissionsGenesisError(f"{what}: unknown field(s) {', '.join(sorted(map(str, unknown)))[:200]}")
    switches = {}
    for name in LIST_NAMES.values():
        on = value.get(name, False)
        if not isinstance(on, bool):
            raise PermissionsGenesisError(f"{what}.{name} must be true or false, got {str(on)[:40]!r}")
        switches[name] = on
    best: dict[tuple[PermList, bytes], Role] = {}
    for field, role in ROLE_FIELDS.items():
        if field in value:
            for which, account, r in _role_entries(value[field], f"{what}.{field}", role):
                best[(which, account)] = max(r, best.get((which, account), Role.NONE))
    roles = tuple((which, account, role) for (which, account), role in sorted(best.items()))
    try:
        return PermissionsGenesis(**switches, roles=roles)
    except ParamError as exc:
        raise PermissionsGenesisError(str(exc)) from None


def permissions_to_json(perms: PermissionsGenesis) -> dict[str, Any]:
    """The section as ``parse_permissions`` reads it (role fields per list)."""
    out: dict[str, Any] = {name: perms.list_on(which) for which, name in LIST_NAMES.items()}
    for field, role in ROLE_FIELDS.items():
        per_list: dict[str, list[str]] = {}
        for which, account, r in perms.roles:
            if r == role:
                per_list.setdefault(LIST_NAMES[PermList(which)], []).append(to_checksum_address(account))
        if per_list:
            out[field] = per_list
    return out

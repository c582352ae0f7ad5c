"""The permissions contract's ABI as the precompile uses it: methods and events.

The shipped ABI JSON (``staking/interfaces/IPermissions.json``, compiled from
docs/IPermissions.sol) must agree with ``METHODS`` and ``EVENTS``; a test holds them together.
"""

from __future__ import annotations

import json
from importlib import resources

from staking.abi import Event, Method

SET_ROLE_GAS = 20_000  # base gas of setRole, on top of its slot reads and writes
VIEW_GAS = 1_000  # base gas of each view, on top of its slot reads

_METHODS = (
    Method("setRole", ("uint8", "address", "uint8"), (), SET_ROLE_GAS, True),
    Method("roleOf", ("uint8", "address"), ("uint8",), VIEW_GAS),
    Method("isEnabled", ("uint8",), ("bool",), VIEW_GAS),
    Method("isAllowed", ("address",), ("bool",), VIEW_GAS),
)
METHODS: dict[bytes, Method] = {m.selector: m for m in _METHODS}

ROLE_SET = Event("RoleSet", ("uint8", "address"), ("uint8", "address"))  # list, account | role, by
LIST_SWITCHED = Event("ListSwitched", ("uint8",), ("bool",))  # list | on
EVENTS = (ROLE_SET, LIST_SWITCHED)


def shipped_abi() -> list[dict]:
    """The ABI JSON shipped in the package (``staking/interfaces/IPermissions.json``), for clients."""
    text = (resources.files("staking") / "interfaces" / "IPermissions.json").read_text(encoding="utf-8")
    return json.loads(text)["abi"]

"""The permissions contract at ``0x…1003``: the system contracts' dispatch (``staking/contract.py``)
over the permissions methods: the same gas, call, value and decoding checks as the staking contract."""

from __future__ import annotations

from typing import Any

from staking.addresses import PERMISSIONS_ADDRESS
from staking.contract import SystemContract, dispatch
from staking.permissions import abi as perm_abi
from staking.permissions import methods

PERMISSIONS_CONTRACT = SystemContract(PERMISSIONS_ADDRESS, "permissions", perm_abi.METHODS, methods.HANDLERS)


def permissions_precompile(computation: Any) -> Any:
    return dispatch(PERMISSIONS_CONTRACT, computation)

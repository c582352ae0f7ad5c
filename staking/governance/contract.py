"""The governance contract at ``0x…1001``: the system contracts' dispatch (``staking/contract.py``)
over the governance methods: the same gas, call, value and decoding checks as the staking contract."""

from __future__ import annotations

from typing import Any

from staking.addresses import GOVERNANCE_ADDRESS
from staking.contract import SystemContract, dispatch
from staking.governance import abi as gov_abi
from staking.governance import methods

GOVERNANCE_CONTRACT = SystemContract(GOVERNANCE_ADDRESS, "governance", gov_abi.METHODS, methods.HANDLERS)


def governance_precompile(computation: Any) -> Any:
    return dispatch(GOVERNANCE_CONTRACT, computation)

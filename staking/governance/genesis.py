"""The governance contract at genesis: its account, ``gov.*`` in its storage, ``execution.*`` in the staking contract's."""

from __future__ import annotations

from typing import Any

from staking.addresses import GOVERNANCE_ADDRESS, SYSTEM_CONTRACT_CODE
from staking.governance.params_registry import SECTIONS, write_section
from staking.params import ExecutionParams, GovParams


def init_genesis_governance(state: Any, gov: GovParams, execution: ExecutionParams) -> None:
    """Create 0x…1001 (nonce 1, code, like 0x…1000) and write the governed genesis values."""
    state.set_nonce(GOVERNANCE_ADDRESS, 1)
    state.set_code(GOVERNANCE_ADDRESS, SYSTEM_CONTRACT_CODE)
    write_section(state, SECTIONS["gov"], gov)
    write_section(state, SECTIONS["execution"], execution)

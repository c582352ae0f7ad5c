"""The governance precompile's own views and refusals (its ABI agreement is in test_abi_agrees.py)."""

from __future__ import annotations

from staking.abi import UNKNOWN_SELECTOR_GAS
from staking.addresses import GOVERNANCE_ADDRESS
from staking.params import GovParams
from staking_harness import StakingChain


def test_params_returns_the_gov_section_in_its_order() -> None:
    gov = GovParams(min_deposit=7, voting_period=11)
    sc = StakingChain(gov=gov)
    assert sc.gov_view("params") == tuple(gov.to_mapping().values())


def test_an_unknown_selector_is_refused_and_charged() -> None:
    sc = StakingChain()
    outcome = sc.refused_raw(0, b"\xde\xad\xbe\xef", to=GOVERNANCE_ADDRESS, reason="unknown governance method selector")
    assert outcome.gas_used >= 21_000 + UNKNOWN_SELECTOR_GAS

"""docs/governance.md stays in step with the code: slot names, limits, gas, events, parameter defaults and bounds."""

from __future__ import annotations

import re
from pathlib import Path

from staking import abi
from staking.governance import abi as gov_abi
from staking.governance import methods, params_registry, proposals, rules, tally
from staking.params import DEVNET_GOV, ExecutionParams, GovParams

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "governance.md").read_text()
SLOT_NAME = re.compile(r'"((?:proposal|deposit|vote|voting)(?:[._][a-z_]+)*)"')


def test_every_slot_name_in_the_code_is_documented() -> None:
    names = set()
    for path in (ROOT / "staking" / "governance").glob("*.py"):
        names |= set(SLOT_NAME.findall(path.read_text()))
    names -= {m.name for m in gov_abi.METHODS.values()}  # "deposit", "vote": method names
    assert "proposal.voting_end" in names, "the pattern found no slot names"
    missing = sorted(n for n in names if f"`{n}`" not in DOC and f"`{n}` (" not in DOC)
    assert not missing, f"slot names missing from docs/governance.md: {missing}"


def test_limits_gas_and_events_are_documented() -> None:
    for value in (proposals.MAX_TITLE_BYTES, proposals.MAX_DESCRIPTION_BYTES, proposals.MAX_CHANGES,
                  proposals.MAX_VOTING_PROPOSALS, rules.MAX_DROPPED_PER_BLOCK, proposals.MAX_DEPOSITORS, proposals.MAX_DELEGATOR_VOTERS,
                  proposals.MIN_VOTER_POWER_BPS, tally.MAX_DELEGATIONS_SCANNED,
                  tally.MAX_DELEGATIONS_COUNTED, rules.MAX_CLOSED_PER_BLOCK, methods.MAX_PAGE,
                  methods.MIN_INITIAL_DEPOSIT_BPS, params_registry.MAX_KEY_BYTES,
                  params_registry.MAX_MIN_DEPOSIT_SUPPLY_BPS, abi.UNKNOWN_SELECTOR_GAS):
        assert f"{value:,}" in DOC, value
    for m in gov_abi.METHODS.values():
        assert f"| `{m.signature}` | `0x{m.selector.hex()}` | {m.base_gas:,} |" in DOC, m.name
    for event in gov_abi.EVENTS:
        assert f"| `{event.name}(" in DOC, event.name
    for outcome in tally.Outcome:
        if outcome != tally.Outcome.PASSED:
            assert f"({outcome.value})" in DOC, outcome


def test_parameter_defaults_devnet_values_and_sections_are_documented() -> None:
    for params, devnet in ((GovParams(), DEVNET_GOV), (ExecutionParams(), {})):
        for name, default in params.to_mapping().items():
            row = next(line for line in DOC.splitlines() if line.startswith(f"| `{name}` |"))
            assert f"{default:,}" in row, name
            if name in devnet:
                assert f"| {devnet[name]} |" in row, name
    for section in params_registry.SECTIONS:
        assert f"| `{section}` |" in DOC, section
    for heading in ("## Lifecycle", "### The tally", "### The decision", "## Bad input", "## Walk-through on the devnet"):
        assert heading in DOC

"""docs/staking.md stays in step with the code: every slot name, limit, base gas and parameter default."""

from __future__ import annotations

import re
from pathlib import Path

from eth_utils import keccak

from staking import abi, autorestake, evidence, methods, queues, validators
from staking.addresses import STAKING_ADDRESS
from staking.fees import BURN_CAUSES, SLOT_TOTAL_BURNED, SLOT_TOTAL_ISSUED, SLOT_TOTAL_SUPPLY
from staking.params import DEVNET_STAKING, MAX_SIGNED_BLOCKS_WINDOW, SlashingParams, StakingParams
from staking_harness import ADDRS, PLUME, StakingChain

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "staking.md").read_text()
SLOT_NAME = re.compile(r'"((?:param|validator|validators|consensus_key|delegation|delegator|total|ubd|red|active|rewards|autorestake|slashing)'
                       r'(?:[._][a-z_]+)*)"')


def test_every_slot_name_in_the_code_is_documented() -> None:
    names = set()
    for path in (ROOT / "staking").glob("*.py"):
        names |= set(SLOT_NAME.findall(path.read_text()))
    names -= {"param.", "redelegate", "ubd", "red"}  # prefixes and a method name
    names |= {f"{p}.{n}" for p in ("ubd", "red") for n in ("next_id", "last_time")}  # built from a prefix
    assert names, "the pattern found no slot names"
    missing = sorted(n for n in names if f"`{n}`" not in DOC and f"`{n}` (" not in DOC)
    assert not missing, f"slot names missing from docs/staking.md: {missing}"


def test_the_documented_slot_formula_reads_the_real_slot() -> None:
    sc = StakingChain()
    slot = int.from_bytes(keccak(b"validator.tokens" + bytes(12) + ADDRS[1]), "big")
    assert sc.chain.state_at().storage(STAKING_ADDRESS, slot) == 100 * PLUME


def test_limits_base_gas_and_defaults_are_documented() -> None:
    for value in (validators.MAX_REGISTERED_VALIDATORS, queues.MAX_MATURED_PER_BLOCK, queues.MAX_QUEUE_LANES,
                  queues.MAX_REDELEGATIONS_PER_DELEGATOR, methods.MAX_PAGE, validators.MAX_MONIKER_BYTES,
                  abi.MAX_REASON_BYTES, abi.UNKNOWN_SELECTOR_GAS,
                  autorestake.MAX_AUTO_RESTAKE_PAIRS, autorestake.AUTO_RESTAKE_PER_BLOCK, MAX_SIGNED_BLOCKS_WINDOW):
        assert f"{value:,}" in DOC, value
    for m in abi.METHODS.values():
        assert f"| `{m.signature}` | `0x{m.selector.hex()}` |" in DOC and f"| {m.base_gas:,} |" in DOC, m.name
    for name in ("MAX_EVIDENCE_BYTES", "SUBMIT_EVIDENCE_GAS", "EVIDENCE_GAS_PER_SET_BYTE"):
        assert f"| `{name}` | {getattr(evidence, name):,} |" in DOC, name
    defaults = StakingParams()
    for name in StakingParams.__dataclass_fields__:
        row = next(line for line in DOC.splitlines() if line.startswith(f"| `{name}` |"))
        assert f"{getattr(defaults, name):,}" in row.replace("10^18", f"{10**18:,}"), name
        if name in DEVNET_STAKING:
            assert f"| {DEVNET_STAKING[name]} |" in row, name
    slashing_defaults = SlashingParams()
    for name in SlashingParams.__dataclass_fields__:
        row = next(line for line in DOC.splitlines() if line.startswith(f"| `{name}` |"))
        assert f"| {getattr(slashing_defaults, name):,}" in row, name
    for heading in ("## How the node follows the active set", "## CLI and RPC", "## Walk-through on the devnet", "## Downtime"):
        assert heading in DOC


def test_every_supply_counter_and_burn_cause_is_documented() -> None:
    rpc_doc = (ROOT / "docs" / "rpc.md").read_text()
    for cause in BURN_CAUSES:
        assert f"`0x…1002` slot {cause.slot}" in DOC, cause
        assert f"`burnedBy{cause.name}`" in DOC and f"`burnedBy{cause.name}`" in rpc_doc, cause
    for slot in (SLOT_TOTAL_BURNED, SLOT_TOTAL_SUPPLY, SLOT_TOTAL_ISSUED):
        assert f"`0x…1002` slot {slot}" in DOC, slot

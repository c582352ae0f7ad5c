"""docs/compliance.md states the permissions precompile's selectors, gas, slots and limits (its ABI
agreement with staking/interfaces/IPermissions.json is in test_abi_agrees.py)."""

from __future__ import annotations

import re
from pathlib import Path

from plume_node.compliance import permissions_report
from staking.governance import params_registry
from staking.permissions import abi as perm_abi
from staking.permissions.genesis import MAX_GENESIS_ROLES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "compliance.md").read_text()
SOURCES = Path(__file__).resolve().parents[2] / "staking" / "permissions"


def test_the_docs_state_selectors_gas_slots_and_limits() -> None:
    for m in perm_abi.METHODS.values():
        assert f"| `{m.signature}` | `0x{m.selector.hex()}` | {m.base_gas:,} |" in DOC, m.name
    for event in perm_abi.EVENTS:
        assert f"| `{event.name}(" in DOC, event.name
    names = set()
    for path in SOURCES.glob("*.py"):
        names |= set(re.findall(r'store\.(?:get|set)\("([a-z_.]+)"', path.read_text()))
    assert names == {"list.on", "role", "admin.count"}, names
    for name in names:
        assert f"| `{name}` |" in DOC, name
    for value in (MAX_GENESIS_ROLES, permissions_report.LOGS_CHUNK_BLOCKS, permissions_report.MAX_PERMISSION_CHANGES):
        assert f"{value:,}" in DOC, value
    assert params_registry.MAX_KEY_BYTES >= len("permissions.role.validator.0x" + "00" * 20)


def test_the_docs_do_not_claim_the_default_genesis_hash_is_unchanged() -> None:
    # 0x…1003 is created at every genesis, so the genesis state root (and block hash) changed
    # with this release; only the genesis *file* is unchanged at the defaults.
    from plume_node import genesis, genesis_permissions

    flat = " ".join(DOC.split())
    assert "genesis hash is unchanged" not in flat
    assert "genesis *state* is not" in flat and "`GenesisMismatch`" in flat
    for module in (genesis, genesis_permissions):
        text = " ".join(Path(module.__file__).read_text().split())
        assert "hash is unchanged" not in text and "hashes as it did" not in text, module.__name__


def test_the_docs_state_the_read_counts_and_the_scope_limits() -> None:
    security = " ".join((Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text().split())
    assert "at most four slots of `0x…1003`" in security and "reads at most two slots per transaction" not in security
    flat = " ".join(DOC.split())
    for limit in ("The transact list guards `tx.origin` only", "`permit`", "bundler", "`transferFrom`",
                  "checks `msg.sender` of `createValidator`", "does not affect a registered validator"):
        assert limit in flat, limit

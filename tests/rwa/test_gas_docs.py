"""docs/tokenization.md is in step with the contracts: its gas table and error names.

One fixed scenario runs the common calls on real py-evm and records each
transaction's gas (the whole transaction: 21000 base, calldata and execution).
The docs table must list exactly these calls with exactly these numbers: a
change to a contract or the compiler settings shows up here. Run this file as
a script to print the table (``.venv/bin/python tests/rwa/test_gas_docs.py``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if __name__ == "__main__":  # as a script: the test helpers' folders on the path
    here = Path(__file__).resolve()
    sys.path[:0] = [str(here.parents[1] / "support"), str(here.parent)]

from contracts import ADDRS, ETHER, KEYS, REPO, ContractChain, load_artifact  # noqa: E402
from rwa_fixtures import MAX_UINT, RECIPIENT, VERIFIERS, attestation  # noqa: E402

DOC = REPO / "docs" / "tokenization.md"
ROW_RE = re.compile(r"^\| `([\w.]+(?: \([^)]*\))?)` \| ([\d,]+) \|", re.M)
ISSUER, A, B, C = 0, 1, 2, 3
ZERO = b"\0" * 20


def measure() -> dict[str, int]:
    gas: dict[str, int] = {}
    chain = ContractChain()

    def record(label: str, outcome) -> None:
        gas[label] = outcome.gas_used

    factory = chain.deploy("AssetTokenFactory")
    record("AssetTokenFactory.createAssetToken", factory.send(ISSUER, "createAssetToken", "Solar", "SUN"))
    (event,) = factory.events(chain.transact(ISSUER, factory.address, factory.calldata(
        "createAssetToken", "Solar 2", "SUN2")), "Created")
    token = chain.at("AssetToken", bytes.fromhex(event["asset"][2:]))
    record("AssetToken.registerIdentity", token.send(ISSUER, "registerIdentity", ADDRS[A], 276))
    token.send(ISSUER, "registerIdentity", ADDRS[B], 250)
    record("AssetToken.mint (new holder)", token.send(ISSUER, "mint", ADDRS[A], 1_000 * ETHER))
    record("AssetToken.transfer (new holder)", token.send(A, "transfer", ADDRS[B], 10 * ETHER))
    record("AssetToken.transfer", token.send(A, "transfer", ADDRS[B], 10 * ETHER))
    record("AssetToken.freezePartialTokens", token.send(ISSUER, "freezePartialTokens", ADDRS[A], ETHER))
    record("AssetToken.forcedTransfer", token.send(ISSUER, "forcedTransfer", ADDRS[A], ADDRS[B], ETHER))

    asset = chain.deploy("TestToken", "USD", "USD")
    revenue = chain.deploy("TestToken", "REV", "REV")
    for who in (ISSUER, A, B):
        for t in (asset, revenue):
            t.send(who, "mint", ADDRS[who], 10_000 * ETHER)
    vault_factory = chain.deploy("RevenueShareVaultFactory")
    outcome = vault_factory.send(ISSUER, "createRevenueShareVault", asset.address, revenue.address, "GPU", "GPU")
    record("RevenueShareVaultFactory.createRevenueShareVault", outcome)
    vault = chain.at("RevenueShareVault", bytes.fromhex(vault_factory.events(outcome, "Created")[0]["asset"][2:]))
    for who in (ISSUER, A, B):
        asset.send(who, "approve", vault.address, MAX_UINT)
        revenue.send(who, "approve", vault.address, MAX_UINT)
    record("RevenueShareVault.deposit (first)", vault.send(A, "deposit", 100 * ETHER, ADDRS[A]))
    record("RevenueShareVault.deposit", vault.send(B, "deposit", 100 * ETHER, ADDRS[B]))
    record("RevenueShareVault.distributeNative", vault.send(ISSUER, "distributeNative", value=ETHER))
    record("RevenueShareVault.distributeToken", vault.send(ISSUER, "distributeToken", ETHER))
    record("RevenueShareVault.transfer", vault.send(A, "transfer", ADDRS[B], 10 * ETHER))
    record("RevenueShareVault.claim", vault.send(A, "claim"))
    record("RevenueShareVault.redeem", vault.send(B, "redeem", 10 * ETHER, ADDRS[B], ADDRS[B]))

    milestone_factory = chain.deploy("MilestoneVaultFactory")
    deadline = chain.timestamp + 100
    outcome = milestone_factory.send(
        ISSUER, "createMilestoneVault", asset.address, "School", "SCH", deadline, [ADDRS[v] for v in VERIFIERS], 2,
        [(10 * ETHER, 0, ADDRS[RECIPIENT], deadline + 100), (0, 1_000, ADDRS[RECIPIENT], deadline + 200)],
    )
    record("MilestoneVaultFactory.createMilestoneVault (3 verifiers, 2 milestones)", outcome)
    milestone = chain.at("MilestoneVault", bytes.fromhex(
        milestone_factory.events(outcome, "Created")[0]["asset"][2:]))
    asset.send(A, "approve", milestone.address, MAX_UINT)
    record("MilestoneVault.deposit", milestone.send(A, "deposit", 100 * ETHER, ADDRS[A]))
    chain.advance_to(deadline)
    evidence = b"\x11" * 32
    signatures = [attestation(milestone.address, 0, evidence, KEYS[v]) for v in VERIFIERS]
    record("MilestoneVault.attest (first, below quorum, records the raise)", milestone.send(A, "attest", 0, evidence, signatures[0]))
    record("MilestoneVault.attest (reaches quorum, releases)", milestone.send(A, "attest", 0, evidence,
                                                                             signatures[1]))

    escrow_factory = chain.deploy("EscrowVaultFactory")
    outcome = escrow_factory.send(A, "createEscrow", ADDRS[B], ADDRS[C], ZERO, ETHER, chain.timestamp + 1_000)
    record("EscrowVaultFactory.createEscrow", outcome)
    escrow = chain.at("EscrowVault", bytes.fromhex(escrow_factory.events(outcome, "Created")[0]["asset"][2:]))
    record("EscrowVault.fund (native)", escrow.send(A, "fund", value=ETHER))
    record("EscrowVault.dispute", escrow.send(B, "dispute"))
    record("EscrowVault.resolve (split)", escrow.send(C, "resolve", ETHER // 2))

    rights_factory = chain.deploy("UsageRightsFactory")
    outcome = rights_factory.send(ISSUER, "createUsageRights")
    record("UsageRightsFactory.createUsageRights", outcome)
    rights = chain.at("UsageRightsToken", bytes.fromhex(rights_factory.events(outcome, "Created")[0]["asset"][2:]))
    start = chain.timestamp + 1_000
    record("UsageRightsToken.createRight", rights.send(ISSUER, "createRight", start, start + 3_600, 40, "ipfs://x"))
    record("UsageRightsToken.mint", rights.send(ISSUER, "mint", ADDRS[A], 1, 2, b""))
    record("UsageRightsToken.safeTransferFrom", rights.send(A, "safeTransferFrom", ADDRS[A], ADDRS[B], 1, 1, b""))
    return gas


def documented() -> dict[str, int]:
    return {name: int(number.replace(",", "")) for name, number in ROW_RE.findall(DOC.read_text())}


def table(gas: dict[str, int]) -> str:
    return "\n".join(f"| `{name}` | {value:,} |" for name, value in gas.items())


def test_the_docs_gas_table_matches_the_measured_gas() -> None:
    measured = measure()
    assert documented() == measured, "docs/tokenization.md's gas table is stale; rows:\n" + table(measured)


RWA_CONTRACTS = ("AssetToken", "RevenueShareVault", "MilestoneVault", "EscrowVault", "UsageRightsToken",
                 "AssetTokenFactory")


def test_every_custom_error_is_named_in_the_docs() -> None:
    text = DOC.read_text()
    for name in RWA_CONTRACTS:
        for entry in load_artifact(name)["abi"]:
            if entry["type"] in ("error", "event"):
                what = f"{name}: {entry['type']} {entry['name']}"
                assert re.search(rf"\b{entry['name']}\b", text), f"{what} is not in docs/tokenization.md"


if __name__ == "__main__":
    print(table(measure()))

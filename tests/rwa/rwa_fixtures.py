"""Shared set-ups of the RWA contract tests: funded holders and deployed vaults."""

from __future__ import annotations

from dataclasses import dataclass

from contracts import ADDRS, ETHER, Contract, ContractChain

MAX_UINT = 2**256 - 1
SHARE_OFFSET = 10**6  # Vault4626.DECIMALS_OFFSET = 6: a first deposit mints assets * 1e6 shares
START_TOKENS = 1_000_000 * ETHER


@dataclass
class RevenueSetup:
    chain: ContractChain
    asset: Contract
    revenue: Contract
    vault: Contract


def fund(asset: Contract, vault: Contract, holders, amount: int = START_TOKENS) -> None:
    """Mint ``amount`` of ``asset`` to each holder and approve ``vault`` for all of it."""
    for who in holders:
        asset.send(who, "mint", ADDRS[who], amount)
        asset.send(who, "approve", vault.address, MAX_UINT)


def revenue_setup(holders=(1, 2, 3), issuer: int = 0) -> RevenueSetup:
    chain = ContractChain()
    asset = chain.deploy("TestToken", "Asset", "AST", who=issuer)
    revenue = chain.deploy("TestToken", "Revenue", "REV", who=issuer)
    vault = chain.deploy(
        "RevenueShareVault", asset.address, revenue.address, ADDRS[issuer], "GPU revenue", "GPUR", who=issuer
    )
    fund(asset, vault, holders)
    revenue.send(issuer, "mint", ADDRS[issuer], START_TOKENS)
    revenue.send(issuer, "approve", vault.address, MAX_UINT)
    return RevenueSetup(chain, asset, revenue, vault)

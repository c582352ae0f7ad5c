"""Shared set-ups of the RWA contract tests: funded holders and deployed vaults."""

from __future__ import annotations

from dataclasses import dataclass

from contracts import ADDRS, CHAIN_ID, ETHER, Contract, ContractChain
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import to_checksum_address

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


# --- milestone vaults and EIP-712 attestations --------------------------------------

VERIFIERS = (6, 7, 8)  # account indexes of the three verifiers
RECIPIENT = 9
DEPOSIT_WINDOW = 100  # seconds from deployment to the deposit deadline
MILESTONE_STEP = 100  # seconds between milestone deadlines


@dataclass
class MilestoneSetup:
    chain: ContractChain
    asset: Contract
    vault: Contract
    deposit_deadline: int
    milestones: list  # (amount, shareBps, recipient, deadline)


def milestone_setup(amounts=(100 * ETHER, 200 * ETHER, 300 * ETHER), quorum: int = 2,
                    backers=(1, 2, 3), shares_bps=None) -> MilestoneSetup:
    """A vault with one milestone per amount (or, given ``shares_bps``, per share of the raise)."""
    chain = ContractChain()
    asset = chain.deploy("TestToken", "Asset", "AST")
    deposit_deadline = chain.timestamp + DEPOSIT_WINDOW
    terms = [(0, bps) for bps in shares_bps] if shares_bps else [(amount, 0) for amount in amounts]
    milestones = [
        (amount, bps, ADDRS[RECIPIENT], deposit_deadline + MILESTONE_STEP * (i + 1))
        for i, (amount, bps) in enumerate(terms)
    ]
    vault = chain.deploy(
        "MilestoneVault", asset.address, ADDRS[0], "School mission", "SCHOOL", deposit_deadline,
        [ADDRS[v] for v in VERIFIERS], quorum, milestones,
    )
    fund(asset, vault, backers)
    return MilestoneSetup(chain, asset, vault, deposit_deadline, milestones)


def attestation(vault_address: bytes, milestone: int, evidence: bytes, signer_key: bytes,
                chain_id: int = CHAIN_ID) -> bytes:
    """A verifier's EIP-712 signature (r || s || v) of a milestone attestation."""
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
            ],
            "MilestoneAttestation": [{"name": "milestone", "type": "uint256"}, {"name": "evidence", "type": "bytes32"}],
        },
        "primaryType": "MilestoneAttestation",
        "domain": {"name": "PlumeMilestoneVault", "version": "1", "chainId": chain_id,
                   "verifyingContract": to_checksum_address(vault_address)},
        "message": {"milestone": milestone, "evidence": evidence},
    }
    signed = Account.sign_message(encode_typed_data(full_message=typed), signer_key)
    return bytes(signed.signature)

"""The RWA factories on real py-evm: one call creates a token or vault owned by
the caller, a Created event carries its address, and the registry lists what
each issuer created (paged)."""

from __future__ import annotations

import pytest
from contracts import ADDRS, ETHER, ContractChain, load_artifact
from rwa_fixtures import RECIPIENT, VERIFIERS

ISSUER, OTHER, PAYEE, ARBITER = 0, 1, 2, 3
EIP170_MAX_CODE = 24_576
ZERO = b"\0" * 20
RWA_CONTRACTS = (
    "AssetToken", "UsageRightsToken", "MilestoneVault", "RevenueShareVault", "EscrowVault",
    "AssetTokenFactory", "UsageRightsFactory", "MilestoneVaultFactory", "RevenueShareVaultFactory",
    "EscrowVaultFactory",
)


@pytest.fixture
def chain() -> ContractChain:
    return ContractChain()


def created(chain, factory, outcome, name: str):
    (event,) = factory.events(outcome, "Created")
    address = bytes.fromhex(event["asset"][2:])
    assert factory.view("isCreated", address) is True
    return chain.at(name, address), event


@pytest.mark.parametrize("name", RWA_CONTRACTS)
def test_every_contract_fits_the_code_size_limit(name) -> None:
    assert len(bytes.fromhex(load_artifact(name)["deployedBytecode"][2:])) <= EIP170_MAX_CODE


def test_asset_token_factory_and_the_registry(chain) -> None:
    factory = chain.deploy("AssetTokenFactory")
    tokens = []
    for symbol in ("SUN", "GPU", "ROOF"):
        outcome = factory.send(ISSUER, "createAssetToken", f"{symbol} shares", symbol)
        token, event = created(chain, factory, outcome, "AssetToken")
        assert event["issuer"] == "0x" + ADDRS[ISSUER].hex() and event["index"] == len(tokens)
        tokens.append(token)
    factory.send(OTHER, "createAssetToken", "Other", "OTH")
    assert tokens[0].view("owner") == "0x" + ADDRS[ISSUER].hex()
    assert tokens[1].view("symbol") == "GPU"
    tokens[0].send(ISSUER, "registerIdentity", ADDRS[OTHER], 276)
    tokens[0].send(ISSUER, "mint", ADDRS[OTHER], 5)
    listed = ["0x" + t.address.hex() for t in tokens]
    assert factory.view("createdCount", ADDRS[ISSUER]) == 3
    assert list(factory.view("createdBy", ADDRS[ISSUER], 0, 100)) == listed
    assert list(factory.view("createdBy", ADDRS[ISSUER], 1, 1)) == listed[1:2]
    assert list(factory.view("createdBy", ADDRS[ISSUER], 5, 10)) == []
    assert list(factory.view("createdBy", ADDRS[ISSUER], 2**256 - 1, 100)) == []  # no overflow
    assert factory.view("totalCreated") == 4
    revert = factory.refused(ISSUER, "PageTooLarge", "createdBy", ADDRS[ISSUER], 0, 101)
    assert revert.args == (101, 100)


def test_vault_and_rights_factories_create_working_contracts(chain) -> None:
    asset = chain.deploy("TestToken", "USD", "USD")
    revenue_factory = chain.deploy("RevenueShareVaultFactory")
    outcome = revenue_factory.send(ISSUER, "createRevenueShareVault", asset.address, ZERO, "Solar", "SOLR")
    vault, _ = created(chain, revenue_factory, outcome, "RevenueShareVault")
    assert vault.view("issuer") == "0x" + ADDRS[ISSUER].hex()
    assert vault.view("asset") == "0x" + asset.address.hex()

    milestone_factory = chain.deploy("MilestoneVaultFactory")
    deadline = chain.timestamp + 100
    outcome = milestone_factory.send(
        ISSUER, "createMilestoneVault", asset.address, "School", "SCH", deadline, [ADDRS[v] for v in VERIFIERS], 2,
        [(ETHER, 0, ADDRS[RECIPIENT], deadline + 100)],
    )
    milestone, _ = created(chain, milestone_factory, outcome, "MilestoneVault")
    assert milestone.view("quorum") == 2 and milestone.view("milestoneCount") == 1
    # a bad configuration reverts the whole creation with the vault's own error
    bad = milestone_factory.refused(
        ISSUER, "InvalidConfiguration", "createMilestoneVault", asset.address, "S", "S", deadline,
        [ADDRS[v] for v in VERIFIERS], 4, [(ETHER, 0, ADDRS[RECIPIENT], deadline + 100)],
    )
    assert bad.args == ("quorum",)

    escrow_factory = chain.deploy("EscrowVaultFactory")
    outcome = escrow_factory.send(ISSUER, "createEscrow", ADDRS[PAYEE], ADDRS[ARBITER], ZERO, ETHER,
                                  chain.timestamp + 100)
    escrow, _ = created(chain, escrow_factory, outcome, "EscrowVault")
    escrow.send(ISSUER, "fund", value=ETHER)  # the creator is the payer
    escrow.send(ISSUER, "release")
    assert escrow.view("state") == 3

    rights_factory = chain.deploy("UsageRightsFactory")
    outcome = rights_factory.send(OTHER, "createUsageRights")
    rights, _ = created(chain, rights_factory, outcome, "UsageRightsToken")
    assert rights.view("issuer") == "0x" + ADDRS[OTHER].hex()
    assert rights_factory.view("createdCount", ADDRS[ISSUER]) == 0


def test_factories_predeployed_in_genesis_work_at_their_fixed_addresses() -> None:
    from eth._utils.address import generate_contract_address

    from execution.contracts.rwa.predeploy import FACTORY_ADDRESSES, factory_accounts

    chain = ContractChain(extra_alloc=factory_accounts())
    assert [a.hex()[-4:] for a in FACTORY_ADDRESSES.values()] == ["2000", "2001", "2002", "2003", "2004"]
    factory = chain.at("AssetTokenFactory", FACTORY_ADDRESSES["AssetTokenFactory"])
    outcome = factory.send(ISSUER, "createAssetToken", "Solar", "SUN")
    token, _ = created(chain, factory, outcome, "AssetToken")
    assert token.address == generate_contract_address(factory.address, 1)  # the predeploy's nonce is 1
    assert token.view("owner") == "0x" + ADDRS[ISSUER].hex()
    escrows = chain.at("EscrowVaultFactory", FACTORY_ADDRESSES["EscrowVaultFactory"])
    created(chain, escrows, escrows.send(OTHER, "createEscrow", ADDRS[PAYEE], ADDRS[ARBITER], ZERO, ETHER,
                                         chain.timestamp + 100), "EscrowVault")
    assert escrows.view("createdCount", ADDRS[OTHER]) == 1

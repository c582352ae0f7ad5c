"""AssetToken (ERC-3643 core) on real py-evm: verified holders, compliance, agent powers.

Every refused call is checked to revert with its named custom error and to move
nothing (``Contract.refused``: storage of every deployed contract and every
balance as before, but the sender's gas).
"""

from __future__ import annotations

import pytest
from contracts import ADDRS, ContractChain

ISSUER, ALICE, BOB, CAROL, MALLORY = 0, 1, 2, 3, 4
GERMANY, FRANCE, USA = 276, 250, 840


@pytest.fixture
def chain() -> ContractChain:
    return ContractChain()


@pytest.fixture
def token(chain: ContractChain):
    token = chain.deploy("AssetToken", "Solar Co-op", "SUN", ADDRS[ISSUER], who=ISSUER)
    token.send(ISSUER, "registerIdentity", ADDRS[ALICE], GERMANY)
    token.send(ISSUER, "registerIdentity", ADDRS[BOB], FRANCE)
    token.send(ISSUER, "mint", ADDRS[ALICE], 1_000)
    return token


def balances(token) -> list[int]:
    return [token.view("balanceOf", ADDRS[i]) for i in (ALICE, BOB, CAROL)]


def test_verified_holders_transfer_and_an_unverified_address_is_refused(token) -> None:
    token.send(ALICE, "transfer", ADDRS[BOB], 300)
    assert balances(token) == [700, 300, 0]
    assert token.view("holderCount") == 2
    revert = token.refused(ALICE, "ReceiverNotVerified", "transfer", ADDRS[CAROL], 1)
    assert revert.args == ("0x" + ADDRS[CAROL].hex(),)
    assert token.view("canTransfer", ADDRS[ALICE], ADDRS[CAROL], 1) == (False, 4)  # Refusal.UnverifiedReceiver
    assert token.view("canTransfer", ADDRS[ALICE], ADDRS[BOB], 1) == (True, 0)
    token.refused(ISSUER, "ReceiverNotVerified", "mint", ADDRS[CAROL], 5)


def test_only_agents_and_the_owner_hold_the_powers(token) -> None:
    for name, args in [
        ("mint", (ADDRS[MALLORY], 1)), ("burn", (ADDRS[ALICE], 1)), ("pause", ()),
        ("setAddressFrozen", (ADDRS[ALICE], True)), ("forcedTransfer", (ADDRS[ALICE], ADDRS[BOB], 1)),
        ("registerIdentity", (ADDRS[MALLORY], USA)), ("recoveryAddress", (ADDRS[ALICE], ADDRS[MALLORY])),
    ]:
        token.refused(MALLORY, "NotAgent", name, *args)
    token.refused(MALLORY, "NotOwner", "addAgent", ADDRS[MALLORY])
    token.refused(MALLORY, "NotOwner", "setMaxBalance", 1)
    token.send(ISSUER, "addAgent", ADDRS[CAROL])
    token.send(CAROL, "mint", ADDRS[BOB], 5)
    token.send(ISSUER, "removeAgent", ADDRS[CAROL])
    token.refused(CAROL, "NotAgent", "mint", ADDRS[BOB], 5)


def test_frozen_addresses_and_frozen_balances(token) -> None:
    token.send(ISSUER, "setAddressFrozen", ADDRS[ALICE], True)
    token.refused(ALICE, "SenderFrozen", "transfer", ADDRS[BOB], 1)
    token.send(ISSUER, "setAddressFrozen", ADDRS[ALICE], False)
    token.send(ISSUER, "setAddressFrozen", ADDRS[BOB], True)
    token.refused(ALICE, "ReceiverFrozen", "transfer", ADDRS[BOB], 1)
    token.send(ISSUER, "setAddressFrozen", ADDRS[BOB], False)

    token.send(ISSUER, "freezePartialTokens", ADDRS[ALICE], 800)
    revert = token.refused(ALICE, "InsufficientUnfrozenBalance", "transfer", ADDRS[BOB], 201)
    assert revert.args[1:] == (200, 201)
    token.send(ALICE, "transfer", ADDRS[BOB], 200)
    token.refused(ISSUER, "InvalidFreezeAmount", "freezePartialTokens", ADDRS[ALICE], 1)
    token.refused(ISSUER, "InvalidFreezeAmount", "unfreezePartialTokens", ADDRS[ALICE], 801)
    token.send(ISSUER, "unfreezePartialTokens", ADDRS[ALICE], 100)
    assert token.view("frozenTokens", ADDRS[ALICE]) == 700


def test_forced_transfer_ignores_freezes_and_pause_but_needs_a_verified_receiver(token) -> None:
    token.send(ISSUER, "freezePartialTokens", ADDRS[ALICE], 900)
    token.send(ISSUER, "setAddressFrozen", ADDRS[ALICE], True)
    token.send(ISSUER, "pause")
    token.refused(ISSUER, "ReceiverNotVerified", "forcedTransfer", ADDRS[ALICE], ADDRS[CAROL], 1)
    outcome = token.send(ISSUER, "forcedTransfer", ADDRS[ALICE], ADDRS[BOB], 400)
    assert token.events(outcome, "ForcedTransfer")[0]["amount"] == 400
    assert token.events(outcome, "TokensUnfrozen")[0]["amount"] == 300  # 100 free + 300 unfrozen
    assert balances(token) == [600, 400, 0]
    assert token.view("frozenTokens", ADDRS[ALICE]) == 600


def test_pause_and_lockup_stop_holder_transfers(chain, token) -> None:
    token.send(ISSUER, "pause")
    token.refused(ALICE, "TokenPaused", "transfer", ADDRS[BOB], 1)
    token.send(ISSUER, "unpause")
    until = chain.timestamp + 100
    token.send(ISSUER, "setLockup", until)
    revert = token.refused(ALICE, "LockedUp", "transfer", ADDRS[BOB], 1)
    assert revert.args == (until,)
    token.send(ISSUER, "mint", ADDRS[BOB], 1)  # issuance goes on during the lock-up
    chain.advance_to(until)
    token.send(ALICE, "transfer", ADDRS[BOB], 1)
    assert balances(token) == [999, 2, 0]


def test_holder_caps_and_countries(token) -> None:
    token.send(ISSUER, "setMaxBalance", 500)
    revert = token.refused(ALICE, "MaxBalanceExceeded", "transfer", ADDRS[BOB], 501)
    assert revert.args[1:] == (501, 500)
    token.send(ALICE, "transfer", ADDRS[BOB], 500)
    token.send(ISSUER, "setMaxBalance", 0)

    token.send(ISSUER, "registerIdentity", ADDRS[CAROL], USA)
    token.send(ISSUER, "setMaxHolders", 2)
    token.refused(ALICE, "MaxHoldersExceeded", "transfer", ADDRS[CAROL], 1)
    token.refused(ISSUER, "MaxHoldersExceeded", "mint", ADDRS[CAROL], 1)
    token.send(ISSUER, "setMaxHolders", 3)
    token.send(ALICE, "transfer", ADDRS[CAROL], 1)

    token.send(ISSUER, "setCountryRestricted", True)
    token.send(ISSUER, "setCountryAllowed", GERMANY, True)
    token.send(ISSUER, "setCountryAllowed", FRANCE, True)
    revert = token.refused(ALICE, "CountryNotAllowed", "transfer", ADDRS[CAROL], 1)
    assert revert.args[1] == USA
    token.send(BOB, "transfer", ADDRS[ALICE], 1)


def test_wallet_recovery_moves_balance_freezes_and_identity(token) -> None:
    token.send(ISSUER, "freezePartialTokens", ADDRS[ALICE], 250)
    token.refused(ISSUER, "NothingToRecover", "recoveryAddress", ADDRS[CAROL], ADDRS[MALLORY])
    outcome = token.send(ISSUER, "recoveryAddress", ADDRS[ALICE], ADDRS[CAROL])
    assert token.events(outcome, "RecoverySuccess")
    assert balances(token) == [0, 0, 1_000]
    assert token.view("frozenTokens", ADDRS[CAROL]) == 250
    assert token.view("identity", ADDRS[CAROL]) == (True, GERMANY)
    assert token.view("isVerified", ADDRS[ALICE]) is False
    assert token.view("holderCount") == 1


def test_burn_unfreezes_what_it_takes_and_keeps_the_holder_count(token) -> None:
    token.send(ISSUER, "freezePartialTokens", ADDRS[ALICE], 1_000)
    token.send(ISSUER, "burn", ADDRS[ALICE], 1_000)
    assert token.view("totalSupply") == 0
    assert token.view("frozenTokens", ADDRS[ALICE]) == 0
    assert token.view("holderCount") == 0
    token.refused(ISSUER, "InsufficientBalance", "burn", ADDRS[ALICE], 1)


def test_the_permissions_link_verifies_no_one_while_nobody_holds_a_role(token) -> None:
    """The chain's permissions contract (0x…1003) with every list off and no roles: linking it verifies no one."""
    address = token.view("DEFAULT_PERMISSIONS")
    assert address == "0x0000000000000000000000000000000000001003"
    token.send(ISSUER, "setPermissionsContract", address)
    assert token.view("isVerified", ADDRS[CAROL]) is False
    token.refused(ALICE, "ReceiverNotVerified", "transfer", ADDRS[CAROL], 1)


def test_the_permissions_link_accepts_the_allowlists_accounts(chain, token) -> None:
    allowlist = chain.deploy("TestAllowlist")
    token.send(ISSUER, "setPermissionsContract", allowlist.address)
    allowlist.send(ISSUER, "set", ADDRS[CAROL], True)
    assert token.view("identity", ADDRS[CAROL]) == (True, 0)  # verified, no country known
    token.send(ALICE, "transfer", ADDRS[CAROL], 10)
    allowlist.send(ISSUER, "set", ADDRS[CAROL], False)
    token.refused(ALICE, "ReceiverNotVerified", "transfer", ADDRS[CAROL], 1)


def test_a_token_linked_to_the_chains_permissions_contract_admits_its_enabled_accounts() -> None:
    """0x…1003's isAllowed: enabled (or above) on the transact list; granted and revoked by its admin."""
    from eth_abi import encode

    from staking.addresses import PERMISSIONS_ADDRESS
    from staking.permissions import abi as perm_abi
    from staking.permissions.genesis import PermissionsGenesis
    from staking.permissions.roles import PermList, Role

    chain = ContractChain(permissions=PermissionsGenesis(roles=((PermList.TRANSACT, ADDRS[ISSUER], Role.ADMIN),)))
    token = chain.deploy("AssetToken", "Solar Co-op", "SUN", ADDRS[ISSUER], who=ISSUER)
    token.send(ISSUER, "registerIdentity", ADDRS[ALICE], GERMANY)
    token.send(ISSUER, "mint", ADDRS[ALICE], 1_000)
    token.send(ISSUER, "setPermissionsContract", token.view("DEFAULT_PERMISSIONS"))
    (set_role,) = [m for m in perm_abi.METHODS.values() if m.name == "setRole"]

    def grant(role: Role) -> None:
        data = set_role.selector + encode(list(set_role.inputs), [int(PermList.TRANSACT), ADDRS[CAROL], int(role)])
        assert chain.transact(ISSUER, PERMISSIONS_ADDRESS, data).ok

    token.refused(ALICE, "ReceiverNotVerified", "transfer", ADDRS[CAROL], 1)
    grant(Role.ENABLED)
    assert token.view("isVerified", ADDRS[CAROL]) is True
    token.send(ALICE, "transfer", ADDRS[CAROL], 10)
    assert token.view("balanceOf", ADDRS[CAROL]) == 10
    grant(Role.NONE)
    token.refused(ALICE, "ReceiverNotVerified", "transfer", ADDRS[CAROL], 1)

"""RevenueShareVault on real py-evm: pro-rata revenue exact to the wei, the
ERC-4626 rules, the inflation attack, and each refusal with its custom error."""

from __future__ import annotations

import pytest
from contracts import ADDRS, ETHER
from rwa_fixtures import SHARE_OFFSET, revenue_setup

ISSUER, A, B, C, ATTACKER = 0, 1, 2, 3, 4
NATIVE, TOKEN = 0, 1


@pytest.fixture
def setup():
    return revenue_setup()


def claim(setup, who: int) -> tuple[int, int]:
    """Claim and return (native, token) received, checked against the balances."""
    native_before = setup.chain.balance(ADDRS[who])
    token_before = setup.revenue.view("balanceOf", ADDRS[who])
    outcome = setup.vault.send(who, "claim")
    (event,) = setup.vault.events(outcome, "RevenueClaimed")
    fee = outcome.gas_used * (setup.chain.chain.head.base_fee_per_gas + 10**9)
    assert setup.chain.balance(ADDRS[who]) == native_before - fee + event["nativeAmount"]
    assert setup.revenue.view("balanceOf", ADDRS[who]) == token_before + event["tokenAmount"]
    return event["nativeAmount"], event["tokenAmount"]


def test_three_holders_two_distributions_with_a_transfer_between_claims_exact(setup) -> None:
    vault = setup.vault
    for who, assets in ((A, 1_000), (B, 2_000), (C, 3_000)):
        vault.send(who, "deposit", assets * ETHER, ADDRS[who])
    assert vault.view("balanceOf", ADDRS[B]) == 2_000 * ETHER * SHARE_OFFSET

    vault.send(ISSUER, "distributeNative", value=6 * ETHER)  # 1 : 2 : 3
    vault.send(B, "transfer", ADDRS[A], 1_000 * ETHER * SHARE_OFFSET)  # now 2 : 1 : 3
    vault.send(ISSUER, "distributeToken", 600 * ETHER)

    assert vault.view("claimable", ADDRS[A]) == (1 * ETHER, 200 * ETHER)
    assert claim(setup, A) == (1 * ETHER, 200 * ETHER)
    assert claim(setup, B) == (2 * ETHER, 100 * ETHER)
    assert claim(setup, C) == (3 * ETHER, 300 * ETHER)
    for stream, total in ((NATIVE, 6 * ETHER), (TOKEN, 600 * ETHER)):
        index, remainder, distributed, claimed = vault.view("streamInfo", stream)
        assert (remainder, distributed, claimed) == (0, total, total)
    assert setup.chain.balance(vault.address) == 0
    vault.refused(A, "NothingToClaim", "claim")


def test_dust_is_booked_and_paid_once_the_fractions_add_up(setup) -> None:
    """10 wei over holdings 1:2:3 is 1.67, 3.33 and 5 wei. The index is floored per share
    (the remainder carried to the next distribution), so C's fifth wei is a hair short:
    1, 3 and 4 whole wei are claimable and 2 wei are dust, held and booked. 2 wei more
    complete the remainder: 2, 4 and 6 in all, exactly, and nothing is left."""
    vault = setup.vault
    for who, assets in ((A, 1), (B, 2), (C, 3)):
        vault.send(who, "deposit", assets, ADDRS[who])
    vault.send(ISSUER, "distributeNative", value=10)
    assert [vault.view("claimable", ADDRS[w])[0] for w in (A, B, C)] == [1, 3, 4]
    assert claim(setup, A)[0] == 1
    assert setup.chain.balance(vault.address) == 9  # 1 wei of dust held, not lost
    vault.send(ISSUER, "distributeNative", value=2)
    assert [claim(setup, w)[0] for w in (A, B, C)] == [1, 4, 6]
    assert setup.chain.balance(vault.address) == 0


def test_refusals_name_their_error_and_move_nothing(setup) -> None:
    vault = setup.vault
    vault.refused(ISSUER, "NoShares", "distributeNative", value=ETHER)
    vault.refused(ISSUER, "NoShares", "distributeToken", ETHER)
    vault.refused(A, "ZeroAmount", "deposit", 0, ADDRS[A])
    vault.send(A, "deposit", 100, ADDRS[A])
    vault.refused(A, "NothingToClaim", "claim")
    vault.refused(ISSUER, "ZeroAmount", "distributeNative")
    revert = vault.refused(A, "ExceededMaxWithdraw", "withdraw", 101, ADDRS[A], ADDRS[A])
    assert revert.args[1:] == (101, 100)
    vault.refused(A, "ExceededMaxRedeem", "redeem", 100 * SHARE_OFFSET + 1, ADDRS[A], ADDRS[A])
    vault.refused(B, "InsufficientAllowance", "redeem", 1, ADDRS[B], ADDRS[A])
    vault.refused(B, "InsufficientBalance", "transfer", ADDRS[A], 1)


def test_withdraw_and_redeem_round_in_the_vaults_favour(setup) -> None:
    vault, asset = setup.vault, setup.asset
    vault.send(A, "deposit", 1_000, ADDRS[A])
    asset.send(B, "transfer", vault.address, 7)  # a donation makes the share price odd
    shares = vault.view("previewWithdraw", 10)
    assert vault.view("convertToAssets", shares) >= 10  # withdrawing burns enough
    assert vault.view("previewMint", 10**6) >= vault.view("convertToAssets", 10**6)
    before = asset.view("balanceOf", ADDRS[A])
    vault.send(A, "withdraw", 10, ADDRS[A], ADDRS[A])
    assert asset.view("balanceOf", ADDRS[A]) == before + 10


def test_first_depositor_inflation_attack_fails() -> None:
    """The attacker deposits 1 wei, then donates 1000 tokens to the vault before the
    victim's 1000-token deposit. The virtual shares take most of the donation: the
    attacker ends with far less than it put in and the victim loses under 1e-6."""
    setup = revenue_setup(holders=(A, ATTACKER))
    vault, asset = setup.vault, setup.asset
    victim_start = asset.view("balanceOf", ADDRS[A])
    attacker_start = asset.view("balanceOf", ADDRS[ATTACKER])
    vault.send(ATTACKER, "deposit", 1, ADDRS[ATTACKER])
    asset.send(ATTACKER, "transfer", vault.address, 1_000 * ETHER)
    vault.send(A, "deposit", 1_000 * ETHER, ADDRS[A])
    victim_shares = vault.view("balanceOf", ADDRS[A])
    assert victim_shares > 0
    vault.send(A, "redeem", victim_shares, ADDRS[A], ADDRS[A])
    vault.send(ATTACKER, "redeem", vault.view("balanceOf", ADDRS[ATTACKER]), ADDRS[ATTACKER], ADDRS[ATTACKER])
    victim_loss = victim_start - asset.view("balanceOf", ADDRS[A])
    attacker_loss = attacker_start - asset.view("balanceOf", ADDRS[ATTACKER])
    assert 0 <= victim_loss < 1_000 * ETHER // 10**6
    assert attacker_loss > 400 * ETHER  # the donation is mostly lost to the virtual shares


def test_a_deposit_that_would_mint_no_shares_is_refused() -> None:
    setup = revenue_setup(holders=(A, ATTACKER))
    vault, asset = setup.vault, setup.asset
    vault.send(ATTACKER, "deposit", 1, ADDRS[ATTACKER])
    asset.send(ATTACKER, "transfer", vault.address, 10**23)  # share price ~1e18 assets per 1e6 shares
    vault.refused(A, "ZeroShares", "deposit", 1, ADDRS[A])


def test_native_only_vault_refuses_token_revenue_and_the_asset_as_revenue_token() -> None:
    setup = revenue_setup()
    chain, asset = setup.chain, setup.asset
    native_only = chain.deploy("RevenueShareVault", asset.address, b"\0" * 20, ADDRS[ISSUER], "N", "N")
    native_only.refused(ISSUER, "NoRevenueToken", "distributeToken", 1)
    revert = chain.deploy_refused("RevenueShareVault", asset.address, asset.address, ADDRS[ISSUER], "X", "X")
    assert revert.name == "RevenueTokenIsAsset"

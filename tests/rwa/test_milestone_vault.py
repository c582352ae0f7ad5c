"""MilestoneVault on real py-evm: quorum-signed EIP-712 attestations release
milestones in order; a missed deadline lets backers withdraw pro rata.

Three verifiers, quorum two (the issue's done-when): one attestation releases
nothing, the second releases exactly the milestone's amount to its recipient.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from contracts import ADDRS, ETHER, KEYS
from rwa_fixtures import RECIPIENT, VERIFIERS, attestation, milestone_setup

ISSUER, A, B, C, MALLORY = 0, 1, 2, 3, 4
V1, V2, V3 = VERIFIERS
EVIDENCE = b"\x11" * 32  # e.g. the hash of the school's enrolment report


@pytest.fixture
def setup():
    setup = milestone_setup()
    for who, assets in ((A, 1_000), (B, 2_000), (C, 3_000)):
        setup.vault.send(who, "deposit", assets * ETHER, ADDRS[who])
    setup.chain.advance_to(setup.deposit_deadline)  # the next block is after it: funding closed
    return setup


def sign(setup, verifier: int, milestone: int = 0, evidence: bytes = EVIDENCE, **kw) -> bytes:
    return attestation(setup.vault.address, milestone, evidence, KEYS[verifier], **kw)


def recipient_balance(setup) -> int:
    return setup.asset.view("balanceOf", ADDRS[RECIPIENT])


def test_one_attestation_releases_nothing_two_release_exactly_the_milestone(setup) -> None:
    vault = setup.vault
    first = vault.send(MALLORY, "attest", 0, EVIDENCE, sign(setup, V1))  # anyone may submit
    assert vault.events(first, "Attested")[0]["count"] == 1
    assert vault.events(first, "MilestoneReleased") == []
    assert recipient_balance(setup) == 0
    second = vault.send(A, "attest", 0, EVIDENCE, sign(setup, V3))
    (released,) = vault.events(second, "MilestoneReleased")
    assert released["amount"] == 100 * ETHER
    assert recipient_balance(setup) == 100 * ETHER
    assert vault.view("totalAssets") == 5_900 * ETHER
    assert vault.view("nextMilestone") == 1
    vault.refused(V2, "WrongMilestone", "attest", 0, EVIDENCE, sign(setup, V2))  # too late for 0


def test_bad_attestations_are_refused_and_move_nothing(setup) -> None:
    vault, chain = setup.vault, setup.chain
    vault.send(A, "attest", 0, EVIDENCE, sign(setup, V1))
    # replayed, by anyone
    vault.refused(B, "AlreadyAttested", "attest", 0, EVIDENCE, sign(setup, V1))
    # signed by someone who is not a verifier
    revert = vault.refused(MALLORY, "NotVerifier", "attest", 0, EVIDENCE, sign(setup, MALLORY))
    assert revert.args == ("0x" + ADDRS[MALLORY].hex(),)
    # signed by a verifier, but for another vault or another chain: the domain differs,
    # so the signature recovers to an unrelated address
    other = chain.deploy("MilestoneVault", setup.asset.address, ADDRS[0], "Other", "O", setup.deposit_deadline,
                         [ADDRS[v] for v in VERIFIERS], 2, setup.milestones)
    wrong_vault = attestation(other.address, 0, EVIDENCE, KEYS[V2])
    vault.refused(A, "NotVerifier", "attest", 0, EVIDENCE, wrong_vault)
    vault.refused(A, "NotVerifier", "attest", 0, EVIDENCE, sign(setup, V2, chain_id=1))
    # a different evidence hash: counted apart, so V2 alone is below quorum and releases nothing
    vault.send(A, "attest", 0, b"\x22" * 32, sign(setup, V2, evidence=b"\x22" * 32))
    assert recipient_balance(setup) == 0
    # malformed and malleable signatures
    good = sign(setup, V3)
    vault.refused(A, "InvalidSignature", "attest", 0, EVIDENCE, good[:64])
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    high_s = good[:32] + (n - int.from_bytes(good[32:64], "big")).to_bytes(32, "big") + bytes([55 - good[64]])
    vault.refused(A, "InvalidSignature", "attest", 0, EVIDENCE, high_s)
    vault.refused(A, "WrongMilestone", "attest", 1, EVIDENCE, sign(setup, V3, milestone=1))
    vault.send(A, "attest", 0, EVIDENCE, good)
    assert recipient_balance(setup) == 100 * ETHER
    assert chain.balance(vault.address) == 0


def test_funding_window_and_locked_withdrawals() -> None:
    setup = milestone_setup()
    vault = setup.vault
    vault.send(A, "deposit", 10 * ETHER, ADDRS[A])
    vault.refused(A, "WithdrawalsLocked", "redeem", 1, ADDRS[A], ADDRS[A])
    vault.refused(A, "FundingOpen", "attest", 0, EVIDENCE, sign(setup, V1))
    setup.chain.advance_to(setup.deposit_deadline + 1)  # refused calls run at the head's time
    vault.refused(B, "DepositsClosed", "deposit", ETHER, ADDRS[B])
    assert vault.view("maxDeposit", ADDRS[B]) == 0
    vault.refused(A, "WithdrawalsLocked", "withdraw", 1, ADDRS[A], ADDRS[A])
    assert vault.view("maxWithdraw", ADDRS[A]) == 0


def test_a_missed_deadline_lets_backers_withdraw_their_pro_rata_remainder(setup) -> None:
    vault, asset, chain = setup.vault, setup.asset, setup.chain
    vault.send(A, "attest", 0, EVIDENCE, sign(setup, V1))
    vault.send(A, "attest", 0, EVIDENCE, sign(setup, V2))
    deadline = setup.milestones[1][3]
    chain.advance_to(deadline - 1)
    vault.send(A, "attest", 1, EVIDENCE, sign(setup, V1, milestone=1))  # in time, but alone
    assert vault.view("failed") is False
    chain.advance_to(deadline + 1)
    assert vault.view("failed") is True
    vault.refused(B, "MilestoneExpired", "attest", 1, EVIDENCE, sign(setup, V2, milestone=1))
    remaining = 5_900 * ETHER
    paid = 0
    for who, part in ((A, Fraction(1, 6)), (B, Fraction(2, 6)), (C, Fraction(3, 6))):
        before = asset.view("balanceOf", ADDRS[who])
        shares = vault.view("balanceOf", ADDRS[who])
        vault.send(who, "redeem", shares, ADDRS[who], ADDRS[who])
        got = asset.view("balanceOf", ADDRS[who]) - before
        # each redemption rounds down; a later one shares in what earlier ones left
        assert abs(got - remaining * part) <= 2
        paid += got
    assert remaining - 3 <= paid <= remaining  # the rest is the virtual shares' dust
    assert asset.view("balanceOf", ADDRS[RECIPIENT]) == 100 * ETHER


def test_after_the_last_milestone_backers_take_the_rest() -> None:
    setup = milestone_setup(amounts=(1 * ETHER,))
    vault = setup.vault
    vault.send(A, "deposit", 3 * ETHER, ADDRS[A])
    setup.chain.advance_to(setup.deposit_deadline)
    for v in (V1, V2):
        vault.send(A, "attest", 0, EVIDENCE, sign(setup, v))
    assert vault.view("completed") is True
    assert vault.view("maxWithdraw", ADDRS[A]) == 2 * ETHER
    vault.send(A, "redeem", vault.view("balanceOf", ADDRS[A]), ADDRS[A], ADDRS[A])


def test_a_release_the_vault_cannot_pay_is_refused() -> None:
    setup = milestone_setup(amounts=(10 * ETHER,))
    vault = setup.vault
    vault.send(A, "deposit", 3 * ETHER, ADDRS[A])
    setup.chain.advance_to(setup.deposit_deadline)
    vault.send(A, "attest", 0, EVIDENCE, sign(setup, V1))
    revert = vault.refused(A, "InsufficientAssets", "attest", 0, EVIDENCE, sign(setup, V2))
    assert revert.args == (0, 10 * ETHER, 3 * ETHER)


def test_share_milestones_release_their_share_of_the_raise() -> None:
    """Milestones of 25% and 40% of what was raised (6,000): 1,500 then 2,400, exactly."""
    setup = milestone_setup(shares_bps=(2_500, 4_000))
    vault = setup.vault
    for who, assets in ((A, 1_000), (B, 2_000), (C, 3_000)):
        vault.send(who, "deposit", assets * ETHER, ADDRS[who])
    setup.chain.advance_to(setup.deposit_deadline)
    first = vault.send(A, "attest", 0, EVIDENCE, sign(setup, V1))
    assert vault.events(first, "RaiseClosed") == [{"raised": 6_000 * ETHER}]
    vault.send(A, "attest", 0, EVIDENCE, sign(setup, V2))
    assert recipient_balance(setup) == 1_500 * ETHER
    for v in (V2, V3):
        vault.send(A, "attest", 1, EVIDENCE, sign(setup, v, milestone=1))
    assert recipient_balance(setup) == 3_900 * ETHER
    assert vault.view("raised") == 6_000 * ETHER
    assert vault.view("milestone", 1) == (0, 4_000, "0x" + ADDRS[RECIPIENT].hex(), setup.milestones[1][3], True)


def test_an_empty_vault_has_nothing_to_attest() -> None:
    setup = milestone_setup(shares_bps=(5_000,))
    setup.chain.advance_to(setup.deposit_deadline + 1)
    setup.vault.refused(A, "NothingRaised", "attest", 0, EVIDENCE, sign(setup, V1))


@pytest.mark.parametrize("quorum, reason", [(0, "quorum"), (4, "quorum")])
def test_bad_configurations_are_refused(quorum, reason) -> None:
    setup = milestone_setup()
    chain, asset = setup.chain, setup.asset
    args = (asset.address, ADDRS[0], "X", "X", setup.deposit_deadline, [ADDRS[v] for v in VERIFIERS], quorum,
            setup.milestones)
    revert = chain.deploy_refused("MilestoneVault", *args)
    assert revert.name == "InvalidConfiguration" and revert.args == (reason,)
    later = setup.deposit_deadline + 100
    for milestones, reason in [
        ([(ETHER, 0, ADDRS[RECIPIENT], setup.deposit_deadline)], "milestone deadlines must increase"),
        ([(ETHER, 100, ADDRS[RECIPIENT], later)], "milestone amount or share"),
        ([(0, 0, ADDRS[RECIPIENT], later)], "milestone amount or share"),
        ([(0, 6_000, ADDRS[RECIPIENT], later), (0, 4_001, ADDRS[RECIPIENT], later + 1)], "milestone shares above 100%"),
        ([(ETHER, 0, b"\0" * 20, later)], "milestone recipient"),
    ]:
        revert = chain.deploy_refused("MilestoneVault", *args[:6], 2, milestones)
        assert revert.args == (reason,)

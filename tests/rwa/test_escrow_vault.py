"""EscrowVault on real py-evm: release, refund, dispute resolved by the arbiter
(release, refund, split), timeout refund; native and ERC-20; every refusal named."""

from __future__ import annotations

import pytest
from contracts import ADDRS, ETHER, ContractChain
from rwa_fixtures import MAX_UINT

PAYER, PAYEE, ARBITER, MALLORY = 1, 2, 3, 4
AMOUNT = 10 * ETHER
TIMEOUT = 1_000  # seconds after deployment
ZERO = b"\0" * 20


def native_escrow(chain):
    escrow = chain.deploy("EscrowVault", ADDRS[PAYER], ADDRS[PAYEE], ADDRS[ARBITER], ZERO, AMOUNT,
                          chain.timestamp + TIMEOUT)
    escrow.send(PAYER, "fund", value=AMOUNT)
    return escrow


@pytest.fixture
def chain() -> ContractChain:
    return ContractChain()


def paid(chain, outcome, who: int, before: int) -> int:
    """What ``who`` received in ``outcome`` (adding back its gas if it sent it)."""
    fee = outcome.gas_used * (chain.chain.head.base_fee_per_gas + 10**9) if outcome.sender == ADDRS[who] else 0
    return chain.balance(ADDRS[who]) - before + fee


def test_payer_releases_to_the_payee(chain) -> None:
    escrow = native_escrow(chain)
    escrow.refused(PAYEE, "NotPayer", "release")
    before = chain.balance(ADDRS[PAYEE])
    outcome = escrow.send(PAYER, "release")
    assert paid(chain, outcome, PAYEE, before) == AMOUNT
    assert escrow.events(outcome, "Closed")[0]["outcome"] == 0
    escrow.refused(PAYER, "WrongState", "release")
    assert chain.balance(escrow.address) == 0


@pytest.mark.parametrize("to_payee, outcome_kind", [(AMOUNT, 0), (0, 1), (3 * ETHER + 7, 2)])
def test_the_arbiter_alone_resolves_a_dispute(chain, to_payee, outcome_kind) -> None:
    escrow = native_escrow(chain)
    escrow.refused(MALLORY, "NotParty", "dispute")
    escrow.refused(ARBITER, "WrongState", "resolve", 0)
    escrow.send(PAYEE, "dispute")
    for who in (PAYEE, MALLORY):
        escrow.refused(who, "NotArbiter", "resolve", 1)
    escrow.refused(ARBITER, "SplitTooLarge", "resolve", AMOUNT + 1)
    before = {w: chain.balance(ADDRS[w]) for w in (PAYER, PAYEE)}
    outcome = escrow.send(ARBITER, "resolve", to_payee)
    assert paid(chain, outcome, PAYEE, before[PAYEE]) == to_payee
    assert paid(chain, outcome, PAYER, before[PAYER]) == AMOUNT - to_payee
    assert escrow.events(outcome, "Closed")[0]["outcome"] == outcome_kind


def test_timeout_refunds_an_undisputed_escrow(chain) -> None:
    escrow = native_escrow(chain)
    timeout = escrow.view("timeout")
    escrow.refused(MALLORY, "TimeoutNotReached", "claimTimeout")
    chain.advance_to(timeout + 1)
    escrow.refused(PAYER, "TimeoutPassed", "dispute")
    before = chain.balance(ADDRS[PAYER])
    outcome = escrow.send(MALLORY, "claimTimeout")
    assert paid(chain, outcome, PAYER, before) == AMOUNT


def test_a_dispute_is_not_ended_by_the_timeout(chain) -> None:
    escrow = native_escrow(chain)
    escrow.send(PAYER, "dispute")
    chain.advance_to(escrow.view("timeout") + 1)
    escrow.refused(MALLORY, "WrongState", "claimTimeout")
    before = chain.balance(ADDRS[PAYER])
    outcome = escrow.send(PAYEE, "refund")  # the payee may still give way
    assert paid(chain, outcome, PAYER, before) == AMOUNT


def test_funding_rules(chain) -> None:
    escrow = chain.deploy("EscrowVault", ADDRS[PAYER], ADDRS[PAYEE], ADDRS[ARBITER], ZERO, AMOUNT,
                          chain.timestamp + TIMEOUT)
    escrow.refused(PAYER, "WrongState", "release")
    escrow.refused(MALLORY, "NotPayer", "fund", value=AMOUNT)
    revert = escrow.refused(PAYER, "WrongValue", "fund", value=AMOUNT - 1)
    assert revert.args == (AMOUNT - 1, AMOUNT)
    escrow.send(PAYER, "fund", value=AMOUNT)
    escrow.refused(PAYER, "WrongState", "fund", value=AMOUNT)
    assert chain.balance(escrow.address) == AMOUNT


def test_erc20_escrow(chain) -> None:
    token = chain.deploy("TestToken", "USD", "USD")
    token.send(PAYER, "mint", ADDRS[PAYER], AMOUNT)
    escrow = chain.deploy("EscrowVault", ADDRS[PAYER], ADDRS[PAYEE], ADDRS[ARBITER], token.address, AMOUNT,
                          chain.timestamp + TIMEOUT)
    escrow.refused(PAYER, "TokenTransferFailed", "fund")  # no allowance
    token.send(PAYER, "approve", escrow.address, MAX_UINT)
    escrow.refused(PAYER, "WrongValue", "fund", value=1)
    escrow.send(PAYER, "fund")
    escrow.send(PAYER, "dispute")
    escrow.send(ARBITER, "resolve", 4 * ETHER)
    assert token.view("balanceOf", ADDRS[PAYEE]) == 4 * ETHER
    assert token.view("balanceOf", ADDRS[PAYER]) == 6 * ETHER


def test_bad_configurations(chain) -> None:
    later = chain.timestamp + TIMEOUT
    cases = [
        ((ADDRS[PAYER], ADDRS[PAYER], ADDRS[ARBITER], ZERO, AMOUNT, later), "parties"),
        ((ADDRS[PAYER], ADDRS[PAYEE], ZERO, ZERO, AMOUNT, later), "zero party"),
        ((ADDRS[PAYER], ADDRS[PAYEE], ADDRS[ARBITER], ZERO, 0, later), "amount"),
        ((ADDRS[PAYER], ADDRS[PAYEE], ADDRS[ARBITER], ZERO, AMOUNT, chain.timestamp), "timeout"),
        ((ADDRS[PAYER], ADDRS[PAYEE], ADDRS[ARBITER], ADDRS[MALLORY], AMOUNT, later), "token"),
    ]
    for args, reason in cases:
        revert = chain.deploy_refused("EscrowVault", *args)
        assert (revert.name, revert.args) == ("InvalidConfiguration", (reason,))

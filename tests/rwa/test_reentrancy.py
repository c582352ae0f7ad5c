"""The reentrancy guard on real py-evm: a token or an account that calls back
into the vault while it moves value is refused with Reentrancy, and the outer
call still moves exactly what it should, once."""

from __future__ import annotations

from contracts import ADDRS, ETHER, ContractChain
from eth_utils import keccak
from rwa_fixtures import MAX_UINT

ISSUER, A, B = 0, 1, 2
REENTRANCY = keccak(b"Reentrancy()")[:4]
ZERO = b"\0" * 20


def test_a_token_reentering_a_deposit_is_refused() -> None:
    chain = ContractChain()
    token = chain.deploy("ReentrantToken")
    vault = chain.deploy("RevenueShareVault", token.address, ZERO, ADDRS[ISSUER], "V", "V")
    token.send(A, "mint", ADDRS[A], 10 * ETHER)
    token.send(A, "approve", vault.address, MAX_UINT)
    token.send(A, "arm", vault.address, vault.calldata("deposit", 1, ADDRS[A]))
    vault.send(A, "deposit", ETHER, ADDRS[A])
    assert token.view("hookCalled") is True
    assert token.view("lastRevert") == REENTRANCY
    assert token.view("balanceOf", vault.address) == ETHER


def test_an_account_reentering_a_native_claim_is_refused_and_paid_once() -> None:
    chain = ContractChain()
    asset = chain.deploy("TestToken", "A", "A")
    vault = chain.deploy("RevenueShareVault", asset.address, ZERO, ADDRS[ISSUER], "V", "V")
    holder = chain.deploy("Reenterer")
    asset.send(A, "mint", holder.address, ETHER)
    holder.send(A, "execute", asset.address, asset.calldata("approve", vault.address, MAX_UINT))
    holder.send(A, "execute", vault.address, vault.calldata("deposit", ETHER, holder.address))
    vault.send(ISSUER, "distributeNative", value=5 * ETHER)
    holder.send(A, "arm", vault.address, vault.calldata("claim"))
    holder.send(A, "execute", vault.address, vault.calldata("claim"))
    assert holder.view("lastRevert") == REENTRANCY
    assert chain.balance(holder.address) == 5 * ETHER
    assert chain.balance(vault.address) == 0


def test_a_token_reentering_an_escrow_release_is_refused() -> None:
    chain = ContractChain()
    token = chain.deploy("ReentrantToken")
    escrow = chain.deploy("EscrowVault", ADDRS[A], ADDRS[B], ADDRS[ISSUER], token.address, ETHER,
                          chain.timestamp + 1_000)
    token.send(A, "mint", ADDRS[A], ETHER)
    token.send(A, "approve", escrow.address, MAX_UINT)
    escrow.send(A, "fund")
    token.send(A, "arm", escrow.address, escrow.calldata("release"))
    escrow.send(A, "release")
    assert token.view("lastRevert") == REENTRANCY
    assert token.view("balanceOf", ADDRS[B]) == ETHER

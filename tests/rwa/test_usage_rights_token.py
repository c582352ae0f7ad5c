"""UsageRightsToken (ERC-1155) on real py-evm: rights for a period, transferable
only before the period starts, supply capped per id by the issuer."""

from __future__ import annotations

import pytest
from contracts import ADDRS, ContractChain

ISSUER, ALICE, BOB, MALLORY = 0, 1, 2, 3
START_IN, LENGTH = 100, 3_600  # the right's period: [now + 100 s, now + 100 s + 1 h)


@pytest.fixture
def chain() -> ContractChain:
    return ContractChain()


@pytest.fixture
def rights(chain):
    rights = chain.deploy("UsageRightsToken", ADDRS[ISSUER])
    start = chain.timestamp + START_IN
    outcome = rights.send(ISSUER, "createRight", start, start + LENGTH, 10, "ipfs://gpu-hour")
    assert rights.events(outcome, "RightCreated")[0]["id"] == 1
    rights.send(ISSUER, "mint", ADDRS[ALICE], 1, 4, b"")
    return rights


def test_rights_move_before_their_period_and_not_after(chain, rights) -> None:
    rights.send(ALICE, "safeTransferFrom", ADDRS[ALICE], ADDRS[BOB], 1, 1, b"")
    assert rights.view("balanceOfBatch", [ADDRS[ALICE], ADDRS[BOB]], [1, 1]) == (3, 1)
    start, end, _, _ = rights.view("right", 1)
    assert rights.view("hasActiveRight", ADDRS[BOB], 1) is False
    chain.advance_to(start)
    assert rights.view("hasActiveRight", ADDRS[BOB], 1) is True
    revert = rights.refused(ALICE, "PeriodStarted", "safeTransferFrom", ADDRS[ALICE], ADDRS[BOB], 1, 1, b"")
    assert revert.args == (1, start)
    rights.refused(ALICE, "PeriodStarted", "safeBatchTransferFrom", ADDRS[ALICE], ADDRS[BOB], [1], [1], b"")
    chain.advance_to(end)
    assert rights.view("hasActiveRight", ADDRS[BOB], 1) is False
    rights.refused(ISSUER, "RightExpired", "mint", ADDRS[BOB], 1, 1, b"")


def test_supply_cap_and_issuer_only(rights) -> None:
    revert = rights.refused(ISSUER, "SupplyExceeded", "mint", ADDRS[BOB], 1, 7, b"")
    assert revert.args == (1, 7, 6)
    rights.send(ISSUER, "mint", ADDRS[BOB], 1, 6, b"")
    assert rights.view("right", 1)[2:] == (10, 10)
    rights.refused(MALLORY, "NotIssuer", "mint", ADDRS[MALLORY], 1, 1, b"")
    rights.refused(MALLORY, "NotIssuer", "createRight", 10**10, 10**10 + 1, 1, "")
    rights.refused(ISSUER, "UnknownRight", "mint", ADDRS[BOB], 2, 1, b"")
    rights.refused(ISSUER, "InvalidPeriod", "createRight", 10**10, 10**10, 1, "")
    rights.refused(ISSUER, "ZeroSupply", "createRight", 10**10, 10**10 + 1, 0, "")


def test_approvals_balances_and_receivers(chain, rights) -> None:
    rights.refused(MALLORY, "NotApproved", "safeTransferFrom", ADDRS[ALICE], ADDRS[MALLORY], 1, 1, b"")
    rights.send(ALICE, "setApprovalForAll", ADDRS[BOB], True)
    rights.send(BOB, "safeBatchTransferFrom", ADDRS[ALICE], ADDRS[BOB], [1, 1], [1, 2], b"")
    assert rights.view("balanceOf", ADDRS[BOB], 1) == 3
    rights.refused(ALICE, "InsufficientBalance", "safeTransferFrom", ADDRS[ALICE], ADDRS[BOB], 1, 2, b"")
    rights.refused(ALICE, "LengthMismatch", "safeBatchTransferFrom", ADDRS[ALICE], ADDRS[BOB], [1], [], b"")
    not_a_receiver = chain.deploy("TestToken", "X", "X")  # a contract without the ERC-1155 hooks
    rights.refused(ALICE, "ReceiverRejected", "safeTransferFrom", ADDRS[ALICE], not_a_receiver.address, 1, 1, b"")
    rights.refused(ISSUER, "ReceiverRejected", "mint", not_a_receiver.address, 1, 1, b"")
    assert rights.view("supportsInterface", bytes.fromhex("d9b67a26")) is True
    assert rights.view("uri", 1) == "ipfs://gpu-hour"

"""A bug met while executing costs a transaction or a round, never the validator.

In-process nodes (real LevelDB, real py-evm, real consensus engine and driver)
on trio's autojump clock. The failures are injected with monkeypatch, each in
one place: a py-evm step that raises for one transaction, or the
application's `propose_block` / `validate_block` raising as a bug would.
Before the fix each of them ended `Node.run`, and with it the validator.
"""

from __future__ import annotations

import hashlib
import logging

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from consensus.actions import BlockVerdict
from consensus.messages import Proposal
from execution.block import PlumeBlock
from execution.errors import NotFound
from execution.mempool import MempoolError, MempoolErrorCode
from execution.vm import PlumeTransactionExecutor
from node_helpers import CHAIN_ID, PASSWORD, running, wait_for_height
from plume_node.keystore import Keystore
from plume_node.node import Node
from waiting import await_until

GWEI = 10**9
RECIPIENT = to_checksum_address("0x" + "5eed" * 10)


def transfer(account, nonce: int, value: int = 1) -> bytes:
    signed = account.sign_transaction({
        "type": 2, "chainId": CHAIN_ID, "nonce": nonce, "to": RECIPIENT, "value": value, "gas": 21000,
        "maxFeePerGas": 10 * GWEI, "maxPriorityFeePerGas": GWEI, "data": b"",
    })
    return bytes(signed.raw_transaction)


def committed(node: Node, tx_hash: bytes) -> bool:
    try:
        node.chain.get_receipt(tx_hash)
    except NotFound:
        return False
    return True


async def test_a_pooled_tx_that_raises_while_building_is_dropped_and_the_chain_goes_on(
    node, autojump_clock, monkeypatch, caplog
):
    account: Account = Keystore(node.home.root).unlock("operator", PASSWORD)
    good_hash = node.submit_transaction(transfer(account, 0))
    bad_hash = node.submit_transaction(transfer(account, 1))
    original = PlumeTransactionExecutor.build_computation

    def build_computation(self, message, transaction):
        computation = original(self, message, transaction)
        if transaction.hash == bad_hash:  # after the gas was bought and the nonce bumped
            raise RuntimeError("boom: an unexpected py-evm failure")
        return computation

    monkeypatch.setattr(PlumeTransactionExecutor, "build_computation", build_computation)
    with caplog.at_level(logging.INFO):
        async with running(node):
            await await_until(lambda: committed(node, good_hash), 30, "the good tx to be committed")
            await await_until(lambda: bad_hash not in node.mempool, 30, "the bad tx to leave the pool")
            height = node.app.committed_height()
            await wait_for_height(node, height + 3)
            # The sender's next tx (the dropped one's nonce, another value) goes through.
            next_hash = node.submit_transaction(transfer(account, 1, value=2))
            await await_until(lambda: committed(node, next_hash), 30, "the sender's next tx")
    assert not committed(node, bad_hash)
    # A gossiped copy of it is refused, not pooled for the next block to trip on again.
    with pytest.raises(MempoolError) as info:
        node.accept_transaction(transfer(account, 1))
    assert info.value.code is MempoolErrorCode.EXECUTION_FAILED
    assert (
        f"dropped tx {bad_hash.hex()} from the pool: execution failed: TransactionFailed: "
        "transaction failed after validation: RuntimeError: boom: an unexpected py-evm failure"
    ) in caplog.text


async def test_propose_block_raising_costs_rounds_not_the_validator(node, autojump_clock, monkeypatch, caplog):
    calls: list[tuple[int, int]] = []
    propose = node.app.propose_block

    def flaky_propose(height: int, round: int):
        calls.append((height, round))
        if height == 2 and round < 2:
            raise RuntimeError(f"bug while proposing round {round}")
        return propose(height, round)

    monkeypatch.setattr(node.app, "propose_block", flaky_propose)
    with caplog.at_level(logging.ERROR, logger="plume.consensus"):
        async with running(node):
            await wait_for_height(node, 4, timeout=60)
    # No proposal at rounds 0 and 1: each timed out and the next round proposed again.
    assert [c for c in calls if c[0] == 2] == [(2, 0), (2, 1), (2, 2)]
    assert node.chain.get_sidecar(2).round == 2
    assert "propose_block raised RuntimeError: bug while proposing round 0" in caplog.text


async def test_validate_block_raising_makes_the_block_invalid_not_the_validator_dead(
    node_with_other_validator, autojump_clock, monkeypatch, caplog
):
    node, other = node_with_other_validator
    calls: list[int] = []

    def broken_validate(height: int, block_hash: bytes, block: bytes):
        calls.append(height)
        raise RuntimeError("bug while validating")

    monkeypatch.setattr(node.app, "validate_block", broken_validate)
    their_turn = "0x" + other.address.hex()
    with caplog.at_level(logging.ERROR, logger="plume.consensus"):
        async with running(node):
            await await_until(
                lambda: node.consensus_state()["proposer"] == their_turn
                and node.consensus_state()["step"] == "propose",
                60,
                "a round the other validator proposes",
            )
            state = node.consensus_state()
            height, round = state["height"], state["round"]
            block = b"the other validator's block"
            unsigned = Proposal(height, round, hashlib.sha256(block).digest(), -1, other.address)
            proposal = unsigned.with_signature(other.sign(unsigned.sign_bytes(node.app.chain_id)))
            assert node.driver.submit_proposal(proposal, block)
            await await_until(lambda: calls == [height], 30, "the proposal to be validated")
            await wait_for_height(node, height + 2, timeout=60)
    assert "validate_block raised RuntimeError: bug while validating" in caplog.text


def test_application_validate_block_turns_a_bug_into_a_reason(node, monkeypatch, caplog):
    block_hash, payload = node.app.propose_block(1, 0)
    assert node.app.validate_block(1, block_hash, payload) == (BlockVerdict.VALID, "")

    def broken(*args, **kwargs):
        raise RuntimeError("bug " + "x" * 500)

    monkeypatch.setattr(node.app.chain, "validate_block", broken)
    verdict, reason = node.app.validate_block(1, block_hash, payload)
    assert verdict is BlockVerdict.INVALID  # a bug is nobody's provable fault
    assert reason.startswith("validation failed: RuntimeError: bug xxx") and len(reason) <= 220
    assert reason.endswith("...")


def test_a_build_that_raises_with_transactions_falls_back_to_an_empty_block(node, monkeypatch, caplog):
    account: Account = Keystore(node.home.root).unlock("operator", PASSWORD)
    tx_hash = node.submit_transaction(transfer(account, 0))
    build = node.app.chain.build_block

    def end_of_block_bug(txs, **kwargs):
        if txs:
            raise RuntimeError("bug after the transactions ran")
        return build(txs, **kwargs)

    monkeypatch.setattr(node.app.chain, "build_block", end_of_block_bug)
    with caplog.at_level(logging.ERROR, logger="plume.app"):
        block_hash, payload = node.app.propose_block(1, 0)
    assert node.app.validate_block(1, block_hash, payload) == (BlockVerdict.VALID, "")
    assert PlumeBlock.decode(payload).transactions == ()
    assert tx_hash in node.mempool  # it waits; the chain does not
    assert "building a block with 1 txs raised RuntimeError: bug after the transactions ran" in caplog.text

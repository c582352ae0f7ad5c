"""Transactions through a running node's Python API (`Node.submit_transaction`).

Real EIP-1559 transactions signed with eth-account by the operator key (unlocked
from the home's keystore), executed by py-evm, committed by consensus; the fee
accounting is checked to the wei against the state before and after the block.
The genesis base fee is odd so the odd-wei rule of staking/fees.py is exercised.
"""

from __future__ import annotations

import logging

import pytest
import trio
from eth.constants import SECPK1_N
from eth.vm.forks.prague import PragueVM
from eth_account import Account
from eth_utils import to_checksum_address

from execution.errors import NotFound
from execution.mempool import MempoolError, MempoolErrorCode
from waiting import await_until
from node_helpers import CHAIN_ID, PASSWORD, fast_config, make_home, running, wait_for_height
from plume_node.keystore import Keystore
from plume_node.node import Node
from staking.fees import REWARD_POOL_ADDRESS
from staking.params import StakingParams
from staking.views import outstanding_rewards

GWEI = 10**9
BASE_FEE = 1_000_000_007  # odd, and the floor, so every block's base fee is this
RECIPIENT = bytes.fromhex("5eed" * 10)
FEE_ADDRESS = bytes.fromhex("fee0" * 10)
IDENTITY_PRECOMPILE = bytes.fromhex("00" * 19 + "04")  # 21000 + 15 gas: an odd gas_used
BUILDER = PragueVM.get_transaction_builder()


def open_node(tmp_path, **consensus) -> Node:
    home = make_home(
        tmp_path / "home",
        genesis_changes={"base_fee_per_gas": BASE_FEE, "min_base_fee_per_gas": BASE_FEE},
    )
    config = fast_config(home, **consensus).replace(fee_address=to_checksum_address(FEE_ADDRESS))
    return Node.open(home, config)


def operator(node: Node):
    return Keystore(node.home.root).unlock("operator", PASSWORD)


def sign(account, *, nonce: int, to: bytes, value: int = 0, gas: int = 21000,
         max_fee: int = 3 * GWEI, tip: int = 2 * GWEI, chain_id: int = CHAIN_ID) -> bytes:
    signed = account.sign_transaction(
        {
            "type": 2,
            "chainId": chain_id,
            "nonce": nonce,
            "to": to_checksum_address(to),
            "value": value,
            "gas": gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
            "data": b"",
        }
    )
    return bytes(signed.raw_transaction)


async def wait_for_receipt(node: Node, tx_hash: bytes, timeout: float = 20.0):
    found = []

    def included() -> bool:
        try:
            found.append(node.chain.get_receipt(tx_hash))
        except NotFound:
            return False
        return True

    await await_until(included, timeout, f"tx 0x{tx_hash.hex()} to be committed")
    return found[-1]


def check_block_accounting(node: Node, number: int, *, sender: bytes, to: bytes, value: int,
                           max_fee: int, tip: int, expected_gas: int) -> None:
    chain = node.chain
    header = chain.get_header(number)
    block = chain.get_block(number)
    assert len(block.transactions) == 1, "the block should hold only the test transaction"
    assert header.coinbase == FEE_ADDRESS
    base_fee = header.base_fee_per_gas
    assert base_fee == BASE_FEE
    gas_used = header.gas_used
    assert gas_used == expected_gas
    effective_tip = min(tip, max_fee - base_fee)
    effective_price = base_fee + effective_tip

    before, after = chain.state_at(number - 1), chain.state_at(number)
    assert after.balance(to) - before.balance(to) == value
    assert before.balance(sender) - after.balance(sender) == value + gas_used * effective_price
    assert after.nonce(sender) == before.nonce(sender) + 1
    assert after.balance(FEE_ADDRESS) - before.balance(FEE_ADDRESS) == gas_used * effective_tip

    total = base_fee * gas_used
    burned = after.total_burned() - before.total_burned()
    issued = after.total_issued() - before.total_issued()
    pooled = after.reward_pool_balance() - before.reward_pool_balance()
    allocated = outstanding_rewards(after.accounts) - outstanding_rewards(before.accounts)
    # odd-wei rule: the pool gets the floor of half, the odd wei (if any) burns;
    # then the block reward is issued into it and the pool is shared out to the signers
    assert burned == total - total // 2
    assert pooled + allocated == total // 2 + issued
    assert issued == StakingParams().block_reward
    assert after.balance(REWARD_POOL_ADDRESS) == after.reward_pool_balance()
    # supply moves by exactly what was issued and burned
    assert after.total_supply() - before.total_supply() == issued - burned


async def test_transfer_is_included_and_fees_split(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="plume.app")
    node = open_node(tmp_path)
    try:
        account = operator(node)
        sender = bytes.fromhex(account.address[2:])
        value = 1_250_000_000_000_000_000
        async with running(node):
            await wait_for_height(node, 1)
            raw = sign(account, nonce=0, to=RECIPIENT, value=value)
            tx_hash = node.submit_transaction(raw)
            assert tx_hash in node.mempool
            receipt, number, index = await wait_for_receipt(node, tx_hash)
            assert index == 0 and receipt.gas_used == 21000
            # the commit line counts the pool's mined transactions as included, not evicted
            line = next(r.getMessage() for r in caplog.records if f"committed height={number} " in r.getMessage())
            assert "included=1" in line and "evicted" not in line, line
            check_block_accounting(node, number, sender=sender, to=RECIPIENT, value=value,
                                   max_fee=3 * GWEI, tip=2 * GWEI, expected_gas=21000)
            assert node.chain.state_at().balance(RECIPIENT) == value
            assert node.chain.get_transaction(tx_hash)[0].encode() == raw

            # An odd gas_used x odd base fee: the extra wei is burned, not pooled.
            raw = sign(account, nonce=1, to=IDENTITY_PRECOMPILE, value=7, gas=30000,
                       max_fee=5 * GWEI, tip=GWEI)
            tx_hash = node.submit_transaction(raw)
            _receipt, number, _ = await wait_for_receipt(node, tx_hash)
            assert (BASE_FEE * 21015) % 2 == 1
            check_block_accounting(node, number, sender=sender, to=IDENTITY_PRECOMPILE, value=7,
                                   max_fee=5 * GWEI, tip=GWEI, expected_gas=21015)
        assert len(node.mempool) == 0
    finally:
        node.close()


def pool_snapshot(node: Node):
    return sorted(node.mempool), node.mempool.size_bytes, [node.mempool.raw(h) for h in sorted(node.mempool)]


async def test_rejections_have_precise_messages_and_leave_the_pool_unchanged(tmp_path) -> None:
    node = open_node(tmp_path)
    try:
        account = operator(node)
        async with running(node):
            tx_hash = node.submit_transaction(sign(account, nonce=0, to=RECIPIENT, value=1))
            await wait_for_receipt(node, tx_hash)
        # Stopped: the pool holds exactly what we put there from here on.
        pending = node.submit_transaction(sign(account, nonce=1, to=RECIPIENT, value=2))
        before = pool_snapshot(node)
        assert before[0] == [pending]

        def reject(raw: bytes) -> MempoolError:
            with pytest.raises(MempoolError) as info:
                node.submit_transaction(raw)
            assert pool_snapshot(node) == before, "a rejected tx changed the pool"
            return info.value

        err = reject(sign(account, nonce=1, to=RECIPIENT, value=3, chain_id=CHAIN_ID + 1))
        assert err.code == MempoolErrorCode.WRONG_CHAIN_ID
        assert err.message == f"wrong chain id: this chain is {CHAIN_ID}, tx is for {CHAIN_ID + 1}"

        # The same signature's malleable twin (s -> n - s, parity flipped): EIP-2 forbids it.
        good = BUILDER.decode(sign(account, nonce=1, to=RECIPIENT, value=4))
        twin = good.copy(s=SECPK1_N - good.s, y_parity=1 - good.y_parity)
        err = reject(twin.encode())
        assert err.code == MempoolErrorCode.INVALID_SIGNATURE
        assert err.message == f"invalid signature: s {SECPK1_N - good.s} is outside [1, secp256k1n/2]"

        err = reject(sign(account, nonce=0, to=RECIPIENT, value=5))
        assert err.code == MempoolErrorCode.NONCE_TOO_LOW
        assert err.message == "nonce too low: account has nonce 1, tx has 0"

        pauper = Account.from_key(b"\x42" * 32)
        assert node.chain.state_at().balance(bytes.fromhex(pauper.address[2:])) == 0
        err = reject(sign(pauper, nonce=0, to=RECIPIENT, value=10**18, max_fee=3 * GWEI))
        assert err.code == MempoolErrorCode.INSUFFICIENT_FUNDS
        cost = 21000 * 3 * GWEI + 10**18
        assert err.message == (
            f"insufficient funds: balance 0 wei, tx costs up to {cost} wei "
            f"(gas 21000 x max fee {3 * GWEI} + value {10**18})"
        )
    finally:
        node.close()


async def test_no_empty_blocks_until_a_transaction_arrives(tmp_path) -> None:
    node = open_node(tmp_path, create_empty_blocks=False)
    try:
        account = operator(node)
        async with running(node):
            await trio.sleep(1.0)  # ten block times
            assert node.app.committed_height() == 0, "an empty block was made with create_empty_blocks=false"
            tx_hash = node.submit_transaction(sign(account, nonce=0, to=RECIPIENT, value=1))
            _receipt, number, _ = await wait_for_receipt(node, tx_hash, timeout=10)
            assert number == 1
            await trio.sleep(1.0)
            assert node.app.committed_height() == 1, "empty blocks followed the transaction's block"
    finally:
        node.close()

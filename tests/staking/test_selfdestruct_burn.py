"""Wei a SELFDESTRUCT destroys is counted as burned, through real transactions on real py-evm:
the supply counter stays equal to the sum of all balances (docs/staking.md, "Supply")."""

from __future__ import annotations

from eth_account import Account
from eth_utils import keccak
import rlp

from execution.transactions import decode_transaction
from staking.supply import read_supply
from staking_harness import ADDRS, CHAIN_ID, GWEI, KEYS, PLUME, StakingChain

ADDRESS, SELFDESTRUCT, PUSH20 = 0x30, 0xFF, 0x73
SELF_DESTRUCT_TO_ITSELF = bytes([ADDRESS, SELFDESTRUCT])
OLD_CONTRACT = bytes.fromhex("00000000000000000000000000000000000de57c")


def create(c: StakingChain, who: int, initcode: bytes, value: int):
    """A contract-creation transaction (no ``to``), signed by account ``who``."""
    fields = dict(type=2, nonce=c.nonces[who], gas=200_000, value=value, chainId=CHAIN_ID, data=initcode,
                  maxFeePerGas=100 * GWEI, maxPriorityFeePerGas=GWEI)
    created = keccak(rlp.encode([ADDRS[who], c.nonces[who]]))[12:]
    c.nonces[who] += 1
    return decode_transaction(bytes(Account.sign_transaction(fields, KEYS[who]).raw_transaction)), created


def assert_supply_adds_up(c: StakingChain, extra: tuple[bytes, ...] = ()) -> None:
    state = c.state()
    report = read_supply(state)
    balances = sum(state.get_balance(a) for a in (*c.accounts(), *extra))
    assert c.chain.genesis.total_supply + report.total_issued - report.total_burned == report.total_supply == balances
    assert sum(amount for _, amount in report.burned_by_cause) == report.total_burned


def burned_by_selfdestruct(c: StakingChain) -> int:
    return dict(read_supply(c.state()).burned_by_cause)["SelfDestruct"]


def test_a_contract_created_and_destroyed_in_one_transaction_burns_its_value():
    c = StakingChain()
    tx, created = create(c, 5, SELF_DESTRUCT_TO_ITSELF, 3 * PLUME)
    c.block([tx])
    receipt, _, _ = c.chain.get_receipt(tx.hash)
    assert receipt.state_root == b"\x01"
    assert_supply_adds_up(c, (created,))
    state = c.state()
    assert state.get_balance(created) == 0 and state.get_code(created) == b""
    assert burned_by_selfdestruct(c) == 3 * PLUME


def test_a_created_contract_destroyed_towards_another_account_burns_nothing():
    c = StakingChain()
    initcode = bytes([PUSH20]) + ADDRS[7] + bytes([SELFDESTRUCT])
    before = c.balance(ADDRS[7])
    tx, created = create(c, 5, initcode, PLUME)
    c.block([tx])
    assert c.balance(ADDRS[7]) == before + PLUME and burned_by_selfdestruct(c) == 0
    assert_supply_adds_up(c, (created,))


def test_a_pre_existing_contract_destroying_itself_only_keeps_its_wei():
    """EIP-6780: a contract not created in this transaction is not deleted; naming itself
    as beneficiary moves its balance to itself: nothing is destroyed."""
    c = StakingChain(contracts={OLD_CONTRACT: SELF_DESTRUCT_TO_ITSELF})
    assert c.raw(5, b"", value=2 * PLUME, to=OLD_CONTRACT).ok
    assert c.balance(OLD_CONTRACT) == 2 * PLUME and burned_by_selfdestruct(c) == 0
    assert c.state().get_code(OLD_CONTRACT) == SELF_DESTRUCT_TO_ITSELF
    assert_supply_adds_up(c)


def test_wei_sent_to_a_self_destructed_contract_in_the_same_transaction_is_burned_at_its_deletion():
    """A factory creates a child that self-destructs towards account 7, then sends the child
    wei: py-evm deletes the child, balance and all, at the transaction's end."""
    child = bytes([PUSH20]) + ADDRS[7] + bytes([SELFDESTRUCT])  # 22 bytes
    factory = (
        bytes([0x75]) + child + bytes([0x60, 0, 0x52])  # PUSH22 child, PUSH1 0, MSTORE: memory[10:32]
        + bytes([0x60, 22, 0x60, 10, 0x60, 0, 0xF0])  # CREATE(0, 10, 22): the child's address
        + bytes([0x60, 0]) * 4 + bytes([0x67]) + PLUME.to_bytes(8, "big")  # out/in sizes, offsets; value
        + bytes([0x85, 0x5A, 0xF1, 0x00])  # DUP6 (the child), GAS, CALL, STOP
    )
    c = StakingChain()
    tx, factory_address = create(c, 5, factory, PLUME)
    c.block([tx])
    receipt, _, _ = c.chain.get_receipt(tx.hash)
    assert receipt.state_root == b"\x01"
    child_address = keccak(rlp.encode([factory_address, 1]))[12:]
    assert_supply_adds_up(c, (factory_address, child_address))
    assert c.state().get_balance(child_address) == 0 and burned_by_selfdestruct(c) == PLUME

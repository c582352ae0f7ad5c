"""A block's fund flows: every value movement, derived from what the chain stores plus a trace.

Sources, in block order per transaction: the transaction's own value
(NATIVE, or STAKE_DEPOSIT when sent to the staking contract), the internal
value transfers of its execution (`execution.trace`; INTERNAL, or
STAKE_DEPOSIT), then its logs: ERC-20 `Transfer`, ERC-1155
`TransferSingle`/`TransferBatch`, and the staking contract's
`RewardsClaimed`/`CommissionWithdrawn` (STAKE_PAYOUT). Failed transactions
move no value and give no flows.

`transaction_flows` gives what a signed transaction says it will move,
before execution (for the reject rules): its value, and the token amount
of an ERC-20 `transfer` / `transferFrom` call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_hash.auto import keccak

from execution.trace import ValueTransfer, block_value_transfers
from plume_node.compliance.model import BlockFlows, FlowKind, FundFlow
from staking.abi import COMMISSION_WITHDRAWN, REWARDS_CLAIMED
from staking.addresses import STAKING_ADDRESS

ERC20_TRANSFER = int.from_bytes(keccak(b"Transfer(address,address,uint256)"), "big")
ERC1155_SINGLE = int.from_bytes(keccak(b"TransferSingle(address,address,address,uint256,uint256)"), "big")
ERC1155_BATCH = int.from_bytes(keccak(b"TransferBatch(address,address,address,uint256[],uint256[])"), "big")
# ids of one TransferBatch log turned into flows; a longer batch gives its first ones only
MAX_BATCH_IDS = 256
# Flows of one block kept; a block with more gives its first ones only (logged by the caller).
MAX_FLOWS_PER_BLOCK = 20_000
_TRANSFER_SELECTOR = bytes.fromhex("a9059cbb")  # transfer(address,uint256)
_TRANSFER_FROM_SELECTOR = bytes.fromhex("23b872dd")  # transferFrom(address,address,uint256)


def _word(data: bytes, index: int) -> int:
    return int.from_bytes(data[32 * index : 32 * index + 32], "big")


def _topic_address(topic: int) -> bytes:
    return topic.to_bytes(32, "big")[12:]


def _value_kind(recipient: bytes, top_level: bool) -> FlowKind:
    if recipient == STAKING_ADDRESS:
        return FlowKind.STAKE_DEPOSIT
    return FlowKind.NATIVE if top_level else FlowKind.INTERNAL


def transaction_flows(sender: bytes, to: bytes | None, value: int, data: bytes, block: int) -> tuple[FundFlow, ...]:
    """The movements a transaction announces (value; ERC-20 transfer/transferFrom calldata)."""
    flows = []
    if to is not None and value > 0:
        flows.append(FundFlow(_value_kind(to, True), sender, to, value, block))
    if to is not None and len(data) == 4 + 64 and data[:4] == _TRANSFER_SELECTOR:
        flows.append(FundFlow(FlowKind.ERC20, sender, _topic_address(_word(data[4:], 0)), _word(data[4:], 1), block, asset=to))
    elif to is not None and len(data) == 4 + 96 and data[:4] == _TRANSFER_FROM_SELECTOR:
        body = data[4:]
        flows.append(FundFlow(FlowKind.ERC20, _topic_address(_word(body, 0)), _topic_address(_word(body, 1)),
                              _word(body, 2), block, asset=to))
    return tuple(flows)


def log_flows(address: bytes, topics: Sequence[int], data: bytes, block: int, tx_hash: bytes) -> list[FundFlow]:
    """The movements one log reports (none for logs of other shapes)."""
    if not topics:
        return []
    head = topics[0]
    if head == ERC20_TRANSFER and len(topics) == 3 and len(data) == 32:
        return [FundFlow(FlowKind.ERC20, _topic_address(topics[1]), _topic_address(topics[2]), _word(data, 0),
                         block, tx_hash, asset=address)]
    if head == ERC1155_SINGLE and len(topics) == 4 and len(data) == 64:
        return [FundFlow(FlowKind.ERC1155, _topic_address(topics[2]), _topic_address(topics[3]), _word(data, 1),
                         block, tx_hash, asset=address, token_id=_word(data, 0))]
    if head == ERC1155_BATCH and len(topics) == 4:
        return _batch_flows(address, topics, data, block, tx_hash)
    if address == STAKING_ADDRESS and len(data) == 32:
        if head == REWARDS_CLAIMED.topic0 and len(topics) == 3:
            return [FundFlow(FlowKind.STAKE_PAYOUT, STAKING_ADDRESS, _topic_address(topics[1]), _word(data, 0), block, tx_hash)]
        if head == COMMISSION_WITHDRAWN.topic0 and len(topics) == 2:
            return [FundFlow(FlowKind.STAKE_PAYOUT, STAKING_ADDRESS, _topic_address(topics[1]), _word(data, 0), block, tx_hash)]
    return []


def _batch_flows(address: bytes, topics: Sequence[int], data: bytes, block: int, tx_hash: bytes) -> list[FundFlow]:
    """TransferBatch(operator, from, to, ids[], values[]): one flow per (id, value); malformed data gives none."""
    try:
        ids, values = _uint_array(data, _word(data, 0)), _uint_array(data, _word(data, 1))
    except ValueError:
        return []
    sender, recipient = _topic_address(topics[2]), _topic_address(topics[3])
    return [FundFlow(FlowKind.ERC1155, sender, recipient, value, block, tx_hash, asset=address, token_id=token_id)
            for token_id, value in zip(ids, values)]


def _uint_array(data: bytes, offset: int) -> list[int]:
    if offset % 32 or offset + 32 > len(data):
        raise ValueError("bad offset")
    length = min(_word(data, offset // 32), MAX_BATCH_IDS)
    if offset + 32 + 32 * length > len(data):
        raise ValueError("short array")
    return [_word(data, offset // 32 + 1 + i) for i in range(length)]


def block_flows(chain: Any, number: int, budget: Any = None) -> BlockFlows:
    """Every fund flow of committed block `number`, and the accounts it created.

    `chain` is a `ChainSnapshot` (call this in a worker thread: it re-executes the block);
    `budget`: an `ExecutionBudget` bounding that execution (JSON-RPC's)."""
    block = chain.get_block(number)
    receipts = chain.get_receipts(number)
    internal: dict[int, list[ValueTransfer]] = {}
    for transfer in block_value_transfers(chain, number, budget):
        internal.setdefault(transfer.tx_index, []).append(transfer)
    flows: list[FundFlow] = []
    for index, (tx, receipt) in enumerate(zip(block.transactions, receipts)):
        if receipt.state_root != b"\x01":  # a failed transaction moved nothing
            continue
        tx_hash = bytes(tx.hash)
        if tx.to and tx.value > 0:
            flows.append(FundFlow(_value_kind(bytes(tx.to), True), bytes(tx.sender), bytes(tx.to), tx.value, number, tx_hash))
        for t in internal.get(index, ()):
            flows.append(FundFlow(_value_kind(t.recipient, False), t.sender, t.recipient, t.amount, number, tx_hash))
        for entry in receipt.logs:
            flows.extend(log_flows(bytes(entry.address), entry.topics, bytes(entry.data), number, tx_hash))
    flows = flows[:MAX_FLOWS_PER_BLOCK]
    return BlockFlows(number, tuple(flows), new_accounts(chain, number, flows))


def new_accounts(chain: Any, number: int, flows: Sequence[FundFlow]) -> frozenset[bytes]:
    """Recipients of native value that had no nonce, balance or code before the block."""
    before = chain.state_at(number - 1)
    candidates = {f.recipient for f in flows if f.asset is None}
    return frozenset(
        a for a in candidates
        if before.nonce(a) == 0 and before.balance(a) == 0 and not before.code(a)
    )


__all__ = ["block_flows", "log_flows", "new_accounts", "transaction_flows"]

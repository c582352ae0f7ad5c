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

import rlp
from eth_hash.auto import keccak

from execution.trace import ValueTransfer, block_value_transfers
from plume_node.compliance.model import BlockFlows, FlowKind, FundFlow
from staking.abi import COMMISSION_WITHDRAWN, REWARDS_CLAIMED
from staking.addresses import STAKING_ADDRESS

ERC20_TRANSFER = int.from_bytes(keccak(b"Transfer(address,address,uint256)"), "big")
ERC1155_SINGLE = int.from_bytes(keccak(b"TransferSingle(address,address,address,uint256,uint256)"), "big")
ERC1155_BATCH = int.from_bytes(keccak(b"TransferBatch(address,address,address,uint256[],uint256[])"), "big")
# ids of one TransferBatch log turned into flows; a longer batch gives its first ones only (counted)
MAX_BATCH_IDS = 256
# Flows of one block kept. Past it the value flows (a transaction's own value and the
# traced internal transfers) are kept first, then the log-derived ones in block order:
# fake token logs, cheap to emit, cannot push real movements out.
MAX_FLOWS_PER_BLOCK = 20_000
# Log-derived flows kept per emitting contract per block: one contract's logs (a spam
# token's TransferBatch logs cost ~266 gas a flow) cannot fill the block's share.
MAX_LOG_FLOWS_PER_CONTRACT = 1024
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


def transaction_flows(sender: bytes, to: bytes | None, value: int, data: bytes, block: int,
                      nonce: int = 0) -> tuple[FundFlow, ...]:
    """The movements a transaction announces (value, a creation's endowment to the address it
    creates at `nonce`; ERC-20 transfer/transferFrom calldata)."""
    flows = []
    if value > 0:
        recipient = to if to is not None else created_address(sender, nonce)
        flows.append(FundFlow(_value_kind(recipient, True), sender, recipient, value, block))
    # `>=`: Solidity ignores calldata past the arguments, so trailing bytes still transfer.
    if to is not None and len(data) >= 4 + 64 and data[:4] == _TRANSFER_SELECTOR:
        flows.append(FundFlow(FlowKind.ERC20, sender, _topic_address(_word(data[4:], 0)), _word(data[4:], 1), block, asset=to))
    elif to is not None and len(data) >= 4 + 96 and data[:4] == _TRANSFER_FROM_SELECTOR:
        body = data[4:]
        flows.append(FundFlow(FlowKind.ERC20, _topic_address(_word(body, 0)), _topic_address(_word(body, 1)),
                              _word(body, 2), block, asset=to))
    return tuple(flows)


def log_flows(address: bytes, topics: Sequence[int], data: bytes, block: int, tx_hash: bytes) -> list[FundFlow]:
    """The movements one log reports (none for logs of other shapes)."""
    return counted_log_flows(address, topics, data, block, tx_hash)[0]


def counted_log_flows(address: bytes, topics: Sequence[int], data: bytes, block: int,
                      tx_hash: bytes) -> tuple[list[FundFlow], int]:
    """`log_flows`, and how many movements the log reports past MAX_BATCH_IDS (left out)."""
    if not topics:
        return [], 0
    head = topics[0]
    if head == ERC20_TRANSFER and len(topics) == 3 and len(data) == 32:
        return [FundFlow(FlowKind.ERC20, _topic_address(topics[1]), _topic_address(topics[2]), _word(data, 0),
                         block, tx_hash, asset=address)], 0
    if head == ERC1155_SINGLE and len(topics) == 4 and len(data) == 64:
        return [FundFlow(FlowKind.ERC1155, _topic_address(topics[2]), _topic_address(topics[3]), _word(data, 1),
                         block, tx_hash, asset=address, token_id=_word(data, 0))], 0
    if head == ERC1155_BATCH and len(topics) == 4:
        return _batch_flows(address, topics, data, block, tx_hash)
    if address == STAKING_ADDRESS and len(data) == 32:
        if head == REWARDS_CLAIMED.topic0 and len(topics) == 3:
            return [FundFlow(FlowKind.STAKE_PAYOUT, STAKING_ADDRESS, _topic_address(topics[1]), _word(data, 0), block, tx_hash)], 0
        if head == COMMISSION_WITHDRAWN.topic0 and len(topics) == 2:
            return [FundFlow(FlowKind.STAKE_PAYOUT, STAKING_ADDRESS, _topic_address(topics[1]), _word(data, 0), block, tx_hash)], 0
    return [], 0


def _batch_flows(address: bytes, topics: Sequence[int], data: bytes, block: int,
                 tx_hash: bytes) -> tuple[list[FundFlow], int]:
    """TransferBatch(operator, from, to, ids[], values[]): one flow per (id, value); malformed data gives none."""
    try:
        (ids, ids_declared), (values, _) = _uint_array(data, _word(data, 0)), _uint_array(data, _word(data, 1))
    except ValueError:
        return [], 0
    sender, recipient = _topic_address(topics[2]), _topic_address(topics[3])
    flows = [FundFlow(FlowKind.ERC1155, sender, recipient, value, block, tx_hash, asset=address, token_id=token_id)
             for token_id, value in zip(ids, values)]
    return flows, max(0, ids_declared - len(ids))


def _uint_array(data: bytes, offset: int) -> tuple[list[int], int]:
    """The array's first MAX_BATCH_IDS items, and the length it declares."""
    if offset % 32 or offset + 32 > len(data):
        raise ValueError("bad offset")
    declared = _word(data, offset // 32)
    length = min(declared, MAX_BATCH_IDS)
    if offset + 32 + 32 * length > len(data):
        raise ValueError("short array")
    return [_word(data, offset // 32 + 1 + i) for i in range(length)], declared


class _FlowCollector:
    """A block's flows in block order, bounded: every value flow first, then the log-derived ones,
    at most MAX_LOG_FLOWS_PER_CONTRACT per emitting contract; `dropped` counts what was left out."""

    def __init__(self) -> None:
        self.entries: list[tuple[FundFlow, bool]] = []  # (flow, from a log)
        self.value_count = 0
        self.per_contract: dict[bytes, int] = {}
        self.dropped = 0

    def add_value(self, flow: FundFlow) -> None:
        self.entries.append((flow, False))
        self.value_count += 1

    def add_logs(self, contract: bytes, flows: list[FundFlow], dropped: int) -> None:
        self.dropped += dropped
        room = MAX_LOG_FLOWS_PER_CONTRACT - self.per_contract.get(contract, 0)
        kept = flows[: max(0, room)]
        self.dropped += len(flows) - len(kept)
        self.per_contract[contract] = self.per_contract.get(contract, 0) + len(kept)
        self.entries.extend((f, True) for f in kept)

    def flows(self) -> list[FundFlow]:
        if len(self.entries) <= MAX_FLOWS_PER_BLOCK:
            return [f for f, _ in self.entries]
        value_room = min(self.value_count, MAX_FLOWS_PER_BLOCK)
        log_room = MAX_FLOWS_PER_BLOCK - value_room
        kept: list[FundFlow] = []
        for flow, from_log in self.entries:
            if from_log and log_room > 0:
                log_room -= 1
                kept.append(flow)
            elif not from_log and value_room > 0:
                value_room -= 1
                kept.append(flow)
        self.dropped += len(self.entries) - len(kept)
        return kept


def block_flows(chain: Any, number: int, budget: Any = None, trace: bool = True,
                wants_new_accounts: bool = True) -> BlockFlows:
    """Every fund flow of committed block `number`, and the accounts it created.

    `chain` is a `ChainSnapshot` (call this in a worker thread: it re-executes the block);
    `budget`: an `ExecutionBudget` bounding that execution (JSON-RPC's). `trace=False`
    skips the re-execution: no internal transfers (`internal_traced` is then False)."""
    block = chain.get_block(number)
    receipts = chain.get_receipts(number)
    internal: dict[int, list[ValueTransfer]] = {}
    for transfer in (block_value_transfers(chain, number, budget) if trace else ()):
        internal.setdefault(transfer.tx_index, []).append(transfer)
    collector = _FlowCollector()
    for index, (tx, receipt) in enumerate(zip(block.transactions, receipts)):
        if receipt.state_root != b"\x01":  # a failed transaction moved nothing
            continue
        tx_hash = bytes(tx.hash)
        if tx.value > 0:
            # A contract creation's endowment goes to the address it creates (sender, nonce).
            to = bytes(tx.to) if tx.to else created_address(bytes(tx.sender), tx.nonce)
            collector.add_value(FundFlow(_value_kind(to, True), bytes(tx.sender), to, tx.value, number, tx_hash))
        for t in internal.get(index, ()):
            collector.add_value(FundFlow(_value_kind(t.recipient, False), t.sender, t.recipient, t.amount, number, tx_hash))
        for entry in receipt.logs:
            address = bytes(entry.address)
            collector.add_logs(address, *counted_log_flows(address, entry.topics, bytes(entry.data), number, tx_hash))
    flows = collector.flows()
    created = new_accounts(chain, number, flows) if wants_new_accounts else frozenset()
    return BlockFlows(number, tuple(flows), created, truncated=collector.dropped, internal_traced=trace)


def created_address(sender: bytes, nonce: int) -> bytes:
    """The address a CREATE by `sender` at `nonce` deploys to."""
    return keccak(rlp.encode([sender, nonce]))[12:]


def new_accounts(chain: Any, number: int, flows: Sequence[FundFlow]) -> frozenset[bytes]:
    """Recipients of native value that had no nonce, balance or code before the block."""
    before = chain.state_at(number - 1)
    candidates = {f.recipient for f in flows if f.asset is None}
    return frozenset(
        a for a in candidates
        if before.nonce(a) == 0 and before.balance(a) == 0 and not before.code(a)
    )


__all__ = ["block_flows", "counted_log_flows", "created_address", "log_flows", "new_accounts", "transaction_flows"]

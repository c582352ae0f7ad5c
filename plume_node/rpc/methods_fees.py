"""Fee methods: eth_gasPrice, eth_maxPriorityFeePerGas, eth_feeHistory.

The base fee is the real EIP-1559 one of this chain (the next block's comes
from the chain); the suggested tip is a percentile of the tips actually paid
in recent blocks, so a wallet that follows it gets included, and 1 gwei when
recent blocks are empty (what wallets expect and cheap next to the base fee).
"""

from __future__ import annotations

from typing import Any

from plume_node.rpc import params as p
from plume_node.rpc.chainview import ChainView, resolve_block_number
from plume_node.rpc.dispatch import MethodTable, Param
from plume_node.rpc.encode import effective_tip, q
from plume_node.rpc.errors import InvalidParams

table = MethodTable()

DEFAULT_TIP = 10**9
TIP_LOOKBACK_BLOCKS = 20
TIP_PERCENTILE = 60
MAX_FEE_HISTORY_BLOCKS = 1024
MAX_REWARD_PERCENTILES = 100


def suggested_tip(view: ChainView) -> int:
    head = view.head_number()
    tips: list[int] = []
    for number in range(max(0, head - TIP_LOOKBACK_BLOCKS + 1), head + 1):
        blk = view.block_by_number(number)
        if blk is None:
            continue
        base_fee = blk.header.base_fee_per_gas or 0
        tips.extend(effective_tip(tx, base_fee) for tx in blk.transactions)
    if not tips:
        return DEFAULT_TIP
    tips.sort()
    return tips[min(len(tips) - 1, len(tips) * TIP_PERCENTILE // 100)]


@table.register("eth_maxPriorityFeePerGas")
def eth_max_priority_fee_per_gas(backend: Any) -> str:
    return q(suggested_tip(ChainView(backend.chain)))


@table.register("eth_gasPrice")
def eth_gas_price(backend: Any) -> str:
    view = ChainView(backend.chain)
    return q(view.next_base_fee() + suggested_tip(view))


def _block_count(value: Any, name: str) -> int:
    # The spec says QUANTITY; geth (and some clients) also send a JSON number.
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    else:
        count = p.quantity(value, name)
    if count < 0:
        raise InvalidParams(f"{name}: must not be negative")
    return count


def _percentiles(value: Any, name: str) -> list[float]:
    if not isinstance(value, list):
        raise InvalidParams(f"{name}: expected an array of numbers between 0 and 100")
    if len(value) > MAX_REWARD_PERCENTILES:
        raise InvalidParams(f"{name}: at most {MAX_REWARD_PERCENTILES} percentiles")
    result: list[float] = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise InvalidParams(f"{name}[{i}]: expected a number between 0 and 100")
        if not 0 <= item <= 100:
            raise InvalidParams(f"{name}[{i}]: {item} is not between 0 and 100")
        if result and item < result[-1]:
            raise InvalidParams(f"{name}: percentiles must be increasing ({result[-1]} before {item})")
        result.append(float(item))
    return result


def block_rewards(view: ChainView, blk: Any, percentiles: list[float]) -> list[int]:
    """geth's algorithm: tips sorted ascending, weighted by each tx's gas used."""
    if not blk.transactions:
        return [0] * len(percentiles)
    base_fee = blk.header.base_fee_per_gas or 0
    receipts = view.receipts(blk)
    used = []
    previous = 0
    for tx, rcpt in zip(blk.transactions, receipts):
        used.append((effective_tip(tx, base_fee), rcpt.gas_used - previous))
        previous = rcpt.gas_used
    used.sort()
    total = blk.header.gas_used
    rewards = []
    index, cumulative = 0, used[0][1]
    for pct in percentiles:
        threshold = int(total * pct / 100)
        while cumulative < threshold and index < len(used) - 1:
            index += 1
            cumulative += used[index][1]
        rewards.append(used[index][0])
    return rewards


@table.register(
    "eth_feeHistory",
    Param("blockCount", _block_count),
    Param("newestBlock", lambda v, n: p.block_ref(v, n, allow_hash=False)),
    Param("rewardPercentiles", _percentiles, None),
)
def eth_fee_history(backend: Any, count: int, ref: p.BlockRef, percentiles: list[float] | None) -> dict[str, Any]:
    view = ChainView(backend.chain)
    head = view.head_number()
    newest = resolve_block_number(view, ref)
    if newest > head:
        raise InvalidParams(f"newestBlock: block {newest} is beyond the head ({head})")
    count = min(count, MAX_FEE_HISTORY_BLOCKS, newest + 1)
    if count == 0:
        return {"oldestBlock": q(0), "baseFeePerGas": [], "gasUsedRatio": []}
    oldest = newest - count + 1
    base_fees: list[str] = []
    ratios: list[float] = []
    rewards: list[list[str]] = []
    for number in range(oldest, newest + 1):
        blk = view.block_by_number(number)
        header = blk.header
        base_fees.append(q(header.base_fee_per_gas or 0))
        ratios.append(header.gas_used / header.gas_limit if header.gas_limit else 0.0)
        if percentiles is not None:
            rewards.append([q(r) for r in block_rewards(view, blk, percentiles)])
    # The entry after the newest block: the base fee it (or the next block) has.
    if newest == head:
        base_fees.append(q(view.next_base_fee()))
    else:
        base_fees.append(q(view.block_by_number(newest + 1).header.base_fee_per_gas or 0))
    result: dict[str, Any] = {"oldestBlock": q(oldest), "baseFeePerGas": base_fees, "gasUsedRatio": ratios}
    if percentiles is not None:
        result["reward"] = rewards
    return result

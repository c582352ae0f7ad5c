"""eth_getLogs: logs of committed blocks matching an address and topic filter.

Blocks whose header bloom cannot contain a match are skipped without reading
their receipts, so a sparse query over the full range cap stays cheap. The
range is capped (MAX_BLOCK_RANGE) and so is the answer (MAX_LOGS), each with
an error that says how to narrow the query, like geth's -32005. A filter
names at most MAX_ADDRESSES addresses, MAX_TOPICS topic positions and
MAX_TOPIC_VALUES values per position (geth's figures), refused with -32602
before any is parsed. The scan runs in an RPC worker on a snapshot
(workers.py) and stops at the request's deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from eth_bloom import BloomFilter

from execution.system_logs import end_of_block_tx_hash

from plume_node.rpc import params as p
from plume_node.rpc.chainview import ChainView, resolve_block_number
from plume_node.rpc.dispatch import MethodTable, Param
from plume_node.rpc.encode import log_entry
from plume_node.rpc.errors import LIMIT_EXCEEDED, InvalidParams, RpcError, ServerError
from plume_node.rpc.workers import OffThread, ReadContext

table = MethodTable()

MAX_BLOCK_RANGE = 10_000
MAX_LOGS = 10_000
MAX_TOPICS = 4
MAX_ADDRESSES = 1000
MAX_TOPIC_VALUES = 1000  # per topic position


@dataclass(frozen=True)
class LogFilter:
    from_ref: p.BlockRef
    to_ref: p.BlockRef
    block_hash: bytes | None
    addresses: tuple[bytes, ...]  # empty = any address
    # One entry per topic position: None = any, else the allowed values.
    topics: tuple[tuple[bytes, ...] | None, ...]

    # for matching: the addresses as a set (filled in __post_init__)
    address_set: frozenset[bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "address_set", frozenset(self.addresses))

    def entry_count(self) -> int:
        """How many addresses and topic values it holds (what a filter costs to keep)."""
        return len(self.addresses) + sum(len(t) for t in self.topics if t is not None)

    def matches(self, address: bytes, topics: tuple[bytes, ...]) -> bool:
        if self.addresses and address not in self.address_set:
            return False
        if len(topics) < len(self.topics):
            return False
        return all(allowed is None or topics[i] in allowed for i, allowed in enumerate(self.topics))


class BloomQuery:
    """A filter's bloom bits, computed once per query: a block is skipped
    unless its header bloom has every bit of some address and of some value
    at each topic position."""

    def __init__(self, flt: LogFilter) -> None:
        self.addresses = tuple(_bloom_bits(a) for a in flt.addresses)
        self.topics = tuple(tuple(_bloom_bits(t) for t in allowed) for allowed in flt.topics if allowed is not None)

    def may_match(self, bloom: int) -> bool:
        if self.addresses and not any(bloom & m == m for m in self.addresses):
            return False
        return all(any(bloom & m == m for m in masks) for masks in self.topics)


def _bloom_bits(value: bytes) -> int:
    bloom = BloomFilter()
    bloom.add(value)
    return int(bloom)


def _bounded_list(raw: Any, limit: int, where: str, what: str) -> None:
    if isinstance(raw, list) and len(raw) > limit:
        raise InvalidParams(f"{where}: at most {limit} {what}, got {len(raw)}")


def log_filter(value: Any, name: str) -> LogFilter:
    if not isinstance(value, dict):
        raise InvalidParams(f"{name}: expected a filter object like {{\"fromBlock\": \"0x1\", \"address\": \"0x..\"}}")
    unknown = sorted(set(value) - {"fromBlock", "toBlock", "blockHash", "address", "topics"})
    if unknown:
        raise InvalidParams(f"{name}: unknown field(s) {p.names(unknown)}")
    block_hash = None
    if value.get("blockHash") is not None:
        if value.get("fromBlock") is not None or value.get("toBlock") is not None:
            raise InvalidParams(f"{name}: blockHash cannot be combined with fromBlock/toBlock")
        block_hash = p.hash32(value["blockHash"], f"{name}.blockHash")
    latest = p.BlockRef(tag="latest")

    def ref(key: str) -> p.BlockRef:
        raw = value.get(key)
        return latest if raw is None else p.block_ref(raw, f"{name}.{key}", allow_hash=False)

    raw_address = value.get("address")
    _bounded_list(raw_address, MAX_ADDRESSES, f"{name}.address", "addresses")
    if raw_address is None:
        addresses: tuple[bytes, ...] = ()
    elif isinstance(raw_address, list):
        addresses = tuple(p.address(a, f"{name}.address[{i}]") for i, a in enumerate(raw_address))
    else:
        addresses = (p.address(raw_address, f"{name}.address"),)
    raw_topics = value.get("topics")
    topics: list[tuple[bytes, ...] | None] = []
    if raw_topics is not None:
        if not isinstance(raw_topics, list):
            raise InvalidParams(f"{name}.topics: expected an array (null for any, a topic, or an array of topics)")
        if len(raw_topics) > MAX_TOPICS:
            raise InvalidParams(f"{name}.topics: at most {MAX_TOPICS} topic positions, got {len(raw_topics)}")
        for i, position in enumerate(raw_topics):
            where = f"{name}.topics[{i}]"
            if position is None:
                topics.append(None)
            elif isinstance(position, list):
                _bounded_list(position, MAX_TOPIC_VALUES, where, "values per topic position")
                # An empty OR-list matches anything, as in geth.
                values = tuple(p.hash32(t, f"{where}[{j}]") for j, t in enumerate(position) if t is not None)
                topics.append(values if values and None not in position else None)
            else:
                topics.append((p.hash32(position, where),))
    while topics and topics[-1] is None:
        topics.pop()
    return LogFilter(ref("fromBlock"), ref("toBlock"), block_hash, addresses, tuple(topics))


@dataclass(frozen=True)
class BlockLog:
    """One log of a committed block, with what a filter matches on."""

    address: bytes
    topics: tuple[bytes, ...]
    log: Any  # py-evm's LogAPI
    tx_hash: bytes
    tx_index: int
    log_index: int  # within the block

    def entry(self, header: Any) -> dict[str, Any]:
        return log_entry(self.log, block_hash=header.hash, block_number=header.block_number,
                         tx_hash=self.tx_hash, tx_index=self.tx_index, log_index=self.log_index)


def block_logs(view: ChainView, blk: Any) -> Iterator[BlockLog]:
    """Every log of `blk`, in order: its transactions', then its end-of-block logs under
    the derived hash, at transaction index len(transactions) (docs/rpc.md)."""
    log_index = 0
    for tx_index, (tx, rcpt) in enumerate(zip(blk.transactions, view.receipts(blk))):
        for log in rcpt.logs:
            yield BlockLog(log.address, _topics(log), log, tx.hash, tx_index, log_index)
            log_index += 1
    system_hash = end_of_block_tx_hash(blk.number, blk.hash)
    for log in view.system_logs(blk):
        yield BlockLog(log.address, _topics(log), log, system_hash, len(blk.transactions), log_index)
        log_index += 1


def _topics(log: Any) -> tuple[bytes, ...]:
    return tuple(t.to_bytes(32, "big") if isinstance(t, int) else bytes(t) for t in log.topics)


def _logs_of_block(view: ChainView, blk: Any, flt: LogFilter, out: list[dict[str, Any]]) -> None:
    for found in block_logs(view, blk):
        if flt.matches(found.address, found.topics):
            if len(out) >= MAX_LOGS:
                raise RpcError(
                    LIMIT_EXCEEDED,
                    f"query returned more than {MAX_LOGS} results; narrow the block range or the filter",
                )
            out.append(found.entry(blk.header))


@table.register("eth_getLogs", Param("filter", log_filter))
def eth_get_logs(backend: Any, flt: LogFilter) -> OffThread:
    return OffThread(lambda ctx: logs_matching(ctx, flt))


def logs_matching(ctx: ReadContext, flt: LogFilter) -> list[dict[str, Any]]:
    """eth_getLogs's answer, computed in a worker on its snapshot."""
    view = ChainView(ctx.chain, ctx.budget)
    out: list[dict[str, Any]] = []
    if flt.block_hash is not None:
        blk = view.block_by_hash(flt.block_hash)
        if blk is None:
            raise ServerError(f"unknown block {('0x' + flt.block_hash.hex())}")
        if BloomQuery(flt).may_match(int(blk.header.bloom)):
            _logs_of_block(view, blk, flt, out)
        return out
    head = view.head_number()
    start = resolve_block_number(view, flt.from_ref)
    end = min(resolve_block_number(view, flt.to_ref), head)
    if start > end:
        if start > head:
            return []
        raise InvalidParams(f"invalid block range: fromBlock {start} is after toBlock {end}")
    if end - start + 1 > MAX_BLOCK_RANGE:
        raise RpcError(
            LIMIT_EXCEEDED,
            f"block range too large: {end - start + 1} blocks ({start}..{end}); query at most {MAX_BLOCK_RANGE} at a time",
        )
    collect_logs(view, flt, start, end, out)
    return out


def collect_logs(view: ChainView, flt: LogFilter, start: int, end: int, out: list[dict[str, Any]]) -> None:
    """Append the logs of blocks start..end (inclusive, committed) matching `flt`.

    With a budget on `view`, stops (`ExecutionAborted`) at its deadline."""
    bloom_query = BloomQuery(flt)
    for number in range(start, end + 1):
        if view.budget is not None:
            view.budget.check()
        # The header's bloom rules most blocks out before their body is read.
        header = view.header_by_number(number)
        if header is None or not bloom_query.may_match(int(header.bloom)):
            continue
        blk = view.block_by_number(number)
        if blk is not None:
            _logs_of_block(view, blk, flt, out)

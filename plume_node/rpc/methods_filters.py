"""Polling filters: eth_newFilter, eth_newBlockFilter, eth_newPendingTransactionFilter,
eth_getFilterChanges, eth_getFilterLogs, eth_uninstallFilter.

ethers.js (v6) watches contract events over HTTP with these rather than
eth_getLogs, so a library "works unmodified" only with them. Filters live in
the server process (`FilterRegistry`, one per server), like geth's: a filter
not polled for FILTER_TIMEOUT_S is dropped, and at most MAX_FILTERS exist.
Their memory is bounded too: all log filters together hold at most
MAX_FILTER_ENTRIES addresses and topic values, and at most
MAX_PENDING_FILTERS pending-transaction filters (each remembers the pool's
hashes) exist. Log scans run in an RPC worker (workers.py).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from plume_node.rpc import params as p
from plume_node.rpc.chainview import ChainView, resolve_block_number
from plume_node.rpc.dispatch import MethodTable, Param
from plume_node.rpc.encode import d
from plume_node.rpc.errors import InvalidParams, ServerError
from plume_node.rpc.methods_logs import MAX_BLOCK_RANGE, LogFilter, collect_logs, eth_get_logs, log_filter
from plume_node.rpc.workers import OffThread, ReadContext

FILTER_TIMEOUT_S = 300.0
MAX_FILTERS = 1000
MAX_PENDING_SEEN = 100_000
# Addresses + topic values held by all log filters together (a filter holds
# at most 1,000 addresses and 4 x 1,000 topic values): ~10 MB at most.
MAX_FILTER_ENTRIES = 100_000
MAX_PENDING_FILTERS = 64


@dataclass
class _Filter:
    kind: str  # "logs", "blocks" or "pending"
    last_block: int  # the head when last polled
    last_poll: float
    criteria: LogFilter | None = None
    seen_pending: set[bytes] = field(default_factory=set)


class FilterRegistry:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.filters: dict[str, _Filter] = {}

    def _expire(self) -> None:
        now = self.clock()
        for fid in [f for f, flt in self.filters.items() if now - flt.last_poll > FILTER_TIMEOUT_S]:
            del self.filters[fid]

    def entries(self) -> int:
        return sum(f.criteria.entry_count() for f in self.filters.values() if f.criteria is not None)

    def add(self, flt: _Filter) -> str:
        self._expire()
        if len(self.filters) >= MAX_FILTERS:
            raise ServerError(f"too many filters ({MAX_FILTERS}); uninstall some with eth_uninstallFilter")
        if flt.kind == "pending" and sum(f.kind == "pending" for f in self.filters.values()) >= MAX_PENDING_FILTERS:
            raise ServerError(
                f"too many pending-transaction filters ({MAX_PENDING_FILTERS}); uninstall some with eth_uninstallFilter"
            )
        if flt.criteria is not None and self.entries() + flt.criteria.entry_count() > MAX_FILTER_ENTRIES:
            raise ServerError(
                f"log filters hold too many addresses and topics (at most {MAX_FILTER_ENTRIES} together); "
                "uninstall some with eth_uninstallFilter or use eth_getLogs"
            )
        # A QUANTITY as the spec types filter ids: no leading zero digit.
        fid = hex(secrets.randbits(128) | 1 << 127)
        self.filters[fid] = flt
        return fid

    def get(self, fid: str) -> _Filter:
        self._expire()
        flt = self.filters.get(fid)
        if flt is None:
            raise ServerError("filter not found")
        flt.last_poll = self.clock()
        return flt


def _filter_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) > 66:
        raise InvalidParams(f"{name}: expected a filter id (0x-prefixed hex) returned by eth_new*Filter")
    return value.lower()


def make_table(registry: FilterRegistry) -> MethodTable:
    table = MethodTable()

    @table.register("eth_newFilter", Param("filter", log_filter))
    def eth_new_filter(backend: Any, criteria: LogFilter) -> str:
        view = ChainView(backend.chain)
        head = view.head_number()
        # A fromBlock tag means "from now on": fix it to the first block after
        # creation, or each poll would start from the then-latest block and
        # skip some. (toBlock "latest" stays open-ended.)
        if criteria.block_hash is None and criteria.from_ref.tag not in (None, "earliest"):
            criteria = replace(criteria, from_ref=p.BlockRef(number=head + 1))
        return registry.add(_Filter("logs", head, registry.clock(), criteria))

    @table.register("eth_newBlockFilter")
    def eth_new_block_filter(backend: Any) -> str:
        head = ChainView(backend.chain).head_number()
        return registry.add(_Filter("blocks", head, registry.clock()))

    @table.register("eth_newPendingTransactionFilter")
    def eth_new_pending_filter(backend: Any) -> str:
        head = ChainView(backend.chain).head_number()
        return registry.add(_Filter("pending", head, registry.clock(), seen_pending=set(backend.mempool)))

    @table.register("eth_getFilterChanges", Param("id", _filter_id))
    def eth_get_filter_changes(backend: Any, fid: str) -> list[Any] | OffThread:
        flt = registry.get(fid)
        view = ChainView(backend.chain)
        head = view.head_number()
        if flt.kind == "pending":
            current = set(backend.mempool)
            new = [h for h in current if h not in flt.seen_pending]
            # Remember what is still pending only, so the set stays bounded by the pool.
            flt.seen_pending = current if len(current) <= MAX_PENDING_SEEN else set()
            return [d(h) for h in new]
        # Blocks committed since the last poll (at most a range cap's worth).
        start = max(flt.last_block + 1, head - MAX_BLOCK_RANGE + 1)
        flt.last_block = head
        if flt.kind == "blocks":
            return [d(view.header_by_number(n).hash) for n in range(start, head + 1)]
        assert flt.criteria is not None
        criteria = flt.criteria
        if criteria.block_hash is not None:
            return []  # a blockHash filter has no "new" logs
        low = max(start, resolve_block_number(view, criteria.from_ref))
        high = min(head, resolve_block_number(view, criteria.to_ref))
        if low > high:
            return []
        return OffThread(lambda ctx: _new_logs(ctx, criteria, low, high))

    @table.register("eth_getFilterLogs", Param("id", _filter_id))
    def eth_get_filter_logs(backend: Any, fid: str) -> OffThread:
        flt = registry.get(fid)
        if flt.kind != "logs" or flt.criteria is None:
            raise ServerError("filter is not a log filter: use eth_getFilterChanges")
        return eth_get_logs(backend, flt.criteria)

    @table.register("eth_uninstallFilter", Param("id", _filter_id))
    def eth_uninstall_filter(backend: Any, fid: str) -> bool:
        registry._expire()
        return registry.filters.pop(fid, None) is not None

    return table


def _new_logs(ctx: ReadContext, criteria: LogFilter, low: int, high: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    collect_logs(ChainView(ctx.chain, ctx.budget), criteria, low, high, out)
    return out

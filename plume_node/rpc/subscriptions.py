"""eth_subscribe over WebSocket: `newHeads`, `logs` and `newPendingTransactions`, as geth serves them.

`SubscriptionHub` (one per RPC server) hears the node's `ChainEvents` and
fans each event out to the subscriptions. The node's side never waits: a
commit only raises the hub's target height, an admitted transaction is
offered to a bounded channel (`PENDING_BUFFER`; when full the hash is not
announced, as a busy geth drops pending-transaction events). The hub's own
task builds the notifications, once per event, and pushes them into each
connection's `Outbox` without blocking: a connection whose queue is full is
dropped by its outbox, never waited for.

Blocks are announced in order, every height once, including heights a
block-sync batch committed together. Logs of a block go out one notification
per log (`removed` is always false: committed blocks are final).
Subscriptions hold at most `MAX_SUBSCRIPTION_ENTRIES` addresses and topic
values together (as the polling filters do), so the per-block matching work
stays bounded. A failure while building an announcement or handing it to one
connection is logged and skipped: it never ends the hub, the RPC server or
the node.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from enum import Enum
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import trio

from plume_node.events import PlumeKind
from plume_node.rpc.chainview import ChainView
from plume_node.rpc.encode import d, header_fields, transaction
from plume_node.rpc.errors import LIMIT_EXCEEDED, RpcError
from plume_node.rpc.methods_logs import BloomQuery, LogFilter, block_logs

if TYPE_CHECKING:
    from execution.chain import PlumeChain
    from execution.mempool import Mempool

log = logging.getLogger("plume.rpc")

# Admitted transactions waiting to be announced; more are not announced.
PENDING_BUFFER = 10_000
# Addresses + topic values of all logs subscriptions together (as MAX_FILTER_ENTRIES).
MAX_SUBSCRIPTION_ENTRIES = 100_000


class Kind(Enum):
    NEW_HEADS = "newHeads"
    LOGS = "logs"
    PENDING = "newPendingTransactions"


class Outbox(Protocol):
    def push(self, message: str) -> bool:
        """Queue `message` for the client without blocking; False once the
        connection is dropped (its queue overflowed, or it closed)."""


@dataclass(frozen=True)
class Subscription:
    id: str
    kind: Kind | PlumeKind
    outbox: Outbox
    criteria: LogFilter | None = None
    bloom: BloomQuery | None = None
    full_transactions: bool = False

    def entry_count(self) -> int:
        return self.criteria.entry_count() if self.criteria is not None else 0

    def wants_block(self, number: int) -> bool:
        """A logs subscription with numeric fromBlock/toBlock gets the logs of those blocks only (as geth)."""
        if self.criteria is None:
            return True
        low, high = self.criteria.from_ref.number, self.criteria.to_ref.number
        return (low is None or number >= low) and (high is None or number <= high)


def new_subscription_id() -> str:
    """0x and 32 hex digits (16 random bytes, as geth's ids), never a leading zero digit,
    so the id also satisfies the JSON-RPC spec's QUANTITY pattern."""
    while True:
        digits = secrets.token_hex(16)
        if digits[0] != "0":
            return "0x" + digits


def notification(subscription_id: str, result_json: str, method: str = "eth_subscription") -> str:
    return (
        '{"jsonrpc":"2.0","method":"' + method + '","params":{"subscription":"'
        + subscription_id + '","result":' + result_json + "}}"
    )


class SubscriptionHub:
    def __init__(self, chain: "PlumeChain", mempool: "Mempool") -> None:
        self.chain = chain
        self.mempool = mempool
        self.subscriptions: dict[str, Subscription] = {}
        self.entries = 0
        self.pending_count = 0  # newPendingTransactions subscriptions, so admission checks one integer
        self.plume_counts = {kind: 0 for kind in PlumeKind}  # plume_subscribe subscriptions per kind
        self._head = ChainView(chain).head_number()
        self._published = self._head
        self._wake = trio.Event()
        self._pending_send, self._pending_receive = trio.open_memory_channel[bytes](PENDING_BUFFER)
        self.pending_dropped = 0

    # ---- the node's side (ChainEvents callbacks): never block

    def committed(self, height: int) -> None:
        if height > self._head:
            self._head = height
            self._wake.set()

    def pending(self, tx_hash: bytes) -> None:
        if not self.pending_count:
            return
        try:
            self._pending_send.send_nowait(tx_hash)
        except trio.WouldBlock:
            self.pending_dropped += 1

    def compliance(self, kind: PlumeKind, make_results: Callable[[], Sequence[str]]) -> None:
        """ChainEvents listen_compliance: hand one block's compliance notifications to their
        subscribers, the subscriber list computed once (each outbox is bounded and never
        blocks); the JSON is built only if there are any."""
        subs = [s for s in self.subscriptions.values() if s.kind is kind]
        if not subs:
            return
        for result_json in make_results():
            for sub in subs:
                _deliver(sub, notification(sub.id, result_json, "plume_subscription"))

    def compliance_wanted(self, kind: PlumeKind) -> bool:
        return self.plume_counts[kind] > 0

    # ---- the connections' side

    def add(self, sub: Subscription) -> None:
        if self.entries + sub.entry_count() > MAX_SUBSCRIPTION_ENTRIES:
            raise RpcError(
                LIMIT_EXCEEDED,
                f"logs subscriptions hold too many addresses and topics (at most {MAX_SUBSCRIPTION_ENTRIES} "
                "together on this node); narrow the filter",
            )
        self.subscriptions[sub.id] = sub
        self.entries += sub.entry_count()
        self.pending_count += sub.kind is Kind.PENDING
        if isinstance(sub.kind, PlumeKind):
            self.plume_counts[sub.kind] += 1

    def remove(self, subscription_id: str) -> bool:
        sub = self.subscriptions.pop(subscription_id, None)
        if sub is None:
            return False
        self.entries -= sub.entry_count()
        self.pending_count -= sub.kind is Kind.PENDING
        if isinstance(sub.kind, PlumeKind):
            self.plume_counts[sub.kind] -= 1
        return True

    # ---- the hub's task

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._announce_blocks)
            nursery.start_soon(self._announce_pending)

    async def _announce_blocks(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self._published < self._head:
                self._published += 1
                _guarded("block", self._announce_block, self._published)
                await trio.lowlevel.checkpoint()  # let the connections' writers run between blocks

    def _announce_block(self, number: int) -> None:
        subs = [s for s in self.subscriptions.values() if s.kind in (Kind.NEW_HEADS, Kind.LOGS)]
        if not subs:
            return
        view = ChainView(self.chain)
        blk = view.block_by_number(number)
        if blk is None:  # pragma: no cover - committed heights are readable
            log.warning("subscriptions: committed block %d not found", number)
            return
        heads = [s for s in subs if s.kind is Kind.NEW_HEADS]
        if heads:
            header_json = _dumps(header_fields(blk.header))
            for sub in heads:
                _deliver(sub, notification(sub.id, header_json))
        bloom = int(blk.header.bloom)
        logs_subs = [
            s for s in subs
            if s.kind is Kind.LOGS and s.wants_block(number) and s.bloom is not None and s.bloom.may_match(bloom)
        ]
        if logs_subs:
            self._announce_logs(view, blk, logs_subs)

    def _announce_logs(self, view: ChainView, blk: Any, subs: list[Subscription]) -> None:
        for found in block_logs(view, blk):
            entry_json: str | None = None
            for sub in subs:
                assert sub.criteria is not None
                if sub.criteria.matches(found.address, found.topics):
                    if entry_json is None:
                        entry_json = _dumps(found.entry(blk.header))
                    _deliver(sub, notification(sub.id, entry_json))

    async def _announce_pending(self) -> None:
        async for tx_hash in self._pending_receive:
            _guarded("pending transaction", self._announce_transaction, tx_hash)

    def _announce_transaction(self, tx_hash: bytes) -> None:
        subs = [s for s in self.subscriptions.values() if s.kind is Kind.PENDING]
        hash_json = _dumps(d(tx_hash))
        full_json: str | None = None
        for sub in subs:
            if not sub.full_transactions:
                _deliver(sub, notification(sub.id, hash_json))
                continue
            if full_json is None:
                tx = self.mempool.get(tx_hash)
                if tx is None:
                    continue  # already mined or evicted: nothing to show in full
                full_json = _dumps(
                    transaction(tx, block_hash=None, block_number=None, index=None, base_fee=None)
                )
            _deliver(sub, notification(sub.id, full_json))
        if self.pending_dropped:
            log.warning("%d pending transaction(s) not announced: the announcement queue was full",
                        self.pending_dropped)
            self.pending_dropped = 0


def _deliver(sub: Subscription, message: str) -> None:
    # One connection's failure must not keep the message from the others.
    try:
        sub.outbox.push(message)
    except Exception:
        log.exception("subscriptions: delivering to %s failed", sub.id)


def _guarded(what: str, announce: Any, value: Any) -> None:
    # A bug in building one announcement must not end the RPC server (and
    # with it the node): it is logged and that announcement is skipped.
    try:
        announce(value)
    except Exception:
        log.exception("subscriptions: announcing a %s failed", what)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


__all__ = ["Kind", "PlumeKind", "Outbox", "Subscription", "SubscriptionHub", "new_subscription_id", "notification"]

"""Batched transaction relay: admitted transactions go to peers as `TxBatch` messages.

Owns `TxRelay`. Every transaction the node admits to its pool (from JSON-RPC
or from a peer, `Node.submit_transaction`) is queued here; a flush, at most
`FLUSH_INTERVAL_S` after the first queued transaction or at once when a full
batch is waiting, sends each connected peer one `TxBatch` (or a few, within
the batch limits) holding the queued transactions that peer is not known to
have. A peer is known to have a transaction it sent us (in a batch or a single
`Tx`) or that we sent it; those hashes are kept per peer in a bounded LRU set,
only for connected peers (a message read after its peer left marks nothing),
and the sets of peers gone are pruned every `PRUNE_INTERVAL_S` whether or not
anything is queued.

Only admitted transactions are queued, so nothing unverified is relayed, and a
transaction the pool refused never is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import trio

from p2p import messages as wire
from p2p.gossip import LRUSet

log = logging.getLogger("plume.net")

# How long the first queued transaction waits for others to join its batch.
FLUSH_INTERVAL_S = 0.01
# How often the known sets of departed peers are dropped when nothing is queued
# (a disconnect event handled before that peer's last message was read).
PRUNE_INTERVAL_S = 5.0
# Transaction hashes remembered per peer (what it sent us or we sent it);
# the oldest are forgotten first. 32-byte keys: a few hundred KiB per peer.
KNOWN_TXS_PER_PEER = 4096
# Bytes a batch's encoding adds beside its transactions' own bytes: the array
# headers (at most 5 bytes each) and one bin header per transaction.
_BATCH_OVERHEAD = 16
_PER_TX_OVERHEAD = 5


class TxRelay:
    """Queue of admitted transactions and per-peer known hashes for one node's p2p service."""

    def __init__(self, service, *, max_txs: int = wire.MAX_TXS_PER_BATCH,
                 max_bytes: int = wire.MAX_TX_BATCH_BYTES, known_per_peer: int = KNOWN_TXS_PER_PEER) -> None:
        self.service = service
        self.max_txs = max_txs
        # A batch must also fit the message cap the operator configured.
        self.max_bytes = min(max_bytes, service.config.max_message_bytes - _BATCH_OVERHEAD)
        self.known_per_peer = known_per_peer
        self._pending: dict[bytes, bytes] = {}  # tx hash -> raw, in admission order
        self._known: dict[str, LRUSet] = {}
        self._queued = trio.Event()

    # ---- what peers have ------------------------------------------------------

    def mark_known(self, peer_id: str, tx_hashes: Iterable[bytes]) -> None:
        known = self._known.get(peer_id)
        if known is None:
            if not self.service.is_connected(peer_id):
                return  # gone: nothing to send it, nothing to remember
            known = self._known[peer_id] = LRUSet(self.known_per_peer)
        for tx_hash in tx_hashes:
            known.add(tx_hash)

    def peer_knows(self, peer_id: str, tx_hash: bytes) -> bool:
        known = self._known.get(peer_id)
        return known is not None and tx_hash in known

    def peer_gone(self, peer_id: str) -> None:
        self._known.pop(peer_id, None)

    # ---- queue and flush ------------------------------------------------------

    def queue(self, tx_hash: bytes, raw: bytes) -> None:
        """Queue an admitted transaction for the next flush (at once if a batch is full)."""
        self._pending[tx_hash] = raw
        if len(self._pending) >= self.max_txs:
            self.flush()
        else:
            self._queued.set()

    async def run(self) -> None:
        """Flush `FLUSH_INTERVAL_S` after a transaction is queued (and prune
        every `PRUNE_INTERVAL_S` when nothing is), until cancelled."""
        while True:
            with trio.move_on_after(PRUNE_INTERVAL_S):
                await self._queued.wait()
            if self._queued.is_set():
                await trio.sleep(FLUSH_INTERVAL_S)
                self._queued = trio.Event()
                step = self.flush
            else:
                step = self.prune
            try:
                step()
            except Exception as exc:  # a bug of ours must cost one flush, not the node
                log.error("transaction relay %s failed: %s", step.__name__, exc, exc_info=True)

    def prune(self) -> set[str]:
        """Drop the known sets of peers no longer connected; returns the connected ones."""
        connected = {peer.node_id for peer in self.service.peers()}
        for gone in [p for p in self._known if p not in connected]:
            del self._known[gone]  # a disconnect handled before the peer's last message
        return connected

    def flush(self) -> int:
        """Send the queued transactions to every peer lacking them; returns the batches sent."""
        pending, self._pending = self._pending, {}
        connected = self.prune()
        if not pending:
            return 0
        sent = 0
        for peer_id in sorted(connected):
            missing = [(h, raw) for h, raw in pending.items() if not self.peer_knows(peer_id, h)]
            sent += self._send_batches(peer_id, missing)
        return sent

    def _send_batches(self, peer_id: str, txs: list[tuple[bytes, bytes]]) -> int:
        sent = 0
        for batch in self._split(txs):
            try:
                queued = self.service.send(peer_id, wire.TxBatch(tuple(raw for _, raw in batch)))
            except ValueError as exc:  # over the message cap: ours to log, nobody's to punish
                log.warning("not relaying a transaction batch: %s", exc)
                continue
            if not queued:
                return sent  # disconnected, or dropped for a full queue
            self.mark_known(peer_id, (h for h, _ in batch))
            sent += 1
        return sent

    def _split(self, txs: list[tuple[bytes, bytes]]) -> list[list[tuple[bytes, bytes]]]:
        """Consecutive runs within the count and byte limits (a transaction
        alone over the byte limit is skipped: no peer could take it)."""
        batches: list[list[tuple[bytes, bytes]]] = []
        current: list[tuple[bytes, bytes]] = []
        size = 0
        for tx_hash, raw in txs:
            cost = len(raw) + _PER_TX_OVERHEAD
            if cost > self.max_bytes:
                continue
            if current and (len(current) >= self.max_txs or size + cost > self.max_bytes):
                batches.append(current)
                current, size = [], 0
            current.append((tx_hash, raw))
            size += cost
        if current:
            batches.append(current)
        return batches

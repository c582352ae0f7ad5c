"""Admission of peers' transactions, off the consensus path.

Owns `TxIntake`. The p2p inbound queue is one channel for every peer and every
message type, read by one task; a `TxBatch` carries up to 256 admissions (tens
of milliseconds of work each batch), so admitting inside that task would put
a flood of batches ahead of the next vote or proposal. Instead the inbound
task only hands a peer's transactions to this queue (cheap) and a separate
task admits them:

- **Bounded in transactions**, not messages: at most `INTAKE_QUEUE_TXS` wait
  in all, at most `INTAKE_PEER_TXS` for one peer.
- **A fair share per peer**: when the queue is full, the oldest transaction of
  the peer holding the most is dropped first, so a flooding peer drops its
  own and never another's. Gossip is best-effort: a dropped transaction
  reaches the pool through another peer or its sender's retry.
- **Round robin**: the admission task takes up to `INTAKE_TURN_TXS` from one
  peer, then the next peer's turn, and yields to the event loop after each
  turn, so consensus tasks run between turns.
- **Invalid transactions count against their peer**: honest peers relay only
  what their pool admitted, so a transaction refused for a reason that does
  not depend on chain state (`STATELESS_REFUSALS`: undecodable, bad
  signature, wrong chain id, unsupported type) is the peer's fault; past
  `INTAKE_INVALID_TX_BAN` of them on one connection the peer is banned.
  State-dependent refusals (nonce too low, pool full, underpriced, already
  known, insufficient funds ...) never count: a peer may be a block ahead of
  or behind us. The verdict is the pool's typed `MempoolErrorCode`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

import trio

from execution.mempool import MempoolError, MempoolErrorCode
from p2p.errors import clip

log = logging.getLogger("plume.net")

INTAKE_QUEUE_TXS = 8192  # peers' transactions waiting for admission, all peers together
INTAKE_PEER_TXS = 2048  # of those, at most this many from one peer (its oldest dropped first)
INTAKE_TURN_TXS = 16  # admitted from one peer before the next peer's turn (and a yield)
INTAKE_INVALID_TX_BAN = 16  # state-independent refusals on one connection that ban the peer
_INVALID_COUNTS_KEPT = 4096  # peers with such a count (disconnects clear theirs; this bounds missed ones)
# Refusals whose verdict is the same on every node whatever its state: proof
# that the relaying peer did not check what it relayed.
STATELESS_REFUSALS = frozenset(
    {
        MempoolErrorCode.MALFORMED,
        MempoolErrorCode.INVALID_SIGNATURE,
        MempoolErrorCode.WRONG_CHAIN_ID,
        MempoolErrorCode.UNSUPPORTED_TYPE,
    }
)


class TxIntake:
    """Per-peer queues of received transactions and the task that admits them."""

    def __init__(
        self,
        admit: Callable[[bytes], object],
        ban: Callable[[str, str], None],
        *,
        max_txs: int = INTAKE_QUEUE_TXS,
        max_peer_txs: int = INTAKE_PEER_TXS,
        turn_txs: int = INTAKE_TURN_TXS,
        invalid_ban: int = INTAKE_INVALID_TX_BAN,
    ) -> None:
        self._admit = admit  # the node's one admission path; raises MempoolError on refusal
        self._ban = ban  # (peer id, reason)
        self.max_txs = max_txs
        self.max_peer_txs = max_peer_txs
        self.turn_txs = turn_txs
        self.invalid_ban = invalid_ban
        self._queues: OrderedDict[str, deque[bytes]] = OrderedDict()  # round-robin order
        self._queued = 0
        self._invalid: dict[str, int] = {}  # state-independent refusals per connected peer
        self._wake = trio.Event()
        self.dropped = 0  # transactions dropped for a full queue (a metric for tests and logs)

    # ---- the inbound side ---------------------------------------------------------

    def offer(self, peer_id: str, txs: Iterable[bytes]) -> None:
        """Queue a peer's transactions; over a bound the largest holder's oldest go first."""
        queue = self._queues.get(peer_id)
        if queue is None:
            queue = self._queues[peer_id] = deque()
        for raw in txs:
            if len(queue) >= self.max_peer_txs:
                queue.popleft()
                self._queued -= 1
                self.dropped += 1
            elif self._queued >= self.max_txs:
                self._drop_from_largest()
            queue.append(raw)
            self._queued += 1
        self._wake.set()

    def _drop_from_largest(self) -> None:
        largest = max(self._queues.values(), key=len)
        largest.popleft()
        self._queued -= 1
        self.dropped += 1

    def peer_gone(self, peer_id: str) -> None:
        """A peer disconnected or was banned: its queued transactions and its count go."""
        queue = self._queues.pop(peer_id, None)
        if queue is not None:
            self._queued -= len(queue)
        self._invalid.pop(peer_id, None)

    def queued(self, peer_id: str | None = None) -> int:
        if peer_id is None:
            return self._queued
        queue = self._queues.get(peer_id)
        return 0 if queue is None else len(queue)

    # ---- the admission task -------------------------------------------------------

    async def run(self) -> None:
        """Admit queued transactions turn by turn, until cancelled."""
        while True:
            if not self._queued:
                self._wake = trio.Event()
                await self._wake.wait()
            self.admit_turn()
            await trio.sleep(0)  # consensus and the inbound task run between turns

    def admit_turn(self) -> int:
        """Admit up to `turn_txs` of the next peer's transactions; returns how many were tried."""
        if not self._queues:
            return 0
        peer_id, queue = next(iter(self._queues.items()))
        self._queues.move_to_end(peer_id)  # the next turn is the next peer's
        tried = 0
        while queue and tried < self.turn_txs and peer_id in self._queues:
            raw = queue.popleft()
            self._queued -= 1
            tried += 1
            self._admit_one(peer_id, raw)
        if not queue and self._queues.get(peer_id) is queue:
            del self._queues[peer_id]
        return tried

    def _admit_one(self, peer_id: str, raw: bytes) -> None:
        try:
            self._admit(raw)
        except MempoolError as exc:
            if exc.code in STATELESS_REFUSALS:
                self._count_invalid(peer_id, exc)
            else:  # depends on our state (a nonce, a full pool): never the peer's fault
                log.debug("tx from %s not pooled: %s", peer_id[:12], clip(str(exc)))
        except Exception as exc:  # a bug of ours: never the peer's fault, never the node's end
            log.error("admitting a tx from %s failed: %s", peer_id[:12],
                      clip(f"{type(exc).__name__}: {exc}"), exc_info=True)

    def _count_invalid(self, peer_id: str, exc: MempoolError) -> None:
        count = self._invalid.pop(peer_id, 0) + 1
        self._invalid[peer_id] = count
        if len(self._invalid) > _INVALID_COUNTS_KEPT:
            del self._invalid[next(iter(self._invalid))]
        if count >= self.invalid_ban:
            self.peer_gone(peer_id)
            self._ban(peer_id, clip(f"{count} refused whatever the chain state, the last {exc.code.value}: {exc.message}"))

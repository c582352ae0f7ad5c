"""The node's use of the p2p network: gossip for consensus and transactions, and block sync.

`p2p.P2PService` moves opaque messages between authenticated peers; this
module gives them meaning:

- **Transactions** from a peer (a `TxBatch`, or a single `Tx`) leave the
  consensus path at once: the inbound task hands them to `TxIntake`'s bounded
  per-peer queues, and its own task admits them one by one through the node's
  one admission path (`Node.submit_transaction`, as JSON-RPC's do), so votes,
  proposals and sync messages never wait behind admissions. Each one admitted
  is queued for `TxRelay`, which sends every other peer the transactions it
  lacks in batches. A transaction refused for a state-dependent reason is
  dropped quietly (a peer can legitimately be a block ahead of or behind us);
  one refused whatever the state (bad signature, undecodable ...) counts
  against its peer, and enough of them ban it (`plume_node.txintake`). A batch
  that does not decode (framing, counts, sizes) is the peer's fault, and the
  p2p layer bans it for that.
- **Proposals and votes** for the height the engine works on or the next
  one go to the consensus driver; anything else is dropped. They are relayed
  to the other peers only when the engine has verified and kept them (its
  `Relay` action reaches `relay` below): the service deduplicates by hash,
  so each crosses each link at most once. Since honest nodes relay only
  what they verified, a message the engine rejects (`RejectReason`) proves
  its sender at fault, and that peer is banned; so is one whose consensus
  payload does not decode. A proposal's sender is looked up by the proposal
  and the digest of the block bytes it came with, so junk bytes raced beside
  a genuine proposal get their own sender banned, never the honest relayer.
- **Catch-up gossip.** Every tick the node announces its (height, round)
  with `Status`, and re-sends to each peer at the same height the verified
  votes and proposals of that height (bounded in count and bytes) it has no
  record of the peer having. A peer that lost messages (a restart, a full
  queue) still reaches a quorum.
- **Block sync** is `plume_node.blocksync.BlockSync`, which this module
  feeds with Status updates, block requests and responses, and peer departures.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from enum import Enum

import trio
from eth_hash.auto import keccak

from consensus.actions import RejectReason
from consensus.errors import ConsensusError, DecodeError, InvalidEvidence
from consensus.messages import DuplicateVoteEvidence, Proposal, Vote, payload_digest
from p2p import messages as wire
from p2p.errors import clip
from p2p.peers import P2PConfig, PeerConnected, PeerDisconnected
from p2p.service import P2PService
from plume_node.blocksync import BlockSync
from plume_node.stage_cpu import Stage
from plume_node.txintake import TxIntake
from plume_node.txrelay import TxRelay

log = logging.getLogger("plume.net")

# Catch-up store: verified consensus messages of the current height kept for
# re-sending; the oldest go first when either bound is reached.
CATCH_UP_MAX_MESSAGES = 4096
CATCH_UP_MAX_BYTES = 64 * 1024 * 1024
# Who sent which consensus message (so a later rejection is pinned on it).
SENDER_TABLE_SIZE = 16_384
# Consensus messages handed to the driver but not yet taken by the engine:
# one peer may have at most this many (and bytes) in flight, all peers
# together at most INTAKE_TOTAL_BYTES; over that a message is dropped (and
# forgotten by the dedup set, so another peer's copy still gets through).
INTAKE_PEER_MESSAGES = 256
INTAKE_PEER_BYTES = 16 * 1024 * 1024
INTAKE_TOTAL_BYTES = 64 * 1024 * 1024
# Rejections that prove the sending peer at fault: each is judged against the
# validator set the chain defines for the message's own height, which every
# honest node shares, and honest nodes relay only what they verified.
# (Messages that cannot be judged yet are buffered or dropped by the engine,
# never rejected.)
# PAYLOAD_MISMATCH too: whether bytes are the block a hash names does not
# depend on any node's state, and honest nodes relay a proposal only with
# bytes that validated, so the peer that delivered other bytes made them up.
PROVABLE_REJECTIONS = frozenset(
    {
        RejectReason.BAD_SIGNATURE,
        RejectReason.MALFORMED,
        RejectReason.NOT_VALIDATOR,
        RejectReason.NOT_PROPOSER,
        RejectReason.PAYLOAD_MISMATCH,
    }
)


# The stage a peer's message is handled in; transactions and anything else: GOSSIP_RX.
_INBOUND_STAGES = {
    wire.Vote: Stage.CONSENSUS,
    wire.Proposal: Stage.CONSENSUS,
    wire.Evidence: Stage.CONSENSUS,
    wire.Status: Stage.BLOCK_SYNC,  # it only wakes block sync
    wire.BlockRequest: Stage.BLOCK_SYNC,
    wire.BlockResponse: Stage.BLOCK_SYNC,
}


class PeerFault(Enum):
    """Why this layer bans a peer (the ban's reason text starts with the value)."""

    UNDECODABLE_CONSENSUS = "undecodable consensus message"
    REJECTED_CONSENSUS = "consensus message rejected"
    INVALID_EVIDENCE = "invalid evidence"
    MALFORMED = "malformed message"
    INVALID_TRANSACTIONS = "invalid transactions"


class NodeNetwork:
    """Gossip and block sync for one node; the driver's `ConsensusNetwork`."""

    def __init__(self, node, service: P2PService, *, tick_s: float = 0.5) -> None:
        self.node = node
        self.service = service
        self.tick_s = tick_s
        # this height's consensus messages (encoded p2p messages by hash), for catch-up gossip
        self._height = 0
        self._catch_up = CatchUpStore()
        self._intake = IntakeBudget()
        # who sent a consensus message, so a rejection can be pinned on its sender
        self._senders: OrderedDict[bytes, str] = OrderedDict()
        self.blocksync = BlockSync(node, service, progress_every_s=node.config.p2p.sync_progress_ms / 1000)
        self.txrelay = TxRelay(service)
        self.txintake = TxIntake(
            node.submit_transaction, lambda peer_id, detail: self._punish(peer_id, PeerFault.INVALID_TRANSACTIONS, detail)
        )

    @classmethod
    def create(cls, node) -> "NodeNetwork":
        from plume_node.config import parse_host_port

        c = node.config.p2p
        host, port = parse_host_port(c.listen_addr, "p2p.listen_addr")
        service = P2PService(
            node.node_key.private_key,
            node.chain_id,
            node.genesis.hash(),
            host,
            port,
            persistent_peers=c.persistent_peers,
            config=P2PConfig(
                max_inbound=c.max_inbound,
                max_pending_inbound=c.max_pending_inbound,
                max_inbound_per_ip=c.max_inbound_per_ip,
                max_outbound=c.max_outbound,
                send_queue_size=c.send_queue_size,
                ban_seconds=float(c.ban_seconds),
                handshake_timeout=c.handshake_timeout_ms / 1000,
                max_message_bytes=c.max_message_bytes,
            ),
            # PeerInfo.height is the height a peer is working on: Hello and Status agree
            height_fn=lambda: node.app.committed_height() + 1,
        )
        return cls(node, service)

    # ---- the service ----------------------------------------------------------

    async def run(self, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        tagged = self.node.stage_clock.tagged  # each loop's CPU counted by stage (plume_node/stage_cpu.py)
        async with trio.open_nursery() as nursery:
            port = await nursery.start(tagged(Stage.P2P_IO, self.service.run))
            nursery.start_soon(tagged(Stage.GOSSIP_RX, self._inbound_loop))
            nursery.start_soon(tagged(Stage.P2P_IO, self._events_loop))
            nursery.start_soon(tagged(Stage.CONSENSUS, self._tick_loop))  # Status and catch-up gossip
            nursery.start_soon(tagged(Stage.P2P_IO, self.txrelay.run))  # outgoing transaction batches
            nursery.start_soon(tagged(Stage.GOSSIP_RX, self.txintake.run))  # peers' transactions admitted
            task_status.started(port)

    async def _inbound_loop(self) -> None:
        measure = self.node.stage_clock.measure
        async for peer_id, msg in self.service.inbound:
            try:
                with measure(_INBOUND_STAGES.get(type(msg), Stage.GOSSIP_RX)):
                    self._handle(peer_id, msg)
            except (ConsensusError, ValueError) as exc:
                # an inner value that does not decode: the peer sent garbage
                self._punish(peer_id, PeerFault.MALFORMED, f"{type(msg).__name__}: {exc}")
            except Exception as exc:  # a bug of ours: never the peer's fault, never the node's end
                log.error("handling %s from %s failed: %s", type(msg).__name__, peer_id[:12],
                          clip(f"{type(exc).__name__}: {exc}"), exc_info=True)

    async def _events_loop(self) -> None:
        async for event in self.service.events:
            if isinstance(event, PeerConnected):
                log.info("peer %s connected (%s, %s)", event.info.node_id[:12], event.info.address, event.info.direction)
                self._send_status(event.info.node_id)
                self.blocksync.step()  # its Hello told us its height
            elif isinstance(event, PeerDisconnected):
                log.info("peer %s disconnected: %s", event.node_id[:12], event.reason)
                self.blocksync.peer_gone(event.node_id)
                self.txrelay.peer_gone(event.node_id)
                self.txintake.peer_gone(event.node_id)

    async def _tick_loop(self) -> None:
        while True:
            await trio.sleep(self.tick_s)
            for step in (lambda: self._send_status(None), self._catch_up_gossip, self.blocksync.step):
                try:
                    step()
                except Exception as exc:  # a bug of ours must cost one tick, not the node
                    log.error("network tick failed: %s", clip(f"{type(exc).__name__}: {exc}"), exc_info=True)

    # ---- inbound --------------------------------------------------------------

    def _handle(self, peer_id: str, msg: wire.Message) -> None:
        if isinstance(msg, (wire.Vote, wire.Proposal)):
            self._handle_consensus(peer_id, msg)
        elif isinstance(msg, (wire.Tx, wire.TxBatch)):
            self._handle_txs(peer_id, msg.txs if isinstance(msg, wire.TxBatch) else (msg.tx,))
        elif isinstance(msg, wire.Evidence):
            self._handle_evidence(peer_id, msg)
        elif isinstance(msg, wire.Status):
            self.blocksync.step()  # a peer ahead of us is synced from at once
        elif isinstance(msg, wire.BlockRequest):
            self.blocksync.serve(peer_id, msg)
        elif isinstance(msg, wire.BlockResponse):
            self.blocksync.receive(peer_id, msg)

    def _handle_txs(self, peer_id: str, txs: tuple[bytes, ...]) -> None:
        """A batch (or a single `Tx`, the message before batches), bounded in
        count and bytes by the decoder: noted as known to the peer and queued
        for the admission task (`TxIntake`), never admitted here."""
        if self.service.is_banned(peer_id):
            return  # queued before its ban
        self.txrelay.mark_known(peer_id, [keccak(raw) for raw in txs])
        self.txintake.offer(peer_id, txs)

    def _handle_consensus(self, peer_id: str, msg: wire.Vote | wire.Proposal) -> None:
        """Hand a vote or proposal to the engine; it is relayed only if the
        engine verifies it (see `relay`)."""
        if self.service.is_banned(peer_id):
            # Queued before the ban: not worth the engine's time. Forget it, so
            # an honest peer's copy of the same message still gets through.
            self.service.forget(msg.hash())
            return
        inner = msg.vote if isinstance(msg, wire.Vote) else msg.proposal
        try:
            message = Vote.decode(inner) if isinstance(msg, wire.Vote) else Proposal.decode(inner)
        except DecodeError as exc:
            self._punish(peer_id, PeerFault.UNDECODABLE_CONSENSUS, f"{type(msg).__name__}: {exc}")
            return
        working = self.node.engine.height or self.node.app.committed_height() + 1
        if message.height not in (working, working + 1):
            return  # a height the engine cannot judge (or is done with): not relayed, not kept
        size = len(inner) + (len(msg.block) if isinstance(msg, wire.Proposal) else 0)
        if not self._intake.admit(peer_id, size):
            log.debug("peer %s has too much consensus input in flight; dropping a message", peer_id[:12])
            self.service.forget(msg.hash())
            return
        digest = payload_digest(msg.block) if isinstance(msg, wire.Proposal) else b""
        self._remember_sender(_sender_key(inner, digest), peer_id)

        def done() -> None:
            self._intake.release(peer_id, size)

        if isinstance(message, Vote):
            queued = self.node.driver.submit_vote(message, done)
        else:
            queued = self.node.driver.submit_proposal(message, msg.block, done)
        if not queued:
            done()
            self.service.forget(msg.hash())  # let a later copy through

    def _handle_evidence(self, peer_id: str, msg: wire.Evidence) -> None:
        """Keep and relay evidence only once verified against its height's set."""
        try:
            evidence = DuplicateVoteEvidence.decode(msg.evidence)
        except DecodeError as exc:
            self._punish(peer_id, PeerFault.UNDECODABLE_CONSENSUS, f"Evidence: {exc}")
            return
        try:
            evidence.verify(self.node.app.validator_set(evidence.height), self.node.app.chain_id)
        except LookupError:
            return  # a height we cannot judge yet
        except InvalidEvidence as exc:
            self._punish(peer_id, PeerFault.INVALID_EVIDENCE, str(exc))
            return
        self.node.app.add_evidence(evidence)
        self.service.broadcast(msg, exclude={peer_id})

    def _remember_sender(self, key: bytes, peer_id: str) -> None:
        self._senders[key] = peer_id
        self._senders.move_to_end(key)
        if len(self._senders) > SENDER_TABLE_SIZE:
            self._senders.popitem(last=False)

    def _punish(self, peer_id: str, fault: PeerFault, detail: str) -> None:
        self.service.ban(peer_id, clip(f"{fault.value}: {detail}"))

    # ---- the driver's ConsensusNetwork ------------------------------------------

    def broadcast_vote(self, vote: Vote) -> None:
        self._broadcast_own(wire.Vote(vote.encode()), vote.height)

    def broadcast_proposal(self, proposal: Proposal, block: bytes) -> None:
        self._broadcast_own(wire.Proposal(proposal.encode(), block), proposal.height)

    def broadcast_evidence(self, evidence: DuplicateVoteEvidence) -> None:
        self.service.broadcast(wire.Evidence(evidence.encode()))

    def relay_transaction(self, tx_hash: bytes, raw: bytes) -> None:
        """Queue an admitted transaction for the next batch to the peers lacking it."""
        self.txrelay.queue(tx_hash, raw)

    def relay(self, message: Vote | Proposal, block: bytes | None) -> None:
        """The engine verified and kept `message` (from a peer): pass it on
        to every peer that may lack it and keep it for catch-up gossip."""
        if isinstance(message, Vote):
            self._broadcast_own(wire.Vote(message.encode()), message.height)
        else:
            self._broadcast_own(wire.Proposal(message.encode(), block or b""), message.height)

    def report_invalid(
        self, message: Vote | Proposal, reason: RejectReason, detail: str, payload_digest: bytes = b""
    ) -> None:
        """Ban the peer that delivered the rejected copy: for a proposal, the
        one with exactly these block bytes (`payload_digest`), never one that
        delivered the same proposal with other bytes."""
        if reason not in PROVABLE_REJECTIONS:
            return
        sender = self._senders.pop(_sender_key(message.encode(), payload_digest), None)
        if sender is not None:
            self._punish(sender, PeerFault.REJECTED_CONSENSUS, f"{reason.value} ({detail})")

    def new_height(self, height: int) -> None:
        self._height = height
        self._catch_up.clear()
        self._send_status(None)

    def _broadcast_own(self, msg: wire.Message, height: int) -> None:
        try:
            self.service.broadcast(msg)
        except ValueError as exc:  # over the message cap: ours to log, nobody's to punish
            log.warning("not sending %s: %s", type(msg).__name__, exc)
            return  # nor kept for catch-up gossip, which would fail the same way
        if height == self._height:
            self._catch_up.add(msg)

    # ---- catch-up gossip --------------------------------------------------------

    def _send_status(self, peer_id: str | None) -> None:
        engine = self.node.engine
        status = wire.Status(height=engine.height or self.node.app.committed_height() + 1, round=engine.round or 0)
        if peer_id is None:
            for peer in self.service.peers():
                self.service.send(peer.node_id, status)
        else:
            self.service.send(peer_id, status)

    def _catch_up_gossip(self) -> None:
        """Re-send this height's consensus messages to same-height peers that lack them."""
        if not self._catch_up:
            return
        for peer in self.service.peers():
            if peer.height != self._height:
                continue
            for h, msg in self._catch_up.items():
                if not self.service.peer_knows(peer.node_id, h):
                    self.service.send(peer.node_id, msg)

    # ---- block sync ----------------------------------------------------------------

    def syncing(self) -> dict | None:
        return self.blocksync.syncing()


def _sender_key(inner: bytes, payload_digest: bytes = b"") -> bytes:
    """Sender-table key of a consensus message: its bytes and, for a proposal,
    the digest of the block bytes it came with (copies of one proposal with
    different bytes are different deliveries)."""
    return hashlib.sha256(hashlib.sha256(inner).digest() + payload_digest).digest()


class IntakeBudget:
    """Consensus input in flight to the driver, per peer and in total (see
    INTAKE_*); a peer's entry exists only while it has something in flight."""

    def __init__(
        self,
        peer_messages: int = INTAKE_PEER_MESSAGES,
        peer_bytes: int = INTAKE_PEER_BYTES,
        total_bytes: int = INTAKE_TOTAL_BYTES,
    ) -> None:
        self.peer_messages = peer_messages
        self.peer_bytes = peer_bytes
        self.total_bytes = total_bytes
        self._peers: dict[str, tuple[int, int]] = {}  # peer -> (messages, bytes)
        self.in_flight_bytes = 0

    def admit(self, peer_id: str, size: int) -> bool:
        count, used = self._peers.get(peer_id, (0, 0))
        if count >= self.peer_messages or used + size > self.peer_bytes:
            return False
        if self.in_flight_bytes + size > self.total_bytes:
            return False
        self._peers[peer_id] = (count + 1, used + size)
        self.in_flight_bytes += size
        return True

    def release(self, peer_id: str, size: int) -> None:
        count, used = self._peers.get(peer_id, (1, size))
        if count <= 1:
            self._peers.pop(peer_id, None)
        else:
            self._peers[peer_id] = (count - 1, used - size)
        self.in_flight_bytes -= size

    def peers(self) -> int:
        return len(self._peers)


class CatchUpStore:
    """The current height's verified consensus messages by wire hash, for
    catch-up gossip; bounded in count and bytes, oldest evicted first."""

    def __init__(self, max_messages: int = CATCH_UP_MAX_MESSAGES, max_bytes: int = CATCH_UP_MAX_BYTES) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._messages: OrderedDict[bytes, tuple[wire.Message, int]] = OrderedDict()
        self.size_bytes = 0

    def add(self, msg: wire.Message) -> None:
        encoded = msg.encode()
        key = wire.message_hash(encoded)
        if key in self._messages:
            return
        self._messages[key] = (msg, len(encoded))
        self.size_bytes += len(encoded)
        while len(self._messages) > self.max_messages or self.size_bytes > self.max_bytes:
            _, (_, size) = self._messages.popitem(last=False)
            self.size_bytes -= size

    def items(self) -> list[tuple[bytes, wire.Message]]:
        return [(key, msg) for key, (msg, _) in self._messages.items()]

    def clear(self) -> None:
        self._messages.clear()
        self.size_bytes = 0

    def __len__(self) -> int:
        return len(self._messages)

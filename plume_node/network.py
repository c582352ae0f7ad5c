"""The node's use of the p2p network: gossip for consensus and transactions, and block sync.

`p2p.P2PService` moves opaque messages between authenticated peers; this
module gives them meaning:

- **Transactions** from a peer go into the mempool and, when accepted, on to
  every other peer. A rejected transaction is dropped quietly: a peer can
  legitimately be a block ahead of or behind us.
- **Proposals and votes** go to the consensus driver and are relayed to the
  other peers (the service deduplicates by hash, so each crosses each link
  at most once). A message the engine rejects for a bad signature or a
  malformed body gets its sender banned.
- **Catch-up gossip.** Every tick the node announces its (height, round)
  with `Status`, and re-sends to each peer at the same height the votes and
  proposal of that height it has no record of the peer having. A peer that
  lost messages (a restart, a full queue) still reaches a quorum.
- **Block sync** is `plume_node.blocksync.BlockSync`, which this module
  feeds with Status updates, block requests and responses, and peer departures.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict

import trio

from consensus.errors import ConsensusError
from consensus.messages import DuplicateVoteEvidence, Proposal, Vote
from execution.mempool import MempoolError
from p2p import messages as wire
from p2p.peers import P2PConfig, PeerConnected, PeerDisconnected
from p2p.service import P2PService
from plume_node.blocksync import BlockSync

log = logging.getLogger("plume.net")

_BAN_REASONS = ("bad signature", "malformed")


class NodeNetwork:
    """Gossip and block sync for one node; the driver's `ConsensusNetwork`."""

    def __init__(self, node, service: P2PService, *, tick_s: float = 0.5) -> None:
        self.node = node
        self.service = service
        self.tick_s = tick_s
        # this height's consensus messages (encoded p2p messages by hash), for catch-up gossip
        self._height = 0
        self._height_messages: OrderedDict[bytes, wire.Message] = OrderedDict()
        # who sent a consensus message, so a rejection can be pinned on its sender
        self._senders: OrderedDict[bytes, str] = OrderedDict()
        self.blocksync = BlockSync(node, service)

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
        async with trio.open_nursery() as nursery:
            port = await nursery.start(self.service.run)
            nursery.start_soon(self._inbound_loop)
            nursery.start_soon(self._events_loop)
            nursery.start_soon(self._tick_loop)
            task_status.started(port)

    async def _inbound_loop(self) -> None:
        async for peer_id, msg in self.service.inbound:
            try:
                self._handle(peer_id, msg)
            except (ConsensusError, ValueError) as exc:
                # decoding of the inner consensus value failed: the peer sent garbage
                self.service.ban(peer_id, f"malformed {type(msg).__name__}: {exc}")

    async def _events_loop(self) -> None:
        async for event in self.service.events:
            if isinstance(event, PeerConnected):
                log.info("peer %s connected (%s, %s)", event.info.node_id[:12], event.info.address, event.info.direction)
                self._send_status(event.info.node_id)
                self.blocksync.step()  # its Hello told us its height
            elif isinstance(event, PeerDisconnected):
                log.info("peer %s disconnected: %s", event.node_id[:12], event.reason)
                self.blocksync.peer_gone(event.node_id)

    async def _tick_loop(self) -> None:
        while True:
            await trio.sleep(self.tick_s)
            self._send_status(None)
            self._catch_up_gossip()
            self.blocksync.step()

    # ---- inbound --------------------------------------------------------------

    def _handle(self, peer_id: str, msg: wire.Message) -> None:
        driver = self.node.driver
        if isinstance(msg, wire.Vote):
            vote = Vote.decode(msg.vote)
            self._remember(msg, msg.vote, peer_id, vote.height)
            driver.submit_vote(vote)
            self.service.broadcast(msg, exclude={peer_id})
        elif isinstance(msg, wire.Proposal):
            proposal = Proposal.decode(msg.proposal)
            self._remember(msg, msg.proposal, peer_id, proposal.height)
            driver.submit_proposal(proposal, msg.block)
            self.service.broadcast(msg, exclude={peer_id})
        elif isinstance(msg, wire.Tx):
            self._handle_tx(peer_id, msg)
        elif isinstance(msg, wire.Evidence):
            evidence = DuplicateVoteEvidence.decode(msg.evidence)
            try:
                evidence.verify(self.node.app.validator_set(evidence.height), self.node.app.chain_id)
            except LookupError:
                return  # a height we cannot judge yet
            self.node.app.add_evidence(evidence)
            self.service.broadcast(msg, exclude={peer_id})
        elif isinstance(msg, wire.Status):
            self.blocksync.step()  # a peer ahead of us is synced from at once
        elif isinstance(msg, wire.BlockRequest):
            self.blocksync.serve(peer_id, msg)
        elif isinstance(msg, wire.BlockResponse):
            self.blocksync.receive(peer_id, msg)

    def _handle_tx(self, peer_id: str, msg: wire.Tx) -> None:
        try:
            self.node.accept_transaction(msg.tx)
        except MempoolError as exc:
            log.debug("tx from %s not pooled: %s", peer_id[:12], exc)
            return
        self.service.broadcast(msg, exclude={peer_id})

    def _remember(self, msg: wire.Message, inner: bytes, peer_id: str, height: int) -> None:
        self._senders[_sender_key(inner)] = peer_id
        if len(self._senders) > 10_000:
            self._senders.popitem(last=False)
        if height == self._height:
            self._height_messages[msg.hash()] = msg

    # ---- the driver's ConsensusNetwork ------------------------------------------

    def broadcast_vote(self, vote: Vote) -> None:
        self._broadcast_own(wire.Vote(vote.encode()), vote.height)

    def broadcast_proposal(self, proposal: Proposal, block: bytes) -> None:
        self._broadcast_own(wire.Proposal(proposal.encode(), block), proposal.height)

    def broadcast_evidence(self, evidence: DuplicateVoteEvidence) -> None:
        self.service.broadcast(wire.Evidence(evidence.encode()))

    def broadcast_transaction(self, raw: bytes) -> None:
        self.service.broadcast(wire.Tx(raw))

    def report_invalid(self, message: Vote | Proposal, reason: str) -> None:
        if not reason.startswith(_BAN_REASONS):
            return  # e.g. a vote from a validator set we have not reached: not provably the sender's fault
        sender = self._senders.get(_sender_key(message.encode()))
        if sender is not None:
            self.service.ban(sender, f"consensus message rejected: {reason}")

    def new_height(self, height: int) -> None:
        self._height = height
        self._height_messages.clear()
        self._send_status(None)

    def _broadcast_own(self, msg: wire.Message, height: int) -> None:
        if height == self._height:
            self._height_messages[msg.hash()] = msg
        self.service.broadcast(msg)

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
        if not self._height_messages:
            return
        for peer in self.service.peers():
            if peer.height != self._height:
                continue
            for h, msg in list(self._height_messages.items()):
                if not self.service.peer_knows(peer.node_id, h):
                    self.service.send(peer.node_id, msg)

    # ---- block sync ----------------------------------------------------------------

    def syncing(self) -> dict | None:
        return self.blocksync.syncing()


def _sender_key(inner: bytes) -> bytes:
    return hashlib.sha256(inner).digest()

"""One simulated node: a real engine, its double-sign guard, its tiny application.

`SimNode` is the driver the interface document describes, minus I/O: it
executes the engine's actions in order (depth first: the actions an answer
produces run before the rest of the batch, as a synchronous driver would),
signs through the real `Signer` over a `MemoryStore` that outlives crashes,
and hands sends, timers and commits to the simulator (`SimHost`).

Byzantine behaviours are switches on this driver, active while their fault
window is open:
- ``silent``: the node's messages are never sent;
- ``equivocate``: the node signs with its raw key (bypassing the guard) and
  sends one version of each proposal and vote to one half of its peers and a
  conflicting version to the other half;
- ``invalid-proposal``: as proposer it offers a block that fails validation;
- ``twins`` needs no switch: it is two honest `SimNode`s sharing one key, each
  with its own store.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Any, Protocol

from consensus.crypto import PrivateKey
from consensus.engine import ConsensusEngine
from consensus.messages import Proposal, Vote
from consensus.signer import MemoryStore, Signer
from consensus.timeouts import TimeoutConfig
from consensus.sim.app import block_hash, make_block, make_invalid_block, validation_error, verdict_of

NIL = b""


class SimHost(Protocol):
    """What a node needs from the simulator."""

    now_ms: int
    target_height: int

    def behaviour_active(self, node: "SimNode", kind: str) -> bool: ...
    def send(self, node: "SimNode", message: Any, block: bytes | None, recipients: tuple[str, ...]) -> None: ...
    def peers_of(self, node: "SimNode") -> tuple[str, ...]: ...
    def relay(self, node: "SimNode", message: Any, block: bytes | None, recipients: tuple[str, ...]) -> None: ...
    def schedule_timeout(self, node: "SimNode", timeout: Any) -> None: ...
    def schedule_start(self, node: "SimNode", height: int) -> None: ...
    def on_commit(
        self, node: "SimNode", height: int, block_hash: bytes, block: bytes, certificate: Any,
        already_synced: bool = False,
    ) -> None: ...
    def on_local_conflict(self, node: "SimNode", height: int, synced: bytes, decided: bytes) -> None: ...
    def on_evidence(self, node: "SimNode", evidence: Any) -> None: ...
    def validator_set(self, height: int) -> Any: ...


@dataclasses.dataclass(frozen=True)
class CommittedBlock:
    height: int
    block_hash: bytes
    block: bytes
    certificate: Any


class SimNode:
    def __init__(self, name: str, index: int, key: PrivateKey, chain_id: bytes, timeouts: TimeoutConfig, host: SimHost) -> None:
        self.name = name
        self.index = index
        self.key = key
        self.chain_id = chain_id
        self.timeouts = timeouts
        self.host = host
        self.store = MemoryStore()  # the durable part of the guard: survives crashes
        self.chain: list[CommittedBlock] = []  # the durable committed chain: survives crashes
        self.up = False
        self.incarnation = 0  # bumped on crash so stale timers and deliveries are ignored
        self.height = 0  # the height the engine was last started at
        self.engine: ConsensusEngine | None = None
        self.signer: Signer | None = None
        # This height's own signed messages, resent while the node is stalled
        # (the simulator's stand-in for gossip retransmission): (msg, block, recipients)
        self.sent: list[tuple[Any, bytes | None, tuple[str, ...]]] = []
        # This height's messages from others that the engine verified and kept
        # (its Relay actions), relayed while stalled: the gossip the protocol's
        # liveness assumes (what one correct node received, every correct node
        # eventually receives). Like a real node, nothing unverified is relayed.
        self.received: dict[Any, bytes | None] = {}
        self.rejected = 0
        # (height, round) -> block hashes seen proposed, for the equivocator's second vote
        self._seen_proposals: dict[tuple[int, int], bytes] = {}

    # -- lifecycle -----------------------------------------------------------------

    @property
    def committed_height(self) -> int:
        return len(self.chain)

    def boot(self) -> None:
        """Start (or restart after a crash): a fresh engine, the guard reloaded from its store."""
        self.up = True
        self.incarnation += 1
        self.signer = Signer(self.key, self.store, self.chain_id)
        self.engine = ConsensusEngine(chain_id=self.chain_id, address=self.key.address, timeouts=self.timeouts)
        self.sent = []
        self.received = {}
        self.height = 0
        self.start(self.committed_height + 1)

    def crash(self) -> None:
        self.up = False
        self.incarnation += 1
        self.engine = None
        self.signer = None
        self.sent = []
        self.received = {}

    def start(self, height: int) -> None:
        if not self.up or height <= self.height or height > self.host.target_height:
            return
        if height != self.committed_height + 1:
            return  # a block sync overtook this start; it already started the right height
        assert self.engine is not None and self.signer is not None
        self.height = height
        self.sent = []
        self.received = {}
        self.run(self.engine.start_height(height, self.host.validator_set(height), locked=self.signer.locked(height)))

    # -- inputs --------------------------------------------------------------------

    def deliver(self, message: Any, block: bytes | None) -> None:
        if not self.up or self.engine is None:
            return
        if isinstance(message, Proposal):
            self._seen_proposals.setdefault((message.height, message.round), bytes(message.block_hash))
            self.run(self.engine.on_proposal(message, block if block is not None else b""))
        else:
            self.run(self.engine.on_vote(message))

    def fire_timeout(self, timeout: Any) -> None:
        if self.up and self.engine is not None and timeout.height == self.height:
            self.run(self.engine.on_timeout(timeout))

    def apply_synced(self, entries: tuple[CommittedBlock, ...]) -> None:
        """Commit blocks fetched from a peer (block sync), then move the engine on."""
        if not self.up:
            return
        moved = False
        for entry in entries:
            if entry.height != self.committed_height + 1:
                continue
            if validation_error(entry.height, entry.block_hash, entry.block):
                return  # a real node refuses such a block; the checker flags the peer's commit anyway
            self._commit(entry.height, entry.block_hash, entry.block, entry.certificate)
            moved = True
        if moved:
            self.start(self.committed_height + 1)

    # -- executing actions -----------------------------------------------------------

    def run(self, actions: list[Any]) -> None:
        pending = deque(actions)
        while pending:
            action = pending.popleft()
            handler = getattr(self, "_do_" + type(action).__name__, None)
            if handler is None:
                raise TypeError(f"the engine returned an action the contract does not define: {action!r}")
            more = handler(action)
            if more:
                pending.extendleft(reversed(more))

    def _do_Sign(self, action: Any) -> list[Any]:
        assert self.engine is not None and self.signer is not None
        message = action.message
        if self.host.behaviour_active(self, "equivocate"):
            signed = self._raw_sign(message)
        else:
            signed = self.signer.sign(message)
        return self.engine.on_signed(signed)

    def _do_Broadcast(self, action: Any) -> list[Any]:
        message, block = action.message, action.block
        peers = self.host.peers_of(self)
        if self.host.behaviour_active(self, "equivocate"):
            half = len(peers) // 2
            other, other_block = self._conflicting(message, block)
            self._send(message, block, peers[:half])
            self._send(other, other_block, peers[half:])
        else:
            self._send(message, block, peers)
        return []

    def _send(self, message: Any, block: bytes | None, recipients: tuple[str, ...]) -> None:
        self.sent.append((message, block, recipients))
        self.host.send(self, message, block, recipients)

    def resend(self) -> None:
        """Gossip while stalled: send this height's own messages again (to the
        peers they went to) and relay the ones received from others."""
        for message, block, recipients in list(self.sent):
            self.host.send(self, message, block, recipients)
        peers = self.host.peers_of(self)
        for message, block in list(self.received.items()):
            self.host.relay(self, message, block, peers)

    def _do_ScheduleTimeout(self, action: Any) -> list[Any]:
        self.host.schedule_timeout(self, action)
        return []

    def _do_RequestProposal(self, action: Any) -> list[Any]:
        assert self.engine is not None
        if self.host.behaviour_active(self, "invalid-proposal"):
            block = make_invalid_block(action.height, self.name, action.round)
        else:
            block = make_block(action.height, self.name, action.round)
        return self.engine.on_block_proposed(action.height, action.round, block_hash(block), block)

    def _do_ValidateBlock(self, action: Any) -> list[Any]:
        assert self.engine is not None
        verdict, reason = verdict_of(action.height, action.block_hash, action.block)
        return self.engine.on_block_validated(action.height, action.round, action.block_hash, verdict, reason)

    def _do_Commit(self, action: Any) -> list[Any]:
        if action.height <= self.committed_height:
            # Already committed through block sync; the checker still sees the
            # engine's decision so a conflicting one is caught.
            self.host.on_commit(self, action.height, action.block_hash, action.block, action.certificate, True)
            if action.block_hash != self.chain[action.height - 1].block_hash:
                self.host.on_local_conflict(self, action.height, self.chain[action.height - 1].block_hash, action.block_hash)
            return []
        self._commit(action.height, action.block_hash, action.block, action.certificate)
        self.host.schedule_start(self, action.height + 1)
        return []

    def _do_EvidenceFound(self, action: Any) -> list[Any]:
        self.host.on_evidence(self, action.evidence)
        return []

    def _do_Relay(self, action: Any) -> list[Any]:
        if action.message.height == self.height:
            self.received.setdefault(action.message, action.block)
        return []

    def _do_Rejected(self, action: Any) -> list[Any]:
        self.rejected += 1
        return []

    def _commit(self, height: int, hash_: bytes, block: bytes, certificate: Any) -> None:
        self.chain.append(CommittedBlock(height, hash_, block, certificate))
        self._seen_proposals = {k: v for k, v in self._seen_proposals.items() if k[0] > height}
        self.host.on_commit(self, height, hash_, block, certificate)

    # -- equivocation ----------------------------------------------------------------

    def _raw_sign(self, message: Any) -> Any:
        return message.with_signature(self.key.sign(message.sign_bytes(self.chain_id)))

    def _conflicting(self, message: Any, block: bytes | None) -> tuple[Any, bytes | None]:
        """A second, validly signed message for the same slot with a different block."""
        if isinstance(message, Proposal):
            evil = make_block(message.height, self.name, message.round, nonce="evil")
            self._seen_proposals[(message.height, message.round)] = block_hash(evil)
            return self._raw_sign(dataclasses.replace(message, block_hash=block_hash(evil), signature=b"")), evil
        if isinstance(message, Vote):
            # Vote for the other block if one is known at this round, else nil
            # against a block (or a block against nil): always a double-sign.
            known = self._seen_proposals.get((message.height, message.round))
            if message.block_hash != NIL:
                alt = NIL if known is None or known == message.block_hash else known
            else:
                alt = known if known is not None else block_hash(b"equivocate:%d:%d" % (message.height, message.round))
            return self._raw_sign(dataclasses.replace(message, block_hash=alt, signature=b"")), None
        return message, block

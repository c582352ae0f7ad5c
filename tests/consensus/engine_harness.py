"""Test helpers: deterministic keys, signed messages, and a tiny in-memory network.

The network delivers every broadcast to every other engine synchronously and
answers Sign/RequestProposal/ValidateBlock at once, so a test can watch one
height complete with real signatures and no clock.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field

from consensus.actions import (
    Broadcast,
    Commit,
    EvidenceFound,
    Rejected,
    RequestProposal,
    ScheduleTimeout,
    Sign,
    ValidateBlock,
)
from consensus.crypto import PrivateKey
from consensus.engine import ConsensusEngine
from consensus.messages import PRECOMMIT, PREVOTE, Proposal, Vote
from consensus.signer import MemoryStore, Signer
from consensus.timeouts import TimeoutConfig
from consensus.validators import Validator, ValidatorSet

CHAIN = "plume-test"


def key(i: int) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(b"plume-test-key-%d" % i).digest())


def block_for(tag: str) -> tuple[bytes, bytes]:
    payload = b"block:" + tag.encode()
    return hashlib.sha256(payload).digest(), payload


def make_set(powers: list[int]) -> tuple[list[PrivateKey], ValidatorSet]:
    keys = [key(i) for i in range(len(powers))]
    vs = ValidatorSet.new(Validator.from_pub_key(k.public_key.raw, p) for k, p in zip(keys, powers))
    return keys, vs


def sign_vote(k: PrivateKey, t: int, h: int, r: int, block_hash: bytes, chain: str = CHAIN) -> Vote:
    v = Vote(t, h, r, block_hash, k.address)
    return v.with_signature(k.sign(v.sign_bytes(chain)))


def prevote(k: PrivateKey, h: int, r: int, block_hash: bytes) -> Vote:
    return sign_vote(k, PREVOTE, h, r, block_hash)


def precommit(k: PrivateKey, h: int, r: int, block_hash: bytes) -> Vote:
    return sign_vote(k, PRECOMMIT, h, r, block_hash)


def sign_proposal(k: PrivateKey, h: int, r: int, block_hash: bytes, pol_round: int = -1) -> Proposal:
    p = Proposal(h, r, block_hash, pol_round, k.address)
    return p.with_signature(k.sign(p.sign_bytes(CHAIN)))


def keys_by_address(keys: list[PrivateKey]) -> dict[bytes, PrivateKey]:
    return {k.address: k for k in keys}


@dataclass
class Node:
    engine: ConsensusEngine
    signer: Signer | None
    commits: list[Commit] = field(default_factory=list)
    timeouts: list[ScheduleTimeout] = field(default_factory=list)
    evidence: list[EvidenceFound] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


class Network:
    """All-honest synchronous network; every action answered immediately."""

    def __init__(self, powers: list[int], timeouts: TimeoutConfig | None = None) -> None:
        self.keys, self.vset = make_set(powers)
        self.nodes = [
            Node(ConsensusEngine(CHAIN, k.address, timeouts), Signer(k, MemoryStore(), CHAIN)) for k in self.keys
        ]
        self.queue: deque[tuple[int, object]] = deque()

    def start(self, height: int, vset: ValidatorSet | None = None) -> None:
        for i, n in enumerate(self.nodes):
            self._handle(i, n.engine.start_height(height, vset or self.vset))
        self.run()

    def run(self, limit: int = 100_000) -> None:
        while self.queue and limit:
            limit -= 1
            i, (kind, args) = self.queue.popleft()
            e = self.nodes[i].engine
            actions = getattr(e, kind)(*args)
            self._handle(i, actions)

    def _handle(self, i: int, actions: list) -> None:
        node = self.nodes[i]
        for a in actions:
            if isinstance(a, Sign):
                assert node.signer is not None
                self.queue.append((i, ("on_signed", (node.signer.sign(a.message),))))
            elif isinstance(a, Broadcast):
                for j in range(len(self.nodes)):
                    if j != i:
                        if isinstance(a.message, Vote):
                            self.queue.append((j, ("on_vote", (a.message,))))
                        else:
                            self.queue.append((j, ("on_proposal", (a.message, a.block))))
            elif isinstance(a, RequestProposal):
                h, payload = block_for(f"{a.height}/{a.round}/{i}")
                self.queue.append((i, ("on_block_proposed", (a.height, a.round, h, payload))))
            elif isinstance(a, ValidateBlock):
                ok = hashlib.sha256(a.block).digest() == a.block_hash
                self.queue.append((i, ("on_block_validated", (a.height, a.round, a.block_hash, ok))))
            elif isinstance(a, Commit):
                node.commits.append(a)
            elif isinstance(a, ScheduleTimeout):
                node.timeouts.append(a)
            elif isinstance(a, EvidenceFound):
                node.evidence.append(a)
            elif isinstance(a, Rejected):
                node.rejected.append(a)
            else:  # pragma: no cover
                raise AssertionError(a)

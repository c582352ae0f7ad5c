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
    BlockVerdict,
    Broadcast,
    Commit,
    EvidenceFound,
    Rejected,
    Relay,
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
                verdict = BlockVerdict.VALID if matches(a) else BlockVerdict.PAYLOAD_MISMATCH
                self.queue.append((i, ("on_block_validated", (a.height, a.round, a.block_hash, verdict))))
            elif isinstance(a, Commit):
                node.commits.append(a)
            elif isinstance(a, ScheduleTimeout):
                node.timeouts.append(a)
            elif isinstance(a, EvidenceFound):
                node.evidence.append(a)
            elif isinstance(a, Rejected):
                node.rejected.append(a)
            elif isinstance(a, Relay):
                pass  # every node already broadcast to every other
            else:  # pragma: no cover
                raise AssertionError(a)


class Driver:
    """One engine under test, with its own real Signer; the test plays the
    other validators by feeding signed messages and inspects the actions.

    Sign, ValidateBlock and RequestProposal are answered at once (validity
    from `self.invalid`), and every action, including those produced by the
    answers, is returned flat so tests can assert on Broadcasts; `Relay`
    actions are collected in `self.relayed` instead.
    """

    def __init__(self, powers: list[int], me: int | None = 0, timeouts: TimeoutConfig | None = None,
                 height: int = 1, auto_validate: bool = True) -> None:
        self.keys, self.vset = make_set(powers)
        self.height = height
        self.me = me
        addr = self.keys[me].address if me is not None else None
        self.engine = ConsensusEngine(CHAIN, addr, timeouts or TimeoutConfig())
        self.signer = Signer(self.keys[me], MemoryStore(), CHAIN) if me is not None else None
        self.invalid: set[bytes] = set()
        self.auto_validate = auto_validate
        self.proposed: list[tuple[bytes, bytes]] = []
        self.log: list = []
        self.relayed: list[Relay] = []  # what the engine accepted from the network, in order

    # -- identities
    def proposer_index(self, round: int) -> int:
        addr = self.engine.proposer_for(round)
        return next(i for i, k in enumerate(self.keys) if k.address == addr)

    def others(self) -> list[PrivateKey]:
        return [k for i, k in enumerate(self.keys) if i != self.me]

    # -- events
    def _run(self, actions: list) -> list:
        out = []
        todo = deque(actions)
        while todo:
            a = todo.popleft()
            if isinstance(a, Relay):
                self.relayed.append(a)  # kept apart: most tests assert on the protocol's own actions
                continue
            out.append(a)
            more = []
            if isinstance(a, Sign) and self.signer is not None:
                more = self.engine.on_signed(self.signer.sign(a.message))
            elif isinstance(a, ValidateBlock) and self.auto_validate:
                more = self.engine.on_block_validated(a.height, a.round, a.block_hash, self.verdict(a))
            elif isinstance(a, RequestProposal):
                h, payload = block_for(f"own/{a.height}/{a.round}")
                self.proposed.append((h, payload))
                more = self.engine.on_block_proposed(a.height, a.round, h, payload)
            todo.extend(more)
        self.log.extend(out)
        return out

    def verdict(self, a: ValidateBlock) -> BlockVerdict:
        """Bytes that do not hash to the proposed hash are not the block;
        otherwise the block is invalid iff its hash is in `self.invalid`."""
        if not matches(a):
            return BlockVerdict.PAYLOAD_MISMATCH
        return BlockVerdict.INVALID if a.block_hash in self.invalid else BlockVerdict.VALID

    def start(self, vset: ValidatorSet | None = None, locked=None) -> list:
        return self._run(self.engine.start_height(self.height, vset or self.vset, locked=locked))

    def vote(self, v: Vote) -> list:
        return self._run(self.engine.on_vote(v))

    def votes(self, vs: list[Vote]) -> list:
        out = []
        for v in vs:
            out += self.vote(v)
        return out

    def propose(self, round: int, tag: str, pol_round: int = -1, proposer: int | None = None,
                height: int | None = None) -> tuple[bytes, list]:
        """The right proposer (or `proposer`) proposes block `tag` at `round`."""
        h = self.height if height is None else height
        bh, payload = block_for(tag)
        idx = self.proposer_index(round) if proposer is None else proposer
        p = sign_proposal(self.keys[idx], h, round, bh, pol_round)
        return bh, self._run(self.engine.on_proposal(p, payload))

    def timeout(self, step, round: int | None = None) -> list:
        r = self.engine.round if round is None else round
        return self._run(self.engine.on_timeout(ScheduleTimeout(self.height, r, step, 0)))

    def prevotes_from(self, keys, round: int, block_hash: bytes) -> list:
        return self.votes([prevote(k, self.height, round, block_hash) for k in keys])

    def precommits_from(self, keys, round: int, block_hash: bytes) -> list:
        return self.votes([precommit(k, self.height, round, block_hash) for k in keys])


def matches(a: ValidateBlock) -> bool:
    """Whether a ValidateBlock's bytes are the block it names (test blocks hash with SHA-256)."""
    return hashlib.sha256(a.block).digest() == a.block_hash


def own_votes(actions: list, vote_type: int | None = None) -> list[Vote]:
    return [a.message for a in actions
            if isinstance(a, Broadcast) and isinstance(a.message, Vote)
            and (vote_type is None or a.message.type == vote_type)]


def own_proposals(actions: list) -> list[Proposal]:
    return [a.message for a in actions if isinstance(a, Broadcast) and isinstance(a.message, Proposal)]


def of_type(actions: list, cls) -> list:
    return [a for a in actions if isinstance(a, cls)]


def index_of_proposer(vset: ValidatorSet, keys: list[PrivateKey], round: int) -> int:
    addr = vset.advance(round).proposer_address
    return next(i for i, k in enumerate(keys) if k.address == addr)


def driver_proposing_at(round: int, powers: list[int] | None = None, **kw) -> Driver:
    """A Driver whose engine is the proposer of `round` (and, with 4 equal
    validators, of no other round below round + 4)."""
    powers = powers or [1, 1, 1, 1]
    keys, vset = make_set(powers)
    return Driver(powers, me=index_of_proposer(vset, keys, round), **kw)

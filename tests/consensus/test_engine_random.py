"""Randomized schedules: reordering, drops, early timeouts and a Byzantine
equivocator, checked for agreement (safety) and, without drops, termination.

Three honest engines and one Byzantine validator (a quarter of the power,
under the 1/3 bound) that sends conflicting proposals, prevotes and
precommits to different nodes in every round it sees.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.actions import Broadcast, Commit, EvidenceFound, RequestProposal, ScheduleTimeout, Sign, ValidateBlock
from consensus.engine import ConsensusEngine
from consensus.messages import NIL, PRECOMMIT, PREVOTE, Proposal, Vote
from consensus.signer import MemoryStore, Signer
from consensus.timeouts import Step
from engine_harness import CHAIN, block_for, make_set, sign_proposal, sign_vote

import hashlib


class RandomNet:
    def __init__(self, seed: int, drop: float, byzantine: bool, powers=(1, 1, 1, 1)) -> None:
        self.rng = random.Random(seed)
        self.drop = drop
        self.keys, self.vset = make_set(list(powers))
        self.byz = 3 if byzantine else None
        self.honest = [i for i in range(len(self.keys)) if i != self.byz]
        self.engines = {i: ConsensusEngine(CHAIN, self.keys[i].address) for i in self.honest}
        self.signers = {i: Signer(self.keys[i], MemoryStore(), CHAIN) for i in self.honest}
        self.inflight: list[tuple[int, str, tuple]] = []
        self.timers: list[tuple[int, ScheduleTimeout]] = []
        self.commits: dict[int, Commit] = {}
        self.evidence: list = []
        self.byz_rounds: set[int] = set()
        self.hashes: list[bytes] = [NIL]
        self.relayed: set = set()

    def handle(self, i: int, actions: list) -> None:
        todo = list(actions)
        while todo:
            a = todo.pop(0)
            if isinstance(a, Sign):
                signed = self.signers[i].sign(a.message)
                # An honest engine never asks the guard for a regression or a
                # conflicting signature: the guard is a backstop, not a filter.
                assert signed is not None, f"node {i} asked to sign {a.message!r} against its guard"
                todo += self.engines[i].on_signed(signed)
            elif isinstance(a, ValidateBlock):
                ok = hashlib.sha256(a.block).digest() == a.block_hash
                todo += self.engines[i].on_block_validated(a.height, a.round, a.block_hash, ok)
            elif isinstance(a, RequestProposal):
                h, payload = block_for(f"{i}/{a.round}/{self.rng.random()}")
                self.hashes.append(h)
                todo += self.engines[i].on_block_proposed(a.height, a.round, h, payload)
            elif isinstance(a, Broadcast):
                for j in self.honest:
                    if j != i:
                        if isinstance(a.message, Vote):
                            self.inflight.append((j, "on_vote", (a.message,)))
                        else:
                            self.inflight.append((j, "on_proposal", (a.message, a.block)))
            elif isinstance(a, ScheduleTimeout):
                self.timers.append((i, a))
                if self.byz is not None and a.step == Step.PROPOSE:
                    self.byzantine_round(a.round)
            elif isinstance(a, Commit):
                assert i not in self.commits
                self.commits[i] = a
                # What a driver does for peers still at this height (the
                # node's sync / last-commit gossip): hand them the certificate's
                # precommits. Without it a node whose peers all decided before
                # precommitting could wait forever.
                for v in a.certificate.precommits:
                    for j in self.honest:
                        if j != i:
                            self.inflight.append((j, "on_vote", (v,)))
            elif isinstance(a, EvidenceFound):
                self.evidence.append(a.evidence)

    def byzantine_round(self, r: int) -> None:
        if r in self.byz_rounds:
            return
        self.byz_rounds.add(r)
        k = self.keys[self.byz]
        x, y = (block_for(f"byz/{r}/x"), block_for(f"byz/{r}/y"))
        if self.vset.advance(r).proposer_address == k.address:
            for j in self.honest:
                bh, payload = x if self.rng.random() < 0.5 else y
                self.inflight.append((j, "on_proposal", (sign_proposal(k, 1, r, bh), payload)))
        for t in (PREVOTE, PRECOMMIT):
            for j in self.honest:
                h = self.rng.choice(self.hashes + [x[0], y[0]])
                self.inflight.append((j, "on_vote", (sign_vote(k, t, 1, r, h),)))
            # Sometimes one node gets both sides of the equivocation: evidence.
            if self.rng.random() < 0.3:
                j = self.rng.choice(self.honest)
                self.inflight.append((j, "on_vote", (sign_vote(k, t, 1, r, x[0]),)))
                self.inflight.append((j, "on_vote", (sign_vote(k, t, 1, r, y[0]),)))

    def run(self, steps: int) -> None:
        for i in self.honest:
            self.handle(i, self.engines[i].start_height(1, self.vset))
        for _ in range(steps):
            if len(self.commits) == len(self.honest):
                return
            fire_timer = self.timers and (not self.inflight or self.rng.random() < 0.08)
            if fire_timer:
                i, t = self.timers.pop(self.rng.randrange(len(self.timers)))
                self.handle(i, self.engines[i].on_timeout(t))
                continue
            if not self.inflight:
                return
            j, kind, args = self.inflight.pop(self.rng.randrange(len(self.inflight)))
            if self.rng.random() < self.drop:
                continue
            self.relay(j, kind, args)
            self.handle(j, getattr(self.engines[j], kind)(*args))

    def relay(self, j: int, kind: str, args: tuple) -> None:
        """Gossip: what one honest node receives from the Byzantine it passes
        on (honest messages already go to everyone). Tendermint's liveness
        assumes exactly this: a message one correct node got, all get."""
        msg = args[0]
        sender = msg.proposer if isinstance(msg, Proposal) else msg.validator
        if self.byz is None or sender != self.keys[self.byz].address:
            return
        for dest in self.honest:
            if dest != j and (dest, msg) not in self.relayed:
                self.relayed.add((dest, msg))
                self.inflight.append((dest, kind, args))

    def check_agreement(self) -> None:
        decided = {c.block_hash for c in self.commits.values()}
        assert len(decided) <= 1, f"disagreement: {decided}"
        for c in self.commits.values():
            c.certificate.verify(self.vset, CHAIN)
        for ev in self.evidence:
            ev.verify(self.vset, CHAIN)
            assert ev.validator == self.keys[self.byz].address  # honest never double-sign


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from([0.1, 0.3]))
def test_random_schedules_with_byzantine_and_drops_are_safe(seed, drop):
    net = RandomNet(seed, drop, byzantine=True)
    net.run(3000)
    net.check_agreement()


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32))
def test_byzantine_without_drops_is_safe_and_live(seed):
    net = RandomNet(seed, 0.0, byzantine=True)
    net.run(20000)
    net.check_agreement()
    assert len(net.commits) == len(net.honest)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32))
def test_random_order_without_drops_terminates(seed):
    net = RandomNet(seed, 0.0, byzantine=False)
    net.run(20000)
    net.check_agreement()
    assert len(net.commits) == len(net.honest)

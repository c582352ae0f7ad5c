"""Randomized schedules: reordering, drops, early timeouts and a Byzantine
equivocator, over several heights, checked for agreement (safety) and,
without drops, termination.

Honest engines plus at most one Byzantine validator (a quarter of the power,
under the 1/3 bound) that sends conflicting proposals, prevotes and
precommits to different nodes in every round it sees. Set PLUME_SOAK=1 for a
much longer run.
"""

from __future__ import annotations

import hashlib
import os
import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from consensus.actions import (
    BlockVerdict,
    Broadcast,
    Commit,
    EvidenceFound,
    RequestProposal,
    ScheduleTimeout,
    Sign,
    ValidateBlock,
)
from consensus.engine import ConsensusEngine
from consensus.messages import NIL, PRECOMMIT, PREVOTE, Proposal, Vote
from consensus.signer import MemoryStore, Signer
from consensus.timeouts import Step
from engine_harness import CHAIN, block_for, make_set, sign_proposal, sign_vote

SOAK = os.environ.get("PLUME_SOAK") == "1"


class RandomNet:
    def __init__(self, seed: int, drop: float, byzantine: bool, powers=(1, 1, 1, 1), heights: int = 1) -> None:
        self.rng = random.Random(seed)
        self.drop = drop
        self.heights = heights
        self.keys, base = make_set(list(powers))
        # The set of height h is the genesis set advanced h-1 times.
        self.vsets = {1: base}
        for h in range(2, heights + 2):
            self.vsets[h] = self.vsets[h - 1].advance(1)
        self.byz = len(powers) - 1 if byzantine else None
        self.honest = [i for i in range(len(self.keys)) if i != self.byz]
        self.engines = {i: ConsensusEngine(CHAIN, self.keys[i].address) for i in self.honest}
        self.signers = {i: Signer(self.keys[i], MemoryStore(), CHAIN) for i in self.honest}
        self.inflight: list[tuple[int, str, tuple]] = []
        self.timers: list[tuple[int, ScheduleTimeout]] = []
        self.commits: dict[tuple[int, int], Commit] = {}  # (node, height) -> Commit
        self.evidence: list = []
        self.byz_rounds: set[tuple[int, int]] = set()
        self.hashes: list[bytes] = [NIL]
        self.relayed: set = set()
        self.proposed: dict[tuple[int, bytes], tuple] = {}  # (height, block hash) -> (proposal, block)

    # ------------------------------------------------------------ plumbing

    def send_all(self, i: int, kind: str, args: tuple) -> None:
        for j in self.honest:
            if j != i:
                self.inflight.append((j, kind, args))

    def handle(self, i: int, actions: list) -> None:
        eng = self.engines[i]
        todo = list(actions)
        while todo:
            a = todo.pop(0)
            if isinstance(a, Sign):
                signed = self.signers[i].sign(a.message)
                # An honest engine never asks the guard for a regression or a
                # conflicting signature: the guard is a backstop, not a filter.
                assert signed is not None, f"node {i} asked to sign {a.message!r} against its guard"
                todo += eng.on_signed(signed)
            elif isinstance(a, ValidateBlock):
                ok = hashlib.sha256(a.block).digest() == a.block_hash
                verdict = BlockVerdict.VALID if ok else BlockVerdict.PAYLOAD_MISMATCH
                todo += eng.on_block_validated(a.height, a.round, a.block_hash, verdict)
            elif isinstance(a, RequestProposal):
                h, payload = block_for(f"{i}/{a.height}/{a.round}/{self.rng.random()}")
                self.hashes.append(h)
                todo += eng.on_block_proposed(a.height, a.round, h, payload)
            elif isinstance(a, Broadcast):
                if isinstance(a.message, Vote):
                    self.send_all(i, "on_vote", (a.message,))
                else:
                    self.proposed[(a.message.height, a.message.block_hash)] = (a.message, a.block)
                    self.send_all(i, "on_proposal", (a.message, a.block))
            elif isinstance(a, ScheduleTimeout):
                self.timers.append((i, a))
                if self.byz is not None and a.step == Step.PROPOSE:
                    self.byzantine_round(a.height, a.round)
            elif isinstance(a, Commit):
                assert (i, a.height) not in self.commits
                self.commits[(i, a.height)] = a
                # What a driver does for peers still at this height (the
                # node's sync / last-commit gossip): hand them the certificate's
                # precommits, and the block with a proposal that carries it.
                # Without it a node whose peers all decided before precommitting
                # (or that never got the block) could wait forever.
                for v in a.certificate.precommits:
                    self.send_all(i, "on_vote", (v,))
                # A peer two heights behind dropped the proposal when it came
                # (only the next height is buffered): catch-up gossip resends it.
                if (a.height, a.block_hash) in self.proposed:
                    self.send_all(i, "on_proposal", self.proposed[(a.height, a.block_hash)])
                if a.height < self.heights:
                    todo += eng.start_height(a.height + 1, self.vsets[a.height + 1])
            elif isinstance(a, EvidenceFound):
                self.evidence.append(a.evidence)

    def byzantine_round(self, h: int, r: int) -> None:
        if (h, r) in self.byz_rounds:
            return
        self.byz_rounds.add((h, r))
        k = self.keys[self.byz]
        x, y = (block_for(f"byz/{h}/{r}/x"), block_for(f"byz/{h}/{r}/y"))
        if self.vsets[h].advance(r).proposer_address == k.address:
            for j in self.honest:
                bh, payload = x if self.rng.random() < 0.5 else y
                proposal = sign_proposal(k, h, r, bh)
                self.proposed.setdefault((h, bh), (proposal, payload))
                self.inflight.append((j, "on_proposal", (proposal, payload)))
        for t in (PREVOTE, PRECOMMIT):
            for j in self.honest:
                bh = self.rng.choice(self.hashes[-8:] + [NIL, x[0], y[0]])
                self.inflight.append((j, "on_vote", (sign_vote(k, t, h, r, bh),)))
            # Sometimes one node gets both sides of the equivocation: evidence.
            if self.rng.random() < 0.3:
                j = self.rng.choice(self.honest)
                self.inflight.append((j, "on_vote", (sign_vote(k, t, h, r, x[0]),)))
                self.inflight.append((j, "on_vote", (sign_vote(k, t, h, r, y[0]),)))

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

    def done(self) -> bool:
        return len(self.commits) == len(self.honest) * self.heights

    def run(self, steps: int) -> None:
        for i in self.honest:
            self.handle(i, self.engines[i].start_height(1, self.vsets[1]))
        for _ in range(steps):
            if self.done():
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

    def check_agreement(self) -> None:
        for h in range(1, self.heights + 1):
            decided = {c.block_hash for (i, hh), c in self.commits.items() if hh == h}
            assert len(decided) <= 1, f"disagreement at height {h}: {decided}"
        for (i, h), c in self.commits.items():
            c.certificate.verify(self.vsets[h], CHAIN)
        for ev in self.evidence:
            ev.verify(self.vsets[ev.height], CHAIN)
            assert ev.validator == self.keys[self.byz].address  # honest never double-sign


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from([0.1, 0.3]))
def test_random_schedules_with_byzantine_and_drops_are_safe(seed, drop):
    net = RandomNet(seed, drop, byzantine=True, heights=2)
    net.run(3000)
    net.check_agreement()


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32))
def test_byzantine_without_drops_is_safe_and_live(seed):
    net = RandomNet(seed, 0.0, byzantine=True, heights=3)
    net.run(30000)
    net.check_agreement()
    assert net.done()


# Seeds that once failed, kept as regression cases. 184555587 (no Byzantine,
# powers 3,1,1,1): a node two heights behind dropped the last height's
# proposal and, once its peers had decided, never got the block; the catch-up
# now resends the decided proposal with the certificate (as the node's
# catch-up gossip and block sync do). 306225: an equivocator's
# prevote for the POL value reached a node before the proposal did and was
# dropped over the unknown-value cap; the POL stayed hidden from that node.
@pytest.mark.parametrize("seed", [306225])
def test_byzantine_seeds_that_once_stalled(seed):
    net = RandomNet(seed, 0.0, byzantine=True, heights=3)
    net.run(30000)
    net.check_agreement()
    assert net.done()


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from([(1, 1, 1, 1), (3, 1, 1, 1), (1, 2, 3, 4, 5)]))
@example(184555587, (3, 1, 1, 1))
def test_random_order_without_drops_terminates(seed, powers):
    net = RandomNet(seed, 0.0, byzantine=False, powers=powers, heights=3)
    net.run(30000)
    net.check_agreement()
    assert net.done()


@pytest.mark.skipif(not SOAK, reason="set PLUME_SOAK=1")
def test_soak_many_seeds():
    for seed in range(2000):
        net = RandomNet(seed, 0.0, byzantine=True, powers=(1, 1, 1, 1), heights=4)
        net.run(60000)
        net.check_agreement()
        assert net.done(), f"seed {seed} did not finish"
        net = RandomNet(seed, 0.2, byzantine=True, powers=(2, 2, 2, 1, 2), heights=3)
        net.run(20000)
        net.check_agreement()

"""The consensus engine: Tendermint rounds as a sans-I/O state machine.

`ConsensusEngine` takes events (`start_height`, `on_proposal`, `on_vote`,
`on_timeout`, `on_block_proposed`, `on_block_validated`, `on_signed`) and
returns lists of actions (`consensus.actions`) for its driver. It never reads
a clock, does I/O or blocks; the same events in the same order always give
the same actions, which is what lets the simulator replay a schedule.

The protocol is Algorithm 1 of "The latest gossip on BFT consensus"
(Buchman, Kwon, Milosevic, arXiv 1807.04938). After every event the engine
re-evaluates the paper's "upon" rules (`_run_rules`) until none fires; each
rule is one method below, named after the paper's line numbers. See
docs/consensus.md for the prose and docs/consensus-interface.md for the
contract with drivers.
"""

from __future__ import annotations

import hashlib

from .actions import (
    Action,
    BlockVerdict,
    Broadcast,
    Commit,
    EvidenceFound,
    Rejected,
    RejectReason,
    Relay,
    RequestProposal,
    ScheduleTimeout,
    Sign,
    ValidateBlock,
)
from .buffer import FutureBuffer
from .messages import (
    HASH_SIZE,
    NIL,
    PRECOMMIT,
    PREVOTE,
    CommitCertificate,
    DuplicateVoteEvidence,
    Proposal,
    Vote,
    payload_digest,
)
from .round_state import RoundState, RoundStep
from .timeouts import Step, TimeoutConfig
from .validators import ValidatorSet
from .vote_set import ADDED, CONFLICT, CONFLICT_DROPPED, HeightVoteSet

# A validator may have messages in at most this many rounds above ours at
# once (CometBFT's "peer catch-up rounds"); more would let a Byzantine fill
# memory with votes for rounds nobody will reach. Honest validators move up
# one round at a time, so their slots free up as we follow them.
MAX_FUTURE_ROUNDS_PER_SENDER = 2
# Proposals further ahead than this are dropped: checking the proposer of
# round r costs r priority increments.
MAX_PROPOSAL_ROUND_LOOKAHEAD = 64
# Conflicting proposals kept per round when the proposer equivocates (more
# are kept only if their block already has a +2/3 quorum somewhere).
MAX_ALT_PROPOSALS_PER_ROUND = 2
# Evidence already reported, per height, is remembered up to this many pairs.
MAX_EVIDENCE_PER_HEIGHT = 1024
# Payloads found not to be the block they came with (PAYLOAD_MISMATCH) are
# remembered, per height, up to this many (oldest forgotten first), so the
# same junk is not judged twice; a forgotten one is judged again if it comes
# back (and its sender is blamed again). Memory stays bounded whatever a
# flood of distinct junk.
MAX_REJECTED_PAYLOADS = 16
# Payloads waiting, per height, while other bytes for the same hash are being
# judged (copies of one proposal replayed together from the next-height
# buffer, or a driver that answers ValidateBlock later); more are dropped.
MAX_QUEUED_PAYLOADS = 4
# The application's reason, built from a peer's bytes, is cut to this length
# in a Rejected detail.
MAX_REJECT_DETAIL = 200


class ConsensusEngine:
    """One node's view of consensus; `address=None` follows without signing."""

    def __init__(
        self,
        chain_id: str | bytes,
        address: bytes | None = None,
        timeouts: TimeoutConfig | None = None,
    ) -> None:
        self.chain_id = chain_id
        self.address = address
        self.timeouts = timeouts or TimeoutConfig()
        self._rs: RoundState | None = None
        self._votes: HeightVoteSet | None = None
        self._out: list[Action] = []
        # unsigned messages handed to the driver in Sign actions, oldest first
        self._pending_signs: list[Vote | Proposal] = []
        self._buffer = FutureBuffer()
        self._proposer_sets: dict[int, ValidatorSet] = {}
        self._evidence_seen: set[bytes] = set()

    # ------------------------------------------------------------------ queries

    @property
    def height(self) -> int | None:
        return None if self._rs is None else self._rs.height

    @property
    def round(self) -> int | None:
        return None if self._rs is None else self._rs.round

    @property
    def step(self) -> RoundStep | None:
        return None if self._rs is None else self._rs.step

    @property
    def state(self) -> RoundState | None:
        """The current round state (read-only by convention; for tests and status)."""
        return self._rs

    @property
    def votes(self) -> HeightVoteSet | None:
        return self._votes

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def next_height_proposed_by(self, address: bytes) -> bool:
        """Whether a proposal for the next height signed by `address` (a
        validator of this height, its signature checked) waits in the buffer:
        a driver may start the next height at once to judge it."""
        return self._buffer.holds_proposal_from(address)

    def decided_certificate(self) -> CommitCertificate | None:
        """After a commit, until the next height starts: the decided block's
        certificate with every precommit for it received so far in the deciding
        round, late ones included (the Commit action carried only the first +2/3).
        None before this height is decided."""
        rs, votes = self._rs, self._votes
        if rs is None or votes is None or rs.decided is None:
            return None
        precommits = tuple(votes.precommits(rs.decided_round).votes_for(rs.decided))
        return CommitCertificate(rs.height, rs.decided_round, rs.decided, precommits)

    def is_validator(self) -> bool:
        return self._rs is not None and self.address is not None and self.address in self._rs.validator_set

    def proposer_for(self, round: int) -> bytes:
        """Address of the proposer of `round` at the current height: the
        height's set advanced `round` times (CometBFT's rule)."""
        assert self._rs is not None
        s = self._proposer_sets.get(round)
        if s is None:
            base = max(r for r in self._proposer_sets if r <= round)
            s = self._proposer_sets[base].advance(round - base)
            self._proposer_sets[round] = s
        return s.proposer_address

    # ------------------------------------------------------------------ events

    def start_height(
        self,
        height: int,
        validator_set: ValidatorSet,
        locked: tuple[int, bytes] | None = None,
    ) -> list[Action]:
        """Enter `height` with its validator set (already advanced for it).
        `locked` is `Signer.locked(height)` after a restart."""
        if self._rs is not None and height <= self._rs.height:
            raise ValueError(f"height {height} is not above the current height {self._rs.height}")
        rs = self._rs = RoundState(height=height, validator_set=validator_set)
        self._votes = HeightVoteSet(validator_set)
        self._proposer_sets = {0: validator_set}
        self._pending_signs = []
        self._evidence_seen = set()
        if locked is not None:
            lock_round, lock_hash = locked
            if lock_round < 0 or len(lock_hash) != HASH_SIZE:
                raise ValueError("locked must be (round >= 0, 32-byte block hash)")
            rs.locked_round, rs.locked_value = lock_round, lock_hash
        replay = self._buffer.advance_to(height)
        self._start_round(0)
        for message, block in replay:
            if isinstance(message, Vote):
                self._handle_vote(message)
            else:
                self._handle_proposal(message, block or b"")
        self._run_rules()
        return self._flush()

    def on_proposal(self, proposal: Proposal, block: bytes) -> list[Action]:
        self._handle_proposal(proposal, block)
        self._run_rules()
        return self._flush()

    def on_vote(self, vote: Vote) -> list[Action]:
        self._handle_vote(vote)
        self._run_rules()
        return self._flush()

    def on_timeout(self, timeout: ScheduleTimeout) -> list[Action]:
        rs = self._rs
        if rs is None or timeout.height != rs.height or rs.step == RoundStep.COMMITTED:
            return []
        if timeout.round == rs.round:
            if timeout.step == Step.PROPOSE and rs.step == RoundStep.PROPOSE:
                self._prevote(NIL)  # line 57: OnTimeoutPropose
            elif timeout.step == Step.PREVOTE and rs.step == RoundStep.PREVOTE:
                self._precommit(NIL)  # line 61: OnTimeoutPrevote
            elif timeout.step == Step.PRECOMMIT:
                self._start_round(rs.round + 1)  # line 65: OnTimeoutPrecommit
        self._run_rules()
        return self._flush()

    def on_block_proposed(self, height: int, round: int, block_hash: bytes, block: bytes) -> list[Action]:
        """The application's answer to RequestProposal(height, round)."""
        rs = self._rs
        if (
            rs is None
            or (height, round) != (rs.height, rs.round)
            or rs.step != RoundStep.PROPOSE
            or rs.requested_proposal_round != round
            or rs.round_proposals(round)
        ):
            return []  # too late: the round moved on
        if len(block_hash) != HASH_SIZE:
            raise ValueError("block_hash must be 32 bytes")
        rs.requested_proposal_round = -1
        rs.blocks[block_hash] = block
        # Our own application built it: no need to ask it to validate it.
        rs.validity[block_hash] = True
        self._sign(Proposal(height, round, block_hash, -1, self.address or b""))
        return self._flush()

    def on_block_validated(
        self, height: int, round: int, block_hash: bytes, verdict: BlockVerdict, reason: str = ""
    ) -> list[Action]:
        """The application's answer to ValidateBlock.

        VALID and INVALID are verdicts on the block the hash names, final for
        the height. PAYLOAD_MISMATCH says the bytes judged were not that block:
        the hash stays unknown (we neither prevote nil because of it nor count
        it valid) until a copy brings matching bytes, and the copy that brought
        these is `Rejected` so the network can blame whoever delivered it.
        """
        if not isinstance(verdict, BlockVerdict):
            raise TypeError(f"verdict must be a BlockVerdict, got {verdict!r}")
        rs = self._rs
        if rs is None or height != rs.height or block_hash not in rs.validating:
            return []
        rs.validating.discard(block_hash)
        source = rs.payload_source.pop(block_hash, None)
        if verdict is not BlockVerdict.PAYLOAD_MISMATCH:
            rs.queued_payloads.pop(block_hash, None)  # judged: other bytes are moot
        if verdict is BlockVerdict.VALID:
            rs.validity[block_hash] = True
            block = rs.blocks.get(block_hash, b"")
            self._out.extend(Relay(p, block) for p in rs.relay_pending.pop(block_hash, []))
        elif verdict is BlockVerdict.INVALID:
            rs.validity[block_hash] = False
            rs.relay_pending.pop(block_hash, None)
            rs.blocks.pop(block_hash, None)  # never decided by us: no need to hold it
        else:
            self._payload_mismatch(block_hash, source, reason)
        self._run_rules()
        return self._flush()

    def _payload_mismatch(self, block_hash: bytes, source: Proposal | None, reason: str) -> None:
        """Forget bytes that were not the block (proposals waiting to be
        relayed keep waiting for matching bytes) and blame the copy."""
        rs = self._rs
        assert rs is not None
        digest = payload_digest(rs.blocks.pop(block_hash, b""))
        rs.rejected_payloads[(block_hash, digest)] = None
        while len(rs.rejected_payloads) > MAX_REJECTED_PAYLOADS:
            del rs.rejected_payloads[next(iter(rs.rejected_payloads))]
        if source is not None:
            self._out.append(Rejected(source, RejectReason.PAYLOAD_MISMATCH, reason[:MAX_REJECT_DETAIL], digest))
        self._judge_next(block_hash)

    def on_signed(self, message: Vote | Proposal | None) -> list[Action]:
        """The double-sign guard's answer to a Sign (None = refused). Our own
        vote counts, and is broadcast, only from here."""
        if message is None:
            # Refused: the step was already taken, nothing is sent. No need to
            # know which request it answers (answers may arrive late).
            return []
        unsigned = message.unsigned()
        if unsigned not in self._pending_signs:
            return []  # not something we asked for at this height
        self._pending_signs.remove(unsigned)
        rs = self._rs
        if rs is None or message.height != rs.height:
            return []
        assert self._votes is not None
        if isinstance(message, Vote):
            # Even after a decision our signed vote goes out: it is durable in
            # the guard already and may complete someone else's quorum.
            status, _ = self._votes.add(message)
            if status == ADDED:
                self._out.append(Broadcast(message))
        elif rs.step != RoundStep.COMMITTED:
            if message.round not in rs.proposals:
                rs.proposals[message.round] = message
                self._note_proposed(message.block_hash)
                self._votes.note_sender(message.round, message.proposer)
                self._out.append(Broadcast(message, rs.blocks.get(message.block_hash, b"")))
        self._run_rules()
        return self._flush()

    # --------------------------------------------------------- message intake

    def _reject(
        self, message: Vote | Proposal, reason: RejectReason, detail: str = "", block: bytes | None = None
    ) -> None:
        # A proposal's copies differ only in their block bytes: name the bytes
        # this copy came with, so the network blames the peer that sent it.
        digest = payload_digest(block or b"") if isinstance(message, Proposal) else b""
        self._out.append(Rejected(message, reason, detail, digest))

    def _buffer_next_height(self, message: Vote | Proposal, block: bytes | None) -> None:
        rs = self._rs
        assert rs is not None
        sender = message.proposer if isinstance(message, Proposal) else message.validator
        val = rs.validator_set.get(sender)
        if val is not None and not message.verify_signature(val.pub_key, self.chain_id):
            # An address pins its key, so this is a forgery whatever the next
            # set is. Buffered messages are relayed only once replayed and
            # verified at their own height (start_height).
            self._reject(message, RejectReason.BAD_SIGNATURE, f"next-height message by {sender.hex()}", block)
            return
        self._buffer.add(message, block, known_sender=val is not None)

    def _handle_proposal(self, p: Proposal, block: bytes) -> None:
        rs = self._rs
        if rs is None or p.height < rs.height:
            return
        if p.height > rs.height:
            if p.height == rs.height + 1:
                self._buffer_next_height(p, block)
            return
        assert self._votes is not None
        if rs.step == RoundStep.COMMITTED:
            return  # decided: no block of this height needs validating any more
        if not (-1 <= p.pol_round < p.round) or len(p.block_hash) != HASH_SIZE:
            self._reject(p, RejectReason.MALFORMED, "pol_round must be -1 or below round; block_hash 32 bytes", block)
            return
        known = rs.round_proposals(p.round)
        if p in known:
            # Another copy of a proposal we verified and kept: its bytes may be
            # the block where an earlier copy's were not.
            self._receive_block(p, block)
            return
        if p.round > rs.round:
            if p.round > rs.round + MAX_PROPOSAL_ROUND_LOOKAHEAD:
                return
            if not self._future_round_slot(p.round, p.proposer):
                return
        if p.proposer != self.proposer_for(p.round):
            self._reject(p, RejectReason.NOT_PROPOSER, f"height {p.height} round {p.round}", block)
            return
        val = rs.validator_set.get(p.proposer)
        assert val is not None
        if not p.verify_signature(val.pub_key, self.chain_id):
            self._reject(p, RejectReason.BAD_SIGNATURE, f"proposal by {p.proposer.hex()}", block)
            return
        if not known:
            rs.proposals[p.round] = p
        else:
            # The proposer equivocated. The first proposal stays the one we
            # prevote on, but other nodes may have got this one, locked on it
            # and decided it: keep a bounded number of alternatives (and any
            # whose block already has a +2/3 quorum somewhere) so the paper's
            # "a PROPOSAL for v" rules and the commit rule can still use them.
            if any(k.block_hash == p.block_hash for k in known):
                self._receive_block(p, block)  # verified: its bytes may be the block
                return
            alts = rs.alt_proposals.setdefault(p.round, [])
            if len(alts) >= MAX_ALT_PROPOSALS_PER_ROUND and not self._votes.has_quorum_anywhere(p.block_hash):
                return
            alts.append(p)
        self._note_proposed(p.block_hash)
        self._votes.note_sender(p.round, p.proposer)
        self._receive_block(p, block)
        self._relay_when_valid(p)

    def _relay_when_valid(self, p: Proposal) -> None:
        """Relay a kept proposal once its block is known valid: the signature
        covers only the hash, so the payload is checked before it travels on."""
        rs = self._rs
        assert rs is not None
        valid = self._valid(p.block_hash)
        if valid is True:
            self._out.append(Relay(p, rs.blocks.get(p.block_hash, b"")))
        elif valid is None:  # being judged, or waiting for bytes that are the block
            rs.relay_pending.setdefault(p.block_hash, []).append(p)

    def _receive_block(self, p: Proposal, block: bytes) -> None:
        """Keep the payload that came with verified proposal `p` and ask the
        application to judge it, unless the hash is judged already or these
        very bytes were found not to be the block. While other bytes for the
        hash are being judged, these wait their turn (bounded)."""
        rs = self._rs
        assert rs is not None
        block_hash = p.block_hash
        if block_hash in rs.validity:
            return
        digest = payload_digest(block)
        if (block_hash, digest) in rs.rejected_payloads:
            return
        if block_hash in rs.validating:
            self._queue_payload(p, block, digest)
            return
        self._judge(p, block)

    def _queue_payload(self, p: Proposal, block: bytes, digest: bytes) -> None:
        """Keep other bytes for a hash being judged (copies replayed together
        from the next-height buffer, or a driver that answers later), up to
        MAX_QUEUED_PAYLOADS per height; judged in turn if the first are not
        the block."""
        rs = self._rs
        assert rs is not None
        held = [rs.blocks.get(p.block_hash, b"")] + [b for _, b in rs.queued_payloads.get(p.block_hash, [])]
        if any(payload_digest(b) == digest for b in held):
            return
        if sum(len(q) for q in rs.queued_payloads.values()) >= MAX_QUEUED_PAYLOADS:
            return
        rs.queued_payloads.setdefault(p.block_hash, []).append((p, block))

    def _judge_next(self, block_hash: bytes) -> None:
        """After bytes that were not the block: judge the next queued ones."""
        rs = self._rs
        assert rs is not None
        queue = rs.queued_payloads.get(block_hash, [])
        while queue:
            p, block = queue.pop(0)
            if (block_hash, payload_digest(block)) not in rs.rejected_payloads:
                self._judge(p, block)
                break
        if not queue:
            rs.queued_payloads.pop(block_hash, None)

    def _judge(self, p: Proposal, block: bytes) -> None:
        rs = self._rs
        assert rs is not None
        block_hash = p.block_hash
        rs.blocks[block_hash] = block
        rs.validating.add(block_hash)
        rs.payload_source[block_hash] = p
        self._out.append(ValidateBlock(rs.height, p.round, block_hash, block))

    def _future_round_slot(self, round: int, sender: bytes) -> bool:
        """May `sender` add a message at `round` (> ours)? See MAX_FUTURE_ROUNDS_PER_SENDER."""
        assert self._rs is not None and self._votes is not None
        if self._votes.has_sent(round, sender):
            return True
        return self._votes.rounds_with_sender(sender, self._rs.round) < MAX_FUTURE_ROUNDS_PER_SENDER

    def _handle_vote(self, v: Vote) -> None:
        rs = self._rs
        if rs is None or v.height < rs.height:
            return
        if v.height > rs.height:
            if v.height == rs.height + 1:
                self._buffer_next_height(v, None)
            return
        assert self._votes is not None
        if v.type not in (PREVOTE, PRECOMMIT) or len(v.block_hash) not in (0, HASH_SIZE):
            self._reject(v, RejectReason.MALFORMED, "vote type or block_hash length")
            return
        val = rs.validator_set.get(v.validator)
        if val is None:
            self._reject(v, RejectReason.NOT_VALIDATOR, f"{v.validator.hex()} at height {v.height}")
            return
        # Looked up without creating it: a set per round is made only for a
        # verified vote, so forged votes for arbitrary rounds leave nothing behind.
        vote_set = self._votes.peek(v.round, v.type)
        if vote_set is not None and vote_set.get_vote(v.validator, v.block_hash) == v:
            return  # exact duplicate: no need to check the signature again
        first = vote_set.votes.get(v.validator) if vote_set is not None else None
        if first is None and v.round > rs.round and not self._future_round_slot(v.round, v.validator):
            return
        if not v.verify_signature(val.pub_key, self.chain_id):
            self._reject(v, RejectReason.BAD_SIGNATURE, f"vote by {v.validator.hex()}")
            return
        known = v.block_hash == NIL or v.block_hash in rs.proposed_hashes
        status, other = self._votes.add(v, known_value=known)
        if status in (ADDED, CONFLICT):
            self._out.append(Relay(v))  # verified and counted: worth passing on
        if status in (CONFLICT, CONFLICT_DROPPED):
            assert other is not None
            self._report_evidence(DuplicateVoteEvidence.from_votes(other, v))

    def _note_proposed(self, block_hash: bytes) -> None:
        """`block_hash` is proposed at this height: votes for it parked as
        unknown-value conflicts now count (and are passed on)."""
        assert self._rs is not None and self._votes is not None
        if block_hash in self._rs.proposed_hashes:
            return
        self._rs.proposed_hashes.add(block_hash)
        for vote in self._votes.readmit(block_hash):
            self._out.append(Relay(vote))

    def _report_evidence(self, ev: DuplicateVoteEvidence) -> None:
        key = hashlib.sha256(ev.encode()).digest()
        if key in self._evidence_seen or len(self._evidence_seen) >= MAX_EVIDENCE_PER_HEIGHT:
            return
        self._evidence_seen.add(key)
        self._out.append(EvidenceFound(ev))

    # ------------------------------------------------------------ our moves

    def _flush(self) -> list[Action]:
        out, self._out = self._out, []
        return out

    def _sign(self, message: Vote | Proposal) -> None:
        self._pending_signs.append(message)
        self._out.append(Sign(message))

    def _schedule(self, step: Step) -> None:
        rs = self._rs
        assert rs is not None
        self._out.append(ScheduleTimeout(rs.height, rs.round, step, self.timeouts.duration_ms(step, rs.round)))

    def _start_round(self, round: int) -> None:
        """StartRound (line 11): the proposer proposes validValue if it has
        one, else asks the application for a new block."""
        rs = self._rs
        assert rs is not None
        rs.round = round
        rs.step = RoundStep.PROPOSE
        rs.requested_proposal_round = -1
        if self.is_validator() and self.proposer_for(round) == self.address:
            if rs.valid_value is not None and rs.valid_value in rs.blocks:
                self._sign(Proposal(rs.height, round, rs.valid_value, rs.valid_round, self.address))
            else:
                rs.requested_proposal_round = round
                self._out.append(RequestProposal(rs.height, round))
        # Everyone, the proposer too, bounds the propose step: a proposer whose
        # application is slow must not stall the round.
        self._schedule(Step.PROPOSE)

    def _prevote(self, block_hash: bytes) -> None:
        rs = self._rs
        assert rs is not None
        rs.step = RoundStep.PREVOTE
        if self.is_validator():
            assert self.address is not None
            self._sign(Vote(PREVOTE, rs.height, rs.round, block_hash, self.address))

    def _precommit(self, block_hash: bytes) -> None:
        rs = self._rs
        assert rs is not None
        rs.step = RoundStep.PRECOMMIT
        if self.is_validator():
            assert self.address is not None
            self._sign(Vote(PRECOMMIT, rs.height, rs.round, block_hash, self.address))

    # ------------------------------------------------------------ the rules

    def _run_rules(self) -> None:
        """Fire the paper's "upon" rules until none applies."""
        rs = self._rs
        if rs is None:
            return
        while rs.step != RoundStep.COMMITTED:
            if self._rule_commit():
                return
            if (
                self._rule_round_skip()
                or self._rule_prevote_on_proposal()
                or self._rule_quorum_prevote_value()
                or self._rule_quorum_prevote_nil()
                or self._rule_prevote_timeout()
                or self._rule_precommit_timeout()
            ):
                continue
            return

    def _valid(self, block_hash: bytes) -> bool | None:
        """valid(v): True/False once the application answered, else None."""
        assert self._rs is not None
        return self._rs.validity.get(block_hash)

    def _rule_commit(self) -> bool:
        """Line 49: +2/3 precommits for v in ANY round of this height, and we
        hold v and it is valid => decide v."""
        rs, votes = self._rs, self._votes
        assert rs is not None and votes is not None
        for r in votes.precommit_rounds():
            pcs = votes.precommits(r)
            for h in pcs.quorum_hashes():
                if h != NIL and h in rs.blocks and self._valid(h) is True:
                    break
            else:
                continue  # nothing decidable yet: wait for the block / its validation
            certificate = CommitCertificate(rs.height, r, h, tuple(pcs.votes_for(h)))
            rs.step = RoundStep.COMMITTED
            rs.decided, rs.decided_round = h, r
            self._out.append(Commit(rs.height, r, h, rs.blocks[h], certificate))
            return True
        return False

    def _rule_round_skip(self) -> bool:
        """Line 55: f+1 (more than 1/3 of the power) sent messages in a higher
        round => go there now (fast round change). Highest such round wins."""
        rs, votes = self._rs, self._votes
        assert rs is not None and votes is not None
        total = rs.validator_set.total_power
        target = -1
        for r in votes.rounds():
            if r > rs.round and votes.sender_power(r) * 3 > total:
                target = r
        if target < 0:
            return False
        self._start_round(target)
        return True

    def _rule_prevote_on_proposal(self) -> bool:
        """Lines 22 and 28: in the propose step, prevote the round's proposal
        if it is valid and either we are not locked / locked on it (no POL), or
        it carries a +2/3 POL from a round >= our locked round; else nil."""
        rs, votes = self._rs, self._votes
        assert rs is not None and votes is not None
        if rs.step != RoundStep.PROPOSE:
            return False
        # Normally one proposal; if the proposer equivocated, the first one we
        # can decide about (in arrival order) determines our prevote.
        for p in rs.round_proposals(rs.round):
            v = p.block_hash
            if p.pol_round == -1:
                valid = self._valid(v)
                if valid is None:
                    continue
                ok = valid and (rs.locked_round == -1 or rs.locked_value == v)
            else:
                if not votes.prevotes(p.pol_round).has_quorum_for(v):
                    continue  # wait for the POL; timeoutPropose bounds the wait
                valid = self._valid(v)
                if valid is None:
                    continue
                ok = valid and (rs.locked_round <= p.pol_round or rs.locked_value == v)
            self._prevote(v if ok else NIL)
            return True
        return False

    def _rule_quorum_prevote_value(self) -> bool:
        """Line 36: proposal v of this round + 2/3 prevotes for v, v valid,
        step >= prevote, first time => (if in prevote: lock v, precommit v);
        validValue := v."""
        rs, votes = self._rs, self._votes
        assert rs is not None and votes is not None
        if rs.step < RoundStep.PREVOTE or rs.round in rs.quorum_prevote_handled:
            return False
        prevotes = votes.prevotes(rs.round)
        for p in rs.round_proposals(rs.round):
            if prevotes.has_quorum_for(p.block_hash) and self._valid(p.block_hash) is True:
                break
        else:
            return False
        rs.quorum_prevote_handled.add(rs.round)
        if rs.step == RoundStep.PREVOTE:
            rs.locked_value, rs.locked_round = p.block_hash, rs.round
            self._precommit(p.block_hash)
        rs.valid_value, rs.valid_round = p.block_hash, rs.round
        return True

    def _rule_quorum_prevote_nil(self) -> bool:
        """Line 44: +2/3 prevotes for nil in the prevote step => precommit nil."""
        rs, votes = self._rs, self._votes
        assert rs is not None and votes is not None
        if rs.step != RoundStep.PREVOTE or not votes.prevotes(rs.round).has_quorum_for(NIL):
            return False
        self._precommit(NIL)
        return True

    def _rule_prevote_timeout(self) -> bool:
        """Line 34: +2/3 prevotes for anything, in the prevote step, first
        time => schedule timeoutPrevote."""
        rs, votes = self._rs, self._votes
        assert rs is not None and votes is not None
        if (
            rs.step != RoundStep.PREVOTE
            or rs.round in rs.prevote_timeout_scheduled
            or not votes.prevotes(rs.round).has_quorum_any()
        ):
            return False
        rs.prevote_timeout_scheduled.add(rs.round)
        self._schedule(Step.PREVOTE)
        return True

    def _rule_precommit_timeout(self) -> bool:
        """Line 47: +2/3 precommits for anything, first time => schedule
        timeoutPrecommit."""
        rs, votes = self._rs, self._votes
        assert rs is not None and votes is not None
        if rs.round in rs.precommit_timeout_scheduled or not votes.precommits(rs.round).has_quorum_any():
            return False
        rs.precommit_timeout_scheduled.add(rs.round)
        self._schedule(Step.PRECOMMIT)
        return True

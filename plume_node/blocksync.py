"""Block sync: fetch the committed blocks a node is missing from the peers that prove they have them.

`BlockSync` is owned by `NodeNetwork`, which feeds it peer Status updates,
block requests and responses, peer departures and a periodic tick. It picks
peers by what they deliver, never by what they claim:

- A peer's claimed tip (its Status height - 1) is believed only once the peer
  has shown a commit certificate for it (a *tip probe*: a one-block request
  for that height). Every peer claiming to be ahead is probed once as soon as
  it is seen (all in parallel), so silent identities time out together. A
  certificate for a height whose validator set this node knows must verify
  fully (+2/3 of that set's power); one beyond it must carry valid
  precommits of more than 1/3 of the power of the newest set this node knows
  (the light-client trust rule: at least one honest validator signed it).
  `syncing()` (and so `eth_syncing`) reports only verified tips.
- Blocks are fetched from a peer whose tip is verified, or directly from a
  peer that claims to be only a batch ahead (the blocks are verified anyway),
  one request in flight at a time, chosen by what peers did (blocks
  delivered, configured as persistent, a proven tip, fewest faults), ties
  at random, never by how far ahead they claim to be; the next request goes
  out as soon as the previous batch is handed to the consensus driver, which
  verifies each block's certificate against this node's own validator set
  and executes it. A certified block that we judge invalid (`REFUSED`) is
  our verdict, not the server's fault: no one is punished, fetching rests.
- Every failure is a typed `SyncFault`. A fault that proves malice bans the
  peer at once; the others down-score it and rest it for a moment so another
  peer is asked; `MAX_SYNC_FAULTS` of them ban it. Delivered blocks earn a
  fault back.
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections import OrderedDict
from dataclasses import dataclass

from consensus.errors import ConsensusError
from consensus.messages import PRECOMMIT, CommitCertificate
from p2p import messages as wire
from p2p.errors import clip
from p2p.peers import address_ban_key
from plume_node.app import SyncedBlock

log = logging.getLogger("plume.sync")

SYNC_BATCH = 32  # blocks asked for in one request
SYNC_TIMEOUT_S = 4.0  # an unanswered request is a fault; long enough for a busy peer on a slow link
# While synced blocks are being applied a late request waits longer for its
# fault (the answer may sit unread), but never past deadline + this many timeouts.
SYNC_EXPIRY_CAP_TIMEOUTS = 3
SYNC_REST_S = 2.0  # after a fault a peer is not asked again for this long (others are tried)
MAX_SYNC_FAULTS = 3  # net faults (faults minus deliveries) that get a peer banned
MAX_SYNC_PEERS = 256  # sync records kept (connected peers and recently gone ones, oldest evicted)
SYNC_RECORD_TTL_S = 600.0  # a record not touched this long (its peer gone) is forgotten
MAX_RESPONSE_FRACTION = 2  # fill a block response to at most 1/2 of the message cap
MIN_RATE_WINDOW_S = 1.0  # the sync progress line gives a rate only after this long
PROGRESS_EVERY_S = 5.0  # while syncing, a progress line at most this often (the first at once); p2p.sync_progress_ms


class SyncFault(enum.Enum):
    """What a peer did wrong in block sync; `bans` says whether it is banned at once."""

    TIMEOUT = ("did not answer a block request in time", False)
    EMPTY = ("answered a block request for heights it claims with no blocks", False)
    UNPROVEN_TIP = ("could not show a certificate for the tip it claims", False)
    UNASKED_BLOCKS = ("answered with more blocks than asked for", True)
    BAD_TIP_CERTIFICATE = ("showed an invalid certificate for its claimed tip", True)
    BAD_BLOCK = ("served a block or certificate that failed verification", True)

    def __init__(self, text: str, bans: bool) -> None:
        self.text = text
        self.bans = bans


class TipBeyondTrust(Exception):
    """A tip certificate, validly signed as far as this node can tell, whose
    signers hold no more than 1/3 of the newest validator set it knows: the
    set changed too much since. Not provable yet, and not provably a lie."""


@dataclass(frozen=True)
class SyncMark:
    """Where the node stood at one moment: monotonic time, committed height, transactions committed so far."""

    at: float
    height: int
    txs: int


@dataclass(frozen=True)
class SyncRate:
    """Progress of a sync run between two marks, toward `target`."""

    height: int
    target: int
    blocks: int  # committed since the run started
    txs: int
    seconds: float
    blocks_per_s: float | None  # None over less than MIN_RATE_WINDOW_S: too short a time to mean anything
    txs_per_s: float | None
    eta_s: float | None  # at the rate so far; None without a rate (or with nothing synced yet)

    @classmethod
    def between(cls, start: SyncMark, now: SyncMark, target: int) -> "SyncRate":
        blocks, txs = now.height - start.height, now.txs - start.txs
        seconds = max(now.at - start.at, 0.0)
        if seconds < MIN_RATE_WINDOW_S:
            return cls(now.height, target, blocks, txs, seconds, None, None, None)
        blocks_per_s, txs_per_s = blocks / seconds, txs / seconds
        eta = max(target - now.height, 0) / blocks_per_s if blocks_per_s > 0 else None
        return cls(now.height, target, blocks, txs, seconds, blocks_per_s, txs_per_s, eta)

    def describe(self) -> str:
        if self.blocks_per_s is None:
            return f"height {self.height} of {self.target} (rate pending)"
        eta = "unknown" if self.eta_s is None else f"{self.eta_s:.0f} s"
        return (f"height {self.height} of {self.target} ({self.blocks_per_s:.1f} blocks/s), "
                f"{self.txs_per_s:.1f} tx/s, ETA {eta}")


class RequestKind(enum.Enum):
    TIP_PROBE = "tip probe"
    FETCH = "fetch"


@dataclass(frozen=True)
class _Request:
    peer_id: str
    kind: RequestKind
    start: int
    count: int
    deadline: float


@dataclass
class _SyncPeer:
    verified: int = 0  # highest committed height this peer has proven with a certificate
    delivered: int = 0  # blocks it served in fetches since its last fault (the first rank key)
    faults: int = 0
    resting_until: float = 0.0
    probed: int = 0  # highest claimed tip whose certificate we checked (proven or beyond trust)
    address: str = ""  # where it connects from (`address_key`): its faults count there too
    touched: float = 0.0  # last time it was looked at (every step while connected)


class BlockSync:
    """Block sync for one node (see the module docstring)."""

    def __init__(self, node, service, *, progress_every_s: float = PROGRESS_EVERY_S) -> None:
        self.node = node
        self.service = service
        self.progress_every_s = progress_every_s
        self._records: OrderedDict[str, _SyncPeer] = OrderedDict()
        self._requests: dict[str, _Request] = {}  # by peer id: at most one request per peer
        self._fetched_to = 0  # highest height handed to the driver (may not be committed yet)
        self._handed_at = 0.0  # when blocks were last handed over, or the driver last made progress
        self._committed_seen = 0
        self._committed_moved_at = 0.0  # when synced blocks handed over last raised the committed height
        self._started: SyncMark | None = None  # where this sync run started
        self._progress_logged_at: float | None = None  # when this run last logged its progress
        self._fetch_resting_until = 0.0  # after a certified block we refused: no fetch from anyone until then
        self._tie_break = random.Random()  # among equally ranked peers, pick one at random
        # Net faults by address (same bound and expiry as the records), so
        # that new identities from an address that let us down rank lower.
        self._address_faults: OrderedDict[str, tuple[int, float]] = OrderedDict()

    # ---- what the node reports ------------------------------------------------

    @property
    def target_height(self) -> int:
        """The highest committed height a connected peer has proven to us."""
        committed = self.node.app.committed_height()
        connected = {p.node_id for p in self.service.peers()}
        return max([committed] + [r.verified for pid, r in self._records.items() if pid in connected])

    def syncing(self) -> dict | None:
        committed = self.node.app.committed_height()
        target = self.target_height
        if self._started is None or target <= committed:
            return None
        return {"starting_block": self._started.height, "current_block": committed, "highest_block": target}

    def tracked_peers(self) -> list[str]:
        """Peers with a sync record (connected, or gone less than SYNC_RECORD_TTL_S ago)."""
        return list(self._records)

    # ---- inputs ----------------------------------------------------------------

    def peer_gone(self, peer_id: str) -> None:
        # The record (and its faults) stays, so reconnecting does not wipe a score.
        self._requests.pop(peer_id, None)

    def serve(self, peer_id: str, request: wire.BlockRequest) -> None:
        app = self.node.app
        budget = self.service.config.max_message_bytes // MAX_RESPONSE_FRACTION
        if self.service.queued_bytes(peer_id) > budget:
            # It is not reading what we already sent: a flood of requests must
            # not pile up responses in its send queue. An honest peer asks
            # again after its timeout.
            log.debug("not serving blocks to %s: %d bytes still queued", peer_id[:12], budget)
            return
        blocks: list[tuple[bytes, bytes]] = []
        size = 0
        for height in range(request.start_height, request.start_height + request.count):
            found = app.committed_block(height)
            if found is None:
                break
            size += len(found[0]) + len(found[1])
            if blocks and size > budget:
                break
            blocks.append(found)
        try:
            self.service.send(peer_id, wire.BlockResponse(tuple(blocks)))
        except ValueError as exc:  # one block and its certificate over the message cap: ours, not the asker's
            log.warning("cannot serve block %d to %s: %s", request.start_height, peer_id[:12], exc)

    def receive(self, peer_id: str, response: wire.BlockResponse) -> None:
        request = self._requests.pop(peer_id, None)
        if request is None:
            return  # unsolicited, or a late answer to a request that already timed out
        if len(response.blocks) > request.count:
            self._fault(peer_id, SyncFault.UNASKED_BLOCKS)
        elif request.kind is RequestKind.TIP_PROBE:
            self._check_tip(peer_id, request.start, response)
        else:
            self._deliver(peer_id, request, response)
        self.step()

    # ---- the decisions -----------------------------------------------------------

    def step(self) -> None:
        """Expire late requests, then probe claimed tips and fetch the next batch."""
        now = time.monotonic()
        committed = self.node.app.committed_height()
        self._forget_stale_handover(committed, now)
        for request in [r for r in self._requests.values() if self._expired(r, now)]:
            del self._requests[request.peer_id]
            self._fault(request.peer_id, SyncFault.TIMEOUT)
        peers = [p for p in self.service.peers() if not self._is_resting(p.node_id, now)]
        self._probe_tips(peers, committed, now)
        self._fetch(peers, committed, now)
        self._track_progress(committed, now)

    def _forget_stale_handover(self, committed: int, now: float) -> None:
        # Blocks handed to the driver are not asked for again while it works
        # through them; if it stops making progress (a batch dropped or cut
        # short) they are asked for again.
        if committed > self._committed_seen:
            if self._fetched_to > self._committed_seen:
                # Synced blocks we handed over are being applied (consensus
                # commits do not count: they do not hold the loop for long).
                self._committed_moved_at = now
            self._committed_seen, self._handed_at = committed, now
        if self._fetched_to <= committed or now - self._handed_at > SYNC_TIMEOUT_S:
            self._fetched_to = committed

    def _expired(self, request: _Request, now: float) -> bool:
        # Applying a batch of synced blocks holds this node's event loop for
        # seconds: an answer that arrived meanwhile is read only afterwards,
        # and the first step after the batch must not blame the peer for our
        # own delay. So a request expires only once the head has also not
        # moved for SYNC_TIMEOUT_S by synced blocks we handed over (consensus
        # commits move it too, but never hold the loop that long). While
        # blocks are being applied a silent peer waits a little longer for
        # its fault, at most SYNC_EXPIRY_CAP_TIMEOUTS timeouts, never forever.
        if now >= request.deadline + SYNC_EXPIRY_CAP_TIMEOUTS * SYNC_TIMEOUT_S:
            return True
        return now >= request.deadline and now - self._committed_moved_at >= SYNC_TIMEOUT_S

    def _fetch_in_flight(self) -> bool:
        return any(r.kind is RequestKind.FETCH for r in self._requests.values())

    def _probe_tips(self, peers, committed: int, now: float) -> None:
        needed = max(committed, self._fetched_to) + SYNC_BATCH
        for peer in peers:
            claimed = _claimed_tip(peer)
            if claimed <= committed or peer.node_id in self._requests:
                continue
            record = self._record_of(peer)
            if _needs_probe(record, claimed, committed, needed):
                if self._send(peer.node_id, RequestKind.TIP_PROBE, claimed, 1, now):
                    log.debug("asking %s to prove its tip %d", peer.node_id[:12], claimed)

    def _fetch(self, peers, committed: int, now: float) -> None:
        if self._fetch_in_flight() or now < self._fetch_resting_until:
            return
        start = max(committed, self._fetched_to) + 1
        best = None
        for peer in peers:
            if peer.node_id in self._requests:
                continue
            record = self._record_of(peer)
            claimed = _claimed_tip(peer)
            # Beyond what it proved, a peer is asked for one batch past our
            # head at most: each block is verified on its own anyway.
            reach = max(record.verified, min(claimed, committed + SYNC_BATCH))
            if reach < start:
                continue
            rank = self._rank(peer.node_id, record, now)
            if best is None or rank > best[0]:
                best = (rank, peer.node_id, reach)
        if best is None:
            return
        _rank, peer_id, reach = best
        if self._send(peer_id, RequestKind.FETCH, start, min(SYNC_BATCH, reach - start + 1), now):
            if self._started is None and reach - committed > 1:  # one behind is consensus catching up
                self._start_run(committed, now)
                log.info("behind: committed %d, peer %s has up to %d; syncing", committed, peer_id[:12], reach)

    def _rank(self, peer_id: str, record: _SyncPeer, now: float) -> tuple:
        # What a peer did, never what it claims: blocks it delivered, then
        # whether the operator configured it, then whether it proved a tip
        # with a certificate, then fewest faults (its own, then its
        # address's); a random tie-break, so that fresh identities claiming a
        # far tip and never answering cannot be picked ahead of an honest
        # peer a few blocks ahead, time after time.
        return (
            record.delivered,
            self.service.is_persistent(peer_id),
            record.verified > 0,
            -record.faults,
            -self._faults_at(record.address, now),
            self._tie_break.random(),
        )

    def _send(self, peer_id: str, kind: RequestKind, start: int, count: int, now: float) -> bool:
        if not self.service.send(peer_id, wire.BlockRequest(start_height=start, count=count)):
            return False
        self._requests[peer_id] = _Request(peer_id, kind, start, count, now + SYNC_TIMEOUT_S)
        return True

    def _check_tip(self, peer_id: str, height: int, response: wire.BlockResponse) -> None:
        if not response.blocks:
            self._fault(peer_id, SyncFault.UNPROVEN_TIP)
            return
        try:
            cert = CommitCertificate.decode(response.blocks[0][1])
            if cert.height != height:
                raise ConsensusError(f"certificate is for height {cert.height}, not {height}")
            verify_tip_certificate(self.node.app, cert)
        except ConsensusError as exc:
            self._fault(peer_id, SyncFault.BAD_TIP_CERTIFICATE, str(exc))
            return
        except TipBeyondTrust as exc:
            self._record(peer_id).probed = height
            log.info("peer %s cannot prove its tip %d yet: %s", peer_id[:12], height, exc)
            return
        record = self._record(peer_id)
        record.verified = max(record.verified, height)
        record.probed = max(record.probed, height)
        log.info("peer %s proved its tip %d", peer_id[:12], height)

    def _deliver(self, peer_id: str, request: _Request, response: wire.BlockResponse) -> None:
        if not response.blocks:
            self._fault(peer_id, SyncFault.EMPTY)
            return
        batch = [(request.start + i, block, cert) for i, (block, cert) in enumerate(response.blocks)]
        last = batch[-1][0]

        def on_bad(outcome: SyncedBlock, reason: str) -> None:
            self._fetched_to = self.node.app.committed_height()
            if outcome is SyncedBlock.BAD_DATA:
                self._fault(peer_id, SyncFault.BAD_BLOCK, reason)
            else:
                self._refused(peer_id, reason)

        if self.node.driver.submit_synced_blocks(batch, on_bad):
            self._fetched_to = max(self._fetched_to, last)
            self._handed_at = time.monotonic()
            record = self._record(peer_id)
            record.faults = max(0, record.faults - 1)
            record.delivered += len(batch)
            self._count_address_fault(record.address, -1)

    def _refused(self, peer_id: str, reason: str) -> None:
        # A block with a valid +2/3 certificate that we judge invalid (our
        # clock behind its timestamp, an error in our own checks): every
        # honest peer would serve the same block, so no one is punished;
        # fetching rests a moment instead of asking peer after peer for it.
        self._fetch_resting_until = time.monotonic() + SYNC_REST_S
        log.warning("block sync: refused a certified block from %s: %s", peer_id[:12], clip(reason))

    def _fault(self, peer_id: str, fault: SyncFault, detail: str = "") -> None:
        record = self._record(peer_id)
        record.faults += 1
        record.resting_until = time.monotonic() + SYNC_REST_S
        record.verified = record.probed = record.delivered = 0  # prove it again before it is believed
        self._count_address_fault(record.address, +1)
        self._requests.pop(peer_id, None)
        reason = clip(f"block sync: {fault.text}" + (f" ({detail})" if detail else ""))
        if fault.bans or record.faults >= MAX_SYNC_FAULTS:
            self.service.ban(peer_id, reason)
        else:
            log.info("peer %s %s: fault %d of %d", peer_id[:12], reason, record.faults, MAX_SYNC_FAULTS)

    # ---- bookkeeping -------------------------------------------------------------

    def _record(self, peer_id: str) -> _SyncPeer:
        now = time.monotonic()
        record = self._records.get(peer_id)
        if record is None:
            self._forget_old_records(now)
            record = self._records[peer_id] = _SyncPeer()
            if len(self._records) > MAX_SYNC_PEERS:
                self._records.popitem(last=False)
        else:
            self._records.move_to_end(peer_id)
        record.touched = now
        return record

    def _record_of(self, peer) -> _SyncPeer:
        record = self._record(peer.node_id)
        record.address = address_key(peer)
        return record

    def _faults_at(self, address: str, now: float) -> int:
        faults, touched = self._address_faults.get(address, (0, now))
        return faults if now - touched <= SYNC_RECORD_TTL_S else 0

    def _count_address_fault(self, address: str, change: int) -> None:
        if not address:
            return
        now = time.monotonic()
        faults = max(0, self._faults_at(address, now) + change)
        self._address_faults.pop(address, None)
        if faults:
            self._address_faults[address] = (faults, now)
            if len(self._address_faults) > MAX_SYNC_PEERS:
                self._address_faults.popitem(last=False)

    def _forget_old_records(self, now: float) -> None:
        # Least recently touched first: stop at the first one still fresh.
        while self._records:
            oldest = next(iter(self._records.values()))
            if now - oldest.touched <= SYNC_RECORD_TTL_S:
                return
            self._records.popitem(last=False)

    def _is_resting(self, peer_id: str, now: float) -> bool:
        record = self._records.get(peer_id)
        return record is not None and now < record.resting_until

    def _track_progress(self, committed: int, now: float) -> None:
        target = self.target_height
        if target > committed and self._started is None:
            self._start_run(committed, now)
            log.info("behind: committed %d, a peer proved %d; syncing", committed, target)
        elif target <= committed and self._started is not None and not self._fetch_in_flight():
            rate = SyncRate.between(self._started, self._mark(committed, now), committed)
            log.info("caught up at height %d: %d blocks, %d txs in %.1f s%s", committed, rate.blocks, rate.txs,
                     rate.seconds, "" if rate.blocks_per_s is None else
                     f" ({rate.blocks_per_s:.1f} blocks/s, {rate.txs_per_s:.1f} tx/s)")
            self._started = None
        elif self._started is not None:
            self._log_progress(committed, now)

    def _start_run(self, committed: int, now: float) -> None:
        self._started = self._mark(committed, now)
        self._progress_logged_at = None

    def _mark(self, committed: int, now: float) -> SyncMark:
        return SyncMark(now, committed, self.node.app.committed_transactions)

    def _log_progress(self, committed: int, now: float) -> None:
        # The first line at once, then one every `progress_every_s`; a rate only
        # over MIN_RATE_WINDOW_S at least (see SyncRate).
        if self._progress_logged_at is not None and now - self._progress_logged_at < self.progress_every_s:
            return
        self._progress_logged_at = now
        target = max(committed, self.target_height)
        log.info("sync: %s", SyncRate.between(self._started, self._mark(committed, now), target).describe())


def _needs_probe(record: _SyncPeer, claimed: int, committed: int, needed: int) -> bool:
    """Whether to ask a peer claiming `claimed` (above our head) for a certificate of it."""
    if record.probed == 0 and record.delivered == 0:
        # Not heard from since it connected (or since its last fault): every
        # such peer is asked at once, in parallel, so silent ones time out
        # together and one that answers is preferred to them for fetching.
        return True
    if claimed - committed <= SYNC_BATCH or claimed <= record.verified or record.verified >= needed:
        return False  # within one batch it is fetched from directly; delivery verifies each block
    # Beyond trust lately (validator set changed since our head): it is fetched
    # from batch by batch meanwhile, not asked again at once.
    return not (record.probed > record.verified and claimed <= record.probed + SYNC_BATCH)


def address_key(peer) -> str:
    """Where a peer connects from, as the p2p service bans it: the host, or
    on loopback (several nodes on one machine) the host and listen port."""
    host, _sep, port = peer.address.rpartition(":")
    return address_ban_key(host.strip("[]"), peer.listen_port or (int(port) if port.isdigit() else 0))


def _claimed_tip(peer) -> int:
    """The height a peer claims to have committed: it works on the next one."""
    return max(peer.height - 1, 0)


def verify_tip_certificate(app, cert: CommitCertificate) -> None:
    """Raise unless `cert` proves its height was committed: ConsensusError if
    it is invalid (a ban), TipBeyondTrust if it may be valid but this node
    cannot tell yet.

    With the validator set this node's chain defines for that height: the
    full check. Beyond the sets this node knows: more than 1/3 of the power
    of the newest known set must have signed (so at least one honest
    validator did), precommits of validators it does not know are skipped.
    """
    try:
        cert.verify(app.validator_set(cert.height), app.chain_id)
        return
    except LookupError:
        pass
    trusted = app.validator_set(app.committed_height() + 1)
    power = 0
    for vote in cert.precommits:
        if vote.type != PRECOMMIT or (vote.height, vote.round, vote.block_hash) != (cert.height, cert.round, cert.block_hash):
            raise ConsensusError("a precommit does not match the certificate")
        validator = trusted.get(vote.validator)
        if validator is None:
            continue
        if not vote.verify_signature(validator.pub_key, app.chain_id):
            raise ConsensusError(f"bad signature on the precommit by {vote.validator.hex()}")
        power += validator.power
    if power * 3 <= trusted.total_power:
        raise TipBeyondTrust(f"signed by {power} of {trusted.total_power} known power; need more than 1/3")

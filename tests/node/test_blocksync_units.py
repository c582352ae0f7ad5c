"""Block sync's decisions in isolation: tip certificates, fault scoring, rotation.

Real signatures and certificates; the node and the p2p service are small
stand-ins that record what block sync asks of them (the process-level tests
in tests/network run the real thing).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pytest

from consensus.crypto import PrivateKey
from consensus.errors import ConsensusError
from consensus.messages import PRECOMMIT, CommitCertificate, Vote
from consensus.validators import Validator, ValidatorSet
from p2p import messages as wire
from p2p.peers import P2PConfig, PeerInfo
from plume_node.app import SyncedBlock
from plume_node.blocksync import (
    MAX_SYNC_FAULTS,
    MIN_RATE_WINDOW_S,
    SYNC_EXPIRY_CAP_TIMEOUTS,
    SYNC_TIMEOUT_S,
    BlockSync,
    RequestKind,
    SyncFault,
    SyncMark,
    SyncRate,
    TipBeyondTrust,
    verify_tip_certificate,
)

CHAIN = "1337"
KEYS = [PrivateKey.from_seed(hashlib.sha256(b"sync-key-%d" % i).digest()) for i in range(4)]
VSET = ValidatorSet.new(Validator.from_pub_key(k.public_key.raw, 10) for k in KEYS)
STRANGERS = [PrivateKey.from_seed(hashlib.sha256(b"stranger-%d" % i).digest()) for i in range(4)]


def certificate(height: int, signers: list[PrivateKey], chain: str = CHAIN) -> CommitCertificate:
    block_hash = hashlib.sha256(b"block %d" % height).digest()
    votes = []
    for k in signers:
        vote = Vote(PRECOMMIT, height, 0, block_hash, k.address)
        votes.append(vote.with_signature(k.sign(vote.sign_bytes(chain))))
    return CommitCertificate(height, 0, block_hash, tuple(sorted(votes, key=lambda v: v.validator)))


@dataclass
class App:
    committed: int = 10
    chain_id: str = CHAIN
    committed_transactions: int = 0

    def committed_height(self) -> int:
        return self.committed

    def validator_set(self, height: int) -> ValidatorSet:
        if height > self.committed + 1:
            raise LookupError(f"no validator set stored for height {height}")
        return VSET

    def committed_block(self, height: int):
        return (b"b" * 1000, b"c" * 100) if 1 <= height <= self.committed else None


@dataclass
class Driver:
    batches: list = field(default_factory=list)
    on_bad: list = field(default_factory=list)  # the callbacks block sync handed over, batch by batch

    def submit_synced_blocks(self, batch, on_bad) -> bool:
        self.batches.append(batch)
        self.on_bad.append(on_bad)
        return True


@dataclass
class Node:
    app: App = field(default_factory=App)
    driver: Driver = field(default_factory=Driver)


class Service:
    def __init__(self, claims: dict[str, int], persistent: tuple[str, ...] = (), hosts: dict | None = None) -> None:
        self.config = P2PConfig()
        self.claims = claims  # peer id -> claimed committed height
        self.persistent = set(persistent)
        self.hosts = hosts or {}  # peer id -> the host it connects from (default: one host each)
        self.sent: list[tuple[str, wire.BlockRequest]] = []
        self.banned: dict[str, str] = {}
        self.queued: dict[str, int] = {}

    def queued_bytes(self, peer_id: str) -> int:
        return self.queued.get(peer_id, 0)

    def is_persistent(self, peer_id: str) -> bool:
        return peer_id in self.persistent

    def peers(self) -> list[PeerInfo]:
        return [
            PeerInfo(pid, f"{self.host_of(pid)}:40000", "inbound", h + 1, 0.0, 26656) for pid, h in self.claims.items()
        ]

    def host_of(self, peer_id: str) -> str:
        digest = hashlib.sha256(peer_id.encode()).digest()
        return self.hosts.get(peer_id, f"10.{digest[0]}.{digest[1]}.{digest[2]}")

    def send(self, peer_id: str, msg) -> bool:
        self.sent.append((peer_id, msg))
        return True

    def ban(self, peer_id: str, reason: str) -> None:
        self.banned[peer_id] = reason
        del self.claims[peer_id]


def test_a_tip_within_the_known_validator_sets_needs_two_thirds() -> None:
    app = App(committed=10)
    verify_tip_certificate(app, certificate(11, KEYS[:3]))
    with pytest.raises(ConsensusError):
        verify_tip_certificate(app, certificate(11, KEYS[:2]))


def test_a_tip_beyond_the_known_sets_needs_more_than_a_third_of_the_newest_known_set() -> None:
    app = App(committed=10)
    verify_tip_certificate(app, certificate(500, KEYS[:2]))
    with pytest.raises(TipBeyondTrust, match="1/3"):
        verify_tip_certificate(app, certificate(500, KEYS[:1]))
    with pytest.raises(TipBeyondTrust):  # signers this node does not know count for nothing
        verify_tip_certificate(app, certificate(500, STRANGERS))
    with pytest.raises(ConsensusError, match="signature"):  # signed for another chain
        verify_tip_certificate(app, certificate(500, KEYS[:3], chain="other"))


def _answer(sync: BlockSync, service: Service, peer_id: str, blocks=()) -> wire.BlockRequest:
    request = next(m for p, m in reversed(service.sent) if p == peer_id)
    sync.receive(peer_id, wire.BlockResponse(tuple(blocks)))
    return request


def test_a_liar_claiming_2_64_is_probed_down_scored_then_banned_and_never_reported(monkeypatch) -> None:
    clock = frozen_clock(monkeypatch)
    node = Node()
    service = Service({"liar": 2**64 - 2, "honest": 200})
    sync = BlockSync(node, service)
    sync.step()
    probes = {p: m for p, m in service.sent}
    assert probes["liar"].start_height == 2**64 - 2 and probes["liar"].count == 1
    assert probes["honest"].start_height == 200
    sync.receive("honest", wire.BlockResponse(((b"block", certificate(200, KEYS[:2]).encode()),)))
    assert sync.syncing()["highest_block"] == 200
    for fault in range(1, MAX_SYNC_FAULTS + 1):
        sync.receive("honest", wire.BlockResponse(((b"block", b"cert"),)))  # the honest peer delivers
        _answer(sync, service, "liar")  # empty: UNPROVEN_TIP
        assert sync.syncing()["highest_block"] == 200  # never the liar's claim
        clock[0] += 2.5  # its rest ends; it is probed again
        sync.step()
    assert "liar" in service.banned and SyncFault.UNPROVEN_TIP.text in service.banned["liar"]
    fetches = [m for p, m in service.sent if p == "honest" and m.start_height == 11]
    assert fetches and fetches[0].count == 32  # blocks come from the honest peer


def test_an_invalid_tip_certificate_bans_at_once() -> None:
    node = Node()
    service = Service({"forger": 5000})
    sync = BlockSync(node, service)
    sync.step()
    sync.receive("forger", wire.BlockResponse(((b"block", certificate(4999, KEYS[:3]).encode()),)))
    assert SyncFault.BAD_TIP_CERTIFICATE.text in service.banned["forger"]



def frozen_clock(monkeypatch) -> list[float]:
    """Block sync's monotonic clock as a one-element list the test moves by hand."""
    clock = [1000.0]
    monkeypatch.setattr("plume_node.blocksync.time.monotonic", lambda: clock[0])
    return clock

def _prove_tip(sync: BlockSync, peer_id: str, height: int) -> None:
    sync.receive(peer_id, wire.BlockResponse(((b"block", certificate(height, KEYS[:3]).encode()),)))


def test_empty_answers_rotate_to_another_peer() -> None:
    node = Node()
    service = Service({"a": 20, "b": 20})  # within one batch: fetched from directly
    sync = BlockSync(node, service)
    sync.step()
    assert {p: (m.start_height, m.count) for p, m in service.sent} == {"a": (20, 1), "b": (20, 1)}  # heard from?
    _prove_tip(sync, "a", 20)
    _prove_tip(sync, "b", 20)
    first = service.sent[-1][0]
    assert service.sent[-1][1].start_height == 11
    _answer(sync, service, first)  # empty: EMPTY, and the peer rests
    assert service.sent[-1][0] != first and service.sent[-1][1].start_height == 11
    assert not service.banned


def test_blocks_are_not_served_to_a_peer_that_does_not_read_its_answers() -> None:
    node = Node()
    service = Service({})
    sync = BlockSync(node, service)
    sync.serve("reader", wire.BlockRequest(start_height=1, count=5))
    assert len(service.sent[-1][1].blocks) == 5
    service.queued["flooder"] = service.config.max_message_bytes  # its earlier answers sit unread
    for _ in range(100):
        sync.serve("flooder", wire.BlockRequest(start_height=1, count=128))
    assert all(peer != "flooder" for peer, _msg in service.sent)


def test_sync_records_are_bounded_and_expire(monkeypatch) -> None:
    from plume_node.blocksync import MAX_SYNC_PEERS, SYNC_RECORD_TTL_S

    clock = [0.0]
    monkeypatch.setattr("plume_node.blocksync.time.monotonic", lambda: clock[0])
    service = Service({f"peer{i}": 20 for i in range(MAX_SYNC_PEERS * 4)})
    sync = BlockSync(Node(), service)
    sync.step()
    assert len(sync.tracked_peers()) == MAX_SYNC_PEERS
    for peer_id in list(service.claims):  # the others left long ago
        sync.peer_gone(peer_id)
    service.claims = {"newcomer": 20}
    clock[0] += SYNC_RECORD_TTL_S + 1
    sync.step()
    assert sync.tracked_peers() == ["newcomer"]


def test_a_tip_beyond_trust_is_no_fault_and_the_peer_is_fetched_from_batch_by_batch() -> None:
    # The validator set rotated since our head: an honest peer cannot prove its
    # tip to us yet, but its blocks verify one by one against our own chain.
    node = Node()
    service = Service({"rotated": 5000})
    sync = BlockSync(node, service)
    sync.step()
    sync.receive("rotated", wire.BlockResponse(((b"block", certificate(5000, STRANGERS).encode()),)))
    assert not service.banned
    fetch = service.sent[-1][1]
    assert (fetch.start_height, fetch.count) == (11, 32)
    assert sync.syncing() is None  # nothing proven, nothing reported
    assert sum(1 for _p, m in service.sent if m.start_height == 5000) == 1  # not re-probed at once


def _run_until_fetched_from(sync: BlockSync, service: Service, clock: list, peer_id: str, tip: int, limit_s: float):
    """Step block sync every 0.5 s (simulated) while `peer_id` answers every
    tip probe at once and the others stay silent; the simulated time at which
    `peer_id` was first asked for blocks, or None within `limit_s`."""
    started, answered = clock[0], 0
    while clock[0] - started <= limit_s:
        sync.step()
        for _p, request in [sm for sm in service.sent if sm[0] == peer_id][answered:]:
            answered += 1
            if request.count > 1 or request.start_height != tip:
                return clock[0] - started
            _prove_tip(sync, peer_id, tip)
        clock[0] += 0.5
    return None


def test_fresh_identities_claiming_a_batch_ahead_and_never_answering_do_not_starve_sync(monkeypatch) -> None:
    # Each sybil claims exactly one batch ahead (so it is never tip-probed
    # under a "probe only far claims" rule) and never answers; the honest peer
    # is only 20 blocks ahead. It must be fetched from within a few seconds,
    # not after every sybil has timed out in turn.
    clock = frozen_clock(monkeypatch)
    node = Node(app=App(committed=100))
    service = Service({"honest": 120} | {f"sybil{i}": 132 for i in range(30)})
    sync = BlockSync(node, service)
    asked_after = _run_until_fetched_from(sync, service, clock, "honest", 120, limit_s=3 * SYNC_TIMEOUT_S)
    assert asked_after is not None and asked_after <= 1.0
    fetch = service.sent[-1][1]
    assert service.sent[-1][0] == "honest" and (fetch.start_height, fetch.count) == (101, 20)
    assert not any(p.startswith("sybil") and m.count > 1 for p, m in service.sent)  # never fetched from
    assert not service.banned


def test_a_peer_that_delivered_is_preferred_to_fresh_ones_and_a_persistent_peer_to_strangers(monkeypatch) -> None:
    frozen_clock(monkeypatch)  # time stands still here
    node = Node(app=App(committed=100))
    service = Service({"stranger": 120, "configured": 120}, persistent=("configured",))
    sync = BlockSync(node, service)
    sync.step()
    _prove_tip(sync, "stranger", 120)
    assert service.sent[-1][0] == "stranger"  # the only one heard from yet
    _prove_tip(sync, "configured", 120)
    sync.receive("stranger", wire.BlockResponse(((b"block", b"cert"),) * 20))
    node.app.committed = 120
    service.claims = {"stranger": 140, "configured": 140, "newcomer": 140}
    sync.step()
    _prove_tip(sync, "newcomer", 140)
    assert service.sent[-1][0] == "stranger"  # it delivered 20 blocks; the others none
    for _trial in range(20):  # were it a coin toss, the stranger would be picked about half the time
        service = Service({"newcomer": 140, "stranger": 140, "configured": 140}, persistent=("configured",))
        sync = BlockSync(Node(app=App(committed=120)), service)
        sync.step()
        for peer_id in ("newcomer", "stranger", "configured"):
            _prove_tip(sync, peer_id, 140)
        assert service.sent[-1][0] == "newcomer"  # the first heard from, while it was the only one
        _answer(sync, service, "newcomer")  # empty: it rests
        assert service.sent[-1][0] == "configured" and service.sent[-1][1].count == 20


def test_a_certified_block_we_judge_invalid_bans_no_one_and_bad_data_bans_its_server(monkeypatch) -> None:
    clock = frozen_clock(monkeypatch)
    node = Node(app=App(committed=10))
    service = Service({"server": 20})
    sync = BlockSync(node, service)
    sync.step()
    _prove_tip(sync, "server", 20)
    for _ in range(MAX_SYNC_FAULTS + 1):  # were it a fault, this many would ban
        assert service.sent[-1] == ("server", wire.BlockRequest(start_height=11, count=10))
        sync.receive("server", wire.BlockResponse(((b"block", b"cert"),) * 10))
        # Certified, but its timestamp is ahead of our (slow) clock: our verdict.
        node.driver.on_bad[-1](SyncedBlock.REFUSED, "synced block 11: timestamp too far in the future")
        assert not service.banned
        sent = len(service.sent)
        sync.step()
        assert len(service.sent) == sent  # fetching rests instead of asking again at once
        clock[0] += 2.5
        sync.step()
    sync.receive("server", wire.BlockResponse(((b"block", b"cert"),) * 10))
    node.driver.on_bad[-1](SyncedBlock.BAD_DATA, "synced block 11: bad commit certificate")
    assert SyncFault.BAD_BLOCK.text in service.banned["server"]


def test_identities_from_an_address_that_stalled_a_fetch_rank_below_others(monkeypatch) -> None:
    # Sybils from one address relay the real certificate for the true tip
    # (so they look as good as the honest peer) and then ignore fetches.
    # Once one of them has stalled a fetch, its siblings rank below the
    # honest peer on another address: at most one fetch is lost.
    clock = frozen_clock(monkeypatch)
    for _trial in range(3):  # were it a coin toss among 31, the honest peer would rarely come second
        sybils = [f"sybil{i}" for i in range(30)]
        service = Service({s: 120 for s in sybils} | {"honest": 120}, hosts=dict.fromkeys(sybils, "203.0.113.9"))
        sync = BlockSync(Node(app=App(committed=100)), service)
        sync.step()
        for peer_id in sybils + ["honest"]:  # the honest peer's answer comes last
            _prove_tip(sync, peer_id, 120)
        stalled = service.sent[-1][0]
        assert stalled.startswith("sybil") and service.sent[-1][1].count == 20
        clock[0] += SYNC_TIMEOUT_S + 0.5
        sync.step()  # the fetch timed out: a fault for that identity and its address
        assert service.sent[-1][0] == "honest" and service.sent[-1][1].count == 20
        assert not service.banned


def test_sync_rate_gives_no_rate_before_the_window_then_rates_and_eta() -> None:
    start = SyncMark(at=100.0, height=10, txs=50)
    early = SyncRate.between(start, SyncMark(100.0 + MIN_RATE_WINDOW_S / 2, 40, 350), target=1010)
    assert (early.blocks, early.txs) == (30, 300)
    assert early.blocks_per_s is None and early.txs_per_s is None and early.eta_s is None
    assert early.describe() == "height 40 of 1010 (rate pending)"
    rate = SyncRate.between(start, SyncMark(104.0, 210, 2050), target=1010)
    assert (rate.blocks, rate.txs, rate.seconds) == (200, 2000, 4.0)
    assert (rate.blocks_per_s, rate.txs_per_s) == (50.0, 500.0)
    assert rate.eta_s == 16.0  # 800 blocks left at 50 blocks/s
    assert rate.describe() == "height 210 of 1010 (50.0 blocks/s), 500.0 tx/s, ETA 16 s"


def test_sync_rate_without_progress_has_no_eta_and_at_the_target_none_left() -> None:
    start = SyncMark(at=0.0, height=10, txs=0)
    stalled = SyncRate.between(start, SyncMark(30.0, 10, 0), target=500)
    assert stalled.blocks_per_s == 0.0 and stalled.eta_s is None
    assert stalled.describe().endswith("ETA unknown")
    there = SyncRate.between(start, SyncMark(10.0, 500, 900), target=500)
    assert there.eta_s == 0.0


def test_progress_lines_while_syncing_at_most_every_few_seconds_and_a_final_line(monkeypatch, caplog) -> None:
    clock = frozen_clock(monkeypatch)
    node = Node()
    service = Service({"peer": 200})
    sync = BlockSync(node, service)
    caplog.set_level("INFO", logger="plume.sync")
    sync.step()
    sync.receive("peer", wire.BlockResponse(((b"block", certificate(200, KEYS[:3]).encode()),)))  # tip proven
    lines = lambda: [r.getMessage() for r in caplog.records if r.getMessage().startswith("sync: ")]  # noqa: E731
    assert lines() == ["sync: height 10 of 200 (rate pending)"]
    for _ in range(19):  # the driver commits 10 blocks of 5 txs a second; a tick every 0.5 s
        clock[0] += 0.5
        node.app.committed += 5
        node.app.committed_transactions += 25
        sync.step()
        request = sync._requests.get("peer")
        if request is not None:  # the peer answers every fetch (the stand-in driver only records them)
            sync.receive("peer", wire.BlockResponse(((b"block", b"cert"),) * request.count))
    # t = 9.5 s: lines at 0 s and 5 s only (the interval), with the rate so far and the ETA
    assert lines() == ["sync: height 10 of 200 (rate pending)",
                       "sync: height 60 of 200 (10.0 blocks/s), 50.0 tx/s, ETA 14 s"]
    node.app.committed = 200
    node.app.committed_transactions += 50
    clock[0] += 0.5
    sync._requests.clear()  # no fetch in flight
    sync.step()
    final = [r.getMessage() for r in caplog.records if r.getMessage().startswith("caught up")]
    assert final == ["caught up at height 200: 190 blocks, 525 txs in 10.0 s (19.0 blocks/s, 52.5 tx/s)"]
    assert sync.syncing() is None


def _batch_handed_over(monkeypatch):
    """A sync from one peer (tip 500, proven) whose first batch went to the
    driver and whose next fetch is out: (clock, node, sync, handed, fetch)."""
    clock = frozen_clock(monkeypatch)
    node = Node()
    sync = BlockSync(node, Service({"peer": 500}))
    sync.step()
    sync.receive("peer", wire.BlockResponse(((b"block", certificate(500, KEYS[:3]).encode()),)))
    handed = sync._requests["peer"]
    sync.receive("peer", wire.BlockResponse(((b"block", b"cert"),) * handed.count))  # handed to the driver
    return clock, node, sync, handed, sync._requests["peer"]


def test_an_answer_read_late_because_our_driver_was_applying_blocks_is_not_the_peers_fault(monkeypatch) -> None:
    # Applying a batch holds the event loop for seconds; the next batch's answer
    # waits unread meanwhile. The first step afterwards must not fault the peer
    # (it did: the peer was rested 2 s and its proven tip forgotten, batch after batch).
    clock, node, sync, handed, fetch = _batch_handed_over(monkeypatch)
    assert fetch.start == handed.start + handed.count
    clock[0] += SYNC_TIMEOUT_S + 1  # the driver applied the handed-over blocks all that time
    node.app.committed += handed.count
    sync.step()
    assert "peer" in sync._requests and sync._record("peer").faults == 0
    sync.receive("peer", wire.BlockResponse(((b"block", b"cert"),) * fetch.count))
    assert len(node.driver.batches) == 2 and sync._record("peer").faults == 0
    # A peer that really stays silent is still faulted, once the head stops moving for the timeout.
    request = sync._requests["peer"]
    clock[0] += SYNC_TIMEOUT_S - 0.5
    sync.step()
    assert sync._requests.get("peer") == request
    clock[0] += 1
    sync.step()
    assert sync._record("peer").faults == 1


def test_a_silent_fetch_expires_while_consensus_moves_the_head(monkeypatch) -> None:
    # Consensus commits are not synced blocks being applied: they do not hold
    # the expiry off (it did: a silent peer's fetch never expired while the
    # chain moved, and blocked every other fetch).
    clock = frozen_clock(monkeypatch)
    node = Node()
    service = Service({"silent": 11})
    sync = BlockSync(node, service)
    sync.step()
    _prove_tip(sync, "silent", 11)
    assert sync._requests["silent"].kind is RequestKind.FETCH
    for _ in range(int(2 * SYNC_TIMEOUT_S / 0.5) + 1):  # a commit every 0.5 s
        clock[0] += 0.5
        node.app.committed += 1
        service.claims["silent"] = node.app.committed + 1
        sync.step()
    assert sync._record("silent").faults >= 1
    assert sync._requests.get("silent") is None or sync._requests["silent"].kind is not RequestKind.FETCH


def test_a_request_expires_at_the_hard_cap_even_while_synced_blocks_are_applied(monkeypatch) -> None:
    clock, node, sync, handed, fetch = _batch_handed_over(monkeypatch)
    # the handed-over blocks are applied one by one, slowly; the peer never answers
    while clock[0] < fetch.deadline + SYNC_EXPIRY_CAP_TIMEOUTS * SYNC_TIMEOUT_S - 0.5:
        clock[0] += 0.5
        if node.app.committed < handed.start + handed.count - 1:
            node.app.committed += 1
        sync.step()
        assert sync._requests.get("peer") == fetch and sync._record("peer").faults == 0
    clock[0] += 0.5
    sync.step()
    assert sync._record("peer").faults == 1

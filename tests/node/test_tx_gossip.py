"""Transaction gossip in batches, through the node's one admission path.

In process: one real validator node (real LevelDB, real p2p on loopback,
real py-evm) and real p2p clients with their own node keys. A batch from one
peer is admitted transaction by transaction and relayed, in batches, to the
other peers only; the peer that sent a transaction is never sent it back; a
transaction the pool refuses (garbage, a nonce already used) is not relayed;
a refusal that depends on chain state costs its sender nothing, while enough
refused whatever the state (garbage, bad signatures) ban it; a batch whose
framing is malformed bans only its sender, and the node goes on. Admission
runs in its own task from bounded per-peer queues, so a flood of junk
batches never holds up the votes read after it.
"""

from __future__ import annotations

import os

import msgpack
import pytest
import trio
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from attacker import Session, open_session
from eth_account import Account
from execution.mempool import MempoolError, MempoolErrorCode
from node_helpers import PASSWORD, running, wait_for_height
from p2p import messages as wire
from plume_node.keystore import Keystore
from plume_node.network import PeerFault
from plume_node.node import Node
from plume_node.txintake import INTAKE_INVALID_TX_BAN, TxIntake
from plume_node.txrelay import PRUNE_INTERVAL_S, TxRelay
from waiting import await_until

GWEI = 10**9
RECIPIENT = bytes.fromhex("5eed" * 10)


def signed_transfers(node: Node, nonces) -> list[bytes]:
    account = Keystore(node.home.root).unlock("operator", PASSWORD)
    return [
        bytes(account.sign_transaction({
            "type": 2, "chainId": node.chain_id, "nonce": nonce, "to": to_checksum_address(RECIPIENT),
            "value": 1, "gas": 21000, "maxFeePerGas": 100 * GWEI, "maxPriorityFeePerGas": GWEI,
        }).raw_transaction)
        for nonce in nonces
    ]


def unfunded_transfers(chain_id: int, count: int) -> list[bytes]:
    """Validly signed transfers from a fresh, empty account: refused for a
    state-dependent reason (no funds), each costing a sender recovery."""
    account = Account.from_key(os.urandom(32))
    return [
        bytes(account.sign_transaction({
            "type": 2, "chainId": chain_id, "nonce": nonce, "to": to_checksum_address(RECIPIENT),
            "value": 1, "gas": 21000, "maxFeePerGas": 100 * GWEI, "maxPriorityFeePerGas": GWEI,
        }).raw_transaction)
        for nonce in range(count)
    ]


async def _session(node: Node) -> Session:
    return await open_session("127.0.0.1", node.p2p_port, str(node.chain_id), node.genesis.hash())


async def _collect_txs(session: Session, into: list[bytes]) -> None:
    """Every transaction the node sends this session, in order (single or batched)."""
    try:
        while True:
            msg = wire.decode_message(await session.conn.receive_message())
            if isinstance(msg, wire.TxBatch):
                into.extend(msg.txs)
            elif isinstance(msg, wire.Tx):
                into.append(msg.tx)
    except Exception:
        return  # closed


async def test_a_batch_is_admitted_one_by_one_and_relayed_to_the_others_only(node: Node) -> None:
    async with running(node):
        await wait_for_height(node, 1)
        # Nonces 1..4 behind a gap: admitted (queued in the pool), never mined
        # while the test looks, so the pool's content is stable.
        first, second, third, fourth = signed_transfers(node, [1, 2, 3, 4])
        garbage = b"\x02not an rlp transaction"
        sender, observer = await _session(node), await _session(node)
        to_sender: list[bytes] = []
        to_observer: list[bytes] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_collect_txs, sender, to_sender)
            nursery.start_soon(_collect_txs, observer, to_observer)
            await await_until(lambda: len(node.network.service.peers()) == 2, 10, "two peers")

            await sender.send(wire.TxBatch((first, garbage, second)))
            await await_until(lambda: {first, second} <= set(to_observer), 20, "the batch relayed to the observer")
            assert garbage not in to_observer, "a transaction the pool refused must not be relayed"
            assert keccak(first) in node.mempool and keccak(second) in node.mempool

            # The same transactions again (refused as known: no fault of the peer),
            # then one in the single-transaction message of protocol version 1.
            await sender.send(wire.TxBatch((first, second)))
            await sender.send(wire.Tx(fourth))
            await await_until(lambda: fourth in to_observer, 20, "the single Tx relayed to the observer")
            node.submit_transaction(third)  # JSON-RPC's path: relayed to both peers
            await await_until(lambda: third in to_sender and third in to_observer, 20, "the submitted tx relayed")
            # The sender's queue is FIFO and `third` was queued after the others'
            # relay: had the node sent the sender its own transactions, they would be here.
            assert not {first, second, fourth} & set(to_sender)
            assert all(to_observer.count(tx) == 1 for tx in (first, second, fourth)), "relayed once per peer"
            for session in (sender, observer):
                assert node.network.service.is_connected(session.node_id)
                assert not node.network.service.is_banned(session.node_id)
            nursery.cancel_scope.cancel()
        for s in (sender, observer):
            await s.aclose()


async def test_malformed_batches_ban_only_their_senders_and_the_node_goes_on(node: Node) -> None:
    over_count = [12, [b"t"] * (wire.MAX_TXS_PER_BATCH + 1)]
    over_bytes = [12, [b"t" * (wire.MAX_TX_BATCH_BYTES // 2 + 1)] * 2]
    empty = [12, []]
    garbage_inside = [12, [b"tx", 7]]
    hostile = [msgpack.packb(fields, use_bin_type=True) for fields in (over_count, over_bytes, empty, garbage_inside)]
    async with running(node):
        await wait_for_height(node, 1)
        honest = await _session(node)
        attackers = [await _session(node) for _ in hostile]
        for attacker, data in zip(attackers, hostile, strict=True):
            await attacker.send_raw(data)
        for attacker in attackers:
            await await_until(lambda: node.network.service.is_banned(attacker.node_id), 30, "the attacker's ban")
            _, reason = node.network.service.bans()[f"id:{attacker.node_id}"]
            assert reason.startswith("malformed message"), reason
        await wait_for_height(node, node.app.committed_height() + 2)  # consensus went on
        assert node.network.service.is_connected(honest.node_id)
        assert not node.network.service.is_banned(honest.node_id)
        for s in (honest, *attackers):
            await s.aclose()


class _FakePeers:
    """A stand-in for `P2PService` in the unit tests of `TxRelay`: peers and what was sent."""

    def __init__(self, peers: list[str], max_message_bytes: int = 8 * 1024 * 1024) -> None:
        self.config = type("Config", (), {"max_message_bytes": max_message_bytes})()
        self.connected = peers
        self.sent: list[tuple[str, wire.TxBatch]] = []

    def peers(self):
        return [type("Info", (), {"node_id": p})() for p in self.connected]

    def is_connected(self, peer_id: str) -> bool:
        return peer_id in self.connected

    def send(self, peer_id: str, msg: wire.TxBatch) -> bool:
        wire.decode_message(msg.encode())  # what goes out must decode on the other side
        self.sent.append((peer_id, msg))
        return True


def _txs(count: int, size: int = 100) -> list[tuple[bytes, bytes]]:
    raws = [i.to_bytes(4, "big") * (size // 4) for i in range(count)]
    return [(keccak(raw), raw) for raw in raws]


def test_relay_batches_per_peer_within_the_limits_and_skips_known() -> None:
    peers = _FakePeers(["a", "b"])
    relay = TxRelay(peers, max_txs=10, max_bytes=700)
    txs = _txs(9)
    relay.mark_known("a", [txs[0][0], txs[1][0]])  # "a" sent us these
    for tx_hash, raw in txs:
        relay.queue(tx_hash, raw)
    assert peers.sent == []  # nothing before the flush
    assert relay.flush() == 4  # a: 7 txs in 2 batches of at most 6 (700 bytes), b: 9 in 2
    sent_to = {p: [raw for q, m in peers.sent if q == p for raw in m.txs] for p in ("a", "b")}
    assert sent_to["a"] == [raw for _, raw in txs[2:]]
    assert sent_to["b"] == [raw for _, raw in txs]
    assert all(len(m.txs) <= 6 for _, m in peers.sent)
    peers.sent.clear()
    assert relay.flush() == 0  # each transaction goes once
    relay.queue(*txs[0])
    relay.flush()
    assert peers.sent == []  # both peers are known to have it now


def test_relay_flushes_at_once_when_a_batch_is_full_and_forgets_departed_peers() -> None:
    peers = _FakePeers(["a"])
    relay = TxRelay(peers, max_txs=4, known_per_peer=3)
    for tx_hash, raw in _txs(4):
        relay.queue(tx_hash, raw)
    assert len(peers.sent) == 1 and len(peers.sent[0][1].txs) == 4  # no timer needed
    assert not relay.peer_knows("a", _txs(4)[0][0])  # bounded: the oldest forgotten
    assert relay.peer_knows("a", _txs(4)[3][0])
    peers.connected = []
    relay.flush()
    assert not relay.peer_knows("a", _txs(4)[3][0])  # a disconnect whose event was missed


async def test_relay_marks_only_connected_peers_and_prunes_gone_ones_on_a_timer(autojump_clock) -> None:
    # A batch read after its peer's disconnect event re-created the peer's
    # known set, and only a flush with something queued pruned it: the sets
    # of gone peers piled up while nothing was admitted.
    peers = _FakePeers(["a", "b"])
    relay = TxRelay(peers)
    hashes = [h for h, _ in _txs(3)]
    relay.peer_gone("gone")
    relay.mark_known("gone", hashes)  # its last batch, read after it left
    assert "gone" not in relay._known
    relay.mark_known("a", hashes)
    relay.mark_known("b", hashes)
    peers.connected = ["b"]  # "a" left and its event was missed
    async with trio.open_nursery() as nursery:
        nursery.start_soon(relay.run)
        await trio.sleep(PRUNE_INTERVAL_S + 0.1)  # nothing queued meanwhile
        assert set(relay._known) == {"b"}
        nursery.cancel_scope.cancel()


async def test_junk_batches_never_hold_up_consensus_messages(node: Node) -> None:
    # Batches were admitted inside the one task that reads every peer's
    # messages: a flood of refused transactions put all of its admissions
    # (~0.4 ms each) ahead of the next vote or proposal.
    junk = unfunded_transfers(node.chain_id, 24 * wire.MAX_TXS_PER_BATCH)
    tried: list[bytes] = []
    admit = node.submit_transaction

    def counting_submit(raw: bytes) -> bytes:
        tried.append(raw)
        return admit(raw)

    node.submit_transaction = counting_submit  # the network admits through it
    async with running(node):
        await wait_for_height(node, 1)
        flooder, voter = await _session(node), await _session(node)
        await await_until(lambda: len(node.network.service.peers()) == 2, 10, "two peers")
        for i in range(0, len(junk), wire.MAX_TXS_PER_BATCH):
            await flooder.send(wire.TxBatch(tuple(junk[i:i + wire.MAX_TXS_PER_BATCH])))
        await voter.send(wire.Vote(b"\xc1not msgpack"))  # judged (and banned) in the inbound task
        await await_until(lambda: node.network.service.is_banned(voter.node_id), 60, "the voter's ban")
        tried_before_the_vote = len(tried)
        print(f"junk admissions before a later vote was handled: {tried_before_the_vote} of {len(junk)}")
        assert tried_before_the_vote < len(junk) // 3, (
            f"{tried_before_the_vote} of {len(junk)} junk admissions ran before a later vote was handled")
        # Refused for want of funds: state-dependent, never the flooder's fault.
        await await_until(lambda: node.network.txintake.queued() == 0, 120, "the junk admitted or dropped")
        assert node.network.txintake.dropped > 0  # over its share: its oldest dropped
        assert not node.network.service.is_banned(flooder.node_id)
        await wait_for_height(node, node.app.committed_height() + 1)
        for s in (flooder, voter):
            await s.aclose()


async def test_transactions_invalid_whatever_the_state_ban_their_peer_past_the_threshold(node: Node) -> None:
    async with running(node):
        await wait_for_height(node, 1)
        forger, honest = await _session(node), await _session(node)
        await await_until(lambda: len(node.network.service.peers()) == 2, 10, "two peers")
        garbage = tuple(b"\x02not a transaction %d" % i for i in range(INTAKE_INVALID_TX_BAN))
        await forger.send(wire.TxBatch(garbage[:-1]))
        await honest.send(wire.TxBatch(tuple(unfunded_transfers(node.chain_id, 64))))  # refused: no funds
        await honest.send(wire.TxBatch(garbage[:1]))  # one invalid: under the threshold
        await await_until(lambda: node.network.txintake.queued() == 0, 30, "the batches admitted")
        assert not node.network.service.is_banned(forger.node_id)  # one short of the threshold
        await forger.send(wire.Tx(garbage[-1]))
        await await_until(lambda: node.network.service.is_banned(forger.node_id), 30, "the forger's ban")
        _, reason = node.network.service.bans()[f"id:{forger.node_id}"]
        assert reason.startswith(PeerFault.INVALID_TRANSACTIONS.value), reason
        assert node.network.service.is_connected(honest.node_id)
        assert not node.network.service.is_banned(honest.node_id)
        for s in (forger, honest):
            await s.aclose()


class _Pool:
    """The admission path for `TxIntake` unit tests: records what it was given,
    refuses with the code the test names for a transaction (bytes -> code)."""

    def __init__(self, refusals: dict[bytes, MempoolErrorCode] | None = None) -> None:
        self.refusals = refusals or {}
        self.admitted: list[bytes] = []
        self.bans: list[tuple[str, str]] = []

    def admit(self, raw: bytes) -> bytes:
        self.admitted.append(raw)
        if raw in self.refusals:
            raise MempoolError(self.refusals[raw], f"refused {raw!r}")
        return keccak(raw)

    def ban(self, peer_id: str, detail: str) -> None:
        self.bans.append((peer_id, detail))


def test_intake_is_bounded_in_transactions_and_a_flooding_peer_drops_its_own() -> None:
    pool = _Pool()
    intake = TxIntake(pool.admit, pool.ban, max_txs=8, max_peer_txs=6, turn_txs=2)
    flood = [b"a%d" % i for i in range(10)]
    intake.offer("a", flood)
    assert intake.queued("a") == 6 and intake.dropped == 4  # its own cap: its oldest went
    intake.offer("b", [b"b%d" % i for i in range(4)])
    assert intake.queued() == 8 and intake.queued("b") == 4  # the total cap: the largest holder's oldest went
    while intake.admit_turn():
        pass
    assert pool.admitted == [b"a6", b"a7", b"b0", b"b1", b"a8", b"a9", b"b2", b"b3"]  # round robin, turn by turn
    assert intake.queued() == 0


@pytest.mark.parametrize("code", sorted(MempoolErrorCode, key=lambda c: c.value))
def test_only_refusals_independent_of_chain_state_count_against_the_peer(code) -> None:
    stateless = code in {MempoolErrorCode.MALFORMED, MempoolErrorCode.INVALID_SIGNATURE,
                         MempoolErrorCode.WRONG_CHAIN_ID, MempoolErrorCode.UNSUPPORTED_TYPE}
    txs = [b"t%d" % i for i in range(INTAKE_INVALID_TX_BAN + 4)]
    pool = _Pool({raw: code for raw in txs})
    intake = TxIntake(pool.admit, pool.ban)
    intake.offer("peer", txs)
    while intake.admit_turn():
        pass
    if stateless:
        assert [p for p, _ in pool.bans] == ["peer"] and len(pool.admitted) == INTAKE_INVALID_TX_BAN
        assert pool.bans[0][1].startswith(f"{INTAKE_INVALID_TX_BAN} refused")
        assert intake.queued("peer") == 0  # the rest of its queue went with it
    else:
        assert pool.bans == [] and len(pool.admitted) == len(txs)

"""A node relays consensus messages only after its engine verified them.

In process: one real validator node (real LevelDB, real p2p on loopback) and
two real p2p clients with their own node keys: an attacker and an observer.
What the attacker sends that the node cannot verify must never reach the
observer; what is provably forged gets the attacker banned; and the node's
catch-up store stays bounded.
"""

from __future__ import annotations

import random

import trio

from attacker import Session, forged_vote, junk_proposal, open_session
from consensus.messages import PREVOTE, DuplicateVoteEvidence, Proposal, Vote
from node_helpers import fast_config, make_home, running, wait_for_height
from p2p import messages as wire
from plume_node.network import CatchUpStore, IntakeBudget, PeerFault
from plume_node.node import MAX_LISTED_BANS, Node
from waiting import await_until


async def _session(node: Node) -> Session:
    return await open_session("127.0.0.1", node.p2p_port, str(node.chain_id), node.genesis.hash())


async def _collect(session: Session, into: list[wire.Message]) -> None:
    try:
        while True:
            into.append(wire.decode_message(await session.conn.receive_message()))
    except Exception:
        return  # closed


async def test_forged_and_unjudgeable_messages_are_not_relayed(node: Node) -> None:
    rng = random.Random(7)
    async with running(node):
        await wait_for_height(node, 2)
        observer, attacker, outsider = await _session(node), await _session(node), await _session(node)
        seen: list[wire.Message] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_collect, observer, seen)
            nursery.start_soon(_collect, outsider, [])
            await await_until(lambda: len(node.network.service.peers()) == 3, 5, "three peers")
            height = node.engine.height
            far = junk_proposal(rng, height + 5, rng.randbytes(20), b"\x00" * 100_000)
            await outsider.send(far)  # cannot be judged: dropped, not punished
            forged = forged_vote(rng, height, node.validator_address)
            await attacker.send(forged)  # provably forged: the sender is banned
            await await_until(lambda: node.network.service.is_banned(attacker.node_id), 30, "the attacker's ban")
            await wait_for_height(node, node.app.committed_height() + 2)
            relayed = {m.hash() for m in seen}
            assert forged.hash() not in relayed and far.hash() not in relayed
            assert any(isinstance(m, wire.Vote) for m in seen), "the observer should get the node's own votes"
            assert node.network.service.is_connected(outsider.node_id)
            _, reason = node.network.service.bans()[f"id:{attacker.node_id}"]
            assert reason.startswith(PeerFault.REJECTED_CONSENSUS.value + ": bad signature"), reason
            assert not node.network.service.is_banned(outsider.node_id)
            nursery.cancel_scope.cancel()
        for s in (observer, attacker, outsider):
            await s.aclose()


async def test_an_undecodable_consensus_payload_bans_its_sender(node: Node) -> None:
    async with running(node):
        await wait_for_height(node, 1)
        attacker = await _session(node)
        await attacker.send(wire.Vote(b"\xc1not msgpack"))
        await await_until(lambda: node.network.service.is_banned(attacker.node_id), 30, "the attacker's ban")
        _, reason = node.network.service.bans()[f"id:{attacker.node_id}"]
        assert reason.startswith(PeerFault.UNDECODABLE_CONSENSUS.value)
        await attacker.aclose()


async def test_forged_evidence_bans_its_sender_with_a_typed_reason(node: Node) -> None:
    async with running(node):
        await wait_for_height(node, 2)
        attacker = await _session(node)
        a = Vote(PREVOTE, 1, 0, b"\x01" * 32, node.validator_address, b"\x02" * 64)
        b = Vote(PREVOTE, 1, 0, b"\x03" * 32, node.validator_address, b"\x04" * 64)
        await attacker.send(wire.Evidence(DuplicateVoteEvidence.from_votes(a, b).encode()))
        await await_until(lambda: node.network.service.is_banned(attacker.node_id), 30, "the attacker's ban")
        _, reason = node.network.service.bans()[f"id:{attacker.node_id}"]
        assert reason.startswith(PeerFault.INVALID_EVIDENCE.value), reason
        await attacker.aclose()


async def test_a_relayed_message_over_the_cap_is_not_fatal(tmp_path) -> None:
    """Review finding: an own or relayed message over the message cap was kept
    for catch-up gossip, and re-sending it to a peer at the same height raised
    out of the tick loop, ending the node. After height 1 the node pauses
    10 s, so the height (and its catch-up store) stays put across ticks."""
    home = make_home(tmp_path / "home")
    node = Node.open(home, fast_config(home, block_time_ms=10_000))
    try:
        async with running(node):
            await wait_for_height(node, 1)
            peer = await _session(node)
            height = 1
            await peer.send(wire.Status(height=height, round=0))  # same height: catch-up gossip goes to it
            await await_until(lambda: node.network.service.peers()[0].height == height, 5, "the peer's status")
            cap = node.network.service.config.max_message_bytes
            node.network.relay(Proposal(height, 0, b"\x11" * 32, -1, b"\x22" * 20), b"\x00" * (cap + 1))
            await trio.sleep(3 * node.network.tick_s)  # ticks go by; the node must live through them
            assert node.network.service.is_connected(peer.node_id)
            await peer.aclose()
    finally:
        node.close()


async def test_plume_peers_lists_a_bounded_number_of_bans(node: Node) -> None:
    async with running(node):
        await wait_for_height(node, 1)
        for i in range(MAX_LISTED_BANS + 44):
            node.network.service.ban(f"{i:040x}", "test", seconds=100 + i)
        status = node.peer_status()
        assert status["bans_total"] >= MAX_LISTED_BANS + 44
        assert len(status["bans"]) == MAX_LISTED_BANS
        lefts = [b["seconds_left"] for b in status["bans"]]
        assert lefts == sorted(lefts, reverse=True) and lefts[-1] >= 100 + 44 - 2  # the longest bans


def test_catch_up_store_is_bounded_in_count_and_bytes() -> None:
    store = CatchUpStore(max_messages=3, max_bytes=10_000)
    votes = [wire.Vote(bytes([i]) * 100) for i in range(5)]
    for v in votes:
        store.add(v)
    assert [h for h, _ in store.items()] == [v.hash() for v in votes[2:]]  # oldest evicted first
    big = wire.Proposal(b"p", b"\x00" * 9_900)
    store.add(big)
    assert store.size_bytes <= 10_000 and [m for _, m in store.items()][-1] == big
    store.add(big)  # a duplicate changes nothing
    assert len(store) == 1 and store.size_bytes == len(big.encode())


def test_intake_budget_bounds_each_peer_and_the_total() -> None:
    budget = IntakeBudget(peer_messages=2, peer_bytes=1000, total_bytes=1500)
    assert budget.admit("a", 100) and budget.admit("a", 100)
    assert not budget.admit("a", 1)  # a's message count
    assert not budget.admit("b", 1001)  # b's bytes
    assert budget.admit("b", 900)
    assert not budget.admit("c", 600)  # the total
    budget.release("a", 100)
    budget.release("a", 100)
    assert budget.peers() == 1 and budget.in_flight_bytes == 900  # a's entry is gone
    assert budget.admit("c", 600)

"""An outsider racing junk block bytes beside genuine proposals cannot stall the chain.

The second test pins the blame: both copies of one proposal (junk from the
attacker, the real bytes from an honest relayer) reach the node before its
engine judges either, and only the attacker is banned.

In process: two real validator nodes (real LevelDB, py-evm, engine, driver and
p2p on loopback), each holding half the power, so no block commits without
both. They are not connected to each other: an honest relayer (a real p2p
client) forwards everything each node sends to the other, a little slower
than the attacker. The attacker (another real p2p client, no key) re-sends
every genuine proposal the relayer sees to the other node first, with junk
bytes or the bytes of an earlier block, and comes back with a fresh key after
each ban. The chain must keep committing, the attacker must be banned for
`payload mismatch`, and the honest relayer never.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field

import pytest
import trio

from attacker import Session, open_session
from consensus.messages import Proposal
from node_helpers import fast_config, make_home, running, wait_for_height
from waiting import await_until
from p2p import messages as wire
from p2p.transport import ConnectionClosed
from plume_node.genesis import dump_genesis, load_genesis
from plume_node.network import PeerFault
from plume_node.node import Node

RELAY_DELAY_S = 0.05  # the honest path is this much slower than the attacker's
BLOCKS = 6  # heights to commit under attack
CLOSED = (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError, OSError)


@pytest.fixture
def pair(tmp_path):
    homes = [make_home(tmp_path / f"v{i}") for i in range(2)]
    docs = [load_genesis(h.genesis_path) for h in homes]
    genesis = dump_genesis(dataclasses.replace(docs[0], validators=(docs[0].validators[0], docs[1].validators[0])))
    for home in homes:
        home.genesis_path.write_bytes(genesis)
    nodes = [Node.open(h, fast_config(h, block_time_ms=100)) for h in homes]
    yield nodes
    for n in nodes:
        n.close()


async def _session(node: Node) -> Session:
    return await open_session("127.0.0.1", node.p2p_port, str(node.chain_id), node.genesis.hash())


async def _drain(session: Session) -> None:
    """Read what a node sends (answering pings) until it closes the connection."""
    try:
        while True:
            msg = wire.decode_message(await session.conn.receive_message())
            if isinstance(msg, wire.Ping):
                await session.send(wire.Pong(msg.nonce))
    except Exception:
        return  # closed (banned)


@dataclass
class Poisoner:
    """The attacker: one session per node, renewed with a fresh key after a ban."""

    nodes: list[Node]
    nursery: trio.Nursery
    sessions: dict[int, Session] = field(default_factory=dict)
    node_ids: list[set[str]] = field(default_factory=lambda: [set(), set()])
    sent: int = 0

    async def poison(self, target: int, proposal: bytes, junk: bytes) -> None:
        msg = wire.Proposal(proposal, junk)
        for _ in range(2):
            session = self.sessions.get(target) or await self._open(target)
            try:
                await session.send(msg)
                self.sent += 1
                return
            except CLOSED:
                self.sessions.pop(target, None)  # banned: come back as someone else

    async def _open(self, target: int) -> Session:
        session = await _session(self.nodes[target])
        self.sessions[target] = session
        self.node_ids[target].add(session.node_id)
        self.nursery.start_soon(_drain, session)
        return session


async def _relay(src: Session, dst: Session, target: int, poisoner: Poisoner, rng: random.Random) -> None:
    """Forward everything from one node to the other; let the attacker race each proposal."""
    earlier_block = rng.randbytes(3000)
    try:
        while True:
            data = await src.conn.receive_message()
            msg = wire.decode_message(data)
            if isinstance(msg, wire.Ping):
                await src.send(wire.Pong(msg.nonce))
                continue
            if isinstance(msg, wire.Pong):
                continue
            if isinstance(msg, wire.Proposal):
                junk = rng.choice((rng.randbytes(rng.randrange(1, 5000)), earlier_block))
                await poisoner.poison(target, msg.proposal, junk)
                earlier_block = msg.block  # a real block, just not the next one named
                await trio.sleep(RELAY_DELAY_S)
            await dst.send_raw(data)
    except CLOSED:
        return


async def test_junk_payloads_raced_beside_genuine_proposals_ban_the_racer_not_the_relayer(pair) -> None:
    rng = random.Random(11)
    v0, v1 = pair
    async with running(v0), running(v1):
        async with trio.open_nursery() as nursery:
            poisoner = Poisoner(pair, nursery)
            to0, to1 = await _session(v0), await _session(v1)  # the honest relayer, one key
            relayer = to0.node_id
            nursery.start_soon(_relay, to0, to1, 1, poisoner, rng)
            nursery.start_soon(_relay, to1, to0, 0, poisoner, rng)
            start = max(v0.app.committed_height(), v1.app.committed_height())
            for node in pair:
                await wait_for_height(node, start + BLOCKS, timeout=60)
            for i, node in enumerate(pair):
                service = node.network.service
                assert not service.is_banned(relayer), service.bans()
                reasons = {r for key, (_, r) in service.bans().items() if key[3:] in poisoner.node_ids[i]}
                prefix = f"{PeerFault.REJECTED_CONSENSUS.value}: payload mismatch"
                assert reasons and all(r.startswith(prefix) for r in reasons), (reasons, service.bans())
            assert poisoner.sent >= BLOCKS
            nursery.cancel_scope.cancel()
        for s in (to0, to1, *poisoner.sessions.values()):
            await s.aclose()


async def test_the_copy_with_junk_bytes_is_blamed_not_the_one_with_the_block(node_with_other_validator, monkeypatch) -> None:
    node, other = node_with_other_validator
    held: list[tuple] = []
    submit = node.driver.submit_proposal
    async with running(node):
        relayer, attacker = await _session(node), await _session(node)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_drain, relayer)
            nursery.start_soon(_drain, attacker)
            their_turn = "0x" + other.address.hex()
            await await_until(
                lambda: node.consensus_state()["proposer"] == their_turn and node.consensus_state()["step"] == "propose",
                60,
                "a round the other validator proposes",
            )
            state = node.consensus_state()
            height, round = state["height"], state["round"]
            block_hash, block = node.app.propose_block(height, round)  # a valid block for this round
            unsigned = Proposal(height, round, block_hash, -1, other.address)
            proposal = unsigned.with_signature(other.sign(unsigned.sign_bytes(node.app.chain_id))).encode()
            # Hold the engine's intake until both copies went through the network layer.
            monkeypatch.setattr(node.driver, "submit_proposal", lambda *args: held.append(args) or True)
            await attacker.send(wire.Proposal(proposal, b"junk raced ahead of the block"))
            await relayer.send(wire.Proposal(proposal, block))
            await await_until(lambda: len(held) == 2, 10, "both copies at the driver")
            monkeypatch.setattr(node.driver, "submit_proposal", submit)
            for args in sorted(held, key=lambda a: a[1] == block):  # the junk first, as if it won the race
                assert submit(*args)
            await wait_for_height(node, height)
            assert node.app.chain.get_block(height).hash == block_hash  # the relayed block was decided
            service = node.network.service
            await await_until(lambda: service.is_banned(attacker.node_id), 10, "the attacker's ban")
            _, reason = service.bans()[f"id:{attacker.node_id}"]
            assert reason.startswith(f"{PeerFault.REJECTED_CONSENSUS.value}: payload mismatch"), reason
            assert not service.is_banned(relayer.node_id) and service.is_connected(relayer.node_id)
            nursery.cancel_scope.cancel()
        for s in (relayer, attacker):
            await s.aclose()

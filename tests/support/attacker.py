"""An unauthenticated p2p attacker for tests: a real client with its own node key.

It does what anyone who can reach a node's p2p port can do: complete the
Noise handshake and the Hello (the chain id and genesis hash are public),
then send well-formed consensus messages that no honest node would send:
votes claiming to be a validator with a bad signature, proposals from made-up
proposers or for far-future heights carrying large junk blocks, proposals with
bad signatures, consensus payloads that do not decode. When a node bans the
attacker's key it simply comes back with a fresh key from a fresh port.
With `poison` on it also listens to every attacked node as a well-behaved
peer and re-sends each genuine proposal it is gossiped, with junk bytes or
the bytes of an earlier block (the signature covers only the block hash),
to the other attacked nodes.

Everything here is real: real TCP, the real Noise transport, real encodings.
It imports only `p2p` and `consensus`, like any outside client would.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consensus.messages import PRECOMMIT, PREVOTE, Proposal, Vote
from p2p import messages as wire
from p2p.identity import ed25519_public_bytes, node_id_of
from p2p.transport import ConnectionClosed, SecureConnection, secure_handshake

HANDSHAKE_TIMEOUT_S = 5.0
BAN_WAIT_S = 3.0  # how long one session waits to be cut off after its burst


@dataclass
class Session:
    """One authenticated connection to a node."""

    key: Ed25519PrivateKey
    stream: trio.SocketStream
    conn: SecureConnection
    their_hello: wire.Hello
    # Several tasks may write to one session (a relay and its pong replies):
    # a trio stream takes one sender at a time.
    send_lock: trio.Lock = field(default_factory=trio.Lock)

    @property
    def node_id(self) -> str:
        return node_id_of(ed25519_public_bytes(self.key))

    async def send(self, msg: wire.Message) -> None:
        await self.send_raw(msg.encode())

    async def send_raw(self, data: bytes) -> None:
        async with self.send_lock:
            await self.conn.send_message(data)

    async def drain_until_closed(self, timeout: float) -> bool:
        """Read and discard until the node closes the connection; True if it did."""
        with trio.move_on_after(timeout):
            try:
                while True:
                    await self.conn.receive_message()
            except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                return True
            except Exception:  # a cut mid-message shows up as a framing or decrypt error
                return True
        return False

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            try:
                await self.stream.aclose()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass


async def open_session(
    host: str, port: int, chain_id: str, genesis_hash: bytes, key: Ed25519PrivateKey | None = None
) -> Session:
    """Dial a node and complete the handshake and Hello exchange."""
    key = key or Ed25519PrivateKey.generate()
    stream = await trio.open_tcp_stream(host, port)
    try:
        with trio.fail_after(HANDSHAKE_TIMEOUT_S):
            conn = await secure_handshake(stream, True, key)
            my_id = node_id_of(ed25519_public_bytes(key))
            await conn.send_message(wire.Hello(wire.PROTOCOL_VERSION, chain_id, genesis_hash, my_id, 0, 0).encode())
            their = wire.decode_message(await conn.receive_message())
    except BaseException:
        await stream.aclose()
        raise
    if not isinstance(their, wire.Hello):
        await stream.aclose()
        raise ConnectionError(f"node answered the Hello with {their!r}")
    return Session(key, stream, conn, their)


# ---- the junk ----------------------------------------------------------------


def forged_vote(rng: random.Random, height: int, validator: bytes) -> wire.Vote:
    """A well-formed vote claiming to be `validator`, with a signature that is not its."""
    vote_type = rng.choice((PREVOTE, PRECOMMIT))
    block_hash = rng.choice((b"", rng.randbytes(32)))
    vote = Vote(vote_type, height, rng.randrange(0, 2), block_hash, validator, rng.randbytes(64))
    return wire.Vote(vote.encode())


def junk_proposal(rng: random.Random, height: int, proposer: bytes, block: bytes, round: int = 0) -> wire.Proposal:
    """A well-formed proposal by `proposer` (real or made up) with a bad signature and a junk block."""
    proposal = Proposal(height, round, rng.randbytes(32), -1, proposer, rng.randbytes(64))
    return wire.Proposal(proposal.encode(), block)


def undecodable_vote() -> wire.Vote:
    """A Vote message whose consensus payload is not a vote at all."""
    return wire.Vote(b"\xc1not msgpack")


@dataclass
class AttackReport:
    """What one attack did, per target "host:port"."""

    sessions: dict[str, int] = field(default_factory=dict)  # sessions completed (Hello done)
    cut_off: dict[str, int] = field(default_factory=dict)  # sessions the node closed on us
    node_ids: dict[str, list[str]] = field(default_factory=dict)  # our node ids, per target
    messages: int = 0
    junk_bytes: int = 0
    poisoned: int = 0  # genuine proposals re-sent with junk bytes
    poison_ids: dict[str, list[str]] = field(default_factory=dict)  # node ids that sent them, per target
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Attack:
    """Flood `targets` for `duration_s` seconds, one session at a time per target."""

    targets: tuple[tuple[str, int], ...]
    chain_id: str
    genesis_hash: bytes
    validators: tuple[bytes, ...]  # addresses to impersonate
    duration_s: float = 60.0
    block_bytes: int = 1024 * 1024
    seed: int = 1
    poison: bool = False

    async def run(self) -> AttackReport:
        report = AttackReport()
        async with trio.open_nursery() as nursery:
            for i, target in enumerate(self.targets):
                nursery.start_soon(self._flood_one, target, random.Random(self.seed * 1000 + i), report)
            if self.poison:
                poisoner = Poisoner(self, report, random.Random(self.seed), nursery)
                for target in self.targets:
                    nursery.start_soon(poisoner.listen, target)
        return report

    async def _flood_one(self, target: tuple[str, int], rng: random.Random, report: AttackReport) -> None:
        name = f"{target[0]}:{target[1]}"
        deadline = trio.current_time() + self.duration_s
        block = os.urandom(self.block_bytes)
        burst_no = 0
        while trio.current_time() < deadline:
            try:
                session = await open_session(target[0], target[1], self.chain_id, self.genesis_hash)
            except Exception as exc:  # refused (e.g. inbound limit): try again shortly
                report.errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:120]}")
                await trio.sleep(0.5)
                continue
            report.sessions[name] = report.sessions.get(name, 0) + 1
            report.node_ids.setdefault(name, []).append(session.node_id)
            try:
                await self._burst(session, rng, block, burst_no, report)
                cut = await session.drain_until_closed(BAN_WAIT_S)
            except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                cut = True  # closed while we were still sending
            finally:
                await session.aclose()
            if cut:
                report.cut_off[name] = report.cut_off.get(name, 0) + 1
            burst_no += 1
            await trio.sleep(0.2)

    async def _burst(self, session: Session, rng: random.Random, block: bytes, burst_no: int, report: AttackReport) -> None:
        """Messages no node can hold against us first, then a shuffled mix of
        provably bad ones (the first of which should get this key banned)."""
        height = session.their_hello.height  # the height the node works on
        made_up = rng.randbytes(20)
        harmless = [
            junk_proposal(rng, height + 5, made_up, block),
            junk_proposal(rng, height + 1000, rng.randbytes(20), block),
            junk_proposal(rng, height + 1, made_up, block),  # next height, unknown proposer: cannot be judged yet
        ]
        bad: list[wire.Message] = [forged_vote(rng, h, v) for v in self.validators for h in (height, height + 1)]
        bad += [junk_proposal(rng, height, v, block) for v in self.validators]  # bad signature or not the proposer
        bad.append(junk_proposal(rng, height, made_up, block))
        if burst_no % 4 == 3:
            bad.insert(0, undecodable_vote())
        else:
            rng.shuffle(bad)
        for msg in harmless + bad:
            encoded = msg.encode()
            await session.send_raw(encoded)
            report.messages += 1
            report.junk_bytes += len(encoded)


_CLOSED = (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError, OSError)


@dataclass
class Poisoner:
    """Races junk copies of genuine proposals: it listens to each attacked
    node as a well-behaved peer and re-sends every proposal it is gossiped,
    with other bytes, to the other attacked nodes, over sessions it renews
    with a fresh key whenever one is banned."""

    attack: Attack
    report: AttackReport
    rng: random.Random
    nursery: trio.Nursery
    senders: dict[tuple[str, int], Session] = field(default_factory=dict)
    earlier_block: bytes = b""
    locks: dict[tuple[str, int], trio.Lock] = field(default_factory=dict)
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = trio.current_time() + self.attack.duration_s

    async def listen(self, target: tuple[str, int]) -> None:
        with trio.move_on_at(self.deadline):
            while True:
                try:
                    session = await self._open(target)
                except Exception:
                    await trio.sleep(0.5)
                    continue
                try:
                    await self._receive(session, target)
                except Exception:  # closed (or cut mid-message): listen again
                    pass
                finally:
                    await session.aclose()
                await trio.sleep(0.2)

    async def _receive(self, session: Session, source: tuple[str, int]) -> None:
        while True:
            msg = wire.decode_message(await session.conn.receive_message())
            if isinstance(msg, wire.Ping):
                await session.send(wire.Pong(msg.nonce))
            elif isinstance(msg, wire.Proposal):
                noise = self.rng.randbytes(self.rng.randrange(1, 4096))
                earlier = self.earlier_block if self.earlier_block != msg.block else b""
                junk = self.rng.choice((noise, earlier or noise))  # junk, or a real block of another hash
                self.earlier_block = msg.block
                for target in self.attack.targets:
                    if target != source:
                        await self._send(target, wire.Proposal(msg.proposal, junk))

    async def _send(self, target: tuple[str, int], msg: wire.Proposal) -> None:
        # One writer per Noise session: the listeners of all targets feed it.
        async with self.locks.setdefault(target, trio.Lock()):
            await self._send_locked(target, msg)

    async def _send_locked(self, target: tuple[str, int], msg: wire.Proposal) -> None:
        for _ in range(2):
            session = self.senders.get(target)
            try:
                if session is None:
                    session = self.senders[target] = await self._open(target)
                    name = f"{target[0]}:{target[1]}"
                    self.report.node_ids.setdefault(name, []).append(session.node_id)
                    self.report.poison_ids.setdefault(name, []).append(session.node_id)
                    self.nursery.start_soon(_drain_until, session, self.deadline)
                await session.send(msg)
                self.report.poisoned += 1
                return
            except _CLOSED:
                self.senders.pop(target, None)  # banned: come back as someone else
            except Exception as exc:  # refused (e.g. inbound limit): skip this copy
                self.report.errors.append(f"poison {target}: {type(exc).__name__}: {str(exc)[:120]}")
                self.senders.pop(target, None)
                return

    async def _open(self, target: tuple[str, int]) -> Session:
        return await open_session(target[0], target[1], self.attack.chain_id, self.attack.genesis_hash)


async def _drain_until(session: Session, deadline: float) -> None:
    """Read (and drop) what a node sends on a sending session until it closes
    or the attack ends; then close it. (No pongs: only `Poisoner._send`
    writes to it; an unanswered ping just ends the session.)"""
    try:
        with trio.move_on_at(deadline):
            while True:
                await session.conn.receive_message()
    except Exception:
        pass  # closed by the node (banned)
    finally:
        await session.aclose()

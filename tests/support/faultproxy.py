"""A fault-injecting TCP proxy for network tests (this machine has no netem).

Each directed link (src, dst) is a listener on 127.0.0.1 forwarding to dst's
p2p port; src dials the listener instead of dst. Per link:

- `delay` / `jitter` (seconds): each chunk is delivered `delay ± jitter`
  after it was read, never before the chunk ahead of it (a stream stays in order).
- `loss` (0..1): a TCP stream never loses bytes; a lost segment costs a
  retransmission. So a "lost" chunk is delivered `retransmit_delay` late,
  holding up everything behind it, and no byte is dropped (dropping would
  corrupt the Noise stream, which real TCP never does).
- `cut()`: a partition. Existing connections stop forwarding both ways
  (bytes stay queued, closes are held back, as a peer's FIN or RST would be
  lost), new connections are accepted but not forwarded (the dialer's
  handshake stalls). `heal()` resumes all of it as TCP would: a direction
  that had bytes (or a close) stuck resumes at its sender's next
  retransmission, on Linux's schedule (RTO from 200 ms doubling to 120 s,
  counted from when it got stuck), and a connection accepted during the cut
  reaches its target at the next SYN retransmission (1 s, 3 s, 7 s, ...
  after it was opened). So a long partition leaves old connections dead for
  a long time after the heal, as it does on a real network.

Buffers are bounded (`QUEUE_CHUNKS` chunks of at most `CHUNK` bytes per
direction per connection); a full queue stops reading, so TCP backpressure
reaches the sender. The proxy runs its own trio loop in a background thread
(`TrioThread`); `stop()` closes every listener and connection.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import trio
from triothread import TrioThread

CHUNK = 65536
DATA_RTO_S = 0.2  # Linux's minimum retransmission timeout
SYN_RTO_S = 1.0  # Linux's initial SYN retransmission timeout
MAX_RTO_S = 120.0
QUEUE_CHUNKS = 16
_EOF = None  # queue marker: the sending side closed


@dataclass
class Link:
    """One directed link's conditions (mutated only inside the proxy's trio thread)."""

    src: str
    dst: str
    target_port: int
    listen_port: int = 0
    delay: float = 0.0
    jitter: float = 0.0
    loss: float = 0.0
    retransmit_delay: float = 0.2
    connections: int = 0  # accepted so far
    healed: trio.Event = field(default_factory=trio.Event)

    def __post_init__(self) -> None:
        self.healed.set()

    @property
    def is_cut(self) -> bool:
        return not self.healed.is_set()

    def delivery_delay(self, rng: random.Random) -> float:
        extra = self.retransmit_delay if self.loss and rng.random() < self.loss else 0.0
        jitter = rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        return max(0.0, self.delay + jitter) + extra


def next_retransmission(stuck_since: float, first_rto: float, now: float) -> float:
    """The first retransmission at or after `now` of a segment first sent at
    `stuck_since`, retransmitted with exponential backoff from `first_rto`."""
    at, rto = stuck_since + first_rto, first_rto
    while at < now:
        rto = min(rto * 2, MAX_RTO_S)
        at += rto
    return at


async def wait_out_cut(link: Link, first_rto: float) -> None:
    """Return at once on a healed link; on a cut one, after the heal and the
    sender's next retransmission."""
    if not link.is_cut:
        return
    stuck_since = trio.current_time()
    await link.healed.wait()
    await trio.sleep_until(next_retransmission(stuck_since, first_rto, trio.current_time()))


class FaultProxy:
    """Start with `start()`, add links with `add_link`, then `cut`/`heal`/`set_conditions`."""

    def __init__(self, seed: int = 0) -> None:
        self.links: dict[tuple[str, str], Link] = {}
        self._rng = random.Random(seed)
        self._thread = TrioThread(self._main, "fault-proxy")
        self._nursery: trio.Nursery | None = None

    # ---- control, from the test's thread ---------------------------------------------

    def start(self) -> "FaultProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._thread.stop()

    def add_link(self, src: str, dst: str, target_port: int) -> int:
        """Open the listener for src -> dst; return its port."""
        return self._thread.run(self._open_link, src, dst, target_port)

    def set_conditions(self, src: str, dst: str, **conditions: float) -> None:
        def apply() -> None:
            link = self.links[(src, dst)]
            for name, value in conditions.items():
                if name not in ("delay", "jitter", "loss", "retransmit_delay") or not 0 <= value < math.inf:
                    raise ValueError(f"bad condition {name}={value}")
                setattr(link, name, value)

        self._thread.call(apply)

    def cut(self, node: str) -> None:
        """Partition `node`: every link from or to it."""
        self._thread.call(self._set_cut, node, True)

    def heal(self, node: str) -> None:
        self._thread.call(self._set_cut, node, False)

    # ---- inside the trio thread -------------------------------------------------------

    async def _main(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def _set_cut(self, node: str, cut: bool) -> None:
        for link in self.links.values():
            if node not in (link.src, link.dst):
                continue
            if cut and not link.is_cut:
                link.healed = trio.Event()
            elif not cut:
                link.healed.set()

    async def _open_link(self, src: str, dst: str, target_port: int) -> int:
        link = Link(src, dst, target_port)
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        link.listen_port = listeners[0].socket.getsockname()[1]
        self.links[(link.src, link.dst)] = link
        self._nursery.start_soon(trio.serve_listeners, lambda stream: self._connection(link, stream), listeners)
        return link.listen_port

    async def _connection(self, link: Link, client: trio.SocketStream) -> None:
        link.connections += 1
        async with client:
            await wait_out_cut(link, SYN_RTO_S)  # a new connection during a cut stalls here
            try:
                upstream = await trio.open_tcp_stream("127.0.0.1", link.target_port)
            except OSError:
                return  # target down: the dialer sees its connection close
            async with upstream, trio.open_nursery() as nursery:
                done = trio.CancelScope()
                with done:
                    nursery.start_soon(self._direction, link, client, upstream, done)
                    nursery.start_soon(self._direction, link, upstream, client, done)
                    await trio.sleep_forever()
                nursery.cancel_scope.cancel()

    async def _direction(
        self, link: Link, source: trio.SocketStream, sink: trio.SocketStream, done: trio.CancelScope
    ) -> None:
        send, receive = trio.open_memory_channel[tuple[float, bytes | None]](QUEUE_CHUNKS)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._read, link, source, send)
            await self._write(link, sink, receive)
        done.cancel()  # one side closed (after any cut healed): close the whole connection

    async def _read(self, link: Link, source: trio.SocketStream, queue: trio.MemorySendChannel) -> None:
        async with queue:
            while True:
                try:
                    data = await source.receive_some(CHUNK)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    data = b""
                at = trio.current_time() + link.delivery_delay(self._rng)
                await queue.send((at, data or _EOF))
                if not data:
                    return

    async def _write(self, link: Link, sink: trio.SocketStream, queue: trio.MemoryReceiveChannel) -> None:
        last = 0.0
        async for at, data in queue:
            last = max(last, at)  # in order: never before the chunk ahead
            await trio.sleep_until(last)
            await wait_out_cut(link, DATA_RTO_S)
            if data is _EOF:
                return
            try:
                await sink.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                return

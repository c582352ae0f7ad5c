"""Error text and per-peer tables as memory and log bombs.

A peer controls the bytes behind every decode error; an 8 MB type tag must
not become megabytes of log lines or of ban reasons. The ban list must stay
bounded and forget expired bans without anyone looking the key up again.
"""

from __future__ import annotations

import logging

import msgpack
import trio
from p2p_helpers import make_service, raw_session, start
from waiting import await_until

from p2p.errors import MAX_ERROR_TEXT, MessageError
from p2p.messages import decode_message
from p2p.peers import BanList, PeerDisconnected

BIG = 8 * 1024 * 1024 - 64  # fits under the default 8 MiB message cap


class _Sizes(logging.Handler):
    """Counts the characters of every log line, as a file handler would write them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.chars = 0
        self.longest = 0

    def emit(self, record: logging.LogRecord) -> None:
        n = len(self.format(record))
        self.chars += n
        self.longest = max(self.longest, n)


def test_decode_error_text_is_bounded_whatever_the_input() -> None:
    for tag in ("x" * BIG, b"\xff" * BIG, [1] * 100_000):
        try:
            decode_message(msgpack.packb([tag], use_bin_type=True))
        except MessageError as exc:
            assert len(str(exc)) <= MAX_ERROR_TEXT
        else:
            raise AssertionError("a bogus tag decoded")


async def test_an_8mb_type_tag_costs_a_few_bounded_log_lines_and_a_short_ban_reason(nursery) -> None:
    sizes = _Sizes()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(sizes)
    root.setLevel(logging.DEBUG)
    try:
        svc = await start(nursery, make_service())
        peer = await raw_session(svc.listen_port)
        await await_until(lambda: svc.is_connected(peer.node_id), what="the raw peer connected")
        await peer.conn.send_message(msgpack.packb(["t" * BIG], use_bin_type=True))
        await await_until(lambda: svc.is_banned(peer.node_id), timeout=20, what="the bomb's sender banned")
        event = None
        with trio.fail_after(5):
            while not isinstance(event, PeerDisconnected):
                event = await svc.events.receive()
    finally:
        root.removeHandler(sizes)
        root.setLevel(old_level)
    assert len(event.reason) <= MAX_ERROR_TEXT + 32
    for _remaining, reason in svc.bans().values():
        assert len(reason) <= MAX_ERROR_TEXT
    assert sizes.longest < 1000, f"a log line of {sizes.longest} characters"
    assert sizes.chars < 20_000, f"{sizes.chars} characters logged for one bad message"


def test_ban_list_is_bounded_and_keeps_the_newest_bans() -> None:
    bans = BanList(max_entries=100)
    for i in range(1000):
        bans.ban(f"id:{i}", until=1000.0, reason="r" * 100_000, now=0.0)
    assert len(bans) <= 100
    assert bans.is_banned("id:999", now=1.0)
    assert not bans.is_banned("id:0", now=1.0)
    assert all(len(reason) <= MAX_ERROR_TEXT for _left, reason in bans.active(now=1.0).values())


def test_expired_bans_are_pruned_on_insert_without_being_looked_up() -> None:
    bans = BanList()
    for i in range(500):
        bans.ban(f"addr:10.0.{i // 256}.{i % 256}", until=10.0, reason="spam", now=0.0)
    assert len(bans) == 500
    bans.ban("id:new", until=100.0, reason="later", now=60.0)
    assert len(bans) == 1

"""The one way tests wait: poll a condition until it holds or a deadline passes.

`wait_until` is for real processes (wall clock, a node may still be starting:
connection errors count as "not yet"); `await_until` is for in-process trio
nodes, where trio's clock (the autojump clock in most tests) drives time.
"""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Callable
from typing import TypeVar

import trio

from rpcclient import RpcError

T = TypeVar("T")

# What a poll of a process may raise while that process starts, stops or is killed.
_NOT_YET = (OSError, urllib.error.URLError, RpcError)


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.2) -> T:
    """Return predicate()'s first truthy value; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except _NOT_YET as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error})")
        time.sleep(interval)


async def await_until(
    predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition", poll: float = 0.02
) -> None:
    """Wait on trio's clock until predicate() holds; AssertionError after `timeout`."""
    with trio.move_on_after(timeout):
        while not predicate():
            await trio.sleep(poll)
        return
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")

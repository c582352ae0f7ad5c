"""Run a trio task tree in a background thread of a test process.

Process-level tests are synchronous (they poll nodes over JSON-RPC); helpers
that must serve sockets meanwhile (a fault-injecting proxy, a hostile peer)
run their own trio loop here. `start()` returns what the main task passed to
`task_status.started(...)`; `stop()` cancels the tree, joins the thread and
re-raises anything the tree raised.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

import trio


class TrioThread:
    def __init__(self, main: Callable[..., Awaitable[None]], name: str = "trio-helper") -> None:
        self._main = main
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self._started_value: Any = None
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> Any:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise AssertionError("trio helper thread did not start")
        if self._error is not None:
            raise self._error
        return self._started_value

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a plain function inside the trio thread (its state is not thread-safe)."""
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)

    def run(self, async_fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Run an async function inside the trio thread and return its result."""
        return trio.from_thread.run(async_fn, *args, trio_token=self._token)

    def stop(self, timeout: float = 10.0) -> None:
        if self._token is not None and self._thread.is_alive():
            try:
                trio.from_thread.run_sync(self._scope.cancel, trio_token=self._token)
            except trio.RunFinishedError:
                pass
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError("trio helper thread did not stop")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            trio.run(self._async_main)
        except BaseException as exc:  # surfaced by start()/stop()
            self._error = exc
        finally:
            self._ready.set()

    async def _async_main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as scope:
            self._scope = scope
            async with trio.open_nursery() as nursery:
                self._started_value = await nursery.start(self._main)
                self._ready.set()

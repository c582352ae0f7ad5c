"""The JSON-RPC HTTP endpoint: a hand-written ASGI app served by hypercorn on trio.

Owns everything HTTP: POST only, JSON content type, the body size cap, CORS
(preflight and response headers). The request body goes to the `Dispatcher`;
its answer goes back as the response. No response of this app is a 500: the
dispatcher turns every failure into a JSON-RPC error.

Slow or stalled clients are bounded here: a request whose body has not fully
arrived `body_timeout_s` after its headers is answered 408; hypercorn drops
a connection that sends nothing for as long (`read_timeout`, longer when the
execution timeout is longer: it also runs while a request is answered) or
stays idle (no request, or headers not complete) past `KEEP_ALIVE_TIMEOUT_S`; at most `max_concurrent_requests`
requests are in progress at once, the next ones are answered 503 at once.
(hypercorn 0.18 has no connection limit of its own.) A client that accepts no
data for `send_timeout_s` has its connection aborted by the kernel
(TCP_USER_TIMEOUT on the listening socket): hypercorn's writes cannot be
cancelled, so without it such a client would hold its connection, and the
server's shutdown, for good.

WebSocket upgrades (any path) are served by `websocket.WsEndpoint`: the same
JSON-RPC methods plus eth_subscribe.

GET requests to the paths in `gets` (the node's /metrics and /health) are
answered by those handlers, under the same concurrency limit; any other GET
is answered 405 as before. `serve_gets` serves only those paths on a
listener of their own.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from plume_node.rpc.dispatch import Dispatcher
from plume_node.rpc.errors import INVALID_REQUEST, SERVER_ERROR
from plume_node.rpc.subscriptions import SubscriptionHub
from plume_node.rpc.websocket import WsEndpoint, WsLimits
from plume_node.rpc.workers import BACKSTOP_GRACE_S, ExecutionLimits, RpcWorkers
from plume_node.stage_cpu import StageClock

log = logging.getLogger("plume.rpc")

DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_BATCH = 100
# How much of an oversized body is read and dropped before answering 413.
DISCARD_LIMIT = 64 * 1024 * 1024
DEFAULT_BODY_TIMEOUT_S = 10.0
DEFAULT_MAX_CONCURRENT_REQUESTS = 256
DEFAULT_SEND_TIMEOUT_S = 10.0
KEEP_ALIVE_TIMEOUT_S = 5.0  # hypercorn's default, stated here because it is a bound we rely on
LISTEN_BACKLOG = 128

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
# A GET handler: () -> (HTTP status, content type, body). Runs in the trio thread: must be cheap.
GetHandler = Callable[[], tuple[int, bytes, bytes]]


class BodyTooLarge(Exception):
    pass


class RpcApp:
    """ASGI application answering JSON-RPC on any path."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        cors_origins: Sequence[str] = ("*",),
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
        max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS,
        gets: Mapping[str, GetHandler] | None = None,
        websockets: WsEndpoint | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.gets = dict(gets or {})
        self.websockets = websockets
        self.cors_origins = tuple(cors_origins)
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.max_concurrent_requests = max_concurrent_requests
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] == "websocket" and self.websockets is not None:
            await self.websockets(scope, receive, send)
            return
        if scope["type"] != "http":
            return  # hypercorn closes the connection
        if self.in_progress >= self.max_concurrent_requests:
            await _send_json_error(
                send, 503, SERVER_ERROR,
                f"server busy: {self.max_concurrent_requests} requests in progress; retry shortly", [],
            )
            return
        self.in_progress += 1
        try:
            await self._http(scope, receive, send)
        finally:
            self.in_progress -= 1

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cors = self._cors_headers(headers.get("origin"))
        method = scope["method"]
        if method == "OPTIONS":
            await self._preflight(send, headers, cors)
            return
        if method == "GET" and scope["path"] in self.gets:
            await _answer_get(send, self.gets[scope["path"]], cors)
            return
        if method != "POST":
            await _send_json_error(
                send, 405, INVALID_REQUEST, f"HTTP {method} is not supported: send JSON-RPC with POST",
                cors + [(b"allow", b"POST, OPTIONS")],
            )
            return
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            shown = content_type or "none"
            await _send_json_error(
                send, 415, INVALID_REQUEST,
                f"content type {shown!s} is not supported: send Content-Type: application/json", cors,
            )
            return
        declared = headers.get("content-length")
        try:
            with trio.fail_after(self.body_timeout_s):
                body = await self._read_body(receive)
        except BodyTooLarge:
            size = int(declared) if declared is not None and declared.isdigit() else None
            await self._too_large(send, cors, size)
            return
        except trio.TooSlowError:
            await _send_json_error(
                send, 408, INVALID_REQUEST,
                f"request body not received within {self.body_timeout_s:g}s", cors + [(b"connection", b"close")],
            )
            return
        if body is None:
            return  # the client went away
        # Cheap methods run here, in the trio thread, between two commits, so each
        # sees one consistent state; EVM execution and log scans go to workers
        # on a database snapshot (see workers.py).
        answer = await self.dispatcher.handle_body(body)
        if answer is None:
            await _send(send, 204, b"", cors)
            return
        await _send(send, 200, answer, cors + [(b"content-type", b"application/json")])

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                # Keep reading (and dropping) the rest: answering before the
                # client has sent it all makes most clients see a broken pipe
                # instead of our 413. Past DISCARD_LIMIT, answer anyway.
                if size > DISCARD_LIMIT or not message.get("more_body", False):
                    raise BodyTooLarge()
                chunks = []
                continue
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, send: Send, cors: list[tuple[bytes, bytes]], size: int | None) -> None:
        got = f"{size} bytes" if size is not None else "the request body"
        await _send_json_error(
            send, 413, INVALID_REQUEST,
            f"request too large: {got} exceeds the limit of {self.max_body_bytes} bytes", cors,
        )

    def _cors_headers(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        if "*" in self.cors_origins:
            return [(b"access-control-allow-origin", b"*")]
        if origin is not None and origin in self.cors_origins:
            return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
        return [(b"vary", b"Origin")] if self.cors_origins else []

    async def _preflight(self, send: Send, headers: dict[str, str], cors: list[tuple[bytes, bytes]]) -> None:
        if not any(name == b"access-control-allow-origin" for name, _ in cors):
            # Not an allowed origin: answer without CORS grants, the browser blocks it.
            await _send(send, 204, b"", cors)
            return
        requested = headers.get("access-control-request-headers", "content-type")
        await _send(
            send, 204, b"",
            cors + [
                (b"access-control-allow-methods", b"POST, OPTIONS"),
                (b"access-control-allow-headers", requested.encode("latin-1")),
                (b"access-control-max-age", b"600"),
            ],
        )


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _answer_get(send: Send, handler: GetHandler, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    status, content_type, body = handler()
    await _send(send, status, body, list(headers) + [(b"content-type", content_type), (b"cache-control", b"no-store")])


class GetOnlyApp:
    """ASGI app answering only GET on the paths of `gets` (404 elsewhere, 405 for other methods)."""

    def __init__(self, gets: Mapping[str, GetHandler], max_concurrent_requests: int) -> None:
        self.gets = dict(gets)
        self.max_concurrent_requests = max_concurrent_requests
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if self.in_progress >= self.max_concurrent_requests:
            await _send(send, 503, b"busy\n", [(b"content-type", b"text/plain")])
            return
        self.in_progress += 1
        try:
            handler = self.gets.get(scope["path"])
            if scope["method"] != "GET":
                await _send(send, 405, b"only GET\n", [(b"content-type", b"text/plain"), (b"allow", b"GET")])
            elif handler is None:
                await _send(send, 404, b"not found\n", [(b"content-type", b"text/plain")])
            else:
                await _answer_get(send, handler)
        finally:
            self.in_progress -= 1


async def _send(send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]]) -> None:
    all_headers = list(headers) + [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


async def _send_json_error(
    send: Send, status: int, code: int, message: str, headers: Iterable[tuple[bytes, bytes]]
) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}).encode()
    await _send(send, status, body, list(headers) + [(b"content-type", b"application/json")])


async def serve_rpc(
    backend: Any,
    host: str,
    port: int,
    *,
    cors_origins: Sequence[str] = ("*",),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    limits: ExecutionLimits = ExecutionLimits(),
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS,
    gets: Mapping[str, GetHandler] | None = None,
    on_request: Callable[[str, bool], None] | None = None,
    ws_limits: WsLimits = WsLimits(),
    send_timeout_s: float = DEFAULT_SEND_TIMEOUT_S,
    stage_clock: StageClock | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the JSON-RPC API of `backend` (an `RpcBackend`) until cancelled.

    Start it with `port = await nursery.start(serve_rpc, backend, host, port)`:
    it reports the port actually bound (so `port=0` picks a free one).
    `backend.events` (a `ChainEvents`) feeds the WebSocket subscriptions.
    `stage_clock` counts the CPU of the worker threads (as `Stage.RPC`).
    """
    from plume_node.rpc.methods import build_method_table, refuse_submissions

    workers = RpcWorkers(limits, stage_clock)
    table = build_method_table()
    if backend.observer:  # explicit: a backend without the attribute fails loudly, never open
        refuse_submissions(table)
    dispatcher = Dispatcher(table, backend, max_batch=max_batch, workers=workers, on_request=on_request)
    hub = SubscriptionHub(backend.chain, backend.mempool)
    backend.events.listen(on_commit=hub.committed, on_pending=hub.pending)
    backend.events.listen_compliance(hub.compliance, hub.compliance_wanted)
    app = RpcApp(
        dispatcher, cors_origins=cors_origins, max_body_bytes=max_body_bytes,
        body_timeout_s=body_timeout_s, max_concurrent_requests=max_concurrent_requests, gets=gets,
        websockets=WsEndpoint(dispatcher, hub, ws_limits, tuple(cors_origins)),
    )
    # hypercorn's read timeout also runs while a request is being answered
    # (the client is silent then): leave room for the longest execution.
    read_timeout_s = max(body_timeout_s, limits.timeout_s + BACKSTOP_GRACE_S + 5.0)
    config = hypercorn_config(host, port, read_timeout_s)
    config.websocket_max_message_size = max_body_bytes
    # A live WebSocket client answers pings, so an idle one is not dropped by the read timeout.
    config.websocket_ping_interval = read_timeout_s / 2
    _listen_with_send_timeout(config, send_timeout_s)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(hub.run)
            binds = await nursery.start(serve, app, config)
            bound_port = int(binds[0].rsplit(":", 1)[1])
            log.debug("JSON-RPC listening on %s", binds[0])  # the node logs its URL once
            task_status.started(bound_port)
    finally:
        # Stop the EVM workers (they check the cancel flag every ~1000 opcodes)
        # before the node closes the database under them.
        await workers.drain()


async def serve_gets(
    gets: Mapping[str, GetHandler],
    host: str,
    port: int,
    *,
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve only the GET paths of `gets` (the metrics listener) until cancelled; reports the bound port."""
    app = GetOnlyApp(gets, max_concurrent_requests)
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, app, hypercorn_config(host, port, DEFAULT_BODY_TIMEOUT_S))
        task_status.started(int(binds[0].rsplit(":", 1)[1]))


def hypercorn_config(host: str, port: int, read_timeout_s: float) -> Config:
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = log
    config.graceful_timeout = 1.0
    # Room for the largest allowed body plus headers in one incomplete request.
    config.h11_max_incomplete_size = 64 * 1024
    # A connection that sends nothing for this long is closed, request or not.
    config.read_timeout = read_timeout_s  # type: ignore[assignment]
    config.keep_alive_timeout = KEEP_ALIVE_TIMEOUT_S
    config.backlog = LISTEN_BACKLOG
    return config


def _listen_with_send_timeout(config: Config, send_timeout_s: float) -> None:
    """Bind the socket here and hand it to hypercorn by file descriptor, with
    TCP_USER_TIMEOUT set: accepted connections inherit it, so the kernel aborts
    one whose client accepted no data (a zero receive window included) for
    `send_timeout_s`. Raises OSError when the address cannot be bound."""
    (sock,) = config.create_sockets().insecure_sockets
    if hasattr(socket, "TCP_USER_TIMEOUT"):  # Linux
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, max(1, int(send_timeout_s * 1000)))
    config.bind = [f"fd://{sock.detach()}"]


__all__ = ["serve_rpc", "serve_gets", "RpcApp", "GetOnlyApp"]

"""JSON-RPC over WebSocket, on the HTTP server's port (an HTTP/1.1 upgrade on any path).

Each text (or UTF-8 binary) message is a JSON-RPC body answered by the same
`Dispatcher` rules as HTTP: batch size, JSON depth, worker threads for
execution, error shapes; a message is at most `max_body_bytes` (hypercorn
closes the connection with 1009 past it). On top of the HTTP methods a
connection has `eth_subscribe` / `eth_unsubscribe` (subscriptions.py), and
`plume_subscribe` / `plume_unsubscribe` for the compliance service's
`alerts` and `fundFlows` (same queues and limits).

Bounds (config `[rpc]`, docs/rpc.md "WebSocket"):

* at most `max_ws_connections` connections; the next upgrade is answered 503.
* at most `max_ws_subscriptions` subscriptions per connection.
* everything sent to a client (answers and notifications) waits in a queue
  of at most `ws_send_queue` messages and `ws_send_queue_bytes` bytes (one
  message larger than that is let through an empty queue). A client that
  does not read fills it: the connection is dropped at once (its
  subscriptions end, nothing more is queued, its messages are no longer
  read) and closed with 1008 (the connection ends DROPPED_CLOSE_GRACE_S after
  the close frame if the client does not answer it). hypercorn's socket writes cannot be
  interrupted, so a writer stuck on a client that accepts no data is freed
  by the kernel: the listening socket carries TCP_USER_TIMEOUT
  (`send_timeout_ms`), which aborts a connection whose client accepted no
  data for that long.
* requests of one connection are answered one after the other; the
  connection is pinged every half read timeout and closed when nothing
  (not even a pong) arrives for the read timeout (server.py).
* a browser page may connect only from an origin in `cors_origins`, as it
  may POST (a WebSocket is not subject to CORS, so the Origin is checked here).
* permessage-deflate is declined: wsproto inflates a compressed message
  without a bound before hypercorn's size check sees it (64 KiB in, ~64 MiB
  out, and ~100 ms of the trio thread, per read), so compression would turn a
  few KiB of a client's bytes into a stall of consensus. Clients fall back to
  uncompressed messages; a compressed frame anyway closes the connection (1002).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import trio
from hypercorn.protocol import ws_stream
from wsproto.extensions import Extension

from plume_node.rpc import params as p
from plume_node.rpc.dispatch import Dispatcher, MethodTable, Param
from plume_node.rpc.errors import LIMIT_EXCEEDED, METHOD_NOT_FOUND, SERVER_ERROR, InvalidParams, RpcError
from plume_node.rpc.methods_logs import BloomQuery, log_filter
from plume_node.rpc.subscriptions import Kind, PlumeKind, Subscription, SubscriptionHub, new_subscription_id

log = logging.getLogger("plume.rpc")

DEFAULT_MAX_WS_CONNECTIONS = 100
DEFAULT_MAX_WS_SUBSCRIPTIONS = 100
DEFAULT_WS_SEND_QUEUE = 1000
DEFAULT_WS_SEND_QUEUE_BYTES = 4 * 1024 * 1024
CLOSE_POLICY_VIOLATION = 1008
# After the close frame of a dropped client has gone out, how long the client
# has to answer it before the connection is closed anyway: a client that
# never reads never answers, and hypercorn would keep waiting for it.
DROPPED_CLOSE_GRACE_S = 5.0

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class WsLimits:
    max_connections: int = DEFAULT_MAX_WS_CONNECTIONS
    max_subscriptions: int = DEFAULT_MAX_WS_SUBSCRIPTIONS  # per connection
    send_queue: int = DEFAULT_WS_SEND_QUEUE  # messages waiting to be sent, per connection
    send_queue_bytes: int = DEFAULT_WS_SEND_QUEUE_BYTES  # their size, per connection


class WsSession:
    """One connection: its send queue (the hub's `Outbox`) and its subscriptions."""

    def __init__(self, limits: WsLimits, hub: SubscriptionHub) -> None:
        self.limits = limits
        self.hub = hub
        self.queue_send, self.queue_receive = trio.open_memory_channel[str](max(1, limits.send_queue))
        self.queued_bytes = 0
        self.dropped: str | None = None  # why, once dropped
        self.subscription_ids: set[str] = set()

    def push(self, message: str) -> bool:
        if self.dropped is not None:
            return False
        size = len(message)
        if self.queued_bytes and self.queued_bytes + size > self.limits.send_queue_bytes:
            self.drop(f"send queue over {self.limits.send_queue_bytes} bytes: the client does not read")
            return False
        try:
            self.queue_send.send_nowait(message)
        except trio.WouldBlock:
            self.drop(f"send queue over {self.limits.send_queue} messages: the client does not read")
            return False
        self.queued_bytes += size
        return True

    def taken(self, message: str) -> None:
        self.queued_bytes -= len(message)

    def drop(self, reason: str) -> None:
        if self.dropped is None:
            self.dropped = reason
            log.info("WebSocket client dropped: %s", reason)
            self.end_subscriptions()
            self.queue_send.close()

    def end_subscriptions(self) -> None:
        for subscription_id in self.subscription_ids:
            self.hub.remove(subscription_id)
        self.subscription_ids.clear()

    # ---- eth_subscribe / eth_unsubscribe of this connection

    def subscribe(self, kind: Kind | PlumeKind, options: Any) -> str:
        if len(self.subscription_ids) >= self.limits.max_subscriptions:
            raise RpcError(
                LIMIT_EXCEEDED,
                f"too many subscriptions on this connection (at most {self.limits.max_subscriptions}); "
                "end some with eth_unsubscribe",
            )
        sub = self._subscription(new_subscription_id(), kind, options)
        self.hub.add(sub)
        self.subscription_ids.add(sub.id)
        return sub.id

    def _subscription(self, subscription_id: str, kind: Kind | PlumeKind, options: Any) -> Subscription:
        if kind is Kind.LOGS:
            criteria = log_filter({} if options is None else options, "filter")
            if criteria.block_hash is not None:
                raise InvalidParams("filter.blockHash: a logs subscription follows new blocks; use eth_getLogs")
            return Subscription(subscription_id, kind, self, criteria, BloomQuery(criteria))
        if kind is Kind.PENDING:
            full = False if options is None else p.boolean(options, "fullTransactions")
            return Subscription(subscription_id, kind, self, full_transactions=full)
        if options is not None:
            raise InvalidParams(f"{kind.value} takes no options")
        return Subscription(subscription_id, kind, self)

    def unsubscribe(self, subscription_id: str, plume: bool = False) -> bool:
        """End a subscription of this connection in its own namespace (as geth keeps
        namespaces apart): eth_unsubscribe never ends a plume_subscribe one, nor the reverse."""
        if subscription_id not in self.subscription_ids:
            return False
        sub = self.hub.subscriptions.get(subscription_id)
        if sub is not None and isinstance(sub.kind, PlumeKind) != plume:
            return False
        self.subscription_ids.discard(subscription_id)
        return self.hub.remove(subscription_id)


def _kind(value: Any, name: str) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        # as geth words it, the name JSON-quoted (a non-string is no name at all)
        shown = json.dumps(value[:64]) if isinstance(value, str) else "such"
        raise RpcError(
            METHOD_NOT_FOUND,
            f"no {shown} subscription in eth namespace (there are {', '.join(k.value for k in Kind)})",
        ) from None


def _plume_kind(value: Any, name: str) -> PlumeKind:
    try:
        return PlumeKind(value)
    except ValueError:
        shown = value[:64] if isinstance(value, str) else type(value).__name__
        raise RpcError(
            METHOD_NOT_FOUND,
            f"no {shown!r} subscription in plume namespace (there are {', '.join(k.value for k in PlumeKind)})",
        ) from None


def _subscription_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) > 66:
        raise InvalidParams(f"{name}: expected a subscription id (0x-prefixed hex) returned by eth_subscribe")
    return value.lower()


def session_methods(session: WsSession) -> MethodTable:
    table = MethodTable()

    @table.register("eth_subscribe", Param("kind", _kind), Param("options", lambda v, n: v, None))
    def eth_subscribe(backend: Any, kind: Kind, options: Any) -> str:
        return session.subscribe(kind, options)

    @table.register("eth_unsubscribe", Param("id", _subscription_id))
    def eth_unsubscribe(backend: Any, subscription_id: str) -> bool:
        return session.unsubscribe(subscription_id)

    # The compliance service's alerts and fund flows (docs/compliance.md), notified as plume_subscription.
    @table.register("plume_subscribe", Param("kind", _plume_kind), Param("options", lambda v, n: v, None))
    def plume_subscribe(backend: Any, kind: PlumeKind, options: Any) -> str:
        if not backend.compliance_enabled:  # nothing would ever be notified: say so
            raise RpcError(
                SERVER_ERROR,
                "this node runs no compliance service (no compliance.toml in its home and not started with "
                "--observer): plume_subscribe has nothing to notify",
            )
        return session.subscribe(kind, options)

    @table.register("plume_unsubscribe", Param("id", _subscription_id))
    def plume_unsubscribe(backend: Any, subscription_id: str) -> bool:
        return session.unsubscribe(subscription_id, plume=True)

    return table


def http_subscription_methods() -> MethodTable:
    """eth_subscribe / eth_unsubscribe over HTTP: refused as geth does, saying where they work."""
    table = MethodTable()

    def refuse(backend: Any, *args: Any) -> None:
        raise RpcError(METHOD_NOT_FOUND, "notifications not supported: subscribe over a WebSocket (ws://) connection")

    for namespace in ("eth", "plume"):
        table.register(f"{namespace}_subscribe", Param("kind", lambda v, n: v), Param("options", lambda v, n: v, None))(refuse)
        table.register(f"{namespace}_unsubscribe", Param("id", lambda v, n: v))(refuse)
    return table


class _DeclinedDeflate(Extension):
    """Answers a client's permessage-deflate offer with no."""

    name = "permessage-deflate"

    def offer(self) -> bool:
        return False

    def accept(self, offer: str) -> None:
        return None


def decline_compression() -> None:
    """Make hypercorn's handshake decline permessage-deflate.

    hypercorn builds its server extensions from this module global on every
    accept and offers no setting for it, so the global is replaced (for this
    process: the node runs one hypercorn, this one)."""
    ws_stream.PerMessageDeflate = _DeclinedDeflate  # type: ignore[misc, assignment]


class WsEndpoint:
    """Serves websocket scopes for `RpcApp`."""

    def __init__(self, dispatcher: Dispatcher, hub: SubscriptionHub, limits: WsLimits,
                 cors_origins: tuple[str, ...]) -> None:
        self.dispatcher = dispatcher
        self.hub = hub
        self.limits = limits
        self.cors_origins = cors_origins
        self.connections = 0
        decline_compression()

    def origin_allowed(self, origin: str | None) -> bool:
        # No Origin header: not a browser page, which is what CORS protects.
        return origin is None or "*" in self.cors_origins or origin in self.cors_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        origin = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"origin"), None)
        if not self.origin_allowed(origin):
            await _refuse(send, 403, "origin not allowed (rpc.cors_origins)")
            return
        if self.connections >= self.limits.max_connections:
            await _refuse(send, 503, f"server busy: {self.limits.max_connections} WebSocket connections open")
            return
        self.connections += 1
        session = WsSession(self.limits, self.hub)
        try:
            await send({"type": "websocket.accept"})
            await self._serve(session, receive, send)
        finally:
            self.connections -= 1
            session.end_subscriptions()

    async def _serve(self, session: WsSession, receive: Receive, send: Send) -> None:
        table = MethodTable(dict(self.dispatcher.table.methods))
        table.methods.update(session_methods(session).methods)
        dispatcher = Dispatcher(table, self.dispatcher.context, max_batch=self.dispatcher.max_batch,
                                workers=self.dispatcher.workers)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_write, session, send, nursery.cancel_scope)
            await _read(session, dispatcher, receive)
            nursery.cancel_scope.cancel()  # the client is gone: stop writing


async def _read(session: WsSession, dispatcher: Dispatcher, receive: Receive) -> None:
    """Answer each message until the client disconnects. Messages keep being
    received after a drop (and ignored): hypercorn waits for us to take its
    disconnect event before it lets the connection go."""
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if session.dropped is not None:
            continue
        text = message.get("text")
        body = text.encode("utf-8") if text is not None else (message.get("bytes") or b"")
        answer = await dispatcher.handle_body(body)
        if answer is not None:
            session.push(answer.decode("utf-8"))


async def _write(session: WsSession, send: Send, connection: trio.CancelScope) -> None:
    async for message in session.queue_receive:
        if session.dropped is not None:
            break
        session.taken(message)
        await send({"type": "websocket.send", "text": message})
    if session.dropped is not None:
        # Blocks, like any write, until the client reads or the kernel aborts the socket.
        await send({"type": "websocket.close", "code": CLOSE_POLICY_VIOLATION, "reason": "send queue full"})
        # The frame went out while the socket still had room; a client that does
        # not read will never answer it: end the connection after a grace.
        await trio.sleep(DROPPED_CLOSE_GRACE_S)
        connection.cancel()


async def _refuse(send: Send, status: int, reason: str) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": SERVER_ERROR, "message": reason}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})


__all__ = ["WsEndpoint", "WsLimits", "WsSession", "http_subscription_methods"]

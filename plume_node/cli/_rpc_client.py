"""A small synchronous JSON-RPC client for the CLI (stdlib urllib only).

The CLI must not need web3; this is all it takes to talk to a node. Failures
become `RpcClientError` with one line a user can act on: which URL could not
be reached and that the node should be started, or the node's own message.
"""

from __future__ import annotations

import itertools
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from plume_node import jsonlimits

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
EXECUTION_REVERTED = 3  # the node's error code for a reverted eth_call / eth_estimateGas (docs/rpc.md)


class RpcClientError(Exception):
    """A failure talking to the node; str() is the one line to show."""


@dataclass(frozen=True)
class NodeRpcError(RpcClientError):
    """The node answered with a JSON-RPC error."""

    code: int
    message: str
    data: Any = None

    def __str__(self) -> str:
        return self.message


UNREACHABLE_HINT = "start it with `plume-node start` or pass --rpc URL"


class RpcClient:
    """`max_response_bytes`: refuse a longer answer (None: no bound); `unreachable_hint`
    ends the message when the node cannot be reached."""

    def __init__(
        self,
        url: str = DEFAULT_RPC_URL,
        *,
        timeout: float = 10.0,
        max_response_bytes: int | None = None,
        unreachable_hint: str = UNREACHABLE_HINT,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.unreachable_hint = unreachable_hint
        self._ids = itertools.count(1)

    def call(self, method: str, *params: Any) -> Any:
        request_id = next(self._ids)
        body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}).encode()
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = self._read(response)
        except urllib.error.HTTPError as exc:
            # The node answers some errors (oversized body, ...) with a non-200
            # status and a JSON-RPC error body: show its message if there is one.
            raw = exc.read()
            message = _error_message(raw)
            raise RpcClientError(message or f"node at {self.url} answered HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            raise RpcClientError(f"cannot reach the node at {self.url} ({reason}); {self.unreachable_hint}") from None
        except (TimeoutError, socket.timeout):
            raise RpcClientError(f"the node at {self.url} did not answer within {self.timeout:g}s") from None
        except (ConnectionError, OSError) as exc:
            raise RpcClientError(f"cannot reach the node at {self.url} ({exc}); {self.unreachable_hint}") from None
        try:
            answer = jsonlimits.loads(raw)
        except ValueError:
            raise RpcClientError(f"the server at {self.url} did not answer JSON-RPC (is it a Plume node?)") from None
        if not isinstance(answer, dict):
            raise RpcClientError(f"the server at {self.url} sent an unexpected answer to {method}")
        if "error" in answer and isinstance(answer["error"], dict):
            error = answer["error"]
            raise NodeRpcError(int(error.get("code", 0)), str(error.get("message", "unknown error")), error.get("data"))
        if "result" not in answer:
            raise RpcClientError(f"the server at {self.url} sent an unexpected answer to {method}")
        return answer["result"]

    def _read(self, response: Any) -> bytes:
        if self.max_response_bytes is None:
            return response.read()
        raw = response.read(self.max_response_bytes + 1)
        if len(raw) > self.max_response_bytes:
            raise RpcClientError(f"the answer of {self.url} is larger than {self.max_response_bytes} bytes")
        return raw


def _error_message(raw: bytes) -> str | None:
    try:
        answer = jsonlimits.loads(raw)
        return str(answer["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return None


def to_int(quantity: str | None) -> int | None:
    return None if quantity is None else int(quantity, 16)

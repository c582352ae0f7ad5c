"""The one JSON-RPC client the tests use to talk to a node process, as a user would."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class RpcError(Exception):
    """The node answered with a JSON-RPC error object (kept in `.error`)."""

    def __init__(self, error: dict) -> None:
        super().__init__(error)
        self.error = error

    @property
    def code(self) -> int | None:
        return self.error.get("code") if isinstance(self.error, dict) else None


def rpc(url: str, method: str, *params: Any, timeout: float = 5.0) -> Any:
    """Call `method` on the node at `url`; return its result or raise RpcError."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise RpcError(reply["error"])
    return reply["result"]


def post(
    url: str, body: bytes, *, headers: dict[str, str] | None = None, method: str = "POST", timeout: float = 30
) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request: (status, headers, body), HTTP errors included."""
    request = urllib.request.Request(
        url, data=body if method == "POST" else None, method=method,
        headers=headers if headers is not None else {"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def post_json(url: str, body: bytes, timeout: float = 30) -> tuple[int, Any]:
    """POST raw bytes (valid JSON-RPC or not); return the status and the decoded answer."""
    status, _, answer = post(url, body, timeout=timeout)
    return status, json.loads(answer)

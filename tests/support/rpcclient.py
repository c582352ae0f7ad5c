"""The one JSON-RPC client the tests use to talk to a node process, as a user would."""

from __future__ import annotations

import json
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

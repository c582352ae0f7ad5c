"""JSON-RPC 2.0 request handling: from a request body to a response body.

Owns the protocol rules (single and batch requests, notifications, ids,
positional or named params) and the method table. Knows nothing of HTTP
(`server.py`) or of what the methods do (`methods_*.py`). Whatever the body
holds, `Dispatcher.handle_body` returns a JSON-RPC answer: a method that raises
something other than `RpcError` is a bug and becomes -32603 naming the method
(the exception goes to the log with its traceback, never to the client), and
the server keeps serving.

The body's nesting depth is bounded before it is parsed (`plume_node.jsonlimits`).
Methods run in the trio thread and must be cheap; one that executes EVM code
or scans logs returns `OffThread(work)` and the dispatcher runs `work` in a
worker thread (`workers.py`) under the body's `ExecutionBudget`, shared by
every request of a batch.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from execution.budget import ExecutionBudget
from execution.errors import ExecutionError, truncate
from plume_node import jsonlimits
from plume_node.rpc.errors import (
    INTERNAL_ERROR,
    PARSE_ERROR,
    InvalidParams,
    InvalidRequest,
    RpcError,
    METHOD_NOT_FOUND,
    execution_error,
)
from plume_node.rpc.params import names as key_names
from plume_node.rpc.workers import OffThread, RpcWorkers

log = logging.getLogger("plume.rpc")

_MISSING = object()
# A request id is echoed back; a string id longer than this is refused.
MAX_ID_CHARS = 256


@dataclass(frozen=True)
class Param:
    """One positional parameter: its name (used in error messages), its parser,
    and its default when omitted (`_MISSING` = required)."""

    name: str
    parse: Callable[[Any, str], Any]
    default: Any = _MISSING
    # When True, an explicit JSON null is treated as omitted (web3 sends null
    # for optional trailing arguments in a few places).
    null_is_default: bool = True

    @property
    def required(self) -> bool:
        return self.default is _MISSING


@dataclass(frozen=True)
class Method:
    name: str
    params: tuple[Param, ...]
    func: Callable[..., Any]


@dataclass
class MethodTable:
    methods: dict[str, Method] = field(default_factory=dict)

    def register(self, name: str, *params: Param) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            if name in self.methods:
                raise ValueError(f"RPC method {name} registered twice")
            self.methods[name] = Method(name, params, func)
            return func

        return decorator

    def merge(self, other: "MethodTable") -> None:
        for name, method in other.methods.items():
            if name in self.methods:
                raise ValueError(f"RPC method {name} registered twice")
            self.methods[name] = method


def _bind(method: Method, raw: Any) -> list[Any]:
    """Turn the request's `params` into parsed positional arguments."""
    specs = method.params
    if raw is None:
        given: list[Any] = []
    elif isinstance(raw, list):
        given = raw
        if len(given) > len(specs):
            raise InvalidParams(
                f"too many arguments for {method.name}: want at most {len(specs)}, got {len(given)}"
            )
    elif isinstance(raw, dict):
        names = {p.name for p in specs}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise InvalidParams(
                f"unknown parameter(s) {key_names(unknown)} for {method.name}; it takes {', '.join(p.name for p in specs)}"
            )
        given = [raw.get(p.name, _MISSING) for p in specs]
        while given and given[-1] is _MISSING:
            given.pop()
    else:
        raise InvalidParams("params must be an array (or an object of named parameters)")
    args = []
    for index, spec in enumerate(specs):
        value = given[index] if index < len(given) else _MISSING
        if value is None and spec.null_is_default and not spec.required:
            value = _MISSING
        if value is _MISSING:
            if spec.required:
                raise InvalidParams(f"missing value for required argument {index} ({spec.name})")
            args.append(spec.default)
        else:
            args.append(spec.parse(value, spec.name))
    return args


def _error_response(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class Dispatcher:
    """Answers JSON-RPC bodies by calling methods of `table` with `context`."""

    def __init__(
        self,
        table: MethodTable,
        context: Any,
        *,
        max_batch: int = 100,
        workers: RpcWorkers | None = None,
        on_request: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.table = table
        self.on_request = on_request  # (method name, failed) of each call, for metrics
        self.context = context
        self.max_batch = max_batch
        self.workers = workers if workers is not None else RpcWorkers()

    async def handle_body(self, body: bytes) -> bytes | None:
        """The response body for a request body, or None when every request
        was a notification (JSON-RPC 2.0: no answer at all)."""
        try:
            request = jsonlimits.loads(body, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            # UnicodeDecodeError, JSONDecodeError and JsonTooDeep are ValueErrors.
            reason = "nesting too deep" if isinstance(exc, RecursionError) else truncate(str(exc))
            return _dumps(_error_response(None, RpcError(PARSE_ERROR, f"parse error: {reason}")))
        if isinstance(request, list):
            if not request:
                return _dumps(_error_response(None, InvalidRequest("empty batch")))
            if len(request) > self.max_batch:
                return _dumps(
                    _error_response(
                        None,
                        InvalidRequest(
                            f"batch of {len(request)} requests exceeds the limit of {self.max_batch}; split it"
                        ),
                    )
                )
        budget = self.workers.new_budget()
        try:
            if isinstance(request, list):
                answers = [a for a in [await self.handle_one(r, budget) for r in request] if a is not None]
                return _dumps(answers) if answers else None
            answer = await self.handle_one(request, budget)
        finally:
            self.workers.finish(budget)
        return None if answer is None else _dumps(answer)

    async def handle_one(self, request: Any, budget: ExecutionBudget) -> dict[str, Any] | None:
        """The response object for one request object, or None for a notification."""
        if not isinstance(request, dict):
            return _error_response(None, InvalidRequest("invalid request: expected a JSON object"))
        has_id = "id" in request
        request_id = request.get("id")
        if not (request_id is None or isinstance(request_id, (str, int, float)) and not isinstance(request_id, bool)):
            return _error_response(None, InvalidRequest("invalid request: id must be a string, number or null"))
        if isinstance(request_id, float) and not math.isfinite(request_id):
            # 1e999 parses as infinity, which JSON cannot carry back.
            return _error_response(None, InvalidRequest("invalid request: id is not a finite number"))
        if isinstance(request_id, str) and len(request_id) > MAX_ID_CHARS:
            return _error_response(None, InvalidRequest(f"invalid request: id longer than {MAX_ID_CHARS} characters"))
        if request.get("jsonrpc") != "2.0":
            return _error_response(request_id, InvalidRequest('invalid request: "jsonrpc" must be "2.0"'))
        name = request.get("method")
        if not isinstance(name, str):
            return _error_response(request_id, InvalidRequest('invalid request: "method" must be a string'))
        try:
            result = await self.call(name, request.get("params"), budget)
        except RpcError as error:
            response = _error_response(request_id, error)
        else:
            response = {"jsonrpc": "2.0", "id": request_id, "result": result}
        if self.on_request is not None:
            self.on_request(name, "error" in response)
        return response if has_id else None

    async def call(self, name: str, params: Any, budget: ExecutionBudget) -> Any:
        method = self.table.methods.get(name)
        if method is None:
            raise RpcError(METHOD_NOT_FOUND, f"the method {truncate(name, 64)} does not exist/is not available")
        args = _bind(method, params)
        try:
            result = method.func(self.context, *args)
            if isinstance(result, OffThread):
                result = await self.workers.run(self.context.chain, budget, result.work)
            return result
        except RpcError:
            raise
        except ExecutionError as exc:
            # An execution that was refused or stopped (budget, invalid call):
            # the client's doing, answered without a traceback.
            raise execution_error(exc) from None
        except Exception as exc:  # a bug in a method or below it: answer, log, keep serving
            log.exception("RPC method %s failed", name)
            # The exception's text is for the log: it may be py-evm's, with Python reprs.
            raise RpcError(INTERNAL_ERROR, f"internal error in {truncate(name, 64)}: a node bug, logged by the node") from exc


def _dumps(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        # A non-finite float echoed from the request (say in an error message
        # path): answer an error rather than emit invalid JSON.
        log.warning("RPC answer was not representable as JSON")
        return json.dumps(
            {"jsonrpc": "2.0", "id": None, "error": {"code": INTERNAL_ERROR, "message": "answer not representable as JSON"}},
            separators=(",", ":"),
        ).encode()

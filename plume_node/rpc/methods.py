"""The method table: every JSON-RPC method the node answers, by namespace module."""

from __future__ import annotations

import re
from typing import Any

from plume_node.rpc.dispatch import Method, MethodTable
from plume_node.rpc.errors import RpcError
from plume_node.rpc.websocket import http_subscription_methods

# An observer node (docs/compliance.md, "Observer") refuses these with OBSERVER_REFUSED:
# every method that submits or signs, by name (so one added later is covered too).
SUBMITS_OR_SIGNS = re.compile(r"^[a-z]+_(send|sign|submit)", re.IGNORECASE)
OBSERVER_REFUSED = -32003  # EIP-1474's "transaction rejected"


def build_method_table() -> MethodTable:
    """A fresh table per server: the filter methods keep per-server state."""
    from plume_node.rpc import (
        methods_compliance,
        methods_config,
        methods_eth,
        methods_fees,
        methods_filters,
        methods_gov,
        methods_logs,
        methods_net,
        methods_perms,
        methods_plume,
        methods_sim,
        methods_staking,
    )

    table = MethodTable()
    for module in (methods_net, methods_eth, methods_fees, methods_logs, methods_plume, methods_staking,
                   methods_compliance):
        table.merge(module.table)
    for module in (methods_sim, methods_config, methods_gov, methods_perms):
        table.merge(module.table)
    table.merge(methods_filters.make_table(methods_filters.FilterRegistry()))
    # Over HTTP these answer "not supported"; a WebSocket connection has its own (websocket.py).
    table.merge(http_subscription_methods())
    table.merge(_modules_table(table))
    return table


def _modules_table(served: MethodTable) -> MethodTable:
    """rpc_modules, as geth answers it: each namespace the node serves, with version "1.0"."""
    namespaces = sorted({name.split("_", 1)[0] for name in served.methods} | {"rpc"})
    table = MethodTable()
    table.register("rpc_modules")(lambda backend: {ns: "1.0" for ns in namespaces})
    return table


def refuse_submissions(table: MethodTable) -> None:
    """Make every method that submits or signs answer OBSERVER_REFUSED (an observer node)."""
    for name, method in list(table.methods.items()):
        if SUBMITS_OR_SIGNS.match(name):
            table.methods[name] = Method(name, method.params, _refusal(name))


def _refusal(name: str) -> Any:
    def refuse(backend: Any, *args: Any) -> None:
        raise RpcError(OBSERVER_REFUSED, f"this node is a read-only observer: {name} submits or signs and is refused",
                       data="observer")

    return refuse

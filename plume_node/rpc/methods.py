"""The method table: every JSON-RPC method the node answers, by namespace module."""

from __future__ import annotations

from plume_node.rpc.dispatch import MethodTable
from plume_node.rpc.websocket import http_subscription_methods


def build_method_table() -> MethodTable:
    """A fresh table per server: the filter methods keep per-server state."""
    from plume_node.rpc import (
        methods_config,
        methods_eth,
        methods_fees,
        methods_filters,
        methods_logs,
        methods_net,
        methods_plume,
        methods_sim,
        methods_staking,
    )

    table = MethodTable()
    for module in (methods_net, methods_eth, methods_fees, methods_logs, methods_plume, methods_staking):
        table.merge(module.table)
    for module in (methods_sim, methods_config):
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

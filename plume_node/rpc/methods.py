"""The method table: every JSON-RPC method the node answers, by namespace module."""

from __future__ import annotations

from plume_node.rpc.dispatch import MethodTable
from plume_node.rpc.websocket import http_subscription_methods


def build_method_table() -> MethodTable:
    """A fresh table per server: the filter methods keep per-server state."""
    from plume_node.rpc import (
        methods_eth,
        methods_fees,
        methods_filters,
        methods_gov,
        methods_logs,
        methods_net,
        methods_plume,
        methods_staking,
    )

    table = MethodTable()
    for module in (methods_net, methods_eth, methods_fees, methods_logs, methods_plume, methods_staking):
        table.merge(module.table)
    table.merge(methods_gov.table)
    table.merge(methods_filters.make_table(methods_filters.FilterRegistry()))
    # Over HTTP these answer "not supported"; a WebSocket connection has its own (websocket.py).
    table.merge(http_subscription_methods())
    return table

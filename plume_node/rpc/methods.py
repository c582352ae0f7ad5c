"""The method table: every JSON-RPC method the node answers, by namespace module."""

from __future__ import annotations

from plume_node.rpc.dispatch import MethodTable


def build_method_table() -> MethodTable:
    from plume_node.rpc import methods_eth, methods_fees, methods_logs, methods_net, methods_plume

    table = MethodTable()
    for module in (methods_net, methods_eth, methods_fees, methods_logs, methods_plume):
        table.merge(module.table)
    return table

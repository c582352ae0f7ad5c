"""An observer's method table: every method that submits or signs answers -32003; reads are untouched."""

from __future__ import annotations

import trio

from execution.budget import ExecutionBudget
from plume_node.rpc.errors import RpcError
from plume_node.rpc.methods import OBSERVER_REFUSED, build_method_table, refuse_submissions

SUBMITTING = {"eth_sendRawTransaction", "eth_sendTransaction", "eth_sign", "eth_signTransaction",
              "eth_signTypedData_v4", "plume_submitEvidence"}


def test_exactly_the_submitting_and_signing_methods_are_refused():
    observer = build_method_table()
    before = {name: method.func for name, method in observer.methods.items()}
    refuse_submissions(observer)
    assert set(observer.methods) == set(before)
    changed = {name for name, func in before.items() if observer.methods[name].func is not func}
    assert changed == SUBMITTING
    for name in changed:
        try:
            observer.methods[name].func(None)
        except RpcError as exc:
            assert exc.code == OBSERVER_REFUSED and exc.data == "observer" and name in exc.message
        else:
            raise AssertionError(f"{name} was not refused")


def test_the_dispatcher_answers_the_refusal():
    from plume_node.rpc.dispatch import Dispatcher

    observer = build_method_table()
    refuse_submissions(observer)
    dispatcher = Dispatcher(observer, context=None)

    async def call():
        try:
            await dispatcher.call("eth_sendRawTransaction", ["0x02"], ExecutionBudget.start(gas_cap=1, total_gas=1, timeout_s=1.0))
        except RpcError as exc:
            return exc
        return None

    error = trio.run(call)
    assert error is not None and error.code == OBSERVER_REFUSED


def test_plume_subscribe_over_http_says_where_it_works():
    table = build_method_table()
    for name in ("plume_subscribe", "plume_unsubscribe"):
        try:
            table.methods[name].func(None, "alerts")
        except RpcError as exc:
            assert exc.code == -32601 and "WebSocket" in exc.message
        else:
            raise AssertionError(f"{name} answered over HTTP")

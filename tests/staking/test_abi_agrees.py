"""The precompile's dispatch table and events agree with the ABI shipped to clients."""

from __future__ import annotations

from staking import abi


def _types(params: list[dict]) -> tuple[str, ...]:
    return tuple(p["type"] for p in params)


def test_every_shipped_function_is_dispatched_with_the_same_types_and_mutability():
    functions = {f["name"]: f for f in abi.shipped_abi() if f["type"] == "function"}
    methods = {m.name: m for m in abi.METHODS.values()}
    assert set(functions) == set(methods)
    for name, f in functions.items():
        m = methods[name]
        assert _types(f["inputs"]) == m.inputs, name
        assert _types(f["outputs"]) == m.outputs, name
        assert (f["stateMutability"] == "payable") == m.payable, name
        assert (f["stateMutability"] == "view") == (not m.writes), name


def test_every_shipped_event_is_emitted_with_the_same_signature_and_indexing():
    events = {e["name"]: e for e in abi.shipped_abi() if e["type"] == "event"}
    assert set(events) == {e.name for e in abi.EVENTS}
    for event in abi.EVENTS:
        shipped = events[event.name]["inputs"]
        assert _types([p for p in shipped if p["indexed"]]) == event.indexed, event.name
        assert _types([p for p in shipped if not p["indexed"]]) == event.data, event.name
        assert _types(shipped) == event.indexed + event.data, event.name  # indexed ones come first

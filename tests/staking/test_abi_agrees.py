"""Each system contract's dispatch table and events agree with the ABI shipped to clients
(staking/interfaces/*.json, compiled from docs/I*.sol): staking, governance and permissions."""

from __future__ import annotations

import pytest

from staking import abi as staking_abi
from staking.governance import abi as gov_abi
from staking.permissions import abi as perm_abi

CONTRACTS = pytest.mark.parametrize("contract", [staking_abi, gov_abi, perm_abi], ids=["staking", "governance", "permissions"])


def _type(param: dict) -> str:
    """A parameter's canonical type, tuples spelled out as in a signature: ``(string,bytes)[]``."""
    kind = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_type(c) for c in param["components"]) + ")" + kind.removeprefix("tuple")
    return kind


def _types(params: list[dict]) -> tuple[str, ...]:
    return tuple(_type(p) for p in params)


@CONTRACTS
def test_every_shipped_function_is_dispatched_with_the_same_types_and_mutability(contract):
    functions = {f["name"]: f for f in contract.shipped_abi() if f["type"] == "function"}
    methods = {m.name: m for m in contract.METHODS.values()}
    assert set(functions) == set(methods)
    for name, f in functions.items():
        m = methods[name]
        assert _types(f["inputs"]) == m.inputs, name
        assert _types(f["outputs"]) == m.outputs, name
        assert (f["stateMutability"] == "payable") == m.payable, name
        assert (f["stateMutability"] == "view") == (not m.writes), name


@CONTRACTS
def test_every_shipped_event_is_emitted_with_the_same_signature_and_indexing(contract):
    events = {e["name"]: e for e in contract.shipped_abi() if e["type"] == "event"}
    assert set(events) == {e.name for e in contract.EVENTS}
    for event in contract.EVENTS:
        shipped = events[event.name]["inputs"]
        assert _types([p for p in shipped if p["indexed"]]) == event.indexed, event.name
        assert _types([p for p in shipped if not p["indexed"]]) == event.data, event.name
        assert _types(shipped) == event.indexed + event.data, event.name  # indexed ones come first

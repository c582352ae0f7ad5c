"""The governance precompile's dispatch table and events agree with the ABI shipped to clients
(staking/interfaces/IGovernance.json, compiled from docs/IGovernance.sol)."""

from __future__ import annotations

from staking.abi import UNKNOWN_SELECTOR_GAS
from staking.addresses import GOVERNANCE_ADDRESS
from staking.governance import abi as gov_abi
from staking.params import GovParams
from staking_harness import StakingChain


def _type(param: dict) -> str:
    """A parameter's canonical type, tuples spelled out as in a signature: ``(string,bytes)[]``."""
    kind = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_type(c) for c in param["components"]) + ")" + kind.removeprefix("tuple")
    return kind


def _types(params: list[dict]) -> tuple[str, ...]:
    return tuple(_type(p) for p in params)


def test_every_shipped_function_is_dispatched_with_the_same_types_and_mutability() -> None:
    functions = {f["name"]: f for f in gov_abi.shipped_abi() if f["type"] == "function"}
    methods = {m.name: m for m in gov_abi.METHODS.values()}
    assert set(functions) == set(methods)
    for name, f in functions.items():
        m = methods[name]
        assert _types(f["inputs"]) == m.inputs, name
        assert _types(f["outputs"]) == m.outputs, name
        assert (f["stateMutability"] == "payable") == m.payable, name
        assert (f["stateMutability"] == "view") == (not m.writes), name


def test_every_shipped_event_is_emitted_with_the_same_signature_and_indexing() -> None:
    events = {e["name"]: e for e in gov_abi.shipped_abi() if e["type"] == "event"}
    assert set(events) == {e.name for e in gov_abi.EVENTS}
    for event in gov_abi.EVENTS:
        shipped = events[event.name]["inputs"]
        assert _types([p for p in shipped if p["indexed"]]) == event.indexed, event.name
        assert _types(shipped) == event.indexed + event.data, event.name  # indexed ones come first


def test_params_returns_the_gov_section_in_its_order() -> None:
    gov = GovParams(min_deposit=7, voting_period=11)
    sc = StakingChain(gov=gov)
    assert sc.gov_view("params") == tuple(gov.to_mapping().values())


def test_an_unknown_selector_is_refused_and_charged() -> None:
    sc = StakingChain()
    outcome = sc.refused_raw(0, b"\xde\xad\xbe\xef", to=GOVERNANCE_ADDRESS, reason="unknown governance method selector")
    assert outcome.gas_used >= 21_000 + UNKNOWN_SELECTOR_GAS

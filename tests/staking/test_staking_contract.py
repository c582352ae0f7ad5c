"""The contract as the EVM sees it: events, gas, call kinds, value, calldata that does not decode."""

from __future__ import annotations

import pytest
from eth_abi import decode, encode
from eth_utils import keccak

from staking import abi
from staking.addresses import STAKING_ADDRESS
from staking.params import StakingParams
from staking.store import SLOAD_GAS
from staking_harness import ADDRS, PLUME, StakingChain, calldata, consensus_key, method, revert_reason

D = 5

# The event declarations of docs/IStaking.sol, written out by hand: (signature, indexed types, data types).
SOLIDITY_EVENTS = {
    "ValidatorCreated": ("ValidatorCreated(address,bytes32,string,uint256,uint16,uint16,uint16)",
                         ["address"], ["bytes32", "string", "uint256", "uint16", "uint16", "uint16"]),
    "ValidatorEdited": ("ValidatorEdited(address,string,uint16)", ["address"], ["string", "uint16"]),
    "Jailed": ("Jailed(address,uint8,uint64)", ["address"], ["uint8", "uint64"]),
    "Unjailed": ("Unjailed(address)", ["address"], []),
    "Slashed": ("Slashed(address,uint8,uint256,uint64)", ["address"], ["uint8", "uint256", "uint64"]),
    "EvidenceApplied": ("EvidenceApplied(address,bytes32,uint64)", ["address"], ["bytes32", "uint64"]),
    "Delegated": ("Delegated(address,address,uint256,uint256)", ["address", "address"], ["uint256", "uint256"]),
    "Undelegated": ("Undelegated(address,address,uint256,uint256,uint256)",
                    ["address", "address"], ["uint256", "uint256", "uint256"]),
    "Redelegated": ("Redelegated(address,address,address,uint256,uint256)",
                    ["address", "address", "address"], ["uint256", "uint256"]),
    "UnbondingCancelled": ("UnbondingCancelled(address,address,uint256,uint256)",
                           ["address", "address"], ["uint256", "uint256"]),
    "RewardsClaimed": ("RewardsClaimed(address,address,uint256)", ["address", "address"], ["uint256"]),
    "RewardsRestaked": ("RewardsRestaked(address,address,uint256)", ["address", "address"], ["uint256"]),
    "CommissionWithdrawn": ("CommissionWithdrawn(address,uint256)", ["address"], ["uint256"]),
    "AutoRestakeSet": ("AutoRestakeSet(address,address,bool)", ["address", "address"], ["bool"]),
}
TOPIC0 = {int.from_bytes(keccak(text=sig), "big"): name for name, (sig, _, _) in SOLIDITY_EVENTS.items()}


def decoded(log) -> tuple[str, list, tuple]:
    """(event name, indexed values, data values) of a staking log, by the Solidity declarations."""
    assert log.address == STAKING_ADDRESS
    name = TOPIC0[log.topics[0]]
    _, indexed, data = SOLIDITY_EVENTS[name]
    assert len(log.topics) == 1 + len(indexed)
    topics = [decode([t], topic.to_bytes(32, "big"))[0] for t, topic in zip(indexed, log.topics[1:])]
    return name, topics, decode(data, log.data)


def a(i: int) -> str:
    return "0x" + ADDRS[i].hex()


@pytest.fixture
def sc() -> StakingChain:
    return StakingChain(contracts=FORWARDERS)


def test_every_event_matches_the_solidity_declaration() -> None:
    assert {e.topic0 for e in abi.EVENTS} == set(TOPIC0)


def test_events_decode_to_the_right_values() -> None:
    sc = StakingChain(StakingParams(unbonding_period=60, epoch_length=1000, min_self_delegation=5 * PLUME))
    out = sc.send(D, "createValidator", consensus_key(D), "five", 100, 2000, 50, value=7 * PLUME)
    assert [decoded(log) for log in out.logs] == [
        ("ValidatorCreated", [a(D)], (consensus_key(D), "five", 7 * PLUME, 100, 2000, 50))]
    out = sc.send(6, "delegate", ADDRS[D], value=3 * PLUME)
    assert [decoded(log) for log in out.logs] == [("Delegated", [a(6), a(D)], (3 * PLUME, 3 * PLUME))]
    out = sc.send(6, "undelegate", ADDRS[D], PLUME)
    height, time = sc.chain.height, sc.chain.head.timestamp
    assert [decoded(log) for log in out.logs] == [("Undelegated", [a(6), a(D)], (PLUME, height, time + 60))]
    out = sc.send(6, "cancelUnbonding", ADDRS[D], height, PLUME // 2)
    assert [decoded(log) for log in out.logs] == [("UnbondingCancelled", [a(6), a(D)], (height, PLUME // 2))]
    out = sc.send(6, "redelegate", ADDRS[D], ADDRS[1], PLUME)
    time = sc.chain.head.timestamp
    assert [decoded(log) for log in out.logs] == [("Redelegated", [a(6), a(D), a(1)], (PLUME, time + 60))]
    out = sc.send(D, "undelegate", ADDRS[D], 3 * PLUME)  # 4 PLUME left: under the minimum
    assert [decoded(log) for log in out.logs][0] == ("Jailed", [a(D)], (0, 0))
    assert [decoded(log)[:2] for log in out.logs][1:] == [("Undelegated", [a(D), a(D)])]
    assert sc.send(D, "delegate", ADDRS[D], value=PLUME).ok
    out = sc.send(D, "unjail")
    assert [decoded(log) for log in out.logs] == [("Unjailed", [a(D)], ())]
    out = sc.send(D, "editValidator", "renamed", 100)
    assert [decoded(log) for log in out.logs] == [("ValidatorEdited", [a(D)], ("renamed", 100))]


def test_a_refused_call_emits_nothing(sc: StakingChain) -> None:
    assert sc.refused(D, "delegate", ADDRS[7], value=PLUME, reason="no validator").logs == []


# -- gas ----------------------------------------------------------------------------------------


def intrinsic(data: bytes) -> int:
    zeros = data.count(0)
    return 21_000 + 4 * zeros + 16 * (len(data) - zeros)


def test_a_view_costs_base_gas_plus_slot_reads(sc: StakingChain) -> None:
    data = calldata("totalBonded")
    out = sc.raw(D, data)
    assert out.ok and out.gas_used == intrinsic(data) + method("totalBonded").base_gas + SLOAD_GAS


def test_a_refused_call_is_charged_its_base_gas_and_reads(sc: StakingChain) -> None:
    data = calldata("delegate", ADDRS[7])
    out = sc.refused_raw(D, data, value=PLUME, reason="no validator")
    assert out.gas_used == intrinsic(data) + method("delegate").base_gas + SLOAD_GAS  # validator.exists


def test_unknown_selector_and_short_calldata(sc: StakingChain) -> None:
    out = sc.refused_raw(D, b"\xde\xad\xbe\xef" + bytes(32), reason="unknown staking method selector")
    assert out.gas_used == intrinsic(b"\xde\xad\xbe\xef" + bytes(32)) + abi.UNKNOWN_SELECTOR_GAS
    sc.refused_raw(D, b"\x01\x02", reason="calldata shorter than a selector")


def test_out_of_gas_changes_nothing_and_uses_all_gas(sc: StakingChain) -> None:
    data = calldata("delegate", ADDRS[1])
    gas = intrinsic(data) + method("delegate").base_gas + 3 * SLOAD_GAS  # far from the writes' cost
    out = sc.refused_raw(D, data, value=PLUME, reason=None, gas=gas)
    assert out.gas_used == gas


# -- value ---------------------------------------------------------------------------------------


def test_value_to_a_non_payable_method(sc: StakingChain) -> None:
    assert sc.send(D, "delegate", ADDRS[1], value=PLUME).ok
    sc.refused(D, "undelegate", ADDRS[1], 1, value=1, reason="undelegate is not payable")
    sc.refused(D, "totalBonded", value=1, reason="totalBonded is not payable")
    sc.refused(D, "editValidator", "x", 0, value=1, reason="editValidator is not payable")


def test_a_plain_transfer_to_the_contract_is_refused(sc: StakingChain) -> None:
    sc.refused_raw(D, b"", value=PLUME, reason="calldata shorter than a selector")


# -- calldata that does not decode ------------------------------------------------------------------


def test_undecodable_calldata(sc: StakingChain) -> None:
    m = method("createValidator")
    key = consensus_key(D)
    cases = [
        calldata("delegate", ADDRS[1])[:-1],  # one byte short
        method("delegate").selector + b"\x01" + bytes(11) + ADDRS[1],  # dirty address padding
        m.selector + encode(["bytes32", "string", "uint256", "uint16", "uint16"], [key, "x", 70_000, 2, 3]),
        m.selector + encode(["bytes32", "bytes", "uint16", "uint16", "uint16"], [key, b"\xff\xfe", 1, 2, 3]),
        m.selector + encode(["bytes32"], [key]),  # the string's offset is missing
    ]
    for data in cases:
        sc.refused_raw(D, data, value=PLUME, reason="does not decode")


# -- call kinds ----------------------------------------------------------------------------------------

STATICCALL, DELEGATECALL, CALLCODE, CALL = 0xFA, 0xF4, 0xF2, 0xF1


def forwarder(opcode: int, always_revert: bool = False) -> bytes:
    """Runtime code: forward the calldata (and, for CALL/CALLCODE, the value) to 0x…1000 with
    ``opcode``; return its output, or revert with it (``always_revert``: revert with it even
    when the call succeeded)."""
    code = bytes([0x36, 0x60, 0, 0x60, 0, 0x37])  # CALLDATACOPY(0, 0, CALLDATASIZE)
    code += bytes([0x60, 0, 0x60, 0, 0x36, 0x60, 0])  # retLen, retOff, argsLen, argsOff
    if opcode in (CALL, CALLCODE):
        code += bytes([0x34])  # CALLVALUE
    code += bytes([0x61, 0x10, 0x00, 0x5A, opcode])  # PUSH2 0x1000, GAS, the call
    code += bytes([0x3D, 0x60, 0, 0x60, 0, 0x3E])  # RETURNDATACOPY(0, 0, RETURNDATASIZE)
    ok = len(code) + 3 + 4 + (3 if always_revert else 0)
    if always_revert:
        code += bytes([0x50, 0x60, 0])  # POP the success flag, push 0: never jump
    code += bytes([0x60, ok, 0x57])  # JUMPI(ok, success)
    code += bytes([0x3D, 0x60, 0, 0xFD])  # REVERT(0, RETURNDATASIZE)
    assert len(code) == ok
    code += bytes([0x5B, 0x3D, 0x60, 0, 0xF3])  # ok: RETURN(0, RETURNDATASIZE)
    return code


FWD = {op: bytes(19) + bytes([op]) for op in (STATICCALL, DELEGATECALL, CALLCODE, CALL)}
CALL_THEN_REVERT = bytes(19) + b"\xee"
FORWARDERS = {address: forwarder(op) for op, address in FWD.items()} | {
    CALL_THEN_REVERT: forwarder(CALL, always_revert=True)}


def test_views_work_through_every_call_kind(sc: StakingChain) -> None:
    direct = sc.chain.call({"to": STAKING_ADDRESS, "data": calldata("getValidator", ADDRS[1])})
    for address in FWD.values():
        assert sc.chain.call({"to": address, "data": calldata("getValidator", ADDRS[1])}) == direct


def test_a_static_call_to_a_write_method_fails(sc: StakingChain) -> None:
    assert sc.send(D, "delegate", ADDRS[1], value=PLUME).ok  # something D could undelegate
    out = sc.refused_raw(D, calldata("undelegate", ADDRS[1], 1), to=FWD[STATICCALL], reason=None)
    assert out.gas_used > 1_900_000  # WriteProtection, like SSTORE: the frame's gas is gone
    ok = sc.raw(D, calldata("totalBonded"), to=FWD[STATICCALL])
    assert ok.ok  # the same forwarder with a view


@pytest.mark.parametrize("opcode", [DELEGATECALL, CALLCODE])
def test_delegatecall_and_callcode_to_a_write_method_revert(sc: StakingChain, opcode: int) -> None:
    for data in (calldata("undelegate", ADDRS[1], 1), calldata("unjail"),
                 calldata("createValidator", consensus_key(D), "x", 0, 0, 0)):
        out = sc.refused_raw(D, data, to=FWD[opcode], reason="cannot be called by DELEGATECALL or CALLCODE")
        assert out.gas_used < 100_000
    assert sc.storage_root(FWD[opcode]) == sc.storage_root(FWD[CALL])  # both empty


def test_a_contract_delegates_on_its_own_behalf(sc: StakingChain) -> None:
    contract = FWD[CALL]
    out = sc.raw(D, calldata("delegate", ADDRS[1]), value=3 * PLUME, to=contract)
    assert out.ok
    assert sc.view("getDelegation", contract, ADDRS[1]) == (3 * PLUME, 3 * PLUME)
    assert sc.view("getDelegation", ADDRS[D], ADDRS[1]) == (0, 0)
    assert sc.raw(D, calldata("undelegate", ADDRS[1], 3 * PLUME), to=contract).ok
    sc.advance(1, dt=60)
    assert sc.balance(contract) == 3 * PLUME


def test_an_outer_revert_undoes_a_successful_staking_call(sc: StakingChain) -> None:
    """Staking state is EVM state: a caller's revert takes the delegation and the value back."""
    out = sc.refused_raw(D, calldata("delegate", ADDRS[1]), value=3 * PLUME, to=CALL_THEN_REVERT, reason=None)
    assert out.logs == []
    assert sc.view("getDelegation", CALL_THEN_REVERT, ADDRS[1]) == (0, 0)


def test_reason_text_is_bounded() -> None:
    data = abi.revert_data("x" * 1000)
    assert revert_reason(data) == "x" * abi.MAX_REASON_BYTES


# -- views --------------------------------------------------------------------------------------------


def test_params_view_in_the_interface_order(sc: StakingChain) -> None:
    p = sc.params
    assert sc.view("params") == (p.unbonding_period, p.max_validators, p.epoch_length, p.min_self_delegation,
                                 p.max_entries, p.power_reduction, p.max_validator_share_bps, p.block_reward)


def test_paginated_views(sc: StakingChain) -> None:
    from execution.errors import CallError
    from staking.methods import MAX_PAGE

    assert sc.view("getValidators", 0, MAX_PAGE) == ([a(i) for i in range(4)],)  # registration order
    assert sc.view("getValidators", 1, 2) == ([a(1), a(2)],)
    assert sc.view("getValidators", 10**30, 5) == ([],)
    with pytest.raises(CallError) as err:
        sc.chain.call({"to": STAKING_ADDRESS, "data": calldata("getValidators", 0, MAX_PAGE + 1)})
    assert "above the page size" in revert_reason(err.value.revert_data)
    with pytest.raises(CallError) as err:
        sc.chain.call({"to": STAKING_ADDRESS, "data": calldata("getValidator", ADDRS[7])})
    assert "no validator" in revert_reason(err.value.revert_data)

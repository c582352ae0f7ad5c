"""eth_createAccessList, eth_simulateV1, eth_config, eth_blobBaseFee against a real
chain, through web3.py where it has the method; hostile payloads; and the
wording of every execution failure path (no py-evm text reaches a client)."""

from __future__ import annotations

import functools
import json
import re
import zlib

import pytest
import trio
from web3 import Web3
from web3.providers import HTTPProvider

from execution.budget import AbortReason, ExecutionAborted, ExecutionBudget
from execution.simulate import AccountOverride, SimulatedBlockSpec
from plume_node.rpc import methods_sim
from rpc_harness import ACCOUNTS, CHAIN_ID, GWEI, sign_transfer

ALICE, BOB = ACCOUNTS[0], ACCOUNTS[1]
OTHER = "0x" + "bb" * 20
C0, C1, C2 = ("0x" + p + "00" * 19 for p in ("c0", "c1", "c2"))
# BALANCE(0xbb..), EXTCODESIZE(0x1000 staking), BALANCE(0x01 ecrecover), SLOAD(7), STOP
TOUCHER = "73" + "bb" * 20 + "3150" + "6110003b50" + "60013150" + "60075450" + "00"
# SLOAD(0) returned as one word
SLOAD0 = "60005460005260206000f3"
# LOG1(topic 0xaa, data = word 42)
LOGGER = "602a60005260aa60206000a100"
LOOP = "5b600056"  # JUMPDEST PUSH1 0 JUMP: runs until out of gas


async def run(fn, *args, **kwargs):
    return await trio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


def _initcode(runtime: str) -> bytes:
    size = len(runtime) // 2
    return bytes.fromhex(f"60{size:02x}80600b6000396000f3" + runtime)


async def _deploy(client, backend, runtime: str, nonce: int) -> str:
    tx_hash = await client.call(
        "eth_sendRawTransaction", "0x" + sign_transfer(ALICE, "", 0, nonce, gas=200_000, data=_initcode(runtime)).hex()
    )
    backend.produce_block()
    return (await client.call("eth_getTransactionReceipt", tx_hash))["contractAddress"]


def assert_node_wording(message: str) -> None:
    """No Python repr, py-evm exception name or traceback in a client's message."""
    assert not re.search(r"""\bb['"]|Traceback|Error:|Exception|<[a-z]""", message), message
    assert not re.search(
        r"OutOfGas|InvalidInstruction|InsufficientFunds|ValidationError|TransactionFailed|Revert\b|VMError", message
    ), message


# ---- eth_createAccessList ---------------------------------------------------


async def test_create_access_list_through_web3_and_a_real_transaction_uses_it(client, backend, server):
    """The list geth would give (touched address and slot; sender, recipient without
    slots and precompiles left out); a type-1 transaction with that list and exactly
    the reported gas succeeds and is charged exactly that gas."""
    contract = await _deploy(client, backend, TOUCHER, 0)
    w3 = Web3(HTTPProvider(server))
    answer = await run(w3.eth.create_access_list, {"from": ALICE.address, "to": contract})
    hx = lambda k: k if isinstance(k, str) else Web3.to_hex(k)  # noqa: E731 - web3 may give HexBytes
    entries = {e["address"].lower(): [int(hx(k), 16) for k in e["storageKeys"]] for e in answer["accessList"]}
    assert entries == {contract.lower(): [7], OTHER: []}
    assert "error" not in answer
    raw = ALICE.sign_transaction({
        "type": 1, "chainId": CHAIN_ID, "nonce": 1, "gasPrice": 10 * GWEI, "gas": answer["gasUsed"], "to": contract,
        "value": 0, "accessList": [{"address": e["address"], "storageKeys": [hx(k) for k in e["storageKeys"]]}
                                   for e in answer["accessList"]],
    }).raw_transaction
    tx_hash = await client.call("eth_sendRawTransaction", "0x" + bytes(raw).hex())
    backend.produce_block()
    receipt = await client.call("eth_getTransactionReceipt", tx_hash)
    assert receipt["status"] == "0x1" and int(receipt["gasUsed"], 16) == answer["gasUsed"]
    listed = [{"address": e["address"], "storageKeys": [hx(k) for k in e["storageKeys"]]} for e in answer["accessList"]]
    with_list = await client.call("eth_estimateGas", {"from": ALICE.address, "to": contract, "accessList": listed})
    assert int(with_list, 16) == answer["gasUsed"]  # eth_estimateGas honours the list too
    plain = int(await client.call("eth_estimateGas", {"from": ALICE.address, "to": contract}), 16)
    # EIP-2930 arithmetic: the 0xbb.. entry and the slot each save 100 gas (2,400 + 100 for 2,600; 1,900 + 100
    # for 2,100); the slots need their (already warm) contract listed, 2,400 more, as geth's lists do
    assert answer["gasUsed"] == plain - 100 - 100 + 2400


async def test_create_access_list_of_a_failing_call_reports_the_error(client, backend):
    contract = await _deploy(client, backend, "60075450" + "fe", 0)  # SLOAD(7) then INVALID
    answer = await client.call("eth_createAccessList", {"from": ALICE.address, "to": contract})
    assert answer["accessList"] == [{"address": Web3.to_checksum_address(contract), "storageKeys": ["0x" + "00" * 31 + "07"]}]
    assert answer["error"] == "invalid opcode"
    refused = await client.error("eth_createAccessList", {"from": C0, "to": contract, "value": "0x1"})
    assert refused["code"] == -32000 and refused["message"].startswith("insufficient funds for gas * price + value")


async def test_access_list_parameter_is_bounded_and_checked(client, monkeypatch):
    from plume_node.rpc import methods_eth

    monkeypatch.setattr(methods_eth, "MAX_ACCESS_LIST_ADDRESSES", 2)
    entry = {"address": OTHER, "storageKeys": []}
    error = await client.error("eth_createAccessList", {"to": OTHER, "accessList": [entry] * 3})
    assert error["code"] == -32602 and "at most 2 entries" in error["message"]
    for bad, fragment in [
        ({"address": OTHER, "storageKeys": ["0x01"]}, "expected 32 bytes"),
        ({"address": "0x12"}, "expected 20 bytes"),
        ({"storageKeys": []}, "expected {"),
        ("nope", "expected {"),
    ]:
        error = await client.error("eth_call", {"to": OTHER, "accessList": [bad]})
        assert error["code"] == -32602 and fragment in error["message"], (bad, error)


# ---- eth_simulateV1 ---------------------------------------------------------


async def test_simulate_v1_through_web3(server, backend):
    """Overrides, two blocks whose state carries over, logs tied to the simulated block."""
    backend.produce_block()
    w3 = Web3(HTTPProvider(server))
    payload = {"blockStateCalls": [
        {"stateOverrides": {C0: {"balance": 1000}, C2: {"code": "0x" + LOGGER}},
         "calls": [{"from": C0, "to": C1, "value": 1000}, {"from": C1, "to": C2, "value": 400}]},
        {"blockOverrides": {"number": "0x32", "time": hex(1_900_000_000)}, "calls": [{"from": C1, "to": C0, "value": 600}]},
    ]}
    first, second = await run(w3.eth.simulate_v1, payload, "latest")
    assert [c["status"] for c in first["calls"] + second["calls"]] == [1, 1, 1]
    assert first["number"] == backend.chain.height + 1 and second["number"] == 50
    assert second["timestamp"] == 1_900_000_000 and second["parentHash"] == first["hash"]
    (log,) = first["calls"][1]["logs"]
    assert log["blockHash"] == first["hash"] and Web3.to_int(log["data"]) == 42
    assert first["gasUsed"] == 21_000 + first["calls"][1]["gasUsed"]
    # the chain itself is untouched
    assert await run(w3.eth.get_balance, Web3.to_checksum_address(C1)) == 0


async def test_simulate_traces_transfers_as_erc20_logs(client):
    """traceTransfers: the call's own value and an inner CALL's, as Transfer logs of 0xeeee..,
    in order with the contract's log; the transfer of an inner call that reverts is dropped."""
    c3 = "0x" + "c3" + "00" * 19
    call_with_value = lambda to, value: "6000600060006000" + f"60{value:02x}" + "73" + to[2:] + "5af150"  # noqa: E731
    forwarder = call_with_value(C1, 100) + call_with_value(c3, 50) + LOGGER
    payload = {"traceTransfers": True, "blockStateCalls": [{
        "stateOverrides": {C0: {"balance": hex(10**6)}, C2: {"code": "0x" + forwarder}, c3: {"code": "0x60006000fd"}},
        "calls": [{"from": C0, "to": C2, "value": hex(1000)}]}]}
    (block,) = await client.call("eth_simulateV1", payload, "latest")
    (call,) = block["calls"]
    transfer = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")
    pad = lambda a: "0x" + "00" * 12 + a[2:]  # noqa: E731
    assert [(log["address"].lower(), log["topics"], int(log["data"], 16)) for log in call["logs"]] == [
        ("0x" + "ee" * 20, [transfer, pad(C0), pad(C2)], 1000),
        ("0x" + "ee" * 20, [transfer, pad(C2), pad(C1)], 100),
        (C2, ["0x" + "00" * 31 + "aa"], 42),
    ]
    assert [log["logIndex"] for log in call["logs"]] == ["0x0", "0x1", "0x2"]
    # without the flag, only the contract's own log
    payload["traceTransfers"] = False
    (block,) = await client.call("eth_simulateV1", payload, "latest")
    assert [log["address"].lower() for log in block["calls"][0]["logs"]] == [C2]


async def test_simulate_state_and_state_diff(client, backend):
    slot0, slot1 = "0x" + "00" * 32, "0x" + "00" * 31 + "01"
    word = lambda n: "0x" + n.to_bytes(32, "big").hex()  # noqa: E731
    payload = {"blockStateCalls": [
        {"stateOverrides": {C2: {"code": "0x" + SLOAD0, "state": {slot0: word(42), slot1: word(7)}}}, "calls": [{"to": C2}]},
        {"stateOverrides": {C2: {"stateDiff": {slot0: word(43)}}}, "calls": [{"to": C2}]},
        {"stateOverrides": {C2: {"state": {slot1: word(9)}}}, "calls": [{"to": C2}]},
    ]}
    blocks = await client.call("eth_simulateV1", payload, "latest")
    assert [b["calls"][0]["returnData"] for b in blocks] == [word(42), word(43), word(0)]


async def test_simulate_validation_and_block_order_errors(client, backend):
    alice = ALICE.address
    cases = [
        ({"validation": True, "blockStateCalls": [{"calls": [{"from": alice, "to": C1, "nonce": "0x5"}]}]}, -38011),
        ({"validation": True, "blockStateCalls": [{"calls": [{"from": C0, "to": C1}]}]}, -38014),
        ({"blockStateCalls": [{"calls": [{"from": C0, "to": C1, "value": "0x1"}]}]}, -38014),
        ({"blockStateCalls": [{"blockOverrides": {"number": "0x78"}}, {"blockOverrides": {"number": "0x6e"}}]}, -38020),
        ({"blockStateCalls": [{"blockOverrides": {"time": "0x7000000000"}}, {"blockOverrides": {"time": "0x10"}}]}, -38021),
        ({"blockStateCalls": [{"calls": [{"from": alice, "to": C1, "gas": "0x1"}]}]}, -38013),
        ({"blockStateCalls": [{"blockOverrides": {"baseFeePerGas": "0x10"}, "calls": [{"from": alice, "to": C1}]}]}, -38012),
        ({"blockStateCalls": [{"blockOverrides": {"gasLimit": "0x0"}, "calls": [{"from": alice, "to": C1}]}]}, -38015),
        ({"blockStateCalls": [{"blockOverrides": {"gasLimit": "0x5208"},
                               "calls": [{"from": alice, "to": C1, "gas": "0x5208"}, {"from": alice, "to": C1, "gas": "0x5208"}]}]}, -38015),
    ]
    for payload, code in cases:
        error = await client.error("eth_simulateV1", payload, "latest")
        assert error["code"] == code, (payload, error)
        assert_node_wording(error["message"])
    # with validation, a correct nonce and the default fee (the base fee) pass
    blocks = await client.call("eth_simulateV1", {"validation": True, "blockStateCalls": [
        {"calls": [{"from": alice, "to": C1, "nonce": "0x0"}, {"from": alice, "to": C1, "nonce": "0x1"}]}]}, "latest")
    assert int(blocks[0]["baseFeePerGas"], 16) == backend.chain.next_base_fee() > 0


async def test_simulate_call_failures_are_per_call(client):
    payload = {"blockStateCalls": [{"stateOverrides": {C2: {"code": "0xfe"}, C1: {"code": "0x60006000fd"}},
                                    "calls": [{"to": C2, "gas": "0x186a0"}, {"to": C1}, {"to": C0}]}]}
    (block,) = await client.call("eth_simulateV1", payload, "latest")
    invalid, reverted, fine = block["calls"]
    assert invalid["status"] == "0x0" and invalid["error"] == {"code": -32015, "message": "invalid opcode"}
    assert reverted["status"] == "0x0" and reverted["error"] == {"code": 3, "message": "execution reverted", "data": "0x"}
    assert fine["status"] == "0x1" and "error" not in fine


@pytest.mark.parametrize("payload, code, fragment", [
    ({"blockStateCalls": [{}] * 257}, -38026, "at most 256 blocks"),
    ({"blockStateCalls": [{"calls": [{"to": C1}] * 600}, {"calls": [{"to": C1}] * 401}]}, -38026, "more than 1000 calls"),
    ({"blockStateCalls": [{"stateOverrides": {C2: {"stateDiff": {"0x" + f"{i:064x}": "0x" + "00" * 32 for i in range(10_001)}}}}]},
     -38026, "more than 10000 slots"),
    ({"blockStateCalls": [{"stateOverrides": {"0x" + f"{i:040x}": {"balance": "0x1"} for i in range(1_001)}}]},
     -38026, "more than 1000 accounts"),
    ({"blockStateCalls": []}, -32602, "non-empty array"),
    ({"blockStateCalls": [{"calls": [{"to": C1}]}], "traceTransfers": "yes"}, -32602, "traceTransfers: expected true or false"),
    ({"blockStateCalls": [{"calls": [{"to": C1}]}], "returnFullTransactions": True}, -32602, "returnFullTransactions"),
    ({"blockStateCalls": [{"cals": []}]}, -32602, "unknown field(s) \"cals\""),
    ({"blockStateCalls": [{"stateOverrides": {C1: {"movePrecompileToAddress": C2}}}]}, -32602, "not supported"),
    ({"blockStateCalls": [{"stateOverrides": {C1: {"state": {}, "stateDiff": {}}}}]}, -32602, "not both"),
    ({"blockStateCalls": [{"stateOverrides": {C1: {"code": "0x" + "00" * 24_577}}}]}, -32602, "at most 24576"),
    ({"blockStateCalls": [{"stateOverrides": {C1: {"nonce": "0x10000000000000000"}}}]}, -32602, "below 2**64"),
    ({"blockStateCalls": [{"stateOverrides": {"0x12": {}}}]}, -32602, "expected 20 bytes"),
    ({"blockStateCalls": [{"blockOverrides": {"withdrawals": [{"index": "0x0"}]}}]}, -32602, "no withdrawals"),
    ({"blockStateCalls": [{"blockOverrides": {"gasLimit": "0x1" + "0" * 16}}]}, -32602, "below 2**64"),
    ({"blockStateCalls": [{"blockOverrides": {"number": "0x" + "f" * 64}}]}, -32602, "below 2**64"),
    ({"blockStateCalls": [{"stateOverrides": {C0: {"nonce": "0x" + "f" * 16}}, "calls": [{"from": C0, "to": C1}]}]},
     -32000, "nonce has max value"),
    ({"blockStateCalls": [{"calls": "nope"}]}, -32602, "expected an array"),
    ({"blockStateCalls": [{"calls": [{"to": C1, "frm": C0}]}]}, -32602, "unknown field(s) \"frm\""),
    ([], -32602, "expected an object"),
])
async def test_simulate_hostile_payloads(client, payload, code, fragment):
    error = await client.error("eth_simulateV1", payload, "latest")
    assert error["code"] == code and fragment in error["message"], error
    assert len(error["message"]) <= 200


def test_simulate_stops_at_the_request_gas_budget(backend):
    """Calls that loop until out of gas: the body's gas budget ends the simulation,
    however many calls and blocks the payload has."""
    loop = AccountOverride(bytes.fromhex(C2[2:]), code=bytes.fromhex(LOOP))
    calls = tuple({"to": bytes.fromhex(C2[2:]), "gas": 1_000_000} for _ in range(10))
    budget = ExecutionBudget.start(gas_cap=1_000_000, total_gas=3_000_000, timeout_s=30)
    with pytest.raises(ExecutionAborted) as info:
        backend.chain.simulate((SimulatedBlockSpec(accounts=(loop,), calls=calls),), None, budget, validation=False)
    assert info.value.reason is AbortReason.GAS_BUDGET


def test_simulate_of_empty_blocks_still_obeys_the_budget(backend):
    budget = ExecutionBudget.start(gas_cap=1_000_000, total_gas=1_000_000, timeout_s=30)
    budget.cancel()  # the node is stopping
    with pytest.raises(ExecutionAborted) as info:
        backend.chain.simulate((SimulatedBlockSpec(),) * 256, None, budget, validation=False)
    assert info.value.reason is AbortReason.CANCELLED


async def test_simulate_is_answered_within_the_time_budget(client):
    """20 calls that loop until out of gas: stopped by the body's deadline or gas budget, answered."""
    payload = {"blockStateCalls": [{"stateOverrides": {C2: {"code": "0x" + LOOP}}, "calls": [{"to": C2}] * 5}] * 4}
    started = trio.current_time()
    error = await client.error("eth_simulateV1", payload, "latest")
    assert error["code"] == -32000 and error.get("data") in ("timeout", "gas budget"), error
    assert trio.current_time() - started < 30


# ---- eth_config, eth_blobBaseFee, eth_baseFee ---------------------------------


async def test_eth_config_describes_the_chain(client, backend, server):
    config = await client.call("eth_config")
    current = config["current"]
    genesis = backend.chain.get_header(0)
    assert current["chainId"] == hex(CHAIN_ID) and current["activationTime"] == genesis.timestamp
    assert current["forkId"] == "0x" + zlib.crc32(genesis.hash).to_bytes(4, "big").hex()
    assert current["precompiles"]["PLUME_STAKING"] == "0x" + "00" * 18 + "1000"
    assert current["precompiles"]["PLUME_GOVERNANCE"] == "0x" + "00" * 18 + "1001"
    assert current["precompiles"]["PLUME_PERMISSIONS"] == "0x" + "00" * 18 + "1003"
    assert current["precompiles"]["ECREC"] == "0x" + "00" * 19 + "01" and len(current["precompiles"]) == 20
    assert current["blobSchedule"]["max"] == 0 and config["next"] is None and config["last"] is None
    w3 = Web3(HTTPProvider(server))
    assert await run(lambda: w3.eth.blob_base_fee) == 1
    assert int(await client.call("eth_baseFee"), 16) == backend.chain.next_base_fee()
    assert set(await client.call("rpc_modules")) == {"eth", "net", "plume", "rpc", "web3"}


async def test_header_methods(client, backend):
    block = backend.produce_block()
    by_number = await client.call("eth_getHeaderByNumber", "latest")
    assert by_number == await client.call("eth_getHeaderByHash", "0x" + block.hash.hex())
    assert by_number["hash"] == "0x" + block.hash.hex() and "transactions" not in by_number
    assert await client.call("eth_getHeaderByNumber", "pending") is None
    assert await client.call("eth_getHeaderByHash", "0x" + "ee" * 32) is None


# ---- every execution path speaks the node's words -----------------------------


async def test_execution_failures_are_worded_by_the_node(client, backend):
    """eth_call, eth_estimateGas, eth_createAccessList, eth_simulateV1, eth_sendRawTransaction
    and eth_getProof: each failure has the standard code and a message free of py-evm text."""
    bad_jump = await _deploy(client, backend, "600456", 0)  # PUSH1 4 JUMP: not a JUMPDEST
    underflow = await _deploy(client, backend, "01", 1)  # ADD on an empty stack
    cases = [
        ("eth_call", [{"from": C0, "to": C1, "value": "0x1"}], -32000, "insufficient funds for gas * price + value"),
        ("eth_call", [{"to": bad_jump}], -32000, "invalid jump destination"),
        ("eth_call", [{"to": underflow}], -32000, "stack underflow"),
        ("eth_call", [{"data": "0x" + LOOP, "gas": "0xea60"}], -32000, "out of gas"),
        ("eth_call", [{"data": "0x" + "00" * 49_153, "gas": "0x4c4b40"}], -32000, "initcode too large"),
        ("eth_call", [{"to": C1, "gas": "0x1"}], -32000, "intrinsic gas too low"),
        ("eth_estimateGas", [{"to": bad_jump}], -32000, "invalid jump destination"),
        ("eth_estimateGas", [{"data": "0x60006000fd"}], 3, "execution reverted"),
        ("eth_estimateGas", [{"from": C0, "to": C1, "value": "0x1"}], -32000, "insufficient funds"),
        ("eth_createAccessList", [{"from": C0, "to": C1, "value": "0x1"}], -32000, "insufficient funds"),
        ("eth_simulateV1", [{"blockStateCalls": [{"calls": [{"from": C0, "to": C1, "value": "0x1"}]}]}], -38014, "insufficient funds"),
        ("eth_sendRawTransaction", ["0x02ff"], -32000, "malformed transaction: cannot decode 2 bytes"),
        ("eth_sendRawTransaction", ["0x80"], -32000, "malformed transaction"),
        ("eth_getProof", [C1, [], {"blockHash": "0x" + "ee" * 32}], -32000, "header not found"),
        ("eth_call", [{"to": C1}, "0xffff"], -32000, "header not found"),
        ("eth_call", [{"to": "0x" + "00" * 19 + "05", "data": "0x" + _modexp_lengths(1, 2000, 8)}], -32000,
         "MODEXP input lengths (base 1, exponent 2000, modulus 8 bytes) exceed"),
    ]
    for method, params, code, fragment in cases:
        error = await client.error(method, *params)
        assert error["code"] == code and fragment in error["message"], (method, params, error)
        assert_node_wording(error["message"])


def _modexp_lengths(*lengths: int) -> str:
    return "".join(n.to_bytes(32, "big").hex() for n in lengths)


async def test_a_bad_signature_is_worded_by_the_node(client):
    raw = bytearray(sign_transfer(ALICE, C1, 1, 0))
    raw[-40] ^= 0xFF  # corrupt s: not a valid signature any more
    error = await client.error("eth_sendRawTransaction", "0x" + bytes(raw).hex())
    assert error["code"] == -32000
    assert_node_wording(error["message"])
    assert json.dumps(error).isascii()


async def test_unknown_keys_are_quoted_and_cut_in_messages(client):
    """A key of 100,000 characters is not echoed back whole, nor as a Python list."""
    huge = "k" * 100_000
    for method, params in [
        ("eth_call", [{"to": C1, huge: 1}]),
        ("eth_simulateV1", [{"blockStateCalls": [{huge: 1}]}]),
        ("eth_getLogs", [{huge: 1}]),
        ("eth_getBalance", [C1, {"blockHash": "0x" + "00" * 32, huge: 1}]),
    ]:
        error = await client.error(method, *params)
        assert error["code"] == -32602 and '"kkkk' in error["message"] and len(error["message"]) <= 250, error
        assert "['" not in error["message"]
    answer = await client.raw({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": {huge: 1}})
    assert answer["error"]["code"] == -32602 and len(answer["error"]["message"]) <= 300


def test_docs_state_the_simulate_and_access_list_bounds():
    from pathlib import Path

    from execution.calls import MAX_ACCESS_LIST_ROUNDS
    from plume_node.rpc import methods_eth

    docs = (Path(__file__).resolve().parents[2] / "docs" / "rpc.md").read_text()
    for name, value in [
        ("MAX_SIMULATE_BLOCKS", methods_sim.MAX_SIMULATE_BLOCKS), ("MAX_SIMULATE_CALLS", methods_sim.MAX_SIMULATE_CALLS),
        ("MAX_OVERRIDE_ACCOUNTS", methods_sim.MAX_OVERRIDE_ACCOUNTS), ("MAX_OVERRIDE_SLOTS", methods_sim.MAX_OVERRIDE_SLOTS),
        ("MAX_OVERRIDE_CODE_BYTES", methods_sim.MAX_OVERRIDE_CODE_BYTES),
        ("MAX_ACCESS_LIST_ADDRESSES", methods_eth.MAX_ACCESS_LIST_ADDRESSES),
        ("MAX_ACCESS_LIST_KEYS", methods_eth.MAX_ACCESS_LIST_KEYS), ("MAX_ACCESS_LIST_ROUNDS", MAX_ACCESS_LIST_ROUNDS),
    ]:
        line = next((row for row in docs.splitlines() if f"`{name}`" in row), "")
        assert f"{value:,}" in line, (name, value, line)

"""Every execution-apis method against its spec: results checked for the required
fields, types and patterns of the official schemas.

`execution_apis_spec.json` (beside this file) is a compact description derived
from ethereum/execution-apis' OpenRPC files; its `_source` says from which
files, at which commits, and how. The test builds real data on a real chain
(a deployed ERC-20 with Transfer logs, legacy, EIP-2930 and EIP-1559
transactions, receipts), calls every spec method the node serves over HTTP and
validates the answer. A spec method the node does not serve must be listed in
`NOT_SERVED` with the reason (docs/rpc.md has the same list) and must answer
-32601.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any


from plume_node.rpc.methods import build_method_table
from rpc_harness import ACCOUNTS, CHAIN_ID, GWEI, erc20_artifact, sign_transfer

SPEC = json.loads((Path(__file__).parent / "execution_apis_spec.json").read_text())
TYPES = {name: re.compile(pattern) for name, pattern in SPEC["types"].items()}

# Spec methods this node does not serve, and why (docs/rpc.md, "Not served").
NOT_SERVED = {
    "eth_coinbase": "no etherbase: blocks are proposed by validators, each with its own fee address",
    "eth_sendTransaction": "needs a key on the node; the node holds no user keys",
    "eth_sign": "needs a key on the node; the node holds no user keys",
    "eth_signTransaction": "needs a key on the node; the node holds no user keys",
    "eth_fillTransaction": "fills EIP-8141 frame transactions among others; wallets fill their own legacy/2930/1559 fields",
    "eth_getBlockAccessList": "EIP-7928 block access lists come with the Amsterdam fork; Plume runs Prague",
}
# Served on WebSocket connections only; over HTTP they answer -32601 saying so.
WEBSOCKET_ONLY = {"eth_subscribe", "eth_unsubscribe"}

ALICE, BOB = ACCOUNTS[0], ACCOUNTS[1]
TRANSFER = bytes.fromhex("a9059cbb")
BALANCE_OF = bytes.fromhex("70a08231")


def _word(value: int | str) -> bytes:
    if isinstance(value, str):
        return bytes(12) + bytes.fromhex(value[2:])
    return value.to_bytes(32, "big")


# ---- the validator ----------------------------------------------------------


def _alternatives(expr: str) -> list[str]:
    return expr.split("|")


def check(value: Any, expr: str, where: str) -> list[str]:
    """Problems of `value` against a type expression of the spec file (empty if it conforms)."""
    best: list[str] | None = None
    for alt in _alternatives(expr):
        problems = _check_one(value, alt, where)
        if not problems:
            return []
        if best is None or len(problems) < len(best):
            best = problems
    return best or [f"{where}: no alternative of {expr}"]


def _check_one(value: Any, t: str, where: str) -> list[str]:
    if t == "null":
        return [] if value is None else [f"{where}: expected null"]
    if t.startswith("[") and t.endswith("]"):
        if not isinstance(value, list):
            return [f"{where}: expected an array of {t[1:-1]}, got {value!r:.60}"]
        return [p for i, item in enumerate(value) for p in check(item, t[1:-1], f"{where}[{i}]")]
    if t.startswith("{") and t.endswith("}"):
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        return [p for k, v in value.items() for p in check(v, t[1:-1], f"{where}.{k}")]
    if t in TYPES:
        if not isinstance(value, str) or not TYPES[t].match(value):
            return [f"{where}: {value!r:.80} does not match {t} {TYPES[t].pattern}"]
        if t == "hash32" and len(value) != 66:
            return [f"{where}: {value!r} is not 32 bytes"]
        return []
    simple = {"boolean": bool, "string": str, "object": dict}
    if t in simple:
        return [] if isinstance(value, simple[t]) else [f"{where}: expected {t}"]
    if t in ("number", "integer"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (t == "number" or isinstance(value, int))
        return [] if ok else [f"{where}: expected {t}"]
    if t == "uint256":  # eth_subscribe ids: 32 bytes in the spec; clients send QUANTITY as geth does
        return _check_one(value, "uint", where)
    return _check_object(value, SPEC["schemas"][t], t, where)


def _check_object(value: Any, schema: dict[str, Any], name: str, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected a {name} object, got {value!r:.60}"]
    required, optional = dict(schema.get("required", {})), dict(schema.get("optional", {}))
    if "byType" in schema:
        variant = schema["byType"].get(value.get("type"))
        if variant is None:
            return [f"{where}: unknown transaction type {value.get('type')!r}"]
        required.update(variant.get("required", {}))
        optional.update(variant.get("optional", {}))
    problems = [f"{where}: missing required {key} ({name})" for key in required if key not in value]
    for key, expr in {**optional, **required}.items():
        if key in value:
            problems += check(value[key], expr, f"{where}.{key}")
    if schema.get("closed"):
        problems += [f"{where}: {key} is not a property of {name}" for key in value if key not in required and key not in optional]
    return problems


def test_validator_catches_what_it_must():
    """The checker itself: a leading zero, a short hash, a missing key, an extra key in a closed object."""
    assert check("0x01", "uint", "x") and check("0x1", "uint", "x") == []
    assert check("0x" + "ab" * 31, "hash32", "x") and check("0x" + "ab" * 32, "hash32", "x") == []
    assert check({"transactionHash": "0x" + "00" * 32, "extra": 1}, "Log", "x")
    assert check({"address": "0x" + "11" * 20}, "AccessListEntry", "x")
    assert check(None, "Block|null", "x") == [] and check([], "[Log]", "x") == []


# ---- a chain with real data -------------------------------------------------


def _sign(account: Any, tx: dict[str, Any]) -> bytes:
    return bytes(account.sign_transaction(tx).raw_transaction)


async def _chain_with_data(client: Any, backend: Any) -> dict[str, Any]:
    """Blocks with every transaction type, an ERC-20 with Transfer logs, receipts."""
    art = erc20_artifact()
    deploy = bytes.fromhex(art["bytecode"].removeprefix("0x")) + _word(10**24)
    hashes = [await client.call("eth_sendRawTransaction", "0x" + sign_transfer(ALICE, "", 0, 0, gas=2_000_000, data=deploy).hex())]
    backend.produce_block()
    receipt = await client.call("eth_getTransactionReceipt", hashes[0])
    token = receipt["contractAddress"]
    transfer = TRANSFER + _word(BOB.address) + _word(5)
    bob_key = "0x" + "00" * 31 + "01"
    raws = [
        sign_transfer(ALICE, token, 0, 1, gas=100_000, data=transfer),
        _sign(BOB, {"nonce": 0, "gasPrice": 10 * GWEI, "gas": 21_000, "to": ALICE.address, "value": 1, "chainId": CHAIN_ID}),
        _sign(BOB, {"type": 1, "nonce": 1, "gasPrice": 10 * GWEI, "gas": 30_000, "to": ALICE.address, "value": 1,
                    "chainId": CHAIN_ID, "accessList": [{"address": token, "storageKeys": [bob_key]}]}),
    ]
    for raw in raws:
        hashes.append(await client.call("eth_sendRawTransaction", "0x" + raw.hex()))
    block = backend.produce_block()
    assert len(block.transactions) == 3
    return {"token": token, "hashes": hashes, "block_hash": "0x" + block.hash.hex(), "transfer": transfer}


def _calls(data: dict[str, Any], filters: dict[str, str]) -> list[tuple[str, list[Any]]]:
    """(method, params) for every spec method the node serves, on real data."""
    token, hashes, block_hash = data["token"], data["hashes"], data["block_hash"]
    alice, bob = ALICE.address, BOB.address
    call = {"from": alice, "to": token, "data": "0x" + data["transfer"].hex()}
    return [
        ("eth_chainId", []), ("eth_syncing", []), ("eth_accounts", []), ("eth_blockNumber", []), ("eth_config", []),
        ("eth_getBlockByHash", [block_hash, True]), ("eth_getBlockByHash", [block_hash, False]),
        ("eth_getBlockByNumber", ["latest", True]), ("eth_getBlockByNumber", ["0x0", False]),
        ("eth_getBlockByNumber", ["0x999", False]),
        ("eth_getHeaderByHash", [block_hash]), ("eth_getHeaderByNumber", ["latest"]),
        ("eth_getBlockTransactionCountByHash", [block_hash]), ("eth_getBlockTransactionCountByNumber", ["latest"]),
        ("eth_getBlockReceipts", ["latest"]), ("eth_getBlockReceipts", [block_hash]),
        ("eth_call", [{"to": token, "data": "0x" + (BALANCE_OF + _word(alice)).hex()}, "latest"]),
        ("eth_estimateGas", [call]), ("eth_createAccessList", [call, "latest"]),
        ("eth_simulateV1", [{"blockStateCalls": [{"calls": [call]}, {"calls": [{"from": bob, "to": alice, "value": "0x1"}]}]}, "latest"]),
        ("eth_gasPrice", []), ("eth_baseFee", []), ("eth_blobBaseFee", []), ("eth_maxPriorityFeePerGas", []),
        ("eth_feeHistory", ["0x2", "latest", [25, 75]]),
        ("eth_newFilter", [{"fromBlock": "0x0", "address": token}]), ("eth_newBlockFilter", []),
        ("eth_newPendingTransactionFilter", []),
        ("eth_getFilterChanges", [filters["block"]]), ("eth_getFilterLogs", [filters["logs"]]),
        ("eth_getFilterChanges", [filters["logs"]]), ("eth_uninstallFilter", [filters["block"]]),
        ("eth_getLogs", [{"fromBlock": "0x0", "toBlock": "latest"}]),
        ("eth_getBalance", [alice, "latest"]), ("eth_getStorageAt", [token, "0x0", "latest"]),
        ("eth_getTransactionCount", [alice, "latest"]), ("eth_getCode", [token, "latest"]),
        ("eth_getProof", [token, ["0x" + "00" * 32], "latest"]),
        ("eth_sendRawTransaction", ["0x" + sign_transfer(ALICE, bob, 1, 2).hex()]),
        *[("eth_getTransactionByHash", [h]) for h in hashes],
        ("eth_getTransactionByHash", ["0x" + "ee" * 32]),
        ("eth_getTransactionByBlockHashAndIndex", [block_hash, "0x2"]),
        ("eth_getTransactionByBlockNumberAndIndex", ["latest", "0x0"]),
        *[("eth_getTransactionReceipt", [h]) for h in hashes],
        ("eth_capabilities", []),
    ]


async def test_every_served_spec_method_conforms(client, backend):
    data = await _chain_with_data(client, backend)
    filters = {
        "block": await client.call("eth_newBlockFilter"),
        "logs": await client.call("eth_newFilter", {"fromBlock": "0x0", "address": data["token"]}),
    }
    calls = _calls(data, filters)
    served = build_method_table().methods
    problems: list[str] = []
    results: dict[str, list[Any]] = {}
    for method, params in calls:
        spec = SPEC["methods"][method]
        if len(served[method].params) < len(spec["params"]):
            problems.append(f"{method}: takes {len(served[method].params)} params, the spec has {len(spec['params'])}")
        result = await client.call(method, *params)
        results.setdefault(method, []).append(result)
        problems += check(result, spec["result"], method)
    assert problems == [], "\n".join(problems)
    # the data really exercised the schemas: logs, all three transaction types, access lists, simulated logs
    assert any(r["logs"] for r in results["eth_getTransactionReceipt"])
    assert {t["type"] for t in results["eth_getBlockByNumber"][0]["transactions"]} == {"0x0", "0x1", "0x2"}
    assert results["eth_getLogs"][0] and results["eth_getFilterLogs"][0]
    assert results["eth_createAccessList"][0]["accessList"]
    assert results["eth_simulateV1"][0][0]["calls"][0]["logs"]
    # every spec method is called above, not served (and listed), or WebSocket-only
    covered = {m for m, _ in calls} | set(NOT_SERVED) | WEBSOCKET_ONLY
    assert set(SPEC["methods"]) - covered == set()
    assert set(NOT_SERVED).isdisjoint({m for m, _ in calls})


async def test_methods_not_served_answer_method_not_found(client):
    params = {"eth_sign": ["0x" + "11" * 20, "0x"], "eth_subscribe": ["newHeads"], "eth_unsubscribe": ["0x1"],
              "eth_getBlockAccessList": ["latest"], "eth_fillTransaction": [{"to": "0x" + "11" * 20}]}
    for method in sorted(NOT_SERVED) + sorted(WEBSOCKET_ONLY):
        error = await client.error(method, *params.get(method, []))
        assert error["code"] == -32601, (method, error)


def test_not_served_list_is_in_the_docs():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "rpc.md").read_text()
    section = docs.split("### Not served", 1)[1].split("\n## ", 1)[0]
    for method in NOT_SERVED:
        assert f"`{method}`" in section, method


async def test_subscriptions_and_notifications_conform_over_websocket(server, client, backend):
    """eth_subscribe / eth_unsubscribe on a WebSocket, and one notification of each kind
    (newHeads, logs, newPendingTransactions) checked against the spec's notification shapes."""
    from test_websocket import Ws

    data = await _chain_with_data(client, backend)
    ws = await Ws.open(server)
    try:
        kinds = {"newHeads": ["newHeads"], "logs": ["logs", {"address": data["token"]}],
                 "newPendingTransactions": ["newPendingTransactions"]}
        ids = {}
        for kind, params in kinds.items():
            ids[kind] = await ws.call("eth_subscribe", *params)
            assert check(ids[kind], SPEC["methods"]["eth_subscribe"]["result"], "eth_subscribe") == []
        await client.call("eth_sendRawTransaction", "0x" + sign_transfer(ALICE, data["token"], 0, 2, gas=100_000,
                                                                           data=data["transfer"]).hex())
        backend.produce_block()
        by_id = {}
        while len(by_id) < len(kinds):
            message = await ws.notification()
            by_id.setdefault(message["params"]["subscription"], message)
        for kind, sub in ids.items():
            problems = check(by_id[sub], "Notification", "notification")
            problems += check(by_id[sub]["params"]["result"], SPEC["notifications"][kind], kind)
            assert problems == [], (kind, problems)
        for sub in ids.values():
            assert await ws.call("eth_unsubscribe", sub) is True
        # a kind the spec lists and this node does not serve ("syncing"), and a non-string: -32601 in geth's words
        error = await ws.error("eth_subscribe", "syncing")
        assert error["code"] == -32601 and error["message"].startswith('no "syncing" subscription in eth namespace')
        error = await ws.error("eth_subscribe", {"kind": 1})
        assert error["code"] == -32601 and error["message"].startswith("no such subscription in eth namespace")
    finally:
        await ws.close()

"""Properties over generated input, against the real server over HTTP.

Hypothesis runs in a worker thread (its examples make blocking HTTP calls)
while the server runs in the test's trio loop. Properties:
- any body gets a JSON-RPC answer (or 204/413), never a 500 or a dropped connection;
- any params to any method give a result or a client/node error, never -32603
  (an internal error is a bug in a method);
- a rejected raw transaction leaves the mempool exactly as it was.
"""

from __future__ import annotations

import json
import string

import trio
from hypothesis import HealthCheck, given, settings, strategies as st

from plume_node.rpc.methods import build_method_table

from rpc_harness import ACCOUNTS, sign_transfer

METHODS = sorted(build_method_table().methods)
KNOWN_CODES = {-32700, -32600, -32601, -32602, -32000, -32005, 3}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)

hex_strings = st.builds(
    lambda digits, prefix: prefix + digits,
    st.text(alphabet="0123456789abcdefABCDEF", max_size=70),
    st.sampled_from(["0x", "0X", "", "0x0"]),
)
scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**300)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20) | hex_strings
    | st.sampled_from(["latest", "pending", "earliest", "safe", "finalized", "0x" + "11" * 20, "0x" + "22" * 32])
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["to", "from", "data", "input", "value", "gas", "fromBlock", "toBlock", "topics",
                         "address", "blockHash", "blockNumber", "x"]) | st.text(max_size=5),
        children, max_size=4),
    max_leaves=12,
)


def _check_answer(answer) -> None:
    items = answer if isinstance(answer, list) else [answer]
    for item in items:
        assert item["jsonrpc"] == "2.0"
        assert ("result" in item) != ("error" in item), item
        if "error" in item:
            assert item["error"]["code"] in KNOWN_CODES, item
            assert isinstance(item["error"]["message"], str) and item["error"]["message"]


async def test_any_body_gets_a_json_rpc_answer(client):
    @SETTINGS
    @given(st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.builds(lambda m, p, i: json.dumps({"jsonrpc": "2.0", "id": i, "method": m, "params": p}).encode(),
                  st.sampled_from(METHODS) | st.text(alphabet=string.ascii_letters + "_", max_size=30),
                  json_values, st.integers(0, 10) | st.text(max_size=3)),
    ))
    def prop(body: bytes) -> None:
        status, _, answer = client.post_sync(body)
        assert status in (200, 204), (status, answer)
        if status == 200:
            _check_answer(json.loads(answer))

    await trio.to_thread.run_sync(prop)


async def test_any_params_never_cause_an_internal_error(client, backend):
    backend.produce_block()

    @SETTINGS
    @given(st.sampled_from(METHODS), st.lists(json_values, max_size=4))
    def prop(method: str, params: list) -> None:
        status, _, raw = client.post_sync(json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode())
        assert status == 200
        answer = json.loads(raw)
        _check_answer(answer)

    await trio.to_thread.run_sync(prop)


async def test_rejected_raw_transactions_leave_the_mempool_unchanged(client, backend):
    valid = sign_transfer(ACCOUNTS[0], ACCOUNTS[1].address, 1, 0)

    def flip(data: bytes, index: int, bit: int) -> bytes:
        i = index % len(data)
        return data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1:]

    @SETTINGS
    @given(st.one_of(
        st.binary(min_size=1, max_size=200),
        st.builds(flip, st.just(valid), st.integers(0, 10_000), st.integers(0, 7)),
        st.builds(lambda n: valid[:n], st.integers(1, len(valid) - 1)),
    ))
    def prop(raw: bytes) -> None:
        before = set(backend.mempool)
        status, _, body = client.post_sync(json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x" + raw.hex()]}).encode())
        assert status == 200
        answer = json.loads(body)
        _check_answer(answer)
        after = set(backend.mempool)
        if "error" in answer:
            assert answer["error"]["code"] in (-32000, -32602)
            assert after == before
        else:
            # a bit flip can still be a valid transaction (another sender, another value)
            assert after == before | {bytes.fromhex(answer["result"][2:])}

    await trio.to_thread.run_sync(prop)

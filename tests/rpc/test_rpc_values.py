"""Pure value handling: parameter parsing, encoding, revert decoding, CLI amounts."""

from __future__ import annotations

import json

import pytest
from eth_abi import encode
from hypothesis import given, strategies as st

from plume_node.cli._units import AmountError, format_plume, parse_amount
from plume_node.rpc import params as p
from plume_node.rpc.dispatch import Dispatcher, MethodTable, Param
from plume_node.rpc.errors import InvalidParams, decode_revert_reason
from plume_node.rpc.encode import q

uint256 = st.integers(min_value=0, max_value=2**256 - 1)


@given(uint256)
def test_quantity_round_trip(n):
    assert p.quantity(q(n), "x") == n


@given(uint256)
def test_quantity_refuses_leading_zeros(n):
    with pytest.raises(InvalidParams, match="leading zero"):
        p.quantity("0x0" + hex(n)[2:], "x")


@given(st.binary(max_size=64))
def test_data_round_trip(raw):
    assert p.data("0x" + raw.hex(), "x") == raw


@pytest.mark.parametrize("bad", ["", "0x", "12", "0xg", "0x" + "f" * 65, None, 12, True, [], {}])
def test_quantity_errors_name_the_param(bad):
    with pytest.raises(InvalidParams) as info:
        p.quantity(bad, "blockCount")
    assert info.value.message.startswith("blockCount: ")


def test_block_refs():
    assert p.block_ref("latest", "b") == p.BlockRef(tag="latest")
    assert p.block_ref("0x10", "b") == p.BlockRef(number=16)
    assert p.block_ref("0x" + "ab" * 32, "b") == p.BlockRef(hash=b"\xab" * 32)
    assert p.block_ref({"blockNumber": "0x2"}, "b") == p.BlockRef(number=2)
    assert p.block_ref({"blockHash": "0x" + "01" * 32, "requireCanonical": True}, "b").hash == b"\x01" * 32
    with pytest.raises(InvalidParams, match="needs blockHash or blockNumber"):
        p.block_ref({}, "b")


@given(st.text(max_size=200))
def test_error_string_reasons_decode_like_geth(reason):
    data = bytes.fromhex("08c379a0") + encode(["string"], [reason])
    assert decode_revert_reason(data) == reason


@given(st.binary(max_size=200))
def test_arbitrary_revert_data_never_crashes(data):
    result = decode_revert_reason(data)
    assert result is None or isinstance(result, str)


def test_panic_reason():
    assert decode_revert_reason(bytes.fromhex("4e487b71") + (0x11).to_bytes(32, "big")) == "panic: 0x11"


@given(st.integers(min_value=0, max_value=10**30))
def test_amount_round_trip_through_plume(wei):
    text = format_plume(wei).replace(" PLUME", "plume")
    assert parse_amount(text) == wei


@pytest.mark.parametrize("text, wei", [("10", 10), ("10wei", 10), ("1gwei", 10**9), ("1.5plume", 15 * 10**17),
                                      ("0.1plume", 10**17), ("1_000", 1000), (" 2 GWEI ", 2 * 10**9), (".5gwei", 5 * 10**8),
                                      ("1eth", 10**18), ("0.25ether", 25 * 10**16)])
def test_amounts(text, wei):
    assert parse_amount(text) == wei


@pytest.mark.parametrize("text, fragment", [("", "invalid amount"), ("abc", "invalid amount"), ("1.5", "fraction of a wei"),
                                            ("1e18", "invalid amount"), ("3bananas", "unknown unit 'bananas'"), ("-1", "invalid amount"),
                                            ("1.0000000000000000001plume", "fraction of a wei"),
                                            (str(2**256), r"larger than 2\*\*256")])
def test_amount_errors(text, fragment):
    with pytest.raises(AmountError, match=fragment):
        parse_amount(text)


async def test_dispatcher_refuses_infinite_ids_and_never_emits_invalid_json():
    table = MethodTable()
    table.register("echo", Param("x", lambda value, name: value))(lambda context, x: x)
    dispatcher = Dispatcher(table, None)
    answer = json.loads(await dispatcher.handle_body(b'{"jsonrpc":"2.0","id":1e999,"method":"echo","params":[1]}'))
    assert answer["error"]["code"] == -32600
    # a non-finite float reaching a result is answered as valid JSON, not "Infinity"
    answer = json.loads(await dispatcher.handle_body(b'{"jsonrpc":"2.0","id":1,"method":"echo","params":[1e999]}'))
    assert answer["error"]["code"] == -32603

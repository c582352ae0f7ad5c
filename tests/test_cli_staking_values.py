"""The staking CLI's pure parts: commission rates, calldata from the contract's ABI, event decoding, safe text."""

from __future__ import annotations

import pytest
from eth_abi import decode

from plume_node.cli._staking import (
    RateError,
    encode_call,
    event_values,
    format_bps,
    parse_bps,
    printable,
    refusal_reason,
)
from staking.abi import UNDELEGATED, event_log, revert_data


@pytest.mark.parametrize("text, bps", [("5%", 500), ("0.25%", 25), ("100%", 10_000), ("0%", 0), ("500bps", 500),
                                       (" 7 BPS ", 7), ("12.5 %", 1_250), ("10000bps", 10_000)])
def test_rates(text, bps):
    assert parse_bps(text) == bps


@pytest.mark.parametrize("text, fragment", [("5", "ambiguous"), ("", "ambiguous"), ("five%", "ambiguous"),
                                            ("-1%", "ambiguous"), ("0.001%", "fraction of a basis point"),
                                            ("1.5bps", "fraction of a basis point"), ("101%", "above 100%"),
                                            ("10001bps", "above 100%"), ("5%%", "ambiguous")])
def test_rate_errors(text, fragment):
    with pytest.raises(RateError, match=fragment):
        parse_bps(text)


@pytest.mark.parametrize("bps", [0, 1, 10, 25, 100, 150, 500, 1_234, 10_000])
def test_format_bps_round_trips(bps):
    assert parse_bps(format_bps(bps)) == bps


def test_calldata_is_the_contracts_abi():
    data = encode_call("delegate", "0x" + "11" * 20)
    assert data[:4].hex() == "5c19a95c"  # keccak("delegate(address)")[:4]
    assert decode(["address"], data[4:]) == ("0x" + "11" * 20,)
    with pytest.raises(KeyError):
        encode_call("mint", 1)


def test_refusal_reason_and_events():
    assert refusal_reason("0x" + revert_data("no validator").hex(), "execution reverted") == "no validator"
    assert refusal_reason("0xdeadbeef", "execution reverted") == "execution reverted"
    assert refusal_reason(None, "node says no") == "node says no"
    topics, payload = event_log(UNDELEGATED, (b"\x01" * 20, b"\x02" * 20), (5, 7, 99))
    log = {"address": "0x0000000000000000000000000000000000001000",
           "topics": ["0x" + t.to_bytes(32, "big").hex() for t in topics], "data": "0x" + payload.hex()}
    assert event_values((log,), UNDELEGATED) == (5, 7, 99)
    assert event_values(({**log, "address": "0x" + "22" * 20},), UNDELEGATED) is None


def test_printable_neutralises_terminal_control():
    assert printable("node\x1b[2J\nx") == "node?[2J?x"
    assert len(printable("a" * 200)) == 64


def test_the_clients_revert_code_is_the_servers():
    from plume_node.cli._rpc_client import EXECUTION_REVERTED as client_code
    from plume_node.rpc.errors import EXECUTION_REVERTED as server_code

    assert client_code == server_code

"""The `plume-node rwa` helpers without a node: exact token amounts, refusals decoded by name,
attestation signatures, and the factory addresses the CLI uses."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from rwa_fixtures import attestation

from plume_node.cli import _rwa
from plume_node.cli._units import AmountError

HOLDER = "0xa0ee7a142d267c1f36714e4a8f75612f20a79720"


def test_the_cli_factory_addresses_are_the_genesis_ones() -> None:
    from execution.contracts.rwa.predeploy import FACTORY_ADDRESSES

    assert {name: bytes.fromhex(a[2:]) for name, a in _rwa.FACTORIES.items()} == FACTORY_ADDRESSES


@pytest.mark.parametrize(("text", "decimals", "units"), [
    ("2.5tokens", 18, 25 * 10**17),
    ("1token", 24, 10**24),
    ("0.000000000000000001tokens", 18, 1),
    ("1_000tokens", 6, 10**9),
    ("10", 18, 10),
    ("1plume", 6, 10**18),  # the amount units are base units, whatever the decimals
])
def test_token_amounts_are_exact(text, decimals, units) -> None:
    assert _rwa.parse_token_amount(text, decimals) == units


@pytest.mark.parametrize("text", ["0.0000000000000000001tokens", "1e3tokens", "tokens", "-1tokens", f"{2**256}tokens"])
def test_bad_token_amounts_are_refused(text) -> None:
    with pytest.raises(AmountError):
        _rwa.parse_token_amount(text, 18)


def test_format_units_is_exact() -> None:
    assert _rwa.format_units(25 * 10**17, 18) == "2.5"
    assert _rwa.format_units(1, 18) == "0.000000000000000001"
    assert _rwa.format_units(7 * 10**24, 24) == "7"


def error_data(signature: str, types: list[str], values: list) -> bytes:
    return keccak(signature.encode())[:4] + encode(types, values)


def test_custom_errors_are_decoded_by_name_with_their_arguments() -> None:
    data = error_data("ReceiverNotVerified(address)", ["address"], [HOLDER])
    assert _rwa.decode_revert(data) == f"ReceiverNotVerified(holder={to_checksum_address(HOLDER)})"
    data = error_data("InsufficientUnfrozenBalance(address,uint256,uint256)", ["address", "uint256", "uint256"],
                      [HOLDER, 5, 7])
    assert _rwa.decode_revert(data) == (
        f"InsufficientUnfrozenBalance(holder={to_checksum_address(HOLDER)}, unfrozen=5, needed=7)")
    assert _rwa.decode_revert(error_data("InvalidConfiguration(string)", ["string"], ["quorum"])) == (
        'InvalidConfiguration(reason="quorum")')
    assert _rwa.decode_revert(error_data("NothingToClaim()", [], [])) == "NothingToClaim()"
    assert _rwa.decode_revert(error_data("Error(string)", ["string"], ["x" * 500])) == "x" * _rwa.MAX_REASON_CHARS


def test_unknown_and_malformed_revert_data_never_show_a_repr() -> None:
    assert _rwa.refusal("0xdeadbeef", "execution reverted") == "an unknown error (selector 0xdeadbeef)"
    truncated = "0x" + keccak(b"ReceiverNotVerified(address)")[:4].hex() + "00"
    assert _rwa.decode_revert(bytes.fromhex(truncated[2:])) is None
    assert _rwa.refusal(truncated, "execution reverted").startswith("an unknown error")
    assert _rwa.refusal(None, "m" * 300) == "m" * _rwa.MAX_REASON_CHARS
    assert _rwa.refusal("0xzz", "execution reverted") == "execution reverted"


def test_every_rwa_error_has_a_distinct_selector() -> None:
    names = {}
    for contract in _rwa.RWA_CONTRACTS:
        for entry in _rwa.abi(contract):
            if entry["type"] == "error":
                types = ",".join(_rwa.abi_type(i) for i in entry["inputs"])
                names.setdefault(keccak(f"{entry['name']}({types})".encode())[:4], set()).add(f"{entry['name']}({types})")
    assert all(len(v) == 1 for v in names.values())
    assert len(_rwa.known_errors()) == len(names)


def test_attestation_signature_is_the_contracts_eip712_digest_signed() -> None:
    """The same bytes as tests/rwa's signer, which the MilestoneVault tests accept on chain."""
    key = keccak(b"verifier")
    vault = bytes.fromhex("71c95911e9a5d330f4d621842ec243ee1343292e")
    evidence = _rwa.parse_evidence("school opened")
    assert evidence == keccak(b"school opened")
    signed = _rwa.sign_attestation(Account.from_key(key), to_checksum_address(vault), 1337, 2, evidence)
    assert signed == attestation(vault, 2, evidence, key, chain_id=1337)
    assert signed != attestation(vault, 2, evidence, key, chain_id=1338)  # the chain is in the domain
    assert _rwa.parse_evidence("0x" + "ab" * 32) == b"\xab" * 32


def invoke(*args: str):
    from click.testing import CliRunner

    from plume_node.cli import main

    # an unreachable node: these must be refused before any RPC
    return CliRunner().invoke(main, [*args, "--rpc", "http://127.0.0.1:9", "--private-key-file", __file__],
                              catch_exceptions=False)


@pytest.mark.parametrize(("args", "says"), [
    (("rwa", "token", "transfer", "0x8464135c8F25Da09e49BC8782676a84730C318BC", HOLDER, "1"), "EIP-55 checksum"),
    (("rwa", "vault", "create", "milestone", "--asset", HOLDER, "--name", "n", "--symbol", "s", "--deposit-deadline",
      "+1h", "--verifier", HOLDER, "--quorum", "1", "--milestone", "100tokens"), "AMOUNT:RECIPIENT:DEADLINE"),
    (("rwa", "vault", "create", "milestone", "--asset", HOLDER, "--name", "n", "--symbol", "s", "--deposit-deadline",
      "+1h", "--verifier", HOLDER, "--quorum", "1", "--milestone", f"101%:{HOLDER}:+2h"), "above 100%"),
    (("rwa", "rights", "create", "--start", "+1y", "--end", "+2h", "--max-supply", "1"), "+N[s|m|h|d]"),
])
def test_malformed_arguments_are_usage_errors_before_any_rpc(args, says) -> None:
    result = invoke(*args)
    assert result.exit_code == 2 and says in result.output, result.output

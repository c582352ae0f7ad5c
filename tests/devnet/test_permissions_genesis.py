"""The genesis `permissions` section and `devnet init --set permissions.*`.

Off by default (and then absent from genesis.json, so a public genesis file
is as before; its genesis state still holds 0x…1003); parsed strictly (each problem names its field); round-trips; the
devnet's admin and enabled operators; a bad `--set` is a usage error.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from eth_utils import to_canonical_address

from plume_node.cli import main
from plume_node.genesis import GenesisError, load_genesis, new_genesis, parse_genesis
from staking.permissions.roles import PermList, Role

A = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
B = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def doc(permissions=None) -> dict:
    data = new_genesis(4242).to_json()
    if permissions is not None:
        data["permissions"] = permissions
    return data


def test_off_by_default_and_absent_from_the_document() -> None:
    plain = parse_genesis(doc())
    assert plain.permissions.is_default() and "permissions" not in plain.to_json()
    assert parse_genesis(doc({})).hash() == plain.hash()  # an empty section is the default


def test_lists_and_roles_parse_and_round_trip() -> None:
    parsed = parse_genesis(doc({"transact": True, "admins": [A], "managers": {"deploy": [B]},
                                "enabled": {"transact": [B, A]}}))
    perms = parsed.permissions
    assert (perms.transact, perms.deploy, perms.validator) == (True, False, False)
    roles = {(w, acct): r for w, acct, r in perms.roles}
    a, b = to_canonical_address(A), to_canonical_address(B)
    assert roles[(PermList.TRANSACT, a)] == Role.ADMIN  # admin beats enabled on the same list
    assert roles[(PermList.DEPLOY, a)] == Role.ADMIN and roles[(PermList.VALIDATOR, a)] == Role.ADMIN
    assert roles[(PermList.DEPLOY, b)] == Role.MANAGER and roles[(PermList.TRANSACT, b)] == Role.ENABLED
    assert parse_genesis(parsed.to_json()) == parsed
    assert parsed.hash() != parse_genesis(doc()).hash()


@pytest.mark.parametrize("section, message", [
    ([], "permissions must be an object"),
    ({"transact": 1}, "permissions.transact must be true or false"),
    ({"everyone": True}, "unknown field(s) everyone"),
    ({"admins": "0x12"}, "permissions.admins must be a list of addresses or an object"),
    ({"admins": ["0x12"]}, "permissions.admins must hold 0x-prefixed 20-byte hex addresses"),
    ({"enabled": {"mint": [A]}}, "unknown list 'mint'"),
    ({"enabled": {"transact": [A] * 1_001}}, "at most 1000 addresses"),
])
def test_a_malformed_section_names_its_field(section, message) -> None:
    with pytest.raises(GenesisError, match="genesis.json: permissions") as refused:
        parse_genesis(doc(section))
    assert message in str(refused.value)


def test_devnet_set_turns_a_list_on_with_dev_account_0_as_admin(tmp_path) -> None:
    directory = tmp_path / "net"
    result = CliRunner().invoke(main, ["devnet", "init", "--validators", "2", "--dir", str(directory), "--accounts", "2",
                                       "--set", "permissions.transact=true", "--set", "permissions.validator=1"])
    assert result.exit_code == 0, result.output
    genesis = load_genesis(directory / "node0" / "genesis.json")
    perms = genesis.permissions
    assert (perms.transact, perms.deploy, perms.validator) == (True, False, True)
    accounts = json.loads((directory / "accounts.json").read_text())["accounts"]
    admin = to_canonical_address(accounts[0]["address"])
    roles = {(w, acct): r for w, acct, r in perms.roles}
    assert all(roles[(w, admin)] == Role.ADMIN for w in PermList)
    for v in genesis.validators:  # operators may still operate
        assert all(roles[(w, v.fee_address)] == Role.ENABLED for w in PermList)
    assert (PermList.TRANSACT, to_canonical_address(accounts[1]["address"])) not in roles


def test_devnet_set_names_another_admin(tmp_path) -> None:
    directory = tmp_path / "net"
    result = CliRunner().invoke(main, ["devnet", "init", "--validators", "1", "--dir", str(directory),
                                       "--set", "permissions.deploy=true", "--set", f"permissions.admin={B}"])
    assert result.exit_code == 0, result.output
    roles = {(w, acct): r for w, acct, r in load_genesis(directory / "node0" / "genesis.json").permissions.roles}
    assert roles[(PermList.DEPLOY, to_canonical_address(B))] == Role.ADMIN


@pytest.mark.parametrize("setting, message", [
    ("permissions.transact=maybe", "permissions.transact must be true or false"),
    ("permissions.everyone=true", "unknown key 'permissions.everyone'"),
    ("permissions.admin=0x12", "permissions.admin must be a 0x-prefixed 20-byte hex address"),
])
def test_a_bad_permissions_set_is_a_usage_error(tmp_path, setting, message) -> None:
    directory = tmp_path / "net"
    result = CliRunner().invoke(main, ["devnet", "init", "--validators", "1", "--dir", str(directory), "--set", setting])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not directory.exists()


def test_a_chain_frozen_from_block_0_is_refused_naming_the_field() -> None:
    with pytest.raises(GenesisError, match=r"permissions\.deploy is on but nobody holds a role"):
        parse_genesis(doc({"deploy": True}))
    with pytest.raises(GenesisError, match=r"permissions\.transact is on but nobody holds a role"):
        parse_genesis(doc({"transact": True, "admins": {"deploy": [A]}}))
    data = doc({"transact": True, "admins": [A]})
    data["validators"] = [{"name": "v0", "pub_key": "11" * 32, "power": 10**6, "fee_address": B}]
    with pytest.raises(GenesisError, match=r"permissions\.transact is on but validator v0's operator .* no transact role"):
        parse_genesis(data)
    data["permissions"]["enabled"] = {"transact": [B]}
    assert parse_genesis(data).permissions.transact  # the operator enabled: accepted


def test_devnet_set_admin_with_no_list_on_is_a_usage_error(tmp_path) -> None:
    for extra in ((), ("--set", "permissions.deploy=false")):
        result = CliRunner().invoke(main, ["devnet", "init", "--validators", "1", "--dir", str(tmp_path / "net"),
                                           "--set", f"permissions.admin={B}", *extra])
        assert result.exit_code == 2 and "no list is on" in result.output, result.output
        assert not (tmp_path / "net").exists()

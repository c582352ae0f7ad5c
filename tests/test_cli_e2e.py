"""End to end through the command line: keys, tx send and query against a real
`plume-node start` subprocess, each command in its own process as a user runs it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from rpcclient import rpc as call_rpc

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from e2e_node import CHAIN_ID, RunningNode, fails, free_port, ok, start_node  # noqa: E402

pytestmark = pytest.mark.slow
PLUME = 10**18


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> RunningNode:
    running = start_node(tmp_path_factory.mktemp("cli-e2e"))
    yield running
    running.stop()


def test_keys_send_and_query(node, tmp_path):
    home, pw, rpc = str(node.home), str(node.password_file), node.rpc_url
    alice = json.loads(ok("keys", "new", "alice", "--home", home, "--password-file", pw, "--json"))
    assert alice["address"].startswith("0x") and Path(alice["path"]).exists()
    listed = json.loads(ok("keys", "list", "--home", home, "--json"))
    assert {k["name"] for k in listed} == {"alice", "operator"}
    assert "alice" in ok("keys", "list", "--home", home)
    assert json.loads(ok("keys", "show", alice["address"], "--home", home, "--json"))["name"] == "alice"

    sent = json.loads(ok("tx", "send", "--from", "operator", "--home", home, "--password-file", pw,
                         "--to", alice["address"], "--value", "2.5plume", "--rpc", rpc, "--json"))
    assert sent["status"] == "success" and sent["gasUsed"] == 21000 and sent["value"] == str(25 * PLUME // 10)
    balance = json.loads(ok("query", "balance", alice["address"], "--rpc", rpc, "--json"))
    assert balance["balance"] == str(25 * PLUME // 10)
    assert ok("query", "balance", alice["address"], "--rpc", rpc).strip() == "2.5 PLUME (2500000000000000000 wei)"

    # alice sends back with explicit fees, human output
    text = ok("tx", "send", "--from", "alice", "--home", home, "--password-file", pw, "--to", sent["from"],
              "--value", "1gwei", "--max-fee", "30gwei", "--priority-fee", "1gwei", "--gas-limit", "21000",
              "--rpc", rpc)
    assert "status    success" in text and "gas used  21000" in text
    tx_hash = text.split()[1]

    tx = json.loads(ok("query", "tx", tx_hash, "--rpc", rpc, "--json"))
    assert tx["from"] == alice["address"] and tx["maxFeePerGas"] == hex(30 * 10**9) and tx["nonce"] == "0x0"
    assert f"from      {alice['address']}" in ok("query", "tx", tx_hash, "--rpc", rpc)
    receipt = json.loads(ok("query", "receipt", tx_hash, "--rpc", rpc, "--json"))
    assert receipt["status"] == "0x1"
    block = json.loads(ok("query", "block", str(int(receipt["blockNumber"], 16)), "--rpc", rpc, "--json"))
    assert tx_hash in block["transactions"]
    assert tx_hash in ok("query", "block", str(int(receipt["blockNumber"], 16)), "--rpc", rpc)
    supply = json.loads(ok("query", "supply", "--rpc", rpc, "--json"))
    assert int(supply["totalBurned"]) > 0 and int(supply["totalIssued"]) > 0 and int(supply["rewardsOutstanding"]) > 0
    assert "total burned" in ok("query", "supply", "--rpc", rpc)
    status = json.loads(ok("query", "status", "--rpc", rpc, "--json"))
    assert status["chainId"] == hex(CHAIN_ID) and int(status["height"], 16) >= int(receipt["blockNumber"], 16)
    assert "syncing  no" in ok("query", "status", "--rpc", rpc)

    # a raw key file signs too; importing a key already in the keystore is refused
    key_file = tmp_path / "operator.key"
    key_file.write_text(node.operator().key.hex() + "\n")
    by_file = json.loads(ok("tx", "send", "--private-key-file", str(key_file), "--to", alice["address"],
                            "--value", "10wei", "--rpc", rpc, "--json"))
    assert by_file["status"] == "success" and by_file["from"] == sent["from"]
    assert "already stored as 'operator'" in fails("keys", "import", "again", "--private-key-file", str(key_file),
                                                   "--home", home, "--password-file", pw)

    no_wait = json.loads(ok("tx", "send", "--from", "alice", "--home", home, "--password-file", pw,
                            "--to", sent["from"], "--value", "1", "--no-wait", "--rpc", rpc, "--json"))
    assert no_wait["hash"].startswith("0x") and "blockNumber" not in no_wait


def test_failures_are_one_clear_line(node, tmp_path):
    home, pw, rpc = str(node.home), str(node.password_file), node.rpc_url
    dead = f"http://127.0.0.1:{free_port()}"
    message = fails("query", "balance", "0x" + "11" * 20, "--rpc", dead)
    assert message.startswith(f"Error: cannot reach the node at {dead}") and "plume-node start" in message
    assert len(message.splitlines()) == 1

    message = fails("tx", "send", "--from", "operator", "--home", home, "--password-file", pw,
                    "--to", "0x" + "11" * 20, "--value", "1", "--nonce", "0", "--rpc", rpc)
    assert message.startswith("Error: nonce too low: account has nonce ")

    assert "unknown unit 'bananas'" in fails("tx", "send", "--from", "operator", "--home", home,
                                             "--to", "0x" + "11" * 20, "--value", "3bananas", code=2)
    assert "is not an address" in fails("query", "balance", "0x1234", "--rpc", rpc, code=2)
    # a mistyped EIP-55 checksum is refused before anything is signed; the right one passes
    good = "0x52908400098527886E0F7030069857D2E4169EE7"
    typo = good[:-1] + "e"
    operator = node.operator().address
    nonce = call_rpc(rpc, "eth_getTransactionCount", operator, "pending")
    assert "EIP-55 checksum" in fails("tx", "send", "--from", "operator", "--home", home, "--password-file", pw,
                                      "--to", typo, "--value", "1", "--rpc", rpc, code=2)
    assert call_rpc(rpc, "eth_getTransactionCount", operator, "pending") == nonce
    ok("query", "balance", good, "--rpc", rpc)
    ok("query", "balance", good.lower(), "--rpc", rpc)
    assert "knows no transaction" in fails("query", "tx", "0x" + "00" * 32, "--rpc", rpc)
    assert "no key named 'bob'" in fails("keys", "show", "bob", "--home", home)

    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the password\n")
    assert "wrong password for key 'operator'" in fails(
        "tx", "send", "--from", "operator", "--home", home, "--password-file", str(wrong),
        "--to", "0x" + "11" * 20, "--value", "1", "--rpc", rpc)

"""Permissioned devnet (issue 13's first "done when"): four real validator processes,
`permissions.transact` on, one of them a tampered proposer.

Dev account 0 is the lists' admin (the devnet default); dev account 1 holds no
role. Its transfer is refused by every honest node's RPC with
`permission_denied`. Node 3 runs with the permission rule cut out of its
mempool and its block builder (a proposer that does not play by the rules):
it admits the transfer and puts it in every block it proposes; the three
honest validators reject each of those blocks (their logs name the rule),
the chain goes on without it, and the transfer never commits. After
`plume-node tx perms grant enabled transact` from the admin, the same
account transacts; `query perms` shows its role.
"""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from eth_account import Account

from netharness import Net, NetNode
from rpcclient import RpcError, rpc
from waiting import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from e2e_node import cli  # noqa: E402

pytestmark = pytest.mark.slow
HONEST = (0, 1, 2)
TAMPERED = 3
# `plume-node start` with the permission rule patched out of block building and mempool admission.
TAMPERED_START = """
import sys
import execution.mempool.pool, execution.vm
execution.vm.permission_denied = lambda *args: None
execution.mempool.pool.permission_denied = lambda *args: None
from plume_node.cli import main
sys.argv = ["plume-node", "start", "--home", sys.argv[1]]
main()
"""


def start_tampered(node: NetNode) -> None:
    log = open(node.home / "node.log", "ab")
    node.process = subprocess.Popen([sys.executable, "-c", TAMPERED_START, str(node.home)],
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()


def signed_transfer(net: Net, url: str, key: str, nonce: int) -> str:
    base_fee = int(rpc(url, "eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    tx = {"type": 2, "chainId": net.chain_id, "nonce": nonce, "to": "0x" + "00" * 19 + "42", "value": 1,
          "gas": 21_000, "maxFeePerGas": 4 * base_fee + 10**9, "maxPriorityFeePerGas": 10**9}
    return "0x" + Account.sign_transaction(tx, key).raw_transaction.hex()


def table_rows(page: str, table_id: str) -> list[list[str]]:
    """The body rows of the table ``table_id`` of an HTML page, read with a real HTML parser."""
    rows: list[list[str]] = []

    class Rows(HTMLParser):
        inside = in_body = False

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.inside = dict(attrs).get("id") == table_id
            elif self.inside and tag == "tbody":
                self.in_body = True
            elif self.inside and self.in_body and tag == "tr":
                rows.append([])
            elif self.inside and self.in_body and tag == "td":
                rows[-1].append("")

        def handle_endtag(self, tag):
            if tag == "table":
                self.inside = self.in_body = False

        def handle_data(self, data):
            if self.inside and self.in_body and rows and rows[-1]:
                rows[-1][-1] += data

    Rows().feed(page)
    return rows


def rejections(node: NetNode, account: str) -> int:
    """How many proposals this node judged invalid for carrying a tx from ``account``."""
    needle = f"permission denied: {account.lower()} has no role on the transact list"
    return sum(1 for line in node.log_text().splitlines() if "invalid transaction" in line and needle in line)


def test_an_unlisted_account_is_refused_everywhere_and_a_tampered_proposers_blocks_are_rejected(tmp_path):
    net = Net.create(tmp_path / "net", 4, settings=("permissions.transact=true",))
    admin, user = net.accounts[0], net.accounts[1]
    try:
        net.start(HONEST)
        start_tampered(net.nodes[TAMPERED])
        net.wait_height(range(4), 2, timeout=120)
        urls = [n.rpc_url for n in net.nodes]
        raw = signed_transfer(net, urls[0], user["private_key"], 0)

        for url in (urls[i] for i in HONEST):
            with pytest.raises(RpcError) as refused:
                rpc(url, "eth_sendRawTransaction", raw)
            text = json.dumps(refused.value.error)
            assert "permission_denied" in text and user["address"].lower() in text.lower(), text

        tx_hash = rpc(urls[TAMPERED], "eth_sendRawTransaction", raw)  # the tampered node admits it
        for i in HONEST:  # every honest validator turns down a block that carries it
            node = net.nodes[i]
            wait_until(lambda: rejections(node, user["address"]) >= 1, 180,
                       f"{node.name} to reject a block from the tampered proposer")
        start = net.nodes[0].height()
        net.wait_height(HONEST, start + 4, timeout=120)  # the chain goes on without it
        tampered_id = f"id:{net.nodes[TAMPERED].node_id}"
        for i in HONEST:  # neither the gossiped forbidden tx nor the invalid block gets the tampered node banned
            bans = rpc(urls[i], "plume_peers")["bans"]
            assert not [b for b in bans if b["key"] == tampered_id], bans
        assert rpc(urls[0], "eth_getTransactionReceipt", tx_hash) is None
        assert int(rpc(urls[0], "eth_getTransactionCount", user["address"], "latest"), 16) == 0

        key_file = tmp_path / "admin.key"
        key_file.write_text(admin["private_key"] + "\n")
        done = cli("tx", "perms", "grant", "enabled", "transact", user["address"],
                   "--private-key-file", str(key_file), "--rpc", urls[1], "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["status"] == "success", done.stdout
        done = cli("query", "perms", user["address"], "--rpc", urls[2], "--json")
        assert done.returncode == 0, done.stderr
        # `grant` below the held role is a demotion: refused unless --demote (then the contract refuses
        # it too: the admin is its list's last one)
        demote = ("tx", "perms", "grant", "enabled", "transact", admin["address"], "--private-key-file", str(key_file),
                  "--rpc", urls[1])
        done = cli(*demote)
        assert done.returncode != 0 and "would demote it (pass --demote" in done.stderr, done.stdout + done.stderr
        done = cli(*demote, "--demote")
        assert done.returncode != 0 and "last admin" in done.stdout + done.stderr, done.stdout + done.stderr
        wait_until(lambda: rpc(urls[2], "plume_getPermissions", user["address"])["lists"]["transact"]["role"]
                   == "enabled", 60, "the grant to reach node2")

        try:  # the same signed transfer is admitted now (unless the tampered node's copy got in first)
            rpc(urls[0], "eth_sendRawTransaction", raw)
        except RpcError as exc:
            assert exc.error.get("data") in ("already_known", "nonce_too_low"), exc.error
        receipt = wait_until(lambda: rpc(urls[0], "eth_getTransactionReceipt", tx_hash), 90, "the transfer commits")
        assert receipt["status"] == "0x1"
        second = rpc(urls[1], "eth_sendRawTransaction", signed_transfer(net, urls[1], user["private_key"], 1))
        receipt = wait_until(lambda: rpc(urls[1], "eth_getTransactionReceipt", second), 90, "a second transfer commits")
        assert receipt["status"] == "0x1"
        standing = json.loads(cli("query", "perms", user["address"], "--rpc", urls[0], "--json").stdout)
        assert standing["lists"]["transact"] == {"on": True, "role": "enabled", "allowed": True}
        assert standing["lists"]["deploy"] == {"on": False, "role": "none", "allowed": True}

        head = net.nodes[0].height()
        done = cli("report", "compliance", "--rpc", urls[0], "--from-block", "1", "--to-block", str(head),
                   "--out", str(tmp_path / "report"))
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads((tmp_path / "report" / "report.json").read_text())
        (grant_change,) = report["permissionChanges"]
        assert grant_change["event"] == "RoleSet" and grant_change["list"] == "transact"
        assert (grant_change["account"], grant_change["role"], grant_change["by"]) == (
            user["address"], "enabled", admin["address"])
        rows = table_rows((tmp_path / "report" / "report.html").read_text(), "permission-changes")
        assert rows == [[str(grant_change["blockNumber"]), "RoleSet", "transact", user["address"], "enabled", "",
                         admin["address"], grant_change["transactionHash"]]]
    finally:
        net.stop_all()

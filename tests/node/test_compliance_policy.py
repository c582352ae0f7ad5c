"""The compliance service inside a real in-process node: real LevelDB, py-evm, signatures.

A node with a compliance.toml refuses a transfer to a denylisted address at
admission with the rule's name; its flag rules raise alerts (JSON-lines
file) for native transfers, ERC-20 Transfer logs and internal calls with
value (the re-execution trace); SIGHUP's reload keeps the previous rules
when the new file is bad.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rlp
import trio
from eth_abi import encode
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from execution.mempool import MempoolError, MempoolErrorCode
from node_helpers import CHAIN_ID, PASSWORD, fast_config, make_home, running, wait_for_height
from plume_node.keystore import Keystore
from plume_node.node import Node
from waiting import await_until

GWEI = 10**9
ETHER = 10**18
DENIED = bytes.fromhex("de" * 20)
RECIPIENT = bytes.fromhex("5eed" * 10)
TARGET = bytes.fromhex("7a" * 20)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def initcode(runtime: bytes) -> bytes:
    """CODECOPY the runtime to memory and RETURN it (12 bytes, then the runtime)."""
    return bytes([0x60, len(runtime), 0x60, 0x0C, 0x60, 0x00, 0x39, 0x60, len(runtime), 0x60, 0x00, 0xF3]) + runtime


def forwarder_initcode(target: bytes) -> bytes:
    """A contract that CALLs `target` with all the value it receives, ignoring the call's outcome."""
    return initcode(bytes.fromhex("6000600060006000" "34" "73") + target + bytes.fromhex("5a" "f1" "50" "00"))


REVERTER_INITCODE = initcode(bytes.fromhex("60006000fd"))  # REVERT(0, 0) whatever it is sent


def contract_address(sender: bytes, nonce: int) -> bytes:
    return keccak(rlp.encode([sender, nonce]))[12:]


def policy_text(token: bytes) -> str:
    return f"""
[[rule]]
name = "sanctions"
kind = "denylist"
action = "reject"
file = "denylist.txt"

[[rule]]
name = "big-native"
kind = "threshold"
action = "flag"
min_value = "1 ether"

[[rule]]
name = "big-token"
kind = "threshold"
action = "flag"
asset = "{to_checksum_address(token)}"
min_value = 100
"""


class Sender:
    def __init__(self, node: Node) -> None:
        self.account = Keystore(node.home.root).unlock("operator", PASSWORD)
        self.address = bytes.fromhex(self.account.address[2:])
        self.node = node
        self.nonce = 0

    def raw(self, to: bytes | None, value: int = 0, data: bytes = b"", gas: int = 100_000) -> bytes:
        tx = {"type": 2, "chainId": CHAIN_ID, "nonce": self.nonce, "value": value, "gas": gas,
              "maxFeePerGas": 30 * GWEI, "maxPriorityFeePerGas": GWEI, "data": data}
        if to is not None:
            tx["to"] = to_checksum_address(to)
        return bytes(self.account.sign_transaction(tx).raw_transaction)

    def send(self, to: bytes | None, value: int = 0, data: bytes = b"", gas: int = 100_000) -> bytes:
        tx_hash = self.node.submit_transaction(self.raw(to, value, data, gas))
        self.nonce += 1
        return tx_hash


def alerts(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def policy_node(tmp_path):
    home = make_home(tmp_path / "home")
    operator = Keystore(home.root).unlock("operator", PASSWORD)
    token = contract_address(bytes.fromhex(operator.address[2:]), 0)
    (home.root / "denylist.txt").write_text(f"# sanctions\n0x{DENIED.hex()}\n")
    (home.root / "compliance.toml").write_text(policy_text(token))
    node = Node.open(home, fast_config(home, block_time_ms=100))
    yield node, token
    node.close()


async def test_reject_and_flag_rules_in_a_running_node(policy_node):
    node, token = policy_node
    alerts_file = node.home.root / "compliance-alerts.jsonl"
    sender = Sender(node)
    async with running(node):
        await wait_for_height(node, 1)
        with pytest.raises(MempoolError) as refused:
            node.submit_transaction(sender.raw(DENIED, value=1))
        assert refused.value.code is MempoolErrorCode.POLICY_REJECTED
        assert "'sanctions'" in refused.value.message and "denylist" in refused.value.message

        artifact = json.loads((FIXTURES / "erc20.json").read_text())
        initcode = bytes.fromhex(artifact["bytecode"][2:]) + encode(["uint256"], [10**6])
        deploy = sender.send(None, data=initcode, gas=2_000_000)  # mints 10**6: a Transfer from 0x0
        forwarder = contract_address(sender.address, 1)
        sender.send(None, data=forwarder_initcode(TARGET), gas=200_000)
        native = sender.send(RECIPIENT, value=3 * ETHER, gas=21_000)
        transfer = keccak(b"transfer(address,uint256)")[:4] + encode(["address", "uint256"], [RECIPIENT, 500])
        tokens = sender.send(token, data=transfer)
        small = sender.send(token, data=keccak(b"transfer(address,uint256)")[:4] + encode(["address", "uint256"], [RECIPIENT, 99]))
        forwarded = sender.send(forwarder, value=ETHER + 5)
        reverter = contract_address(sender.address, sender.nonce)
        sender.send(None, data=REVERTER_INITCODE, gas=100_000)
        forwarder_to_reverter = contract_address(sender.address, sender.nonce)
        sender.send(None, data=forwarder_initcode(reverter), gas=200_000)
        bounced = sender.send(forwarder_to_reverter, value=2 * ETHER)  # the inner call fails: no internal flow

        want = {("0x" + deploy.hex(), "erc20"), ("0x" + native.hex(), "native"), ("0x" + tokens.hex(), "erc20"),
                ("0x" + forwarded.hex(), "native"), ("0x" + forwarded.hex(), "internal"),
                ("0x" + bounced.hex(), "native")}
        await await_until(lambda: {(a["flow"]["transactionHash"], a["flow"]["kind"]) for a in alerts(alerts_file)} >= want,
                          30, "alerts for the native, token and internal movements")
        await wait_for_height(node, node.app.committed_height() + 1)
        got = alerts(alerts_file)
        assert {(a["flow"]["transactionHash"], a["flow"]["kind"]) for a in got} == want
        assert "0x" + small.hex() not in {a["flow"]["transactionHash"] for a in got}
        internal = next(a for a in got if a["flow"]["kind"] == "internal")
        assert internal["rule"] == "big-native" and internal["action"] == "flag"
        assert internal["flow"]["from"] == to_checksum_address(forwarder)
        assert internal["flow"]["to"] == to_checksum_address(TARGET) and internal["flow"]["amount"] == str(ETHER + 5)
        token_alert = next(a for a in got if a["flow"]["kind"] == "erc20")
        assert token_alert["rule"] == "big-token" and token_alert["flow"]["asset"] == to_checksum_address(token)
        assert node.chain.state_at().balance(TARGET) == ETHER + 5
        assert node.chain.state_at().balance(forwarder_to_reverter) == 2 * ETHER  # it stayed there


async def test_reload_keeps_the_old_rules_when_the_new_file_is_bad(policy_node, caplog):
    node, token = policy_node
    sender = Sender(node)
    policy_file = node.home.root / "compliance.toml"
    async with running(node):
        await wait_for_height(node, 1)
        policy_file.write_text('[[rule]]\nname = "x"\nkind = "threshold"\naction = "flag"\nmin_value = "lots"\n')
        assert node.compliance.reload() is False
        assert "line 5" in caplog.text and "previous rules stay in force" in caplog.text
        with pytest.raises(MempoolError, match="sanctions"):
            node.submit_transaction(sender.raw(DENIED, value=1))
        policy_file.write_text('[[rule]]\nname = "x"\nkind = "threshold"\naction = "flag"\nmin_value = "5 ether"\n')
        assert node.compliance.reload() is True
        sender.send(DENIED, value=1, gas=21_000)  # no denylist any more


def test_a_bad_policy_stops_the_start(tmp_path):
    home = make_home(tmp_path / "home")
    (home.root / "compliance.toml").write_text('[[rule]]\nname = "s"\nkind = "denylist"\naction = "reject"\nfile = "d.txt"\n')
    (home.root / "d.txt").write_text("0x" + "00" * 20 + "\nnope\n")
    from plume_node.compliance.policyfile import PolicyError

    with pytest.raises(PolicyError, match=r"d.txt, line 2: not an address"):
        Node.open(home, fast_config(home))


class _Hook:
    """A real HTTP server on 127.0.0.1 that fails the first `failures` POSTs with 500."""

    def __init__(self, failures: int) -> None:
        import http.server
        import threading

        hook = self
        self.failures, self.bodies, self.attempts = failures, [], 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                hook.attempts += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.attempts <= hook.failures:
                    self.send_response(500)
                else:
                    hook.bodies.append(json.loads(body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _flagging_node(tmp_path, webhook_url: str) -> Node:
    import dataclasses

    home = make_home(tmp_path / "home")
    (home.root / "compliance.toml").write_text(
        '[[rule]]\nname = "big"\nkind = "threshold"\naction = "flag"\nmin_value = "1 ether"\n')
    config = fast_config(home, block_time_ms=100)
    config = config.replace(compliance=dataclasses.replace(config.compliance, webhook_url=webhook_url,
                                                           webhook_retries=2, webhook_timeout_ms=2000))
    return Node.open(home, config)


async def test_webhook_is_retried_after_a_failure(tmp_path):
    hook = _Hook(failures=1)
    node = _flagging_node(tmp_path, hook.url)
    try:
        sender = Sender(node)
        async with running(node):
            await wait_for_height(node, 1)
            tx_hash = sender.send(RECIPIENT, value=2 * ETHER, gas=21_000)
            await await_until(lambda: hook.bodies, 30, "the webhook to receive the alert on its second attempt")
            assert hook.attempts == 2
            assert hook.bodies[0]["flow"]["transactionHash"] == "0x" + tx_hash.hex() and hook.bodies[0]["rule"] == "big"
    finally:
        hook.close()
        node.close()


async def test_a_dead_webhook_never_holds_the_chain(tmp_path, caplog):
    from ports import free_port

    node = _flagging_node(tmp_path, f"http://127.0.0.1:{free_port()}/nobody")
    alerts_file = node.home.root / "compliance-alerts.jsonl"
    try:
        sender = Sender(node)
        async with running(node):
            await wait_for_height(node, 1)
            sender.send(RECIPIENT, value=2 * ETHER, gas=21_000)
            await await_until(lambda: alerts(alerts_file), 30, "the alert in the JSON-lines file")
            height = node.app.committed_height()
            await wait_for_height(node, height + 5)  # blocks go on while the webhook is retried
            await await_until(lambda: "webhook gave up" in caplog.text, 30, "the webhook to give up after its retries")
    finally:
        node.close()


def test_an_observer_must_not_be_a_validator(tmp_path):
    import dataclasses

    from plume_node.errors import UserError

    home = make_home(tmp_path / "home")  # the sole genesis validator
    config = fast_config(home)
    config = config.replace(compliance=dataclasses.replace(config.compliance, observer=True))
    with pytest.raises(UserError, match="an observer must not be a validator"):
        Node.open(home, config)


async def test_an_observer_never_signs_even_when_its_key_is_in_the_set(tmp_path, monkeypatch):
    """Regression: the start's check sees one height only (a fresh home sees genesis, a jailed key
    passes); an observer whose key later joins the set signed votes (double-sign risk)."""
    import dataclasses

    home = make_home(tmp_path / "home")  # the sole genesis validator
    config = fast_config(home, block_time_ms=50)
    config = config.replace(compliance=dataclasses.replace(config.compliance, observer=True))
    monkeypatch.setattr(Node, "is_validator", lambda self: False)  # as the start check could be fooled
    node = Node.open(home, config)
    try:
        assert node.signer is None and node.driver.signer is None and node.engine.address is None
        async with running(node):
            # a validator would commit about 20 blocks in this time; an observer never signs one
            await trio.sleep(1.0)
            assert node.app.committed_height() == 0 and node.driver.sign_refusals == 0
    finally:
        node.close()


async def test_staking_deposits_and_payouts_are_fund_flows(tmp_path):
    """A delegation is a stakeDeposit (value to 0x…1000), a reward claim a stakePayout (its event)."""
    from eth_abi import encode as abi_encode

    from staking import abi
    from staking.addresses import STAKING_ADDRESS

    home = make_home(tmp_path / "home")
    (home.root / "compliance.toml").write_text(
        '[[rule]]\nname = "all"\nkind = "threshold"\naction = "flag"\nmin_value = 1\n')
    node = Node.open(home, fast_config(home, block_time_ms=100))
    alerts_file = node.home.root / "compliance-alerts.jsonl"
    methods = {m.name: m for m in abi.METHODS.values()}

    def call(name: str, *args) -> bytes:
        return methods[name].selector + abi_encode(list(methods[name].inputs), list(args))

    try:
        sender = Sender(node)
        async with running(node):
            await wait_for_height(node, 1)
            deposit = sender.send(STAKING_ADDRESS, value=2 * ETHER, data=call("delegate", sender.address), gas=500_000)
            await wait_for_height(node, node.app.committed_height() + 5)  # rewards accrue
            claim = sender.send(STAKING_ADDRESS, data=call("claimRewards", sender.address), gas=500_000)
            want = {("0x" + deposit.hex(), "stakeDeposit"), ("0x" + claim.hex(), "stakePayout")}
            await await_until(lambda: {(a["flow"]["transactionHash"], a["flow"]["kind"]) for a in alerts(alerts_file)} >= want,
                              30, "the deposit and the payout as flows")
            payout = next(a["flow"] for a in alerts(alerts_file) if a["flow"]["kind"] == "stakePayout")
            assert payout["from"] == to_checksum_address(STAKING_ADDRESS) and payout["to"] == sender.account.address
            assert int(payout["amount"]) > 0
    finally:
        node.close()


def _block_of(node: Node, tx_hash: bytes) -> int | None:
    for number in range(1, node.app.committed_height() + 1):
        if any(bytes(tx.hash) == tx_hash for tx in node.chain.get_block(number).transactions):
            return number
    return None


async def test_fund_flows_of_a_block_the_rpc_budget_cannot_reexecute(policy_node):
    """Regression: plume_fundFlows re-executed under the RPC budget, which refuses MODEXP inputs over
    1024 bytes: such a block could never be served and `report compliance` failed on any range
    holding it. Now it is served from its receipts with internalTraced false."""
    from execution.budget import ExecutionBudget
    from execution.snapshot import ChainSnapshot
    from plume_node.rpc.methods_compliance import plume_fund_flows
    from plume_node.rpc.workers import ReadContext

    node, _ = policy_node
    sender = Sender(node)
    modexp = (5).to_bytes(20, "big")
    data = encode(["uint256", "uint256", "uint256"], [1025, 1, 1]) + b"\x02" * 1025 + b"\x03" + b"\x05"
    async with running(node):
        await wait_for_height(node, 1)
        tx_hash = sender.send(modexp, value=2 * ETHER, data=data, gas=2_000_000)
        await await_until(lambda: _block_of(node, tx_hash) is not None, 30, "the MODEXP transaction to commit")
    number = _block_of(node, tx_hash)
    snapshot = ChainSnapshot(node.chain)
    try:
        budget = ExecutionBudget.start(gas_cap=50_000_000, total_gas=50_000_000, timeout_s=5)
        answer = plume_fund_flows(node, number).work(ReadContext(snapshot, budget))
    finally:
        snapshot.release()
    assert answer["internalTraced"] is False and answer["truncated"] is False
    assert [(f["kind"], f["amount"], f["transactionHash"]) for f in answer["flows"]] == [
        ("native", str(2 * ETHER), "0x" + tx_hash.hex())]


def test_sighup_while_the_node_opens_does_not_kill_it(tmp_path):
    """Regression: before the service installed its receiver (Node.open: a denylist load, the
    database) SIGHUP's default action ended the process."""
    import signal
    import subprocess
    import sys

    code = (
        "import os, signal, sys\n"
        "from plume_node import node, runtime\n"
        "from plume_node.config import Config\n"
        "from plume_node.home import Home\n"
        "def opening(home, config):\n"
        "    os.kill(os.getpid(), signal.SIGHUP)\n"
        "    sys.exit(7)\n"
        "node.Node.open = staticmethod(opening)\n"
        f"runtime.run_node(Home.at({str(tmp_path)!r}), Config())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 7, (done.returncode, signal.Signals(-done.returncode).name if done.returncode < 0 else "",
                                  done.stderr[-2000:])


def test_reject_rules_count_the_senders_pooled_transactions_and_a_reload_rescreens_the_pool(tmp_path):
    """Regressions: pending transactions were not counted (a sender pushing many at once passed a
    velocity reject rule of max_count 3 with all of them); the pool was not re-screened on reload."""
    home = make_home(tmp_path / "home")
    policy_file = home.root / "compliance.toml"
    policy_file.write_text('[[rule]]\nname = "fast"\nkind = "velocity"\naction = "reject"\n'
                           'window_blocks = 10\nmax_count = 3\n')
    node = Node.open(home, fast_config(home))
    try:
        sender = Sender(node)
        kept = [sender.send(RECIPIENT, value=1, gas=21_000) for _ in range(3)]  # not running: all stay pooled
        with pytest.raises(MempoolError, match="'fast'") as refused:
            node.submit_transaction(sender.raw(RECIPIENT, value=1, gas=21_000))
        assert refused.value.code is MempoolErrorCode.POLICY_REJECTED
        (home.root / "denylist.txt").write_text(f"0x{RECIPIENT.hex()}\n")
        policy_file.write_text('[[rule]]\nname = "sanctions"\nkind = "denylist"\naction = "reject"\nfile = "denylist.txt"\n')
        assert node.compliance.reload() is True
        assert not any(h in node.mempool for h in kept)  # the new rule refuses what was pooled
    finally:
        node.close()


def test_refusals_are_logged_throttled(policy_node, caplog):
    """Regression: one INFO line per refused transaction (peers can gossip any number of distinct
    signed transactions to a denylisted address)."""
    import logging

    node, _ = policy_node
    sender = Sender(node)
    with caplog.at_level(logging.INFO, logger="plume.compliance"):
        for value in range(1, 51):
            with pytest.raises(MempoolError, match="sanctions"):
                node.submit_transaction(sender.raw(DENIED, value=value, gas=21_000))
    from plume_node.compliance.service import LOG_BURST

    assert sum("refused by rule sanctions" in r.getMessage() for r in caplog.records) == LOG_BURST


async def test_a_validator_with_only_denylist_rules_never_reexecutes_blocks(tmp_path, monkeypatch):
    """Regression: any compliance.toml made a validator re-execute every committed block."""
    from plume_node.compliance import service as service_module

    home = make_home(tmp_path / "home")
    (home.root / "denylist.txt").write_text(f"0x{DENIED.hex()}\n")
    (home.root / "compliance.toml").write_text(
        '[[rule]]\nname = "sanctions"\nkind = "denylist"\naction = "reject"\nfile = "denylist.txt"\n')
    derived = []
    real = service_module._flows_in_worker
    monkeypatch.setattr(service_module, "_flows_in_worker", lambda *args: derived.append(args[1]) or real(*args))
    node = Node.open(home, fast_config(home, block_time_ms=50))
    try:
        sender = Sender(node)
        async with running(node):
            sender.send(RECIPIENT, value=ETHER, gas=21_000)
            await wait_for_height(node, 5)
            await await_until(lambda: node.compliance.lag_blocks() <= 1, 10, "the service to keep up with the head")
        assert derived == [] and node.compliance.processed >= 4
    finally:
        node.close()

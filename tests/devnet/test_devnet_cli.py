"""`plume-node devnet`: the homes `init` writes, and `up`/`start`/`status` running real node processes.

init runs in-process through click's runner (fast); `devnet up` runs as a
subprocess in its own process group, the way a user runs it, and every
process a test starts is killed in a `finally`, even when an assert fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner
from eth_account import Account
from ports import free_port_range
from rpcclient import rpc
from waiting import wait_until

from plume_node.cli import main
from plume_node.genesis import load_genesis
from plume_node.keystore import Keystore
from staking.params import DEVNET_GOV

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def free_base_port(nodes: int) -> int:
    """A base whose 2*nodes ports (p2p and RPC of each node) are free, below the ephemeral range."""
    return free_port_range(2 * nodes)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_devnet(supervisor: subprocess.Popen, node_pids: list[int], out) -> None:
    """Whatever a test left running of a devnet: its supervisor (or launcher) and nodes, killed outright."""
    for pid in [supervisor.pid, *node_pids]:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    supervisor.wait(timeout=10)
    out.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------------ init


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """3 validators and 1 full node with genesis and config overrides."""
    directory = tmp_path_factory.mktemp("devnet") / "net"
    base = free_base_port(4)
    result = cli(
        "devnet", "init", "--validators", "3", "--full-nodes", "1", "--dir", str(directory),
        "--base-port", str(base), "--block-time", "300", "--accounts", "3", "--chain-id", "777",
        "--set", "genesis.gas_limit=20000000", "--set", "genesis.base_fee_per_gas=2000000000",
        "--set", "consensus.create_empty_blocks=false", "--set", "mempool.max_txs=100", "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    return directory, base, summary


def test_init_writes_one_shared_genesis(net):
    directory, _, summary = net
    described = json.loads((directory / "devnet.json").read_text())
    assert described["genesis_hash"] == summary["genesis_hash"]
    texts = {(directory / f"node{i}" / "genesis.json").read_bytes() for i in range(4)}
    assert len(texts) == 1, "every home must hold the same genesis.json"
    for i in range(4):
        assert "0x" + load_genesis(directory / f"node{i}" / "genesis.json").hash().hex() == summary["genesis_hash"]


def test_validators_in_genesis_and_full_nodes_not(net):
    directory, _, summary = net
    genesis = load_genesis(directory / "node0" / "genesis.json")
    pub_keys = []
    for i in range(4):
        pub_keys.append(bytes.fromhex(json.loads((directory / f"node{i}" / "keys" / "validator_key.json").read_text())["public_key"]))
    assert [v.pub_key for v in genesis.validators] == pub_keys[:3]
    assert pub_keys[3] not in {v.pub_key for v in genesis.validators}
    assert all(v.power == 100 for v in genesis.validators)
    roles = [n["role"] for n in summary["nodes"]]
    assert roles == ["validator", "validator", "validator", "full"]
    for node, validator in zip(summary["nodes"], genesis.validators):
        assert "0x" + validator.fee_address.hex() == node["operator_address"].lower()
        assert genesis.alloc[validator.fee_address] > 0, "a validator's operator account is funded"
        assert node["validator_address"] == validator.address.hex()
    assert summary["nodes"][3]["validator_address"] is None


def test_ports_distinct_and_peers_complete(net):
    directory, base, summary = net
    configs = [tomllib.loads((directory / f"node{i}" / "config.toml").read_text()) for i in range(4)]
    ports = []
    node_ids = []
    for i, config in enumerate(configs):
        assert config["p2p"]["listen_addr"] == f"127.0.0.1:{base + 2 * i}"
        assert config["rpc"]["listen_addr"] == f"127.0.0.1:{base + 2 * i + 1}"
        ports += [base + 2 * i, base + 2 * i + 1]
        # The node id, derived here from the node key itself: sha256(public key)[:20].
        public = bytes.fromhex(json.loads((directory / f"node{i}" / "keys" / "node_key.json").read_text())["public_key"])
        node_ids.append(hashlib.sha256(public).digest()[:20].hex())
        assert summary["nodes"][i]["node_id"] == node_ids[i]
        assert summary["nodes"][i]["rpc_url"] == f"http://127.0.0.1:{base + 2 * i + 1}"
        assert config["moniker"] == f"node{i}"
    assert len(set(ports)) == len(ports)
    for i, config in enumerate(configs):
        expected = {f"{node_ids[j]}@127.0.0.1:{base + 2 * j}" for j in range(4) if j != i}
        assert set(config["p2p"]["persistent_peers"]) == expected
        assert len(config["p2p"]["persistent_peers"]) == 3


def test_accounts_funded_and_keys_match(net):
    directory, _, _ = net
    doc = json.loads((directory / "accounts.json").read_text())
    assert doc["warning"] == "TEST KEYS ONLY: anyone who reads this file controls these accounts"
    assert len(doc["accounts"]) == 3
    genesis = load_genesis(directory / "node0" / "genesis.json")
    for entry in doc["accounts"]:
        assert Account.from_key(entry["private_key"]).address == entry["address"]
        assert genesis.alloc[bytes.fromhex(entry["address"][2:])] == int(doc["balance_wei"]) > 0


def test_files_holding_keys_are_private(net):
    directory, _, _ = net
    private = [directory / "accounts.json", directory / "password.txt"]
    for i in range(4):
        home = directory / f"node{i}"
        private += [home / "keys" / "validator_key.json", home / "keys" / "node_key.json", home / "keystore" / "operator.json"]
    for path in private:
        assert mode(path) == 0o600, path
    # The generated password opens every node's operator keystore.
    password = (directory / "password.txt").read_text().strip()
    summary = json.loads((directory / "devnet.json").read_text())
    for i in (0, 3):
        account = Keystore(directory / f"node{i}").unlock("operator", password)
        assert account.address == summary["nodes"][i]["operator_address"]


def test_set_applied_to_genesis_and_config(net):
    directory, _, _ = net
    genesis = load_genesis(directory / "node2" / "genesis.json")
    assert genesis.chain_id == 777
    assert genesis.gas_limit == 20_000_000
    assert genesis.base_fee_per_gas == 2_000_000_000
    for i in range(4):
        config = tomllib.loads((directory / f"node{i}" / "config.toml").read_text())
        assert config["consensus"]["create_empty_blocks"] is False
        assert config["consensus"]["block_time_ms"] == 300
        assert config["consensus"]["timeout_propose_ms"] == 1500
        assert config["consensus"]["timeout_prevote_ms"] == 500
        assert config["mempool"]["max_txs"] == 100


@pytest.mark.parametrize(
    "setting, message",
    [
        ("consensus.no_such_key=1", "unknown key 'consensus.no_such_key'"),
        ("genesis.validators=1", "unknown genesis key 'genesis.validators'"),
        ("mempool.max_txs=lots", "mempool.max_txs must be an integer"),
        ("genesis.base_fee_per_gas=1", "base_fee_per_gas is below min_base_fee_per_gas"),
        ("rpc.listen_addr=127.0.0.1:1", "set per node by devnet init"),
        ("create_empty_blocks", "is not KEY=VALUE"),
        ("gov.no_such_key=1", "unknown gov key 'gov.no_such_key'"),
        ("gov.quorum_bps=0", "gov.quorum_bps must be between 1 and 10000"),
        ("execution.base_fee_burn_bps=10001", "execution.base_fee_burn_bps must be between 0 and 10000"),
    ],
)
def test_bad_set_is_a_usage_error_and_writes_nothing(tmp_path, setting, message):
    directory = tmp_path / "net"
    result = cli("devnet", "init", "--validators", "1", "--dir", str(directory), "--set", setting)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not directory.exists()


def test_set_gov_and_execution_keys_reach_genesis(tmp_path):
    directory = tmp_path / "net"
    result = cli("devnet", "init", "--validators", "1", "--dir", str(directory), "--accounts", "1",
                 "--set", "gov.voting_period=30", "--set", "execution.base_fee_burn_bps=10000")
    assert result.exit_code == 0, result.output
    genesis = load_genesis(directory / "node0" / "genesis.json")
    assert genesis.gov.voting_period == 30
    assert genesis.gov.max_deposit_period == DEVNET_GOV["max_deposit_period"]  # the devnet default stays
    assert genesis.execution.base_fee_burn_bps == 10_000


def test_existing_devnet_refused_without_force(tmp_path):
    directory = tmp_path / "net"
    args = ["devnet", "init", "--validators", "1", "--accounts", "1", "--dir", str(directory), "--base-port", str(free_base_port(1))]
    assert cli(*args).exit_code == 0
    first = json.loads((directory / "devnet.json").read_text())
    refused = cli(*args)
    assert refused.exit_code == 1
    assert "already holds a devnet" in refused.output and "--force" in refused.output
    assert json.loads((directory / "devnet.json").read_text()) == first
    replaced = cli(*args, "--force")
    assert replaced.exit_code == 0, replaced.output
    second = json.loads((directory / "devnet.json").read_text())
    assert second["nodes"][0]["node_id"] != first["nodes"][0]["node_id"]
    assert second["genesis_hash"] != first["genesis_hash"]
    assert sorted(p.name for p in directory.iterdir()) == ["accounts.json", "devnet.json", "node0", "password.txt"]


# ------------------------------------------------------------------ running nodes


def test_start_refuses_a_taken_port_and_reports_a_node_that_dies(tmp_path):
    directory = tmp_path / "net"
    base = free_base_port(1)
    assert cli("devnet", "init", "--validators", "1", "--accounts", "0", "--dir", str(directory), "--base-port", str(base)).exit_code == 0
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base + 1))
        squatter.listen()
        result = cli("devnet", "start", "--dir", str(directory))
    assert result.exit_code == 1
    assert f"port {base + 1} (node0's RPC) is in use" in result.output
    assert not (directory / "node0" / "node.log").exists(), "no node may start"

    # A node that exits at start-up: the error names it, its exit code and its log's last lines.
    original = (directory / "node0" / "config.toml").read_text()
    (directory / "node0" / "config.toml").write_text("broken = [\n")
    result = cli("devnet", "start", "--dir", str(directory), "--timeout", "60")
    assert result.exit_code == 1
    assert "node0 exited with exit code 1 before its RPC answered" in result.output
    assert "not valid TOML" in result.output

    # A node that runs but never answers: the timeout names it, and the node is stopped.
    config = tomllib.loads(original)
    config["rpc"]["enabled"] = False
    (directory / "node0" / "config.toml").write_text(tomli_w.dumps(config))
    result = cli("devnet", "start", "--dir", str(directory), "--timeout", "2")
    assert result.exit_code == 1
    assert f"node0 did not answer on http://127.0.0.1:{base + 1} within 2s" in result.output
    assert "last lines of" in result.output
    pid = int(result.output.split(" pid ")[1].split()[0])
    assert not alive(pid)


class Output:
    """Collects a process's stdout lines on a thread so the test never blocks on a pipe."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._stream = stream
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def close(self) -> None:
        """After the process exited: the reader reaches EOF, then the pipe is closed."""
        self._thread.join(timeout=5)
        self._stream.close()

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if text in line:
                    return line
            time.sleep(0.1)
        raise AssertionError(f"no {text!r} within {timeout}s; output so far:\n" + "\n".join(self.lines))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def test_start_commits_status_reports_and_sigterm_stops_every_node(tmp_path):
    directory = tmp_path / "net"
    base = free_base_port(2)
    init = cli(
        "devnet", "init", "--validators", "1", "--full-nodes", "1", "--accounts", "2", "--block-time", "200",
        "--dir", str(directory), "--base-port", str(base),
    )
    assert init.exit_code == 0, init.output
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "plume_node.cli", "devnet", "start", "--dir", str(directory), "--timeout", "90"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, process_group=0,
    )
    out = Output(supervisor.stdout)
    node_pids: list[int] = []
    try:
        out.wait_for("Ctrl-C stops them all", timeout=100)
        node_pids = [int(line.split(" pid ")[1].split()[0]) for line in out.lines if " pid " in line]
        assert len(node_pids) == 2
        validator_url, full_url = f"http://127.0.0.1:{base + 1}", f"http://127.0.0.1:{base + 3}"
        assert validator_url in out.text and full_url in out.text

        # The lone validator commits blocks.
        wait_until(lambda: int(rpc(validator_url, "eth_blockNumber"), 16) >= 3, 30, "three blocks")

        # The example command printed for new users works as printed: the operator pays a dev account.
        example = out.wait_for("plume-node tx send", timeout=1).strip()
        sent = CliRunner().invoke(main, shlex.split(example)[1:] + ["--json"], catch_exceptions=False)
        assert sent.exit_code == 0, sent.output
        receipt = json.loads(sent.stdout)
        assert receipt["status"] == "success"
        accounts = json.loads((directory / "accounts.json").read_text())["accounts"]
        assert receipt["to"] == accounts[0]["address"]

        status = cli("devnet", "status", "--dir", str(directory), "--json")
        assert status.exit_code == 0, status.output
        rows = {row["name"]: row for row in json.loads(status.stdout)["nodes"]}
        assert rows["node0"]["state"] == "up" and rows["node0"]["height"] >= 3
        assert isinstance(rows["node0"]["round"], int) and rows["node0"]["step"]
        assert rows["node1"]["state"] == "up" and rows["node1"]["role"] == "full"

        # A node that dies is reported with its exit and log, and not restarted.
        os.kill(node_pids[1], signal.SIGKILL)
        line = out.wait_for("node1 (pid", timeout=10)
        assert "signal SIGKILL" in line and "not restarted" in line and str(directory / "node1" / "node.log") in line
        rows = {row["name"]: row for row in json.loads(cli("devnet", "status", "--dir", str(directory), "--json").stdout)["nodes"]}
        assert rows["node1"]["state"] == "down" and rows["node0"]["state"] == "up"
        text = cli("devnet", "status", "--dir", str(directory)).output
        assert "node1" in text and "down" in text

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
        assert not any(alive(pid) for pid in node_pids)
        assert "all nodes stopped" in out.text
        assert "stopped cleanly" in (directory / "node0" / "node.log").read_text()
    finally:
        kill_devnet(supervisor, node_pids, out)


def test_up_creates_a_four_validator_devnet_by_default(tmp_path):
    directory = tmp_path / "fresh"
    base = free_base_port(4)
    # Stop `up` right after init: node0's RPC port is taken, so start refuses before spawning.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base + 1))
        squatter.listen()
        result = cli("devnet", "up", "--dir", str(directory), "--base-port", str(base))
        assert result.exit_code == 1
        assert "node0's RPC) is in use" in result.output
        summary = json.loads((directory / "devnet.json").read_text())
        assert [n["role"] for n in summary["nodes"]] == ["validator"] * 4
        assert len(load_genesis(directory / "node3" / "genesis.json").validators) == 4
        assert len(json.loads((directory / "accounts.json").read_text())["accounts"]) == 10
        assert f"{directory / 'accounts.json'}" in result.output

        # A second `up` starts the devnet that is there instead of replacing it.
        again = cli("devnet", "up", "--dir", str(directory), "--validators", "2")
        assert again.exit_code == 1
        assert "already holds a devnet with 4 validator(s); starting that one" in again.output
        assert json.loads((directory / "devnet.json").read_text()) == summary


def test_stop_kills_a_node_that_ignores_sigterm(tmp_path):
    """The grace period ends in SIGKILL: a hung node cannot keep `devnet start` from exiting."""
    from plume_node.devnet import Devnet, NodeSpec, Running, Supervisor

    node = NodeSpec("node0", "validator", tmp_path, "00" * 20, None, "0x" + "00" * 20, 1, 2)
    ignoring = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, process_group=0,
    )
    try:
        assert ignoring.stdout.readline().strip() == "up"  # its SIGTERM handler is in place
        said: list[str] = []
        sup = Supervisor(Devnet(tmp_path, 1337, "0x", (node,)), [node], echo=said.append)
        sup.running.append(Running(node, ignoring))
        started = time.monotonic()
        sup.stop(grace=0.5)
        assert ignoring.returncode == -signal.SIGKILL
        assert 0.5 <= time.monotonic() - started < 5
        assert "node0 is still running: killing it" in said
    finally:
        if ignoring.poll() is None:
            os.killpg(ignoring.pid, signal.SIGKILL)
            ignoring.wait()
        ignoring.stdout.close()


# ------------------------------------------------------------------ dev accounts, default dir, stop

ANVIL_ACCOUNT_0 = ("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")


def _account_lines(output: str) -> list[str]:
    """The printed dev accounts and keys: the `(i) ...` lines."""
    return [line for line in output.splitlines() if line.startswith("(")]


def test_init_twice_on_clean_directories_prints_the_same_dev_accounts(tmp_path):
    outputs = []
    for name in ("a", "b"):
        result = cli("devnet", "init", "--validators", "1", "--accounts", "3", "--dir", str(tmp_path / name))
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    lines = _account_lines(outputs[0])
    assert len(lines) == 6 and lines == _account_lines(outputs[1])
    assert f"(0) {ANVIL_ACCOUNT_0[0]} (1000000 PLUME)" in lines and f"(0) {ANVIL_ACCOUNT_0[1]}" in lines
    assert "TEST ONLY" in outputs[0] and "test test test test test test test test test test test junk" in outputs[0]
    stored = json.loads((tmp_path / "a" / "accounts.json").read_text())["accounts"]
    assert (stored[0]["address"], stored[0]["private_key"]) == ANVIL_ACCOUNT_0
    for account in stored:
        assert Account.from_key(account["private_key"]).address == account["address"]
    balance = load_genesis(tmp_path / "a" / "node0" / "genesis.json").alloc[bytes.fromhex(ANVIL_ACCOUNT_0[0][2:])]
    assert balance == 10**24


def test_mnemonic_changes_the_accounts_and_a_bad_one_is_a_usage_error(tmp_path):
    phrase = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
    result = cli("devnet", "init", "--validators", "1", "--accounts", "2", "--mnemonic", phrase, "--dir", str(tmp_path / "m"), "--json")
    assert result.exit_code == 0, result.output
    accounts = json.loads(result.stdout)["dev_accounts"]["accounts"]
    # m/44'/60'/0'/0/0 of the BIP-39 test vector phrase, as every wallet derives it
    assert accounts[0]["address"] == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
    for bad in ("test test junk", "test test test test test test test test test test test test"):
        refused = cli("devnet", "init", "--validators", "1", "--mnemonic", bad, "--dir", str(tmp_path / "bad"))
        assert refused.exit_code == 2 and "--mnemonic" in refused.output and bad not in refused.output
        assert not (tmp_path / "bad").exists()


def test_up_twice_on_clean_directories_prints_the_same_dev_accounts(tmp_path):
    base = free_base_port(4)
    outputs = []
    with socket.socket() as squatter:  # `up` stops after init: node0's RPC port is taken
        squatter.bind(("127.0.0.1", base + 1))
        squatter.listen()
        for name in ("one", "two"):
            result = cli("devnet", "up", "--dir", str(tmp_path / name), "--base-port", str(base))
            assert result.exit_code == 1 and "in use" in result.output
            outputs.append(result.output)
        again = cli("devnet", "up", "--dir", str(tmp_path / "one"))  # an existing devnet prints them too
    assert len(_account_lines(outputs[0])) == 20
    assert _account_lines(outputs[0]) == _account_lines(outputs[1]) == _account_lines(again.output)


def test_stop_ends_a_running_start_and_commands_default_to_dot_devnet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = free_base_port(1)
    init = cli("devnet", "init", "--validators", "1", "--accounts", "1", "--base-port", str(base))
    assert init.exit_code == 0, init.output
    assert (tmp_path / ".devnet" / "devnet.json").exists()
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "plume_node.cli", "devnet", "start"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, process_group=0,
    )
    out = Output(supervisor.stdout)
    node_pids: list[int] = []
    try:
        out.wait_for("Ctrl-C stops them all", timeout=100)
        node_pids = [int(line.split(" pid ")[1].split()[0]) for line in out.lines if " pid " in line]
        rows = json.loads(cli("devnet", "status", "--json").stdout)["nodes"]
        assert rows[0]["state"] == "up"
        stopped = cli("devnet", "stop")
        assert stopped.exit_code == 0, stopped.output
        assert f"stopping pid {supervisor.pid} (nodes node0)" in stopped.output and "devnet stopped" in stopped.output
        assert supervisor.wait(timeout=30) == 0
        assert "all nodes stopped" in out.text and not any(alive(pid) for pid in node_pids)
        assert list((tmp_path / ".devnet" / "run").iterdir()) == []
        again = cli("devnet", "stop")
        assert again.exit_code == 0 and "no `devnet start` or `devnet up` is running" in again.output
        as_json = cli("devnet", "stop", "--json")
        assert as_json.exit_code == 0 and json.loads(as_json.stdout) == {
            "dir": str(tmp_path / ".devnet"), "stopped": [], "still_running": []}
    finally:
        kill_devnet(supervisor, node_pids, out)


def test_stop_ignores_a_record_whose_process_is_gone_or_another(tmp_path):
    """A record left by a killed supervisor, or whose pid now names another process, is removed, never signalled."""
    from plume_node.devnet import load_devnet, running_supervisors

    assert cli("devnet", "init", "--validators", "1", "--accounts", "0", "--dir", str(tmp_path / "d")).exit_code == 0
    net = load_devnet(tmp_path / "d")
    run = tmp_path / "d" / "run"
    run.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / "1.json").write_text(json.dumps({"pid": other.pid, "started": "1", "nodes": ["node0"]}))
        (run / "2.json").write_text("not json")
        assert running_supervisors(net) == []
        assert list(run.iterdir()) == [] and other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_ctrl_c_through_dev_py_lets_the_devnet_stop_its_nodes_and_report(tmp_path):
    """A terminal's Ctrl-C reaches dev.py and `devnet up` (one process group): dev.py must wait, not kill it."""
    base = free_base_port(1)
    launcher = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "dev.py"), "devnet", "--validators", "1", "--dir", str(tmp_path / "net"),
         "--base-port", str(base)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, process_group=0,
    )
    out = Output(launcher.stdout)
    node_pids: list[int] = []
    try:
        out.wait_for("Ctrl-C stops them all", timeout=120)
        node_pids = [int(line.split(" pid ")[1].split()[0]) for line in out.lines if " pid " in line]
        os.killpg(launcher.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        assert launcher.wait(timeout=60) == 0
        out.close()
        assert "all nodes stopped" in out.text
        assert not any(alive(pid) for pid in node_pids)
        assert "stopped cleanly" in (tmp_path / "net" / "node0" / "node.log").read_text()
    finally:
        kill_devnet(launcher, node_pids, out)

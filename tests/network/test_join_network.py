"""`plume-node init --genesis URL --peers ...`: a fresh home joins a running devnet, syncs and follows.

The devnet's nodes are real processes (netharness); `init` runs in-process
through click's runner, as the user's command would; the joined node is one
more real process.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading

from click.testing import CliRunner
from rpcclient import rpc

from netharness import Net, NetNode, free_base_port
from plume_node.cli import main
from plume_node.config import dump_config, load_config
from plume_node.genesis import load_genesis


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


class _NotJsonRpc(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = b"<html>hello</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _refusals(net: Net, tmp_path) -> None:
    """Every refusal is one clear line, and leaves no home behind."""
    node0 = net.nodes[0]
    home = tmp_path / "refused"
    cases = [
        (["--genesis", node0.rpc_url, "--peers", "nothex@127.0.0.1:1"], 2, "--peers"),
        (["--genesis", node0.rpc_url, "--peers", f"{node0.node_id}@127.0.0.1"], 2, "HOST:PORT"),
        (["--genesis", f"http://127.0.0.1:{free_base_port(1)}"], 1, "cannot fetch the genesis"),
        (["--genesis", node0.rpc_url, "--chain-id", "999"], 2, "another chain"),
        (["--genesis", node0.rpc_url, "--genesis-hash", "0x" + "00" * 32], 2, "another chain's"),
        (["--genesis", str(tmp_path / "missing.json")], 2, "is not a file"),
        (["--genesis", node0.rpc_url, "--genesis-hash", "abc"], 2, "64 hex digits"),
    ]
    server = http.server.HTTPServer(("127.0.0.1", 0), _NotJsonRpc)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cases.append((["--genesis", f"http://127.0.0.1:{server.server_port}"], 1, "did not answer JSON-RPC"))
    try:
        for args, code, text in cases:
            result = cli("init", "--home", str(home), *args)
            assert result.exit_code == code and text in result.output, (args, result.output)
            assert "Traceback" not in result.output
            assert not home.exists(), args
    finally:
        server.shutdown()


def test_a_fresh_home_joins_a_running_devnet_syncs_and_follows(tmp_path):
    net = Net.create(tmp_path / "net", validators=2)
    try:
        net.start()
        net.wait_height([0, 1], 3)
        _refusals(net, tmp_path)
        node0 = net.nodes[0]

        home = tmp_path / "joiner"
        result = cli("init", "--home", str(home), "--genesis", node0.rpc_url, "--peers", node0.peer_address, "--json")
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        genesis = load_genesis(node0.home / "genesis.json")
        assert summary["genesis_hash"] == "0x" + genesis.hash().hex()
        assert summary["validator_in_genesis"] is False
        assert summary["persistent_peers"] == [node0.peer_address]
        assert load_genesis(home / "genesis.json") == genesis  # no local validator, no extra account
        assert (home / "keys" / "validator_key.json").exists()  # to become a validator later

        base = free_base_port(1)
        config = load_config(home / "config.toml")
        assert config.p2p.persistent_peers == [node0.peer_address]
        config = config.replace(
            p2p=dataclasses.replace(config.p2p, listen_addr=f"127.0.0.1:{base}"),
            rpc=dataclasses.replace(config.rpc, listen_addr=f"127.0.0.1:{base + 1}"),
        )
        (home / "config.toml").write_text(dump_config(config))
        joiner = NetNode("joiner", home, f"http://127.0.0.1:{base + 1}", summary["node_id"], base)
        net.nodes.append(joiner)
        joiner.start()

        # Syncs: reaches the height the devnet had when it started...
        target = node0.height()
        net.wait_height([2], target, timeout=90)
        # ...and follows: later blocks arrive too, the same as the validators'.
        net.wait_height([0, 1, 2], target + 3, timeout=90)
        net.assert_same_chain([0, 1, 2], target + 3)
        info = rpc(joiner.rpc_url, "plume_nodeInfo")
        assert info["genesisHash"] == summary["genesis_hash"]
        assert "full node" in joiner.log_text()
    finally:
        net.stop_all()

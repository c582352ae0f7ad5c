"""Which node a command talks to without `--rpc`: --home/PLUME_HOME's, a running ./.devnet node 0, the default.

Against a real one-validator devnet in `./.devnet` (a real node process);
the commands run in-process through click's runner, in that directory.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from netharness import Net
from plume_node.cli import main
from plume_node.cli._rpc_target import resolve_rpc_target
from plume_node.config import Config, dump_config

ADDRESS = "0x00000000000000000000000000000000000000aa"


def cli(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env={"PLUME_HOME": None, "PLUME_RPC": None, **(env or {})}, catch_exceptions=False)


@pytest.mark.parametrize(
    "value, message",
    [("ftp://127.0.0.1:1", "http:// or https://"), ("http://", "host and port"), ("127.0.0.1:99999", "host and port"),
     ("http://a b", "not a URL"), ("", "not a URL")],
)
def test_a_malformed_rpc_url_is_a_usage_error(value, message):
    result = cli("query", "status", "--rpc", value)
    assert result.exit_code == 2 and message in result.output and "--rpc" in result.output


def test_a_home_listening_on_every_interface_is_reached_on_loopback(tmp_path):
    for listen, url in (("0.0.0.0:9545", "http://127.0.0.1:9545"), ("[::]:9545", "http://[::1]:9545"),
                        ("10.0.0.5:9545", "http://10.0.0.5:9545")):
        config = Config()
        config = config.replace(rpc=dataclasses.replace(config.rpc, listen_addr=listen))
        (tmp_path / "config.toml").write_text(dump_config(config))
        target = resolve_rpc_target(None, "--rpc", str(tmp_path), tmp_path)
        assert target.url == url and "rpc.listen_addr" in target.reason


def test_rpc_defaults_to_the_home_then_the_running_devnet_then_8545(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    net = Net.create(tmp_path / ".devnet", validators=1)
    node0 = net.nodes[0]
    try:
        net.start()
        net.wait_height([0], 2)

        # No --rpc, no home: the running ./.devnet node 0.
        result = cli("query", "status", "--json", "--verbose")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["nodeId"] == node0.node_id
        assert f"using the node at {node0.rpc_url} (node 0 of the running devnet" in result.stderr

        # PLUME_HOME (or --home) names the node: its config.toml's RPC address.
        result = cli("query", "status", "--json", "--verbose", env={"PLUME_HOME": str(node0.home)})
        assert result.exit_code == 0, result.output
        assert f"(rpc.listen_addr of {node0.home / 'config.toml'})" in result.stderr
        result = cli("query", "validators", "--home", str(node0.home), "--json", "--verbose")
        assert result.exit_code == 0, result.output
        assert f"(rpc.listen_addr of {node0.home / 'config.toml'})" in result.stderr
        sent = cli(
            "tx", "send", "--home", str(node0.home), "--from", "operator", "--password-file",
            str(net.dir / "password.txt"), "--to", ADDRESS, "--value", "1gwei", "--json", "--verbose",
        )
        assert sent.exit_code == 0, sent.output
        assert json.loads(sent.stdout)["status"] == "success" and "rpc.listen_addr of" in sent.stderr

        # A URL without a scheme gets http://.
        port = node0.rpc_url.rpartition(":")[2]
        result = cli("query", "balance", ADDRESS, "--rpc", f"127.0.0.1:{port}", "--json", "--verbose")
        assert result.exit_code == 0, result.output
        assert f"using the node at http://127.0.0.1:{port} (from --rpc)" in result.stderr
        assert json.loads(result.stdout)["balance"] == str(10**9)

        # A devnet that does not answer is passed over for the default.
        net.stop_all()
        result = cli("query", "status", "--verbose")
        assert result.exit_code == 1
        assert "using the node at http://127.0.0.1:8545 (the default" in result.stderr
    finally:
        net.stop_all()

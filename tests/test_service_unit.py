"""docs/plume-node.service: the systemd unit the operator guide ships must run a real `plume-node start`
with options the CLI accepts, write only its home, and keep the documented sandbox."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from plume_node.cli.node import start

UNIT = Path(__file__).resolve().parents[1] / "docs" / "plume-node.service"


def _service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser["Service"]


def test_exec_start_is_a_plume_node_start_the_cli_accepts():
    argv = shlex.split(_service()["ExecStart"])
    assert argv[0].endswith("/plume-node") and argv[1] == "start"
    ctx = start.make_context("start", argv[2:])  # parses and checks every option, runs nothing
    assert ctx.params["home"] == _service()["ReadWritePaths"]


def test_the_sandbox_and_restart_policy_are_in_place():
    service = _service()
    expected = {"NoNewPrivileges": "true", "ProtectSystem": "strict", "Restart": "on-failure", "ProtectHome": "true"}
    assert {key: service.get(key) for key in expected} == expected
    assert int(service["LimitNOFILE"]) >= 65536
    assert service["KillSignal"] == "SIGTERM"

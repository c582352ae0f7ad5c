"""The README's "Use it" commands, run verbatim against the devnet the README starts.

The README promises that every command it shows works as written against
`python3 scripts/dev.py devnet` (which runs `plume-node devnet up` in the
checkout, keeping the devnet in `.devnet/`). This test starts that devnet in
a scratch folder (only the base port differs, so it cannot collide with a
devnet the developer runs) and runs each `plume-node` line of the section's
first code block there, as a user would type it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from ports import free_port_range
from rpcclient import rpc
from waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def use_it_commands() -> list[list[str]]:
    """The `plume-node ...` lines of the first code block under "## Use it", without comments."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Use it", 1)[1]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.startswith("plume-node ")]


def plume_node(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "plume_node.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def test_the_readme_use_it_commands_work_verbatim_against_the_devnet(tmp_path: Path) -> None:
    commands = use_it_commands()
    assert len(commands) >= 6 and all(c[0] == "plume-node" for c in commands)
    base = free_port_range(8)
    log = (tmp_path / "devnet.log").open("w")
    up = subprocess.Popen([sys.executable, "-m", "plume_node.cli", "devnet", "up", "--base-port", str(base)],
                          cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, process_group=0)
    try:
        url = f"http://127.0.0.1:{base + 1}"
        wait_until(lambda: int(rpc(url, "eth_blockNumber"), 16) >= 2, 180, "the devnet's node0 to commit")
        for command in commands:
            done = plume_node(command[1:], tmp_path)
            shown = " ".join(command)
            assert done.returncode == 0, f"{shown}\n{done.stdout}\n{done.stderr}"
            assert "Traceback" not in done.stderr, shown
        summary = json.loads((tmp_path / ".devnet" / "devnet.json").read_text())
        assert len(summary["nodes"]) == 4
    finally:
        stopped = plume_node(["devnet", "stop"], tmp_path, timeout=60)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        log.close()
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr  # `devnet stop`, as the README says

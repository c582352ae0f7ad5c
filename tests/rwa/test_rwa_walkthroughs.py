"""docs/tokenization.md's devnet walk-throughs, run as written against a real devnet.

Each ```sh block after a ``<!-- walkthrough: NAME -->`` marker is run by bash
in a folder holding a devnet in ``./.devnet`` (as `python3 scripts/dev.py
devnet` makes it; one validator here, on free ports), with the installed
`plume-node` on PATH, so a command that stops working fails this test. The
outcome is then checked through the CLI's --json output.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ports import free_port_range
from rpcclient import rpc
from waiting import wait_until


pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "tokenization.md"
BIN = Path(sys.executable).parent  # the environment's `plume-node`
PLUME = 10**18
BLOCK = re.compile(r"<!-- walkthrough: (\w+) -->\n```sh\n(.*?)```", re.DOTALL)


def walkthroughs() -> dict[str, str]:
    return dict(BLOCK.findall(DOC.read_text(encoding="utf-8")))


def plume_node(*args: str, cwd: Path) -> dict:
    done = subprocess.run([str(BIN / "plume-node"), *args, "--json"], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def devnet(tmp_path_factory) -> Path:
    """A one-validator devnet in ``DIR/.devnet``, started by `plume-node devnet start`; yields DIR."""
    folder = tmp_path_factory.mktemp("walkthrough")
    base = free_port_range(2)
    init = subprocess.run([str(BIN / "plume-node"), "devnet", "init", "--validators", "1", "--dir", ".devnet",
                           "--base-port", str(base)], cwd=folder, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    log = open(folder / "devnet.log", "wb")
    supervisor = subprocess.Popen([str(BIN / "plume-node"), "devnet", "start", "--dir", ".devnet", "--timeout", "90"],
                                  cwd=folder, stdout=log, stderr=subprocess.STDOUT, process_group=0)
    try:
        url = f"http://127.0.0.1:{base + 1}"
        wait_until(lambda: _height(url) >= 1, timeout=120, what="the devnet's first block")
        yield folder
    finally:
        os.killpg(supervisor.pid, signal.SIGTERM)
        try:
            supervisor.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(supervisor.pid, signal.SIGKILL)
            supervisor.wait(timeout=10)
        log.close()


def _height(url: str) -> int:
    try:
        return int(rpc(url, "eth_blockNumber"), 16)
    except OSError:
        return -1
    except Exception:  # the node is still starting
        return -1


def run_walkthrough(name: str, folder: Path, *names: str) -> dict[str, str]:
    """Run walk-through ``name`` with bash; return the shell variables ``names`` it set."""
    script = "set -euo pipefail\n" + walkthroughs()[name] + "\necho \"::vars " + " ".join(f"${n}" for n in names) + "\"\n"
    done = subprocess.run(["bash", "-c", script], cwd=folder, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 0, f"walk-through {name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr
    values = done.stdout.strip().splitlines()[-1].split()[1:]
    return dict(zip(names, values))


def test_the_doc_has_the_three_walkthroughs() -> None:
    assert set(walkthroughs()) == {"education", "gpu", "solar"}


def test_education_mission_vault_walkthrough(devnet) -> None:
    found = run_walkthrough("education", devnet, "USD", "VAULT", "SCHOOL")
    vault = plume_node("rwa", "vault", "info", found["VAULT"], cwd=devnet)
    assert [m["released"] for m in vault["milestones"]] == [True, True, True] and vault["completed"] is True
    assert vault["raised"] == str(10_000 * PLUME)
    school = plume_node("rwa", "token", "info", found["USD"], "--holder", found["SCHOOL"], cwd=devnet)
    assert school["holders"][0]["balance"] == str(10_000 * PLUME)


def test_gpu_revenue_share_walkthrough(devnet) -> None:
    found = run_walkthrough("gpu", devnet, "GPU", "VAULT")
    native = plume_node("rwa", "vault", "info", found["VAULT"], cwd=devnet)["streams"]["native"]
    assert native["distributed"] == native["claimed"] == str(100 * PLUME)


def test_solar_coop_walkthrough(devnet) -> None:
    found = run_walkthrough("solar", devnet, "SUN", "VAULT")
    info = plume_node("rwa", "vault", "info", found["VAULT"], cwd=devnet)
    native = info["streams"]["native"]
    assert native["distributed"] == native["claimed"] == str(6_100_000_000_000_000_000)
    member1 = plume_node("rwa", "vault", "info", found["VAULT"], "--holder", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                         cwd=devnet)["holder"]
    assert member1["shares"] == str(50 * 10**24) and member1["claimableNative"] == "0"

"""A full disk stops the node with one line naming the database, and a restart
after space is freed resumes where it stopped (real process, real tmpfs).

The disk is a 16 MiB tmpfs mounted for the test (room for the node to reach
its first heights with every staking write before the test fills it), so this needs root (CI runs as
root); elsewhere it is skipped, except under CI=true where it must run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from node_helpers import NodeProcess, cli
from ports import free_port
from waiting import wait_until

pytestmark = pytest.mark.slow

CAN_MOUNT = os.geteuid() == 0
if not CAN_MOUNT and os.environ.get("CI") != "true":
    pytest.skip("mounting a small tmpfs needs root (CI runs as root and must run this)", allow_module_level=True)


@pytest.fixture
def small_disk(tmp_path: Path):
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16M", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    try:
        with open(filler, "wb") as f:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
    except OSError:
        pass  # ENOSPC (writing, or creating the file if the node got there first): the disk is full
    return filler


def test_full_disk_stops_with_one_line_and_restart_resumes(tmp_path: Path, small_disk: Path) -> None:
    home = small_disk / "home"
    result = cli("init", "--home", str(home), "--chain-id", "4243", "--json")
    assert result.returncode == 0, result.stderr
    config = home / "config.toml"
    config.write_text(config.read_text().replace("block_time_ms = 1000", "block_time_ms = 100"))

    first = NodeProcess(home, tmp_path / "run1.log", free_port(), free_port())
    try:
        first.wait_for_block(3, timeout=60)
        filler = _fill(small_disk)
        wait_until(lambda: first.proc.poll() is not None, 60, "the node to stop on the full disk")
    finally:
        first.kill()
    log = first.log()
    assert first.proc.returncode == 1, log[-2000:]
    assert "Traceback" not in log, log[-3000:]
    error_lines = [line for line in log.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, log[-2000:]
    assert f"{home / 'data'}" in error_lines[0] and "No space left on device" in error_lines[0]
    stopped_at = first.committed_heights()[-1]

    filler.unlink(missing_ok=True)
    second = NodeProcess(home, tmp_path / "run2.log", free_port(), free_port())
    try:
        second.wait_for_block(stopped_at + 3, timeout=60)
        assert f"at height {stopped_at}" in second.log()
    finally:
        assert second.stop() == 0

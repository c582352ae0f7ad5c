#!/usr/bin/env python3
"""The two set-up commands of the README: bring up a local devnet, run the tests.

Needs only Python 3.11+ on the machine. Creates `.venv` in the project root and
installs the project (editable, with its test extra) when `pyproject.toml`
changed since the last install, then runs the command inside that venv.

    python3 scripts/dev.py devnet [--validators N] [--dir DIR]   # local devnet
    python3 scripts/dev.py test [PYTEST ARGS...]                 # the test suite

`test` without arguments runs the whole suite in two worker processes, a test
file per worker at a time (pytest-xdist): most of its time is spent waiting
for real node processes to commit blocks, not computing. With arguments it
passes them to pytest as they are (one process unless they say `-n`).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".plume-install-stamp"
SUITE_OPTIONS = ["-n", "2", "--dist", "loadfile"]  # the whole suite: two workers, whole files each


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _install_fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> Path:
    """Create the venv and (re)install the project when needed; return its python."""
    if sys.version_info < (3, 11):
        sys.exit(f"Plume node needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    python = _venv_python()
    if not python.exists():
        print(f"creating virtualenv in {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    fingerprint = _install_fingerprint()
    if not STAMP.exists() or STAMP.read_text() != fingerprint:
        print("installing plume-node and its dependencies into .venv", flush=True)
        pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run(pip + ["install", "--upgrade", "pip"], check=True)
        subprocess.run(pip + ["install", "-e", f"{ROOT}[test]"], check=True)
        STAMP.write_text(fingerprint)
    return python


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("devnet", "test"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    python = ensure_venv()
    if command == "test":
        return subprocess.call([str(python), "-m", "pytest", *(rest or SUITE_OPTIONS)], cwd=ROOT)
    plume = [str(python), "-m", "plume_node.cli"]
    return run_devnet(plume + ["devnet", "up", *rest])


def run_devnet(command: list[str]) -> int:
    """Run `devnet up` and wait for it, however it is stopped.

    Ctrl-C reaches `devnet up` as well (one process group): it stops its nodes
    in order and reports, so this process ignores SIGINT meanwhile instead of
    killing it half-way, and passes a SIGTERM or SIGHUP on to it.
    """
    child = subprocess.Popen(command, cwd=ROOT)
    # Set after the spawn: a child inheriting SIG_IGN would ignore Ctrl-C.
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN)}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, lambda sig, frame: child.send_signal(sig))
    try:
        return child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)

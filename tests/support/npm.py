"""ethers.js for the end-to-end tests: `npm_ethers(tmp)` installs ethers@6 with npm into ``tmp``.

Where node or npm is missing, or the install fails, the calling test is
skipped with the reason, visibly; under CI=true it fails instead, so a CI
machine without node cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

NPM_INSTALL_TIMEOUT_S = 300


def npm_ethers(tmp: Path) -> Path:
    """`tmp` with ethers@6 installed; otherwise the test is skipped (or fails under CI=true) with the reason."""
    npm, node_bin = shutil.which("npm"), shutil.which("node")
    reason = None
    if npm is None or node_bin is None:
        reason = "node/npm are not installed"
    else:
        try:
            done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "ethers@6"], cwd=tmp,
                                  capture_output=True, text=True, timeout=NPM_INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            reason = f"npm install ethers@6 did not finish within {NPM_INSTALL_TIMEOUT_S} s (no registry?)"
        else:
            if done.returncode != 0:
                reason = f"npm install ethers@6 failed: {done.stderr[-500:]}"
    if reason is None:
        return tmp
    if os.environ.get("CI") == "true":
        pytest.fail(f"ethers.js test cannot run under CI: {reason}")
    pytest.skip(f"ethers.js test skipped: {reason}")

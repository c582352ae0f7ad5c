"""The node raises its soft open-file limit to the hard one at start: idle
connections must not be able to leave LevelDB without a descriptor."""

from __future__ import annotations

import subprocess
import sys

from node_helpers import REPO

SCRIPT = """
import resource
from plume_node.runtime import raise_open_file_limit
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
assert raise_open_file_limit() == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
print(resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)
"""


def test_soft_open_file_limit_is_raised_to_the_hard_limit() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    soft, hard = (int(x) for x in out.stdout.split())
    assert soft == hard or hard == -1  # -1: RLIM_INFINITY, raised to a large finite value

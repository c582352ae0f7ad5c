"""Free TCP ports on 127.0.0.1 for test nodes, below the kernel's ephemeral range.

A port from ``bind(("127.0.0.1", 0))`` is an ephemeral port: the same range
the kernel draws source ports of outgoing connections from, so in the
seconds or minutes before a test node binds it, any connection on the
machine may take it (a late-started node then fails "Address already in
use"). These ports come from below that range (Linux's default starts at
32768), where only listeners that ask for a port by number live.
"""

from __future__ import annotations

import random
import socket

LOW, HIGH = 20_000, 32_000  # below the ephemeral range (32768-60999 by default)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_range(count: int) -> int:
    """The first of ``count`` consecutive free ports."""
    for _ in range(500):
        base = random.randrange(LOW, HIGH - count)
        if all(port_free(base + i) for i in range(count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1 in {LOW}..{HIGH}")


def free_port() -> int:
    return free_port_range(1)

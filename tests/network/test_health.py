"""GET /health on a devnet of real processes: 503 when the chain stalls, 200
again when it resumes; a full node joining later says so at start-up and
reports a sync rate only over a meaningful time.
"""

from __future__ import annotations

import json
import re
import signal
import urllib.error
import urllib.request

import pytest

from netharness import Net
from waiting import wait_until

pytestmark = pytest.mark.slow


def health(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_health_turns_503_when_two_of_four_stop_and_200_when_they_return(tmp_path):
    net = Net.create(tmp_path / "net", 4, full_nodes=1)
    try:
        net.start([0, 1, 2, 3])
        net.wait_height(range(4), 3)
        assert all(health(net.nodes[i].rpc_url)[0] == 200 for i in range(4))
        for i in (2, 3):
            net.nodes[i].kill(signal.SIGTERM)
        # A stall is declared after metrics.stall_block_times (5) block times of
        # (200 + 1500) ms: 8.5 s. The deadline is generous for a loaded machine.
        for i in (0, 1):
            status, body = wait_until(
                lambda: (answer := health(net.nodes[i].rpc_url))[0] == 503 and answer, 90,
                f"{net.nodes[i].name}'s /health to turn 503",
            )
            assert body["status"] == "unhealthy" and body["problem"] == "stalled", body
            assert body["syncing"] is False and "not syncing" in body["reason"]
        net.start([2, 3])
        for i in range(4):
            wait_until(lambda: health(net.nodes[i].rpc_url)[0] == 200, 120, f"{net.nodes[i].name}'s /health back to 200")
        _full_node_joins_later(net)
    finally:
        net.stop_all()


def _full_node_joins_later(net: Net) -> None:
    net.wait_height([0], 60, timeout=120)  # enough blocks for several sync batches
    full = net.nodes[4]
    full.start()
    net.wait_height([4], net.nodes[0].height(), timeout=120)
    wait_until(lambda: health(full.rpc_url)[0] == 200, 60, "the full node's /health to be 200")
    log = full.log_text()
    assert re.search(r"full node \(validator key [0-9a-f]{40} is not in the set", log), log[:2000]
    started = re.search(r"behind: committed (\d+)", log)
    assert started, log[-3000:]
    assert re.search(r"sync: height \d+ of \d+", log), log[-3000:]
    progress = re.findall(r"sync: height (\d+) of \d+ \(([0-9.]+) blocks/s\)", log)
    # A rate is given only over at least MIN_RATE_WINDOW_S (1 s), so it can
    # never exceed the blocks synced so far.
    for reached, rate in progress:
        assert float(rate) <= int(reached) - int(started.group(1)), (reached, rate, log[-3000:])
    for i in range(4):
        assert "in the current set" in net.nodes[i].log_text()

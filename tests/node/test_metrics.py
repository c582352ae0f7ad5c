"""GET /metrics and GET /health on a real node, and the node's JSON logs.

In process: a lone validator with JSON-RPC on a free port, scraped over real
HTTP (from a thread, so the node's trio loop keeps running). As a process:
`plume-node start --log-format json`, scraped with curl's equivalent, its log
read line by line.
"""

from __future__ import annotations

import dataclasses
import json
import random
import string
import sys
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
import trio
from eth_utils import to_checksum_address
from node_helpers import NodeProcess, cli, fast_config, make_home, running, wait_for_height
from ports import free_port
from prometheus_client.parser import text_string_to_metric_families
from waiting import wait_until

from plume_node.metrics import NodeMetrics
from plume_node.node import Node
from plume_node.stage_cpu import Stage
from rpcclient import rpc
from staking import views as staking_views

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from e2e_node import CHAIN_ID as E2E_CHAIN_ID, start_node  # noqa: E402


def http_get(url: str, timeout: float = 10.0) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers.get("content-type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("content-type", ""), exc.read()


def parse_metrics(text: str) -> dict[str, list]:
    """{sample name: [(labels, value), ...]} through prometheus_client's own parser."""
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples: dict[str, list], name: str, **labels: str) -> float:
    matches = [v for l, v in samples[name] if all(l.get(k) == want for k, want in labels.items())]
    assert len(matches) == 1, (name, labels, samples.get(name))
    return matches[0]


@pytest.fixture
def rpc_node(tmp_path):
    home = make_home(tmp_path / "home")
    config = fast_config(home, block_time_ms=100)
    config = config.replace(rpc=dataclasses.replace(config.rpc, enabled=True, listen_addr="127.0.0.1:0"))
    node = Node.open(home, config)
    yield node
    node.close()


async def scrape(node: Node, path: str = "/metrics") -> tuple[int, str, bytes]:
    return await trio.to_thread.run_sync(http_get, f"http://127.0.0.1:{node.rpc_port}{path}")


async def post(node: Node, body: bytes) -> None:
    def send() -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{node.rpc_port}/", body, {"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    await trio.to_thread.run_sync(send)


async def test_metrics_parse_and_height_rises(rpc_node: Node) -> None:
    async with running(rpc_node):
        await wait_for_height(rpc_node, 2)
        status, content_type, body = await scrape(rpc_node)
        assert status == 200 and content_type.startswith("text/plain"), (status, content_type)
        first = parse_metrics(body.decode())
        await wait_for_height(rpc_node, int(value(first, "plume_consensus_height")) + 2)
        second = parse_metrics((await scrape(rpc_node))[2].decode())
    assert value(second, "plume_consensus_height") > value(first, "plume_consensus_height") >= 2
    assert value(second, "plume_consensus_block_interval_seconds_count") >= 1
    assert value(second, "plume_consensus_block_transactions_count") >= 1
    assert value(second, "plume_consensus_step_duration_seconds_count", step="commit") >= 1
    assert value(second, "plume_staking_active_validators") == 1
    assert value(second, "plume_staking_bonded_wei") > 0
    (operator,) = [v.operator for v in staking_views.active_set(rpc_node.chain.state_at().accounts)]
    assert value(second, "plume_validator_missed_blocks", validator=to_checksum_address(operator)) == 0  # it signs all
    assert value(second, "plume_health_ok") == 1
    assert value(second, "plume_mempool_transactions") == 0
    assert value(second, "plume_p2p_peers", direction="inbound") == 0
    assert value(second, "process_resident_memory_bytes") > 0
    for name in ("plume_consensus_round", "plume_consensus_seconds_since_last_commit", "plume_mempool_bytes",
                 "plume_p2p_bans", "plume_p2p_sent_bytes_total", "plume_p2p_received_bytes_total",
                 "plume_p2p_sent_messages_total",
                 "plume_sync_syncing", "plume_sync_target_height", "plume_consensus_double_sign_refusals_total",
                 "process_cpu_seconds_total"):
        assert name in second, name


async def test_rpc_method_label_is_bounded(rpc_node: Node) -> None:
    rng = random.Random(12)
    names = ["".join(rng.choices(string.ascii_letters, k=12)) for _ in range(300)]
    async with running(rpc_node):
        await wait_for_height(rpc_node, 1)
        for start in range(0, 300, 100):
            batch = [{"jsonrpc": "2.0", "id": i, "method": n} for i, n in enumerate(names[start:start + 100])]
            await post(rpc_node, json.dumps(batch).encode())
        await post(rpc_node, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}).encode())
        await post(rpc_node, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance"}).encode())
        samples = parse_metrics((await scrape(rpc_node))[2].decode())
    requests = {labels["method"]: v for labels, v in samples["plume_rpc_requests_total"]}
    errors = {labels["method"]: v for labels, v in samples["plume_rpc_errors_total"]}
    assert requests == {"unknown": 300, "eth_blockNumber": 1, "eth_getBalance": 1}
    assert errors == {"unknown": 300, "eth_getBalance": 1}  # missing params


async def test_health_ok_and_other_gets_unchanged(rpc_node: Node) -> None:
    async with running(rpc_node):
        await wait_for_height(rpc_node, 1)
        status, content_type, body = await scrape(rpc_node, "/health")
        other = await scrape(rpc_node, "/nothing")
    assert status == 200 and content_type == "application/json"
    health = json.loads(body)
    assert health["status"] == "ok" and health["syncing"] is False and health["height"] >= 1
    assert other[0] == 405  # any other GET is refused as before: JSON-RPC is POST only


async def test_health_503_when_disk_nearly_full(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    config = fast_config(home, block_time_ms=100)
    config = config.replace(
        rpc=dataclasses.replace(config.rpc, enabled=True, listen_addr="127.0.0.1:0"),
        # more free space than any disk has: the check must fail
        metrics=dataclasses.replace(config.metrics, min_free_disk_bytes=2**62),
    )
    node = Node.open(home, config)
    try:
        async with running(node):
            status, _, body = await scrape(node, "/health")
    finally:
        node.close()
    assert status == 503, body
    health = json.loads(body)
    assert health["status"] == "unhealthy" and health["problem"] == "disk" and "min_free_disk_bytes" in health["reason"]


async def test_separate_metrics_listener(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    config = fast_config(home, block_time_ms=100)
    config = config.replace(metrics=dataclasses.replace(config.metrics, listen_addr="127.0.0.1:0"))
    node = Node.open(home, config)
    try:
        async with running(node):
            await wait_for_height(node, 1)
            base = f"http://127.0.0.1:{node.metrics_port}"
            metrics = await trio.to_thread.run_sync(http_get, base + "/metrics")
            health = await trio.to_thread.run_sync(http_get, base + "/health")
            missing = await trio.to_thread.run_sync(http_get, base + "/")
    finally:
        node.close()
    assert metrics[0] == 200 and "plume_consensus_height" in parse_metrics(metrics[2].decode())
    assert health[0] == 200 and missing[0] == 404


def test_json_log_lines_carry_extra_fields() -> None:
    import io
    import logging

    from plume_node.runtime import setup_logging

    stream = io.StringIO()
    setup_logging("info", stream, log_format="json")
    try:
        logging.getLogger("plume.test").info("hello %s", "world", extra={"height": 7})
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("plume.test").exception("failed")
    finally:
        setup_logging("info")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["msg"] == "hello world" and lines[0]["height"] == 7
    assert (lines[0]["level"], lines[0]["module"]) == ("info", "plume.test") and lines[0]["ts"].endswith("Z")
    assert lines[1]["level"] == "error" and "ValueError: boom" in lines[1]["exc"]


@pytest.mark.slow
def test_process_json_logs_and_metrics(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = cli("init", "--home", str(home), "--chain-id", "4244", "--json")
    assert result.returncode == 0, result.stderr
    config = home / "config.toml"
    config.write_text(config.read_text().replace("block_time_ms = 1000", "block_time_ms = 200"))
    log_file = tmp_path / "node.jsonl"
    node = NodeProcess(
        home, tmp_path / "stderr.log", free_port(), free_port(),
        extra_args=("--log-format", "json", "--log-file", str(log_file)),
    )
    try:
        node.wait_for_block(2, timeout=60)
        url = f"http://127.0.0.1:{node.rpc_port}"
        first = parse_metrics(http_get(url + "/metrics")[2].decode())
        wait_until(
            lambda: value(parse_metrics(http_get(url + "/metrics")[2].decode()), "plume_consensus_height")
            > value(first, "plume_consensus_height"),
            30, "the height gauge to rise",
        )
        assert http_get(url + "/health")[0] == 200
    finally:
        assert node.stop() == 0
    entries = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert entries and all({"ts", "level", "module", "msg"} <= entry.keys() for entry in entries)
    messages = [entry["msg"] for entry in entries]
    assert any("validator" in m and "in the current set" in m for m in messages), messages[:5]
    assert sum("JSON-RPC" in m for m in messages) == 1, [m for m in messages if "JSON-RPC" in m]
    assert any(m.startswith("committed height=") for m in messages)
    assert node.log() == ""  # everything went to the log file


def cpu_by_stage(samples: dict[str, list]) -> dict[str, float]:
    return {labels["stage"]: v for labels, v in samples["plume_cpu_seconds_total"]}


@pytest.mark.slow
def test_stage_cpu_counters_rise_with_a_committed_transaction(tmp_path: Path) -> None:
    """A real node process: after a transfer is submitted over JSON-RPC and
    committed, the RPC, build and commit stages have counted more CPU, the
    committed-transactions counter shows it, and the stages together stay
    within the process's own CPU total."""
    node = start_node(tmp_path)
    try:
        url = node.rpc_url
        before = parse_metrics(http_get(url + "/metrics")[2].decode())
        assert set(cpu_by_stage(before)) == {stage.value for stage in Stage}
        operator = node.operator()
        signed = operator.sign_transaction({
            "type": 2, "chainId": E2E_CHAIN_ID, "nonce": 0, "to": to_checksum_address(b"\x5e" * 20),
            "value": 1, "gas": 21000, "maxFeePerGas": 50 * 10**9, "maxPriorityFeePerGas": 10**9,
        })
        tx_hash = rpc(url, "eth_sendRawTransaction", "0x" + bytes(signed.raw_transaction).hex(), timeout=30)
        wait_until(lambda: rpc(url, "eth_getTransactionReceipt", tx_hash) is not None, 60, "the transfer's receipt")
        after = parse_metrics(http_get(url + "/metrics")[2].decode())
    finally:
        node.stop()
    was, now = cpu_by_stage(before), cpu_by_stage(after)
    for stage in ("rpc", "build", "commit", "consensus"):
        assert now[stage] > was[stage], (stage, was, now)
    assert all(now[stage] >= was[stage] for stage in now), (was, now)
    assert value(after, "plume_committed_transactions_total") == value(before, "plume_committed_transactions_total") + 1
    # /proc counts in clock ticks (10 ms): allow one per stage of rounding
    assert sum(now.values()) <= value(after, "process_cpu_seconds_total") + 0.01 * len(now)


def test_block_transactions_observed_per_consecutive_commit() -> None:
    """Each consecutive commit observes its block's count from the app's running
    total; the first after a start and the last of a synced batch observe none."""
    app = SimpleNamespace(committed_transactions=0)
    metrics = NodeMetrics(SimpleNamespace(app=app, driver=SimpleNamespace(timings={})))
    for height, txs in [(1, 4), (2, 5), (3, 0), (4, 7), (9, 20), (10, 3)]:  # 5-9: a synced batch
        app.committed_transactions += txs
        metrics.on_commit(height)
    sample = metrics.registry.get_sample_value
    assert sample("plume_consensus_block_transactions_count") == 4
    assert sample("plume_consensus_block_transactions_sum") == 5 + 0 + 7 + 3
    assert sample("plume_consensus_block_transactions_bucket", {"le": "0.0"}) == 1

#!/usr/bin/env python
"""A real 4-validator devnet under load: finalized tx/s, submit-to-finality latency, block interval.

Starts a devnet of 4 `plume-node start` processes on 127.0.0.1, then from this
(separate) process drives signed EIP-1559 transfers over JSON-RPC, spread over
all four nodes:

1. at a fixed rate (default 50 tx/s for 20 s): p50/p99 latency from
   `eth_sendRawTransaction` returning to the block holding the tx being
   visible on node 0 (committed blocks are final, so that is finality);
2. at saturation (default 3000 transfers as fast as the nodes take them,
   from SATURATION_CLIENTS keep-alive connections at once): finalized tx/s
   from the first submit to the last inclusion, and how many of the
   machine's cores the four nodes kept busy meanwhile.

Raw py-evm (`MiningChain.mine_all` on an in-memory AtomicDB, senders recovered,
scripts/bench_execution.py's yardstick) is measured in the same run, and the
saturation figure is printed as a ratio against it. Targets on a 2-core
machine (docs/performance.md): p50/p99 finality <= 400/800 ms at 50 tx/s;
saturation >= 0.5x raw py-evm; each node's CPU per finalized tx <= raw py-evm's.

Each node's `plume_cpu_seconds_total{stage=...}` and `process_cpu_seconds_total`
are scraped from its GET /metrics before and after the saturation phase: the
per-node table gives CPU per finalized transaction by stage (ms/tx), `other`
being the process total minus the stages (trio scheduling, LevelDB threads...).

    .venv/bin/python scripts/bench_devnet.py [--rate 50] [--seconds 20] [--saturation 3000] [--block-time 500]
                                             [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import http.client
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eth_account import Account  # noqa: E402
from eth_hash.auto import keccak  # noqa: E402
from eth_utils import to_checksum_address  # noqa: E402

from bench_execution import make_transfers, run_raw, write_json  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from plume_node.devnet import DevnetParams, init_devnet, parse_overrides, port_free  # noqa: E402

GWEI = 10**9
# Requests in flight during the saturation phase. Each client thread waits for
# its answer before sending the next transaction, and a node answers between
# the blocks it builds and validates; with 8 threads the client, not the
# chain, set the rate (the nodes' CPU was ~40 % idle). 32 keep a backlog in
# the pool, as a saturated chain has.
SATURATION_CLIENTS = 32
VALIDATORS = 4


_local = threading.local()


class RpcReplyError(RuntimeError):
    """A JSON-RPC error reply; `error` is its error object (code, message, data)."""

    def __init__(self, method: str, error: dict) -> None:
        super().__init__(f"{method}: {error}")
        self.error = error


def rpc(url: str, method: str, *params, timeout: float = 10.0):
    """One JSON-RPC call over a keep-alive connection per thread and node (as a real client pool would)."""
    conns = _local.__dict__.setdefault("conns", {})
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    for attempt in (0, 1):
        conn = conns.get(url)
        if conn is None:
            host, port = url.removeprefix("http://").rsplit(":", 1)
            conn = conns[url] = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            conn.request("POST", "/", body, {"Content-Type": "application/json"})
            reply = json.loads(conn.getresponse().read())
            break
        except (OSError, http.client.HTTPException):
            conn.close()
            del conns[url]
            if attempt:
                raise
    if "error" in reply:
        raise RpcReplyError(method, reply["error"])
    return reply["result"]


def free_base_port() -> int:
    for base in range(31000, 39000, 20):
        if all(port_free(base + i) for i in range(2 * VALIDATORS)):
            return base
    raise SystemExit("no free ports on 127.0.0.1 between 31000 and 39000")


class BlockWatcher(threading.Thread):
    """Records when each transaction first appears in a committed block on one node."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.seen: dict[str, float] = {}
        self.block_times: list[float] = []
        self.stop = threading.Event()
        self.height = int(rpc(url, "eth_blockNumber"), 16)
        # 20 ms for latency; the saturation phase needs only block granularity, and
        # polling node 0 fast would add to its RPC CPU in the per-stage table
        self.poll_s = 0.02

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                head = int(rpc(self.url, "eth_blockNumber"), 16)
                while self.height < head:
                    self.height += 1
                    block = rpc(self.url, "eth_getBlockByNumber", hex(self.height), False)
                    now = time.perf_counter()
                    self.block_times.append(now)
                    for tx_hash in block["transactions"]:
                        self.seen.setdefault(tx_hash, now)
            except OSError:
                pass
            time.sleep(self.poll_s)


def process_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sign_transfers(accounts: list[dict], count: int, chain_id: int, base_fee: int) -> list[bytes]:
    """`count` transfers, round-robin over the senders, nonces from 0."""
    nonces = [0] * len(accounts)
    raws = []
    for i in range(count):
        s = i % len(accounts)
        tx = {
            "type": 2, "chainId": chain_id, "nonce": nonces[s], "to": to_checksum_address((i + 1).to_bytes(20, "big")),
            "value": 1, "gas": 21000, "maxFeePerGas": 4 * base_fee + GWEI, "maxPriorityFeePerGas": GWEI,
        }
        nonces[s] += 1
        raws.append(bytes(Account.sign_transaction(tx, accounts[s]["private_key"]).raw_transaction))
    return raws


def submit(urls: list[str], raws: list[bytes], rate: float | None, submitted: dict[str, float], threads: int = 4) -> None:
    """Send `raws` round-robin over `urls`, at `rate` tx/s or (None) as fast as possible."""
    start = time.perf_counter()
    lock = threading.Lock()
    cursor = iter(enumerate(raws))

    def worker() -> None:
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                return
            i, raw = item
            if rate is not None:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            try:
                tx_hash = rpc(urls[i % len(urls)], "eth_sendRawTransaction", "0x" + raw.hex())
            except RpcReplyError as exc:
                # A retry after a dropped connection re-sends a transaction the
                # node may already have taken: that one counts as submitted.
                if exc.error.get("data") != "already_known":
                    raise
                tx_hash = "0x" + keccak(raw).hex()
            submitted[tx_hash] = time.perf_counter()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


def wait_included(watcher: BlockWatcher, hashes, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if all(h in watcher.seen for h in hashes):
            return
        time.sleep(0.05)
    missing = sum(1 for h in hashes if h not in watcher.seen)
    raise SystemExit(f"{missing} of {len(hashes)} transactions not finalized within {timeout:.0f}s")


def scrape_cpu(url: str) -> dict[str, float]:
    """A node's CPU seconds so far: {stage: seconds, ..., "process": total} from its GET /metrics."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    seconds: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "plume_cpu_seconds_total":
                seconds[sample.labels["stage"]] = sample.value
            elif sample.name == "process_cpu_seconds_total":
                seconds["process"] = sample.value
    return seconds


def stage_breakdown(before: list[dict], after: list[dict], finalized: int) -> list[dict[str, float]]:
    """Per node, ms of CPU per finalized tx by stage, plus `other` (process minus stages) and `total`."""
    rows = []
    for b, a in zip(before, after):
        row = {stage: (a[stage] - b[stage]) * 1000 / finalized for stage in a if stage != "process"}
        total = (a["process"] - b["process"]) * 1000 / finalized
        row["other"] = total - sum(row.values())
        row["total"] = total
        rows.append(row)
    return rows


def mean_row(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.mean(row[key] for row in rows) for key in rows[0]}


def print_stage_table(rows: list[dict[str, float]]) -> None:
    columns = list(rows[0])
    print("CPU per finalized tx by stage, ms/tx (saturation phase; other = process total - stages):")
    print(f"  {'node':6s}" + "".join(f"{c:>11s}" for c in columns))
    for name, row in [(f"node{i}", r) for i, r in enumerate(rows)] + [("mean", mean_row(rows))]:
        print(f"  {name:6s}" + "".join(f"{row[c]:11.3f}" for c in columns))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=50.0, help="fixed-rate phase, tx/s (default 50)")
    ap.add_argument("--seconds", type=float, default=20.0, help="fixed-rate phase length (default 20)")
    ap.add_argument("--saturation", type=int, default=3000, help="transfers in the saturation phase (default 3000)")
    ap.add_argument("--block-time", type=int, default=500, help="devnet block time in ms (default 500)")
    ap.add_argument("--keep", action="store_true", help="keep the devnet directory (logs) afterwards")
    ap.add_argument("--json", metavar="PATH", help="also write the summary figures to PATH (a flat JSON object)")
    args = ap.parse_args()

    print("raw py-evm yardstick (mine_all, same process) ...", flush=True)
    raws, addrs = make_transfers(1000)
    cpu_before = time.process_time()
    elapsed, count = run_raw(raws, addrs, incremental=False)
    raw_rate = count / elapsed
    raw_cpu_ms = (time.process_time() - cpu_before) * 1000 / count  # CPU, not wall: the machine is shared
    print(f"  raw py-evm: {raw_rate:.1f} tx/s, {raw_cpu_ms:.2f} ms CPU per tx", flush=True)

    fixed_count = int(args.rate * args.seconds)
    senders = 60  # keeps every sender's run under the mempool's per-sender cap
    work = Path(tempfile.mkdtemp(prefix="plume-bench-devnet-"))
    devnet = init_devnet(
        work / "net",
        DevnetParams(
            validators=VALIDATORS,
            base_port=free_base_port(),
            block_time_ms=args.block_time,
            accounts=senders,
            overrides=parse_overrides(["mempool.max_txs=20000"]),
        ),
    )
    accounts = json.loads(devnet.accounts_path.read_text())["accounts"]
    urls = [n.rpc_url for n in devnet.nodes]
    processes = []
    try:
        for node in devnet.nodes:
            log = open(node.home / "node.log", "ab")
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "plume_node.cli", "start", "--home", str(node.home)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            ))
        deadline = time.time() + 60
        while True:
            try:
                if all(int(rpc(u, "eth_blockNumber"), 16) >= 2 for u in urls):
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit(f"devnet did not start; logs in {work}")
            time.sleep(0.2)
        base_fee = int(rpc(urls[0], "eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
        print(f"devnet of {VALIDATORS} validators up; signing {fixed_count + args.saturation} transfers ...", flush=True)
        all_raws = sign_transfers(accounts, fixed_count + args.saturation, devnet.chain_id, base_fee)
        # Nonces run round-robin, so the first fixed_count transfers use each
        # sender's lowest nonces and the saturation phase continues from there.
        watcher = BlockWatcher(urls[0])
        watcher.start()

        print(f"fixed rate: {args.rate:.0f} tx/s for {args.seconds:.0f} s ...", flush=True)
        fixed: dict[str, float] = {}
        submit(urls, all_raws[:fixed_count], args.rate, fixed)
        wait_included(watcher, fixed, 60)
        latencies = [watcher.seen[h] - t for h, t in fixed.items()]

        print(f"saturation: {args.saturation} transfers as fast as accepted ...", flush=True)
        blocks_before = len(watcher.block_times)
        watcher.poll_s = 0.1
        saturated: dict[str, float] = {}
        t0 = time.perf_counter()
        stages_before = [scrape_cpu(u) for u in urls]
        cpu0 = sum(process_cpu_seconds(p.pid) for p in processes)
        submit(urls, all_raws[fixed_count:], None, saturated, threads=SATURATION_CLIENTS)
        wait_included(watcher, saturated, 300)
        t_last = max(watcher.seen[h] for h in saturated)
        sat_rate = len(saturated) / (t_last - t0)
        cpu_used = sum(process_cpu_seconds(p.pid) for p in processes) - cpu0
        cpu_per_tx = cpu_used / len(saturated)
        cores_busy = cpu_used / (time.perf_counter() - t0)
        stages = stage_breakdown(stages_before, [scrape_cpu(u) for u in urls], len(saturated))
        watcher.stop.set()
        intervals = [b - a for a, b in zip(watcher.block_times[blocks_before:], watcher.block_times[blocks_before + 1:])]
    finally:
        for p in processes:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in processes:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"devnet kept in {work}")

    p50_ms, p99_ms = statistics.median(latencies) * 1000, pct(latencies, 0.99) * 1000
    interval_ms = statistics.mean(intervals) * 1000 if intervals else None
    per_node_ms = cpu_per_tx * 1000 / VALIDATORS
    print()
    print(f"fixed rate {args.rate:.0f} tx/s: {len(latencies)} tx, submit-to-finality "
          f"p50 {p50_ms:.0f} ms, p99 {p99_ms:.0f} ms  (target p50 <= 400 ms, p99 <= 800 ms)")
    print(f"saturation: {sat_rate:.1f} finalized tx/s over {len(saturated)} tx; "
          f"block interval mean {interval_ms:.0f} ms; the nodes kept {cores_busy:.2f} of "
          f"{os.cpu_count()} cores busy" if intervals else "")
    print(f"node CPU per finalized tx (all {VALIDATORS} processes): {cpu_per_tx * 1000:.1f} ms, "
          f"{per_node_ms:.2f} ms per node; raw py-evm: {raw_cpu_ms:.2f} ms CPU per tx; "
          f"ratio per node/raw {per_node_ms / raw_cpu_ms:.2f}  (target <= 1.0)")
    print(f"raw py-evm: {raw_rate:.1f} tx/s")
    print(f"ratio saturation/raw py-evm: {sat_rate / raw_rate:.2f}  (target >= 0.5)")
    print()
    print_stage_table(stages)
    if args.json:
        write_json(args.json, {
            "raw_tx_s": raw_rate,
            "raw_cpu_per_tx_ms": raw_cpu_ms,
            "saturation_tx_s": sat_rate,
            "cores_busy": cores_busy,
            "ratio_saturation": sat_rate / raw_rate,
            "p50_ms": p50_ms,
            "p99_ms": p99_ms,
            "cpu_per_tx_ms_all": cpu_per_tx * 1000,
            "cpu_per_tx_ms_per_node": per_node_ms,
            "ratio_node_cpu_to_raw": per_node_ms / raw_cpu_ms,
            "block_interval_ms": interval_ms,
            "stages": mean_row(stages),
            "stages_per_node": stages,
        })


if __name__ == "__main__":
    main()

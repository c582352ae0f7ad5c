#!/usr/bin/env python
"""CPU per JSON-RPC request of a real node: `eth_sendRawTransaction` against a cheap call.

Starts one single-validator devnet node (`plume-node start`, its own process),
then from this process sends, over keep-alive HTTP/1.1 connections from
several threads (http.client, one request per call, as web3.py does):

1. `--cheap` calls of `eth_blockNumber`: the fixed cost of a request (HTTP,
   hypercorn, JSON, dispatch);
2. `--txs` signed transfers with `eth_sendRawTransaction`: that plus admission
   (decode, sender recovery, pool checks, gossip, pending events).

and, as the floor, the same `eth_blockNumber` calls against hypercorn alone
(`--bare`: a process serving a fixed JSON answer from a minimal ASGI app,
with the node's hypercorn configuration): what any request costs before the
node's own code runs.

For each it prints the node's CPU per request: the process total
(/proc/<pid>/stat; it includes building and committing blocks, so for the
transfers it is above the RPC cost) and the `rpc` stage of
`plume_cpu_seconds_total` scraped from the node's GET /metrics.

`--profile PATH` runs the node under cProfile counting thread CPU time (not
wall time) of its trio thread, and writes the stats to PATH when it stops
(`python -m pstats PATH`); profiling slows the node ~3x, proportions hold.

    .venv/bin/python scripts/bench_rpc.py [--txs 3000] [--cheap 3000] [--threads 4] [--profile PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_devnet import process_cpu_seconds, rpc, scrape_cpu, sign_transfers  # noqa: E402
from plume_node.devnet import DevnetParams, init_devnet, parse_overrides, port_free  # noqa: E402

# Run the node's CLI under cProfile (thread CPU clock); dump the stats on exit.
PROFILED_START = """
import cProfile, sys, time
profile = cProfile.Profile(time.thread_time)
sys.argv = ["plume-node", "start", "--home", sys.argv[2]]
profile.enable()
try:
    from plume_node.cli import main
    main()
except SystemExit:
    pass
finally:
    profile.disable()
    profile.dump_stats(OUT)
"""


def free_port_pair() -> int:
    """A base port whose port and the next are free, picked at random in 40000-48000 so that
    benchmarks started at the same moment (bench_devnet.py scans from 31000) do not collide."""
    for _ in range(200):
        base = random.randrange(40000, 48000, 2)
        if port_free(base) and port_free(base + 1):
            return base
    raise SystemExit("no free ports on 127.0.0.1 between 40000 and 48000")


def serve_bare(port: int) -> None:
    """Serve a fixed JSON-RPC answer on 127.0.0.1:`port` with hypercorn on trio, configured as the node's RPC."""
    import trio
    from hypercorn.trio import serve

    from plume_node.rpc.server import hypercorn_config

    answer = b'{"jsonrpc":"2.0","id":1,"result":"0x1"}'

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    trio.run(serve, app, hypercorn_config("127.0.0.1", port, 30.0))


def measure_bare(count: int, threads: int) -> float:
    """CPU per request (µs) of hypercorn alone answering `count` calls, in a process of its own."""
    port = free_port_pair()
    server = subprocess.Popen([sys.executable, __file__, "--bare", str(port)], start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url)
        cpu0, t0 = process_cpu_seconds(server.pid), time.perf_counter()
        run_calls(url, [("eth_blockNumber", ())] * count, threads)
        elapsed = time.perf_counter() - t0
        per_request = (process_cpu_seconds(server.pid) - cpu0) * 1e6 / count
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"{'hypercorn alone':24s} {count:6d} requests, {count / elapsed:7.0f} req/s; "
          f"server CPU per request: process {per_request:7.0f} µs", flush=True)
    return per_request


def start_node(home: Path, profile: str | None) -> subprocess.Popen:
    log = open(home / "node.log", "ab")
    if profile:
        code = PROFILED_START.replace("OUT", repr(str(Path(profile).resolve())))
        argv = [sys.executable, "-c", code, "start", str(home)]
    else:
        argv = [sys.executable, "-m", "plume_node.cli", "start", "--home", str(home)]
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_up(url: str, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            if int(rpc(url, "eth_blockNumber"), 16) >= 1:
                return
        except OSError:
            pass
        if time.time() > deadline:
            raise SystemExit("node did not start")
        time.sleep(0.2)


def run_calls(url: str, calls: list[tuple[str, tuple]], threads: int) -> None:
    """Send every (method, params) of `calls` from `threads` threads, each on its own keep-alive connection."""
    lock = threading.Lock()
    cursor = iter(calls)
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            while not failures:
                with lock:
                    item = next(cursor, None)
                if item is None:
                    return
                rpc(url, item[0], *item[1])
        except Exception as exc:  # every call must succeed, or the figures mean nothing
            failures.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if failures:
        raise SystemExit(f"a request failed: {failures[0]}")


def measure(name: str, url: str, pid: int, calls: list[tuple[str, tuple]], threads: int) -> dict[str, float]:
    """Send `calls`; print and return the node's CPU per request (process total and by stage), in µs."""
    before, cpu0, t0 = scrape_cpu(url), process_cpu_seconds(pid), time.perf_counter()
    run_calls(url, calls, threads)
    elapsed = time.perf_counter() - t0
    after, cpu1 = scrape_cpu(url), process_cpu_seconds(pid)
    n = len(calls)
    row = {stage: (after[stage] - before[stage]) * 1e6 / n for stage in after if stage != "process"}
    row["process"] = (cpu1 - cpu0) * 1e6 / n
    busy = {k: v for k, v in row.items() if v >= 1.0 and k not in ("process", "rpc")}
    print(f"{name:24s} {n:6d} requests, {n / elapsed:7.0f} req/s; node CPU per request: "
          f"process {row['process']:7.0f} µs, rpc stage {row['rpc']:7.0f} µs"
          + ("; other stages " + ", ".join(f"{k} {v:.0f}" for k, v in busy.items()) if busy else ""), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--txs", type=int, default=3000, help="transfers to submit (default 3000)")
    ap.add_argument("--cheap", type=int, default=3000, help="eth_blockNumber calls (default 3000)")
    ap.add_argument("--threads", type=int, default=4, help="client threads, one connection each (default 4)")
    ap.add_argument("--profile", metavar="PATH", help="cProfile the node (thread CPU) and write the stats to PATH")
    ap.add_argument("--json", metavar="PATH", help="also write the figures to PATH")
    ap.add_argument("--bare", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the floor's server process
    args = ap.parse_args()
    if args.bare:
        serve_bare(args.bare)
        return

    work = Path(tempfile.mkdtemp(prefix="plume-bench-rpc-"))
    senders = 60  # keeps every sender's run under the mempool's per-sender cap
    devnet = init_devnet(work / "net", DevnetParams(
        validators=1, base_port=free_port_pair(), accounts=senders,
        overrides=parse_overrides(["mempool.max_txs=20000"]),
    ))
    accounts = json.loads(devnet.accounts_path.read_text())["accounts"]
    url = devnet.nodes[0].rpc_url
    node = start_node(devnet.nodes[0].home, args.profile)
    try:
        wait_up(url)
        base_fee = int(rpc(url, "eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
        raws = sign_transfers(accounts, args.txs, devnet.chain_id, base_fee)
        cheap = measure("eth_blockNumber", url, node.pid, [("eth_blockNumber", ())] * args.cheap, args.threads)
        sends = [("eth_sendRawTransaction", ("0x" + raw.hex(),)) for raw in raws]
        send = measure("eth_sendRawTransaction", url, node.pid, sends, args.threads)
        print(f"admission over a cheap call (rpc stage): {send['rpc'] - cheap['rpc']:.0f} µs per transaction")
        bare = measure_bare(args.cheap, args.threads)
        print(f"node's rpc stage over hypercorn alone, cheap call: {cheap['rpc'] - bare:.0f} µs per request")
        if args.json:
            Path(args.json).write_text(json.dumps({"cheap": cheap, "send": send, "bare": bare}, indent=1))
    finally:
        node.send_signal(signal.SIGINT if args.profile else signal.SIGTERM)
        try:
            node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

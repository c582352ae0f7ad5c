#!/usr/bin/env python
"""Block sync throughput: a fresh full node syncs a long chain from a real peer, against raw py-evm.

1. Prepares a 1-validator devnet (plus one full node) in a temp directory and
   fills the validator's home with ``--blocks`` blocks through the node's own
   code path (tests/support/certchain.py: ``Node.open`` on the home,
   ``PlumeChain.build_block``, ``Application.commit``): plain transfers from
   the dev accounts and ERC-20 token transfers (tests/fixtures/erc20.json,
   deployed in block 1), every block carrying its parent's commit
   certificate and committed with a certificate signed by the validator's
   own key, as a running validator would have left them.
2. Measures raw py-evm on the same chain in the same run: its first
   RAW_BLOCKS blocks, the same transactions in the same blocks, through
   ``MiningChain.mine_all`` on an in-memory AtomicDB, senders recovered
   (scripts/bench_execution.py's yardstick runs plain transfers only, and
   ERC-20 calls cost py-evm several times a transfer).
3. Starts the validator (``create_empty_blocks=false``, so its tip stays
   put) and the fresh full node as real ``plume-node start`` processes on
   127.0.0.1; the full node syncs over real TCP through its normal block
   sync, verifying every certificate. Timed from the full node's first
   RPC answer to its head reaching the validator's tip; the state roots
   of both heads are compared.

Prints the preparation time, blocks/s, tx/s and the ratio of sync tx/s to
raw py-evm tx/s (target >= 1.2).

    .venv/bin/python scripts/bench_sync.py [--blocks 2000] [--txs-per-block 50] [--json PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import gc
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "support"))  # the chain builder and the one JSON-RPC client

from eth.db.trie import _make_trie_root_and_nodes  # noqa: E402
from eth.vm.forks.prague.transactions import PragueTransactionBuilder  # noqa: E402

from bench_execution import TIMESTAMP, make_transfers, raw_chain, run_raw  # noqa: E402
from certchain import prepare_chain  # noqa: E402
from plume_node.devnet import DevnetParams, init_devnet, parse_overrides, port_free  # noqa: E402
from rpcclient import rpc  # noqa: E402

ACCOUNTS = 20  # dev accounts signing the transfers (account 0 also deploys and moves the token)
RAW_BLOCKS = 200  # the chain's first blocks that raw py-evm executes (10,000 transactions at 50 a block)
TRANSFER_YARDSTICK = 2000  # bench_execution's yardstick, printed for comparison only


def start(home: Path) -> subprocess.Popen:
    with open(home / "node.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "plume_node.cli", "start", "--home", str(home)],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def height_of(url: str) -> int | None:
    try:
        return int(rpc(url, "eth_blockNumber"), 16)
    except Exception:  # not up yet
        return None


def time_sync(full_url: str, tip: int, process: subprocess.Popen, deadline_s: float) -> tuple[float, int]:
    """(seconds, blocks) from the full node's first RPC answer to its head at `tip`."""
    end_by = time.monotonic() + deadline_s
    first = None
    while first is None:
        if process.poll() is not None or time.monotonic() > end_by:
            raise SystemExit("the full node did not come up")
        first = height_of(full_url)
        if first is None:
            time.sleep(0.05)
    started = time.monotonic()
    while True:
        height = height_of(full_url)
        if height is not None and height >= tip:
            return time.monotonic() - started, tip - first
        if process.poll() is not None or time.monotonic() > end_by:
            raise SystemExit(f"the full node stopped at height {height} of {tip}")
        time.sleep(0.1)


def raw_rate(blocks: list[list[bytes]], accounts: list[dict], chain_id: int) -> float:
    """Raw py-evm tx/s executing the synced chain's own first blocks, block by block.

    The same transactions (plain transfers and ERC-20 calls, the token deployed
    in block 1) in the same blocks, on py-evm's `MiningChain.mine_all` over an
    in-memory AtomicDB with the dev accounts funded: what raw py-evm takes for
    this chain. Decoding and sender recovery are in the timed part, as in
    scripts/bench_execution.py's yardstick (which runs transfers only, in
    1000-transfer blocks, and so says nothing about a chain of contract calls).
    """
    chain = raw_chain([bytes.fromhex(a["address"][2:]) for a in accounts], chain_id=chain_id)
    _make_trie_root_and_nodes.cache_clear()
    gc.collect()
    started, count = time.perf_counter(), 0
    for number, raws in enumerate(blocks, start=1):
        txs = [PragueTransactionBuilder.decode(r) for r in raws]
        for tx in txs:
            tx.sender  # noqa: B018  (recovered, as the yardstick says)
        chain.mine_all(txs, timestamp=TIMESTAMP + number)
        count += len(txs)
    return count / (time.perf_counter() - started)


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def free_base_port() -> int:
    # From a random start: two runs at once must not both pick the first free range.
    first = random.randrange(41000, 49000, 10)
    for base in [*range(first, 49000, 10), *range(41000, first, 10)]:
        if all(port_free(base + i) for i in range(4)):
            return base
    raise SystemExit("no free ports")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", type=int, default=2000, help="blocks in the chain (default 2000)")
    # 50 a block (under 2M gas of the 30M limit): a chain in use, not a full one; the
    # raw yardstick runs 1000-transfer blocks. With 10 the fixed cost of a
    # height (certificate, end-of-block rules, a commit) weighs as much as the
    # transactions (docs/performance.md has both figures).
    ap.add_argument("--txs-per-block", type=int, default=50,
                    help="transactions per block, half of them token transfers (default 50)")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    ap.add_argument("--keep", type=Path, help="prepare the devnet here and keep it (default: a temp dir, removed)")
    args = ap.parse_args()

    directory = args.keep or Path(tempfile.mkdtemp(prefix="plume-bench-sync-"))
    processes: list[subprocess.Popen] = []
    try:
        devnet = init_devnet(directory, DevnetParams(
            validators=1, full_nodes=1, base_port=free_base_port(), accounts=ACCOUNTS,
            overrides=parse_overrides(["consensus.create_empty_blocks=false"]),
        ), force=True)
        accounts = json.loads(devnet.accounts_path.read_text())["accounts"]
        validator, full = devnet.nodes
        print(f"preparing {args.blocks} blocks of {args.txs_per_block} txs in {validator.home} ...", flush=True)
        t0 = time.perf_counter()
        chain_blocks: list[list[bytes]] = []
        txs = prepare_chain(validator.home, accounts, args.blocks, args.txs_per_block,
                            progress=lambda n: print(f"  prepared {n} blocks", flush=True), record=chain_blocks)
        prepare_s = time.perf_counter() - t0
        print(f"prepared {args.blocks} blocks, {txs} txs in {prepare_s:.1f} s", flush=True)

        yardstick = (chain_blocks[:RAW_BLOCKS], accounts, devnet.chain_id)
        raw_before = raw_rate(*yardstick)
        print(f"raw py-evm: {raw_before:.1f} tx/s (the chain's first {len(yardstick[0])} blocks)", flush=True)

        processes.append(start(validator.home))
        tip = None
        end_by = time.monotonic() + 60
        while tip is None and time.monotonic() < end_by and processes[0].poll() is None:
            tip = height_of(validator.rpc_url)
            time.sleep(0.1)
        if processes[0].poll() is not None:
            raise SystemExit(f"the validator exited: see {validator.home / 'node.log'}")
        if tip is None or tip < args.blocks:
            raise SystemExit(f"the validator did not come up at height {args.blocks} (got {tip})")
        processes.append(start(full.home))
        seconds, blocks = time_sync(full.rpc_url, tip, processes[1], deadline_s=900)
        want = rpc(validator.rpc_url, "eth_getBlockByNumber", hex(tip), False)
        got = rpc(full.rpc_url, "eth_getBlockByNumber", hex(tip), False)
        if (got["hash"], got["stateRoot"]) != (want["hash"], want["stateRoot"]):
            raise SystemExit(f"height {tip}: synced {got['hash']}/{got['stateRoot']}, peer has {want['hash']}/{want['stateRoot']}")
        stop(processes)
        # The yardstick again after the sync: the machine is shared and its load
        # drifts over minutes, so the ratio uses the mean of both measurements.
        raw_after = raw_rate(*yardstick)
        raw_tx_s = (raw_before + raw_after) / 2
        print(f"raw py-evm: {raw_after:.1f} tx/s after the sync", flush=True)
        first = tip - blocks  # the full node's head at its first RPC answer (block 1 holds 1 tx, the others per_block)
        synced_txs = txs - (0 if first == 0 else 1 + (first - 1) * args.txs_per_block)
        figures = {
            "sync_tx_s": synced_txs / seconds, "sync_blocks_s": blocks / seconds, "raw_tx_s": raw_tx_s,
            "ratio_sync": synced_txs / seconds / raw_tx_s, "blocks": blocks, "txs": synced_txs,
            "prepare_s": prepare_s, "raw_tx_s_before": raw_before, "raw_tx_s_after": raw_after,
        }
        print(f"sync:        {blocks} blocks, {synced_txs} txs in {seconds:.1f} s")
        print(f"blocks/s:    {figures['sync_blocks_s']:8.1f}")
        print(f"tx/s:        {figures['sync_tx_s']:8.1f}")
        print(f"raw py-evm:  {raw_tx_s:8.1f} tx/s (mine_all on the same blocks, same run: mean of {raw_before:.1f} before and "
              f"{raw_after:.1f} after the sync)")
        print(f"ratio sync/raw: {figures['ratio_sync']:5.2f}  (target >= 1.2)")
        # For comparison only: bench_execution's yardstick (transfers, 1000 a block).
        transfers, addrs = make_transfers(TRANSFER_YARDSTICK)
        seconds_raw, count = run_raw(transfers, addrs, incremental=False)
        figures["raw_transfers_tx_s"] = count / seconds_raw
        print(f"for comparison, raw py-evm on 1000-transfer blocks: {count / seconds_raw:.1f} tx/s "
              f"(sync/that {figures['sync_tx_s'] * seconds_raw / count:.2f})")
        print(f"preparation: {prepare_s:.1f} s (not part of the timing)")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        stop(processes)
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()

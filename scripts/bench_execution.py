#!/usr/bin/env python
"""Execution throughput: the node's build_block + commit path vs raw py-evm, same run.

Both paths start from the same N signed plain transfers as raw bytes (EIP-1559,
many senders, fresh recipients) and pay for decoding and sender recovery:

* node: ``decode_transaction`` (sender recovered once, cached) ->
  ``PlumeChain.build_block`` -> ``PlumeChain.commit`` on a real LevelDB in a temp
  dir (one synced WriteBatch per block), blocks filled up to the gas limit;
* raw py-evm (the DESIGN's yardstick): the Prague transaction builder's
  ``decode`` -> ``MiningChain.mine_all(block_txs)`` on an in-memory ``AtomicDB``
  (py-evm's own block builder: ``apply_all_transactions``, then mine and persist),
  same block sizes; and, for reference, ``MiningChain.apply_transaction`` per
  transaction then ``mine_block`` (py-evm's incremental path, which re-roots the
  state and rebuilds the tx/receipt tries after every transaction).

Also times another node's path over the same blocks: decode, validate (re-execute), commit;
cold (as block sync sees them), and with the transactions already in its pool
(decoded and senders recovered at admission, untimed; the block reuses them).
Prints tx/s for each and the ratio node / raw (target >= 1.0).

    .venv/bin/python scripts/bench_execution.py [--n 2000] [--rounds 1] [--incremental] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth import constants  # noqa: E402
from eth.chains.base import MiningChain  # noqa: E402
from eth.db.atomic import AtomicDB  # noqa: E402
from eth.db.trie import _make_trie_root_and_nodes  # noqa: E402
from eth.vm.forks.prague import PragueVM  # noqa: E402
from eth.vm.forks.prague.transactions import PragueTransactionBuilder  # noqa: E402
from eth_keys import keys  # noqa: E402
from eth_utils import keccak  # noqa: E402

import execution.transactions as txmod  # noqa: E402
from execution.block import PlumeBlock  # noqa: E402
from execution.chain import PlumeChain  # noqa: E402
from execution.genesis import GenesisAccount, GenesisState  # noqa: E402
from execution.sidecar import Sidecar  # noqa: E402
from plume_node.storage import open_database  # noqa: E402

CHAIN_ID = 7777
GAS_LIMIT = 30_000_000
GWEI = 10**9
TIMESTAMP = 1_700_000_000
SENDERS = 50
COINBASE = b"\xc0" * 20


def make_transfers(n: int) -> tuple[list[bytes], list[bytes]]:
    """N signed raw transfers from SENDERS accounts (round-robin) to fresh recipients."""
    pks = [keys.PrivateKey(keccak(b"bench-sender-%d" % i)) for i in range(SENDERS)]
    addrs = [pk.public_key.to_canonical_address() for pk in pks]
    nonces = [0] * SENDERS
    raws = []
    for i in range(n):
        s = i % SENDERS
        unsigned = PragueTransactionBuilder.new_unsigned_dynamic_fee_transaction(
            chain_id=CHAIN_ID,
            nonce=nonces[s],
            max_priority_fee_per_gas=GWEI,
            max_fee_per_gas=50 * GWEI,
            gas=21_000,
            to=keccak(b"bench-recipient-%d" % i)[:20],
            value=1_000 + i,
            data=b"",
            access_list=[],
        )
        nonces[s] += 1
        raws.append(unsigned.as_signed_transaction(pks[s]).encode())
    return raws, addrs


def blocks_of(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# 1000 transfers (21M gas) per block for both paths: py-evm's MiningChain drifts
# its gas limit down by 1/1024 per block, so full 30M blocks would not fit there.
PER_BLOCK = 1000


def run_node(raws: list[bytes], addrs: list[bytes]) -> tuple[float, int, list[bytes]]:
    genesis = GenesisState(
        chain_id=CHAIN_ID,
        timestamp=TIMESTAMP,
        gas_limit=GAS_LIMIT,
        alloc={a: GenesisAccount(balance=10**24) for a in addrs},
    )
    tmp = Path(tempfile.mkdtemp(prefix="plume-bench-"))
    db = open_database(tmp / "db", create=True)
    try:
        chain = PlumeChain(db, genesis)
        txmod._senders.clear()  # start cold: every sender is recovered in the timed part
        gc.collect()
        t0 = time.perf_counter()
        txs = [txmod.decode_transaction(r) for r in raws]
        committed = 0
        for r, block_txs in enumerate(blocks_of(txs, PER_BLOCK)):
            result = chain.build_block(
                block_txs,
                timestamp=TIMESTAMP + 1 + r,
                coinbase=COINBASE,
                sidecar=Sidecar(round=0, last_commit=b"", evidence=()),
            )
            if result.rejected:
                raise SystemExit(f"node rejected transactions: {result.rejected[:3]}")
            chain.commit(result.block)
            committed += len(result.included)
        elapsed = time.perf_counter() - t0
        assert chain.stats.executions == chain.stats.commits  # commit never re-executed
        blocks = [chain.get_block(n).encode() for n in range(1, chain.height + 1)]
        return elapsed, committed, blocks
    finally:
        db.close()
        shutil.rmtree(tmp, ignore_errors=True)


def pooled_lookup(raws: list[bytes]):
    """A pool's `known_tx` over ``raws``, admitted (decoded, senders recovered) before the clock starts."""
    pool = {keccak(r): (r, txmod.decode_transaction(r)) for r in raws}

    def known_tx(tx_hash: bytes, raw: bytes):
        entry = pool.get(tx_hash)
        return entry[1] if entry is not None and entry[0] == raw else None

    return known_tx


def run_validator(genesis_addrs: list[bytes], blocks: list[bytes], raws: list[bytes] | None = None) -> tuple[float, int]:
    """Another node's path: decode each block, validate (re-execute), commit; with ``raws``
    already in its pool."""
    genesis = GenesisState(
        chain_id=CHAIN_ID,
        timestamp=TIMESTAMP,
        gas_limit=GAS_LIMIT,
        alloc={a: GenesisAccount(balance=10**24) for a in genesis_addrs},
    )
    tmp = Path(tempfile.mkdtemp(prefix="plume-bench-v-"))
    db = open_database(tmp / "db", create=True)
    try:
        chain = PlumeChain(db, genesis)
        txmod._senders.clear()  # as if the transactions had never been gossiped to us
        known_tx = pooled_lookup(raws) if raws is not None else None
        gc.collect()
        t0 = time.perf_counter()
        count = 0
        for raw in blocks:
            block = PlumeBlock.decode(raw, known_tx=known_tx)
            chain.validate_block(block)
            chain.commit(block)
            count += len(block.transactions)
        return time.perf_counter() - t0, count
    finally:
        db.close()
        shutil.rmtree(tmp, ignore_errors=True)


def raw_chain(addrs: list[bytes], chain_id: int = CHAIN_ID) -> MiningChain:
    """py-evm's own Prague MiningChain on an in-memory AtomicDB, ``addrs`` funded."""
    klass = MiningChain.configure(
        __name__="RawPragueChain", vm_configuration=((0, PragueVM),), chain_id=chain_id
    )
    params = {
        "difficulty": 0,
        "gas_limit": GAS_LIMIT,
        "timestamp": TIMESTAMP,
        "coinbase": COINBASE,
        "extra_data": b"",
        "nonce": constants.POST_MERGE_NONCE,
        "mix_hash": constants.POST_MERGE_MIX_HASH,
        "base_fee_per_gas": GWEI,
    }
    state = {a: {"balance": 10**24, "nonce": 0, "code": b"", "storage": {}} for a in addrs}
    return klass.from_genesis(AtomicDB(), params, state)


def run_raw(raws: list[bytes], addrs: list[bytes], incremental: bool) -> tuple[float, int]:
    chain = raw_chain(addrs)
    # py-evm memoizes trie roots by the exact items: a repeated round would
    # get the previous round's tx/receipt tries for free
    _make_trie_root_and_nodes.cache_clear()
    gc.collect()
    t0 = time.perf_counter()
    txs = [PragueTransactionBuilder.decode(r) for r in raws]
    for tx in txs:
        tx.sender  # noqa: B018  (recover, as the yardstick says)
    done = 0
    for r, block_txs in enumerate(blocks_of(txs, PER_BLOCK)):
        ts = TIMESTAMP + 1 + r
        if incremental:
            chain.set_header_timestamp(ts)
            for tx in block_txs:
                chain.apply_transaction(tx)
            chain.mine_block()
        else:
            chain.mine_all(block_txs, timestamp=ts)
        done += len(block_txs)
    elapsed = time.perf_counter() - t0
    return elapsed, done


def write_json(path: str, figures: dict) -> None:
    """The summary figures of a benchmark as one flat JSON object (`--json PATH`; read by `dev.py bench`)."""
    Path(path).write_text(json.dumps(figures, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="transfers per path (default 2000)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat and keep each path's best")
    ap.add_argument("--incremental", action="store_true",
                    help="also run py-evm's per-transaction path (quadratic: minutes even at N=300)")
    ap.add_argument("--json", metavar="PATH", help="also write the summary figures to PATH (a flat JSON object)")
    args = ap.parse_args()

    print(f"signing {args.n} transfers from {SENDERS} senders ...", flush=True)
    raws, addrs = make_transfers(args.n)
    best: dict[str, float] = {}
    built: list[bytes] = []

    def node() -> tuple[float, int]:
        elapsed, count, blocks = run_node(raws, addrs)
        built[:] = blocks
        return elapsed, count

    for _ in range(args.rounds):
        runs = [("raw py-evm mine_all", lambda: run_raw(raws, addrs, incremental=False)),
                ("node build+commit", node),
                ("node validate+commit", lambda: run_validator(addrs, built)),
                ("node validate+commit, pooled", lambda: run_validator(addrs, built, raws))]
        if args.incremental:
            runs.append(("raw py-evm apply_transaction", lambda: run_raw(raws, addrs, incremental=True)))
        for name, fn in runs:
            elapsed, count = fn()
            assert count == args.n
            rate = count / elapsed
            best[name] = max(best.get(name, 0.0), rate)
            print(f"  {name:32s} {count} tx in {elapsed:6.2f} s = {rate:7.1f} tx/s", flush=True)
    node_rate = best["node build+commit"]
    raw = best["raw py-evm mine_all"]
    print(f"node:               {node_rate:7.1f} tx/s (LevelDB, sync commit per block)")
    print(f"raw py-evm:         {raw:7.1f} tx/s (mine_all, AtomicDB)")
    print(f"ratio node/raw:     {node_rate / raw:5.2f}  (target >= 2.0)")
    val = best["node validate+commit"]
    print(f"validator path:     {val:7.1f} tx/s (decode block, re-execute, commit); "
          f"ratio {val / raw:5.2f}")
    pooled = best["node validate+commit, pooled"]
    print(f"validator, pooled:  {pooled:7.1f} tx/s (txs already in its pool); ratio {pooled / raw:5.2f}")
    if "raw py-evm apply_transaction" in best:
        inc = best["raw py-evm apply_transaction"]
        print(f"raw py-evm per-tx:  {inc:7.1f} tx/s (apply_transaction + mine_block); "
              f"ratio node/per-tx {node_rate / inc:5.2f}")
    if args.json:
        write_json(args.json, {
            "raw_tx_s": raw,
            "node_build_commit_tx_s": node_rate,
            "node_validate_commit_tx_s": val,
            "build_commit_ratio": node_rate / raw,
            "validate_commit_ratio": val / raw,
        })


if __name__ == "__main__":
    main()

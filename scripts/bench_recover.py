#!/usr/bin/env python
"""Sender recovery: libsecp256k1 directly (``fast_sender``) vs py-evm's ``get_sender``.

1. Microseconds per recovery, for each transaction kind (legacy before and
   after EIP-155, EIP-2930, EIP-1559), both paths on the same decoded objects,
   interleaved in batches; prints each path's best batch and median batch, and
   coincurve's recovery alone (the floor).
2. With ``--chain``: the node's build+commit path and the validator path with
   nothing pooled (block sync: every sender recovered while validating) from
   ``scripts/bench_execution.py``, alternating fast path on / off (off = py-evm's
   path, as before), each as a ratio to raw py-evm in the same run.

    .venv/bin/python scripts/bench_recover.py [--batches 60] [--chain --n 2000 --rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import coincurve  # noqa: E402
from eth.vm.forks.prague.transactions import PragueTransactionBuilder as Builder  # noqa: E402
from eth_keys import keys  # noqa: E402

import execution.transactions as txmod  # noqa: E402

KEY = keys.PrivateKey(b"\x42" * 32)
TO = b"\x24" * 20


def sample_raws() -> dict[str, bytes]:
    legacy = Builder.create_unsigned_transaction(nonce=7, gas_price=10**9, gas=21_000, to=TO, value=10**18, data=b"")
    typed = dict(chain_id=7777, nonce=7, gas=21_000, to=TO, value=10**18, data=b"", access_list=[])
    return {
        "legacy (pre-155)": legacy.as_signed_transaction(KEY).encode(),
        "legacy (EIP-155)": legacy.as_signed_transaction(KEY, chain_id=7777).encode(),
        "EIP-2930": Builder.new_unsigned_access_list_transaction(gas_price=10**9, **typed).as_signed_transaction(KEY).encode(),
        "EIP-1559": Builder.new_unsigned_dynamic_fee_transaction(
            max_priority_fee_per_gas=10**9, max_fee_per_gas=2 * 10**9, **typed
        ).as_signed_transaction(KEY).encode(),
    }


def per_call_us(fn, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1e6


def micro(batches: int, calls: int) -> None:
    print(f"us per recovery (best batch / median batch of {batches} x {calls} calls, interleaved)")
    for kind, raw in sample_raws().items():
        tx = Builder.decode(raw)
        assert txmod.fast_sender(tx) == tx.get_sender() == KEY.public_key.to_canonical_address()
        signature = tx.r.to_bytes(32, "big") + tx.s.to_bytes(32, "big") + bytes((tx.y_parity,))
        msg_hash = txmod.signing_hash(tx)
        paths = {
            "py-evm get_sender": tx.get_sender,
            "fast_sender": lambda tx=tx: txmod.fast_sender(tx),
            "coincurve alone": lambda: coincurve.PublicKey.from_signature_and_message(signature, msg_hash, hasher=None),
        }
        times: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(batches):
            for name, fn in paths.items():
                times[name].append(per_call_us(fn, calls))
        cells = "  ".join(f"{name} {min(t):6.1f} / {statistics.median(t):6.1f}" for name, t in times.items())
        best = {name: min(t) for name, t in times.items()}
        print(f"  {kind:17s} {cells}  speed-up {best['py-evm get_sender'] / best['fast_sender']:4.2f}x")


def chain(n: int, rounds: int) -> None:
    import bench_execution as bench

    print(f"signing {n} transfers ...", flush=True)
    raws, addrs = bench.make_transfers(n)
    fast_backend = txmod.Secp256k1PublicKey
    best: dict[str, float] = {}
    for _ in range(rounds):
        for label, backend in (("fast", fast_backend), ("py-evm", None)):
            txmod.Secp256k1PublicKey = backend  # None: fast_sender declines, py-evm recovers
            try:
                elapsed, count, blocks = bench.run_node(raws, addrs)
                best[f"build+commit, {label}"] = max(best.get(f"build+commit, {label}", 0.0), count / elapsed)
                elapsed, count = bench.run_validator(addrs, blocks)
                best[f"validator cold, {label}"] = max(best.get(f"validator cold, {label}", 0.0), count / elapsed)
            finally:
                txmod.Secp256k1PublicKey = fast_backend
        elapsed, count = bench.run_raw(raws, addrs, incremental=False)
        best["raw py-evm"] = max(best.get("raw py-evm", 0.0), count / elapsed)
        print("  round: " + ", ".join(f"{k} {v:.0f}" for k, v in best.items()), flush=True)
    raw = best["raw py-evm"]
    for name, rate in best.items():
        print(f"{name:26s} {rate:7.1f} tx/s  ratio to raw py-evm {rate / raw:5.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=60)
    ap.add_argument("--calls", type=int, default=50, help="recoveries per batch")
    ap.add_argument("--chain", action="store_true", help="also time bench_execution's node and validator paths")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    print(f"eth-keys backend: {txmod.signature_backend()}; fast path: {txmod.Secp256k1PublicKey is not None}")
    micro(args.batches, args.calls)
    if args.chain:
        chain(args.n, args.rounds)


if __name__ == "__main__":
    main()

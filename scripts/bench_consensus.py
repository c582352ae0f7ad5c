#!/usr/bin/env python3
"""Consensus cost in the deterministic simulator, by validator count.

For N = 4, 16, 64, 100 validators (honest, no drops, the default delays) this
runs the real engines to a target height and prints heights per wall-second,
CPU seconds per height and messages per height, then compares the growth of
CPU per height with N^2 (every validator checks every other validator's two
votes per height, so O(N^2) signature checks per height is the expected
shape; Ed25519 verification dominates).

    .venv/bin/python scripts/bench_consensus.py [--sizes 4,16,64,100] [--heights H]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consensus.sim import Scenario, run  # noqa: E402


def measure(n: int, heights: int, seed: int) -> dict[str, float]:
    scenario = Scenario(validators=n, heights=heights, seed=seed, max_time_ms=600_000)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    report = run(scenario)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if not report.ok:
        raise SystemExit(f"N={n}: the run violated an invariant: {report.violations}")
    return {
        "n": n,
        "heights": report.min_height,
        "heights_per_s": report.min_height / wall,
        "cpu_per_height": cpu / report.min_height,
        "messages_per_height": report.messages / report.min_height,
        "sim_ms_per_height": report.sim_ms / report.min_height,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="4,16,64,100")
    parser.add_argument("--heights", type=int, default=None, help="heights per run (default: fewer for larger N)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for n in sizes:
        heights = args.heights or max(3, 40 // max(1, n // 8))
        rows.append(measure(n, min(heights, 20), args.seed))
        r = rows[-1]
        print(
            f"N={r['n']:<4} heights={r['heights']:<3} heights/s={r['heights_per_s']:8.2f} "
            f"cpu s/height={r['cpu_per_height']:8.4f} msgs/height={r['messages_per_height']:9.0f}",
            file=sys.stderr,
            flush=True,
        )

    # Wall-clock heights/s depends on how busy the (shared) machine is;
    # heights per CPU-second does not, so both are printed.
    print(
        f"{'N':>5} {'heights':>8} {'heights/s':>10} {'heights/CPU-s':>14} {'CPU s/height':>13} "
        f"{'msgs/height':>12} {'CPU/N^2 (us)':>13}"
    )
    for r in rows:
        per_n2 = r["cpu_per_height"] / (r["n"] ** 2) * 1e6
        print(
            f"{r['n']:>5} {r['heights']:>8} {r['heights_per_s']:>10.2f} {1 / r['cpu_per_height']:>14.2f} "
            f"{r['cpu_per_height']:>13.4f} {r['messages_per_height']:>12.0f} {per_n2:>13.1f}"
        )
    # Growth check: CPU per height divided by N^2 must not grow with N (a
    # 1.5x allowance absorbs the noise of a shared machine).
    first, last = rows[0], rows[-1]
    ratio = (last["cpu_per_height"] / last["n"] ** 2) / (first["cpu_per_height"] / first["n"] ** 2)
    verdict = "no faster than O(N^2)" if ratio <= 1.5 else "FASTER than O(N^2)"
    print(f"CPU per height per N^2, N={last['n']} vs N={first['n']}: x{ratio:.2f} -> cost grows {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

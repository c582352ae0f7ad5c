#!/usr/bin/env python3
"""The set-up commands of the README: bring up a local devnet, run the tests, run the benchmarks.

Needs only Python 3.11+ on the machine. Creates `.venv` in the project root and
installs the project (editable, with its test extra) when `pyproject.toml`
changed since the last install, then runs the command inside that venv.

    python3 scripts/dev.py devnet [--validators N] [--dir DIR]   # local devnet
    python3 scripts/dev.py test [PYTEST ARGS...]                 # the test suite
    python3 scripts/dev.py bench                                 # the benchmarks, one summary table

`test` without arguments runs the whole suite in two worker processes, a test
file per worker at a time (pytest-xdist): most of its time is spent waiting
for real node processes to commit blocks, not computing. With arguments it
passes them to pytest as they are (one process unless they say `-n`).

`bench` runs scripts/bench_execution.py, bench_devnet.py and bench_sync.py
in turn (each with `--json`), then prints one table of the figures issue 15
set targets for (docs/performance.md), whether each is met, and the devnet's
CPU per finalized transaction by stage. A missed target is a measurement,
not an error: the exit status is 0 unless a benchmark itself failed.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".plume-install-stamp"
SUITE_OPTIONS = ["-n", "2", "--dist", "loadfile"]  # the whole suite: two workers, whole files each


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _install_fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> Path:
    """Create the venv and (re)install the project when needed; return its python."""
    if sys.version_info < (3, 11):
        sys.exit(f"Plume node needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    python = _venv_python()
    if not python.exists():
        print(f"creating virtualenv in {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    fingerprint = _install_fingerprint()
    if not STAMP.exists() or STAMP.read_text() != fingerprint:
        print("installing plume-node and its dependencies into .venv", flush=True)
        pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run(pip + ["install", "--upgrade", "pip"], check=True)
        subprocess.run(pip + ["install", "-e", f"{ROOT}[test]"], check=True)
        STAMP.write_text(fingerprint)
    return python


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("devnet", "test", "bench"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    python = ensure_venv()
    if command == "test":
        return subprocess.call([str(python), "-m", "pytest", *(rest or SUITE_OPTIONS)], cwd=ROOT)
    if command == "bench":
        return run_benchmarks(python)
    plume = [str(python), "-m", "plume_node.cli"]
    return run_devnet(plume + ["devnet", "up", *rest])


def run_devnet(command: list[str]) -> int:
    """Run `devnet up` and wait for it, however it is stopped.

    Ctrl-C reaches `devnet up` as well (one process group): it stops its nodes
    in order and reports, so this process ignores SIGINT meanwhile instead of
    killing it half-way, and passes a SIGTERM or SIGHUP on to it.
    """
    child = subprocess.Popen(command, cwd=ROOT)
    # Set after the spawn: a child inheriting SIG_IGN would ignore Ctrl-C.
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN)}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, lambda sig, frame: child.send_signal(sig))
    try:
        return child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# ---- bench --------------------------------------------------------------------

# (name, script) in the order they run; a script not (yet) in the tree is reported, not an error.
BENCHMARKS = (("execution", "bench_execution.py"), ("devnet", "bench_devnet.py"), ("sync", "bench_sync.py"))
AT_MOST, AT_LEAST = "<=", ">="


@dataclass(frozen=True)
class Target:
    figure: str
    bench: str  # which benchmark's JSON holds it
    key: str
    bound_kind: str  # AT_MOST or AT_LEAST
    bound: float

    def met_by(self, measured: float) -> bool:
        return measured <= self.bound if self.bound_kind == AT_MOST else measured >= self.bound


# Issue 15's table, row for row.
TARGETS = (
    Target("per-node CPU per finalized tx / raw py-evm CPU per tx", "devnet", "ratio_node_cpu_to_raw", AT_MOST, 1.0),
    Target("devnet saturation tx/s / raw py-evm tx/s", "devnet", "ratio_saturation", AT_LEAST, 0.5),
    Target("p50 submit-to-finality at 50 tx/s, 4 validators (ms)", "devnet", "p50_ms", AT_MOST, 400),
    Target("p99 submit-to-finality at 50 tx/s, 4 validators (ms)", "devnet", "p99_ms", AT_MOST, 800),
    Target("node build + commit / raw py-evm", "execution", "build_commit_ratio", AT_LEAST, 2.0),
    Target("block sync tx/s / raw py-evm tx/s", "sync", "ratio_sync", AT_LEAST, 1.2),
)


class Verdict(Enum):
    MET = "met"
    MISSED = "MISSED"
    NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class SummaryRow:
    figure: str
    measured: float | None
    target: str
    verdict: Verdict


def summary_rows(figures: dict[str, dict | None]) -> list[SummaryRow]:
    """The summary table from each benchmark's JSON figures (None: it did not run)."""
    rows = []
    for target in TARGETS:
        measured = (figures.get(target.bench) or {}).get(target.key)
        if measured is None:
            verdict = Verdict.NOT_MEASURED
        else:
            verdict = Verdict.MET if target.met_by(measured) else Verdict.MISSED
        rows.append(SummaryRow(target.figure, measured, f"{target.bound_kind} {target.bound:g}", verdict))
    return rows


def format_summary(rows: list[SummaryRow]) -> str:
    width = max(len(row.figure) for row in rows)
    lines = [f"{'figure':{width}s} | {'measured':>9s} | {'target':>8s} | met?", "-" * (width + 34)]
    for row in rows:
        shown = "-" if row.measured is None else (f"{row.measured:.0f}" if row.measured >= 100 else f"{row.measured:.2f}")
        lines.append(f"{row.figure:{width}s} | {shown:>9s} | {row.target:>8s} | {row.verdict.value}")
    missed = [row.figure for row in rows if row.verdict is Verdict.MISSED]
    unmeasured = [row.figure for row in rows if row.verdict is Verdict.NOT_MEASURED]
    lines.append(f"targets met: {sum(row.verdict is Verdict.MET for row in rows)} of {len(rows)}")
    lines += [f"  MISSED: {figure}" for figure in missed] + [f"  not measured: {figure}" for figure in unmeasured]
    return "\n".join(lines)


def format_stages(devnet: dict | None) -> str:
    """The devnet's CPU per finalized tx by stage (ms/tx), per node and the mean."""
    if not devnet or not devnet.get("stages"):
        return "CPU by stage: not measured (bench_devnet.py did not run)"
    columns = list(devnet["stages"])
    lines = ["CPU per finalized tx by stage, ms/tx (devnet saturation phase; other = process total - stages):",
             f"  {'node':6s}" + "".join(f"{c:>11s}" for c in columns)]
    named = [(f"node{i}", row) for i, row in enumerate(devnet.get("stages_per_node", []))] + [("mean", devnet["stages"])]
    for name, row in named:
        lines.append(f"  {name:6s}" + "".join(f"{row.get(c, 0.0):11.3f}" for c in columns))
    return "\n".join(lines)


def collect_figures(python: Path, scripts: Path, workdir: Path) -> tuple[dict[str, dict | None], list[str]]:
    """Run each benchmark present in `scripts` with `--json`; (figures by name, failures)."""
    figures: dict[str, dict | None] = {}
    failures = []
    for name, script in BENCHMARKS:
        path = scripts / script
        figures[name] = None
        if not path.exists():
            print(f"== {name}: scripts/{script} not present", flush=True)
            continue
        print(f"== {name}: scripts/{script}", flush=True)
        out = workdir / f"{name}.json"
        code = subprocess.call([str(python), str(path), "--json", str(out)], cwd=ROOT)
        if code != 0 or not out.exists():
            failures.append(f"scripts/{script} failed (exit status {code})")
            continue
        figures[name] = json.loads(out.read_text())
    return figures, failures


def run_benchmarks(python: Path, scripts: Path = ROOT / "scripts") -> int:
    with tempfile.TemporaryDirectory(prefix="plume-bench-") as workdir:
        figures, failures = collect_figures(python, scripts, Path(workdir))
    print()
    print(format_summary(summary_rows(figures)))
    print()
    print(format_stages(figures.get("devnet")))
    for failure in failures:
        print(f"error: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)

"""`python3 scripts/dev.py bench`: the summary table's verdicts, and how benchmarks are run and collected.

The benchmarks themselves are never run here (they take minutes and measure
a shared machine): the table is built from given figures, and the runner is
pointed at a folder of tiny stand-in scripts that write known JSON.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]


def dev() -> ModuleType:
    name = "plume_dev_script"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "dev.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while being built
        spec.loader.exec_module(module)
    return sys.modules[name]


ALL_MET = {
    "devnet": {"ratio_node_cpu_to_raw": 1.0, "ratio_saturation": 0.5, "p50_ms": 400.0, "p99_ms": 800.0},
    "execution": {"build_commit_ratio": 2.0},
    "sync": {"ratio_sync": 1.2},
}


def verdicts(figures: dict) -> list[str]:
    return [row.verdict.value for row in dev().summary_rows(figures)]


def test_the_rows_are_the_issues_table_and_bounds_count_as_met() -> None:
    rows = dev().summary_rows(ALL_MET)
    assert [row.target for row in rows] == ["<= 1", ">= 0.5", "<= 400", "<= 800", ">= 2", ">= 1.2"]
    assert verdicts(ALL_MET) == ["met"] * 6
    assert "targets met: 6 of 6" in dev().format_summary(rows)


@pytest.mark.parametrize(
    ("bench", "key", "value", "row"),
    [
        ("devnet", "ratio_node_cpu_to_raw", 1.01, 0),
        ("devnet", "ratio_saturation", 0.49, 1),
        ("devnet", "p50_ms", 401.0, 2),
        ("devnet", "p99_ms", 801.0, 3),
        ("execution", "build_commit_ratio", 1.99, 4),
        ("sync", "ratio_sync", 1.19, 5),
    ],
)
def test_each_figure_past_its_bound_is_missed_alone(bench: str, key: str, value: float, row: int) -> None:
    figures = json.loads(json.dumps(ALL_MET))
    figures[bench][key] = value
    expected = ["met"] * 6
    expected[row] = "MISSED"
    assert verdicts(figures) == expected
    text = dev().format_summary(dev().summary_rows(figures))
    assert "targets met: 5 of 6" in text and f"MISSED: {dev().TARGETS[row].figure}" in text


def test_a_benchmark_that_did_not_run_is_not_measured() -> None:
    figures = {**ALL_MET, "sync": None}
    assert verdicts(figures) == ["met"] * 5 + ["not measured"]
    assert "not measured: block sync" in dev().format_summary(dev().summary_rows(figures))


def write_stand_in(folder: Path, script: str, figures: dict | None, exit_status: int = 0) -> None:
    """A bench script that writes `figures` to its --json path and exits with `exit_status`."""
    (folder / script).write_text(
        "import json, sys\n"
        "path = sys.argv[sys.argv.index('--json') + 1]\n"
        f"figures = {figures!r}\n"
        "if figures is not None:\n"
        "    open(path, 'w').write(json.dumps(figures))\n"
        f"sys.exit({exit_status})\n"
    )


def test_runner_collects_json_and_reports_a_missing_script(tmp_path: Path, capsys) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    stages = {"rpc": 0.4, "validate": 0.7, "other": 0.1, "total": 1.2}
    devnet = {**ALL_MET["devnet"], "ratio_saturation": 0.2, "stages": stages, "stages_per_node": [stages, stages]}
    write_stand_in(scripts, "bench_execution.py", ALL_MET["execution"])
    write_stand_in(scripts, "bench_devnet.py", devnet)
    status = dev().run_benchmarks(Path(sys.executable), scripts)
    out = capsys.readouterr().out
    assert status == 0  # a missed target and an absent bench_sync.py are not errors
    assert "scripts/bench_sync.py not present" in out
    assert "MISSED: devnet saturation" in out and "not measured: block sync" in out
    assert "targets met: 4 of 6" in out
    assert "node1" in out and "mean" in out and "validate" in out


def test_runner_fails_when_a_benchmark_fails(tmp_path: Path, capsys) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    write_stand_in(scripts, "bench_execution.py", None, exit_status=3)
    write_stand_in(scripts, "bench_devnet.py", ALL_MET["devnet"])
    write_stand_in(scripts, "bench_sync.py", ALL_MET["sync"])
    status = dev().run_benchmarks(Path(sys.executable), scripts)
    out = capsys.readouterr().out
    assert status == 1
    assert "error: scripts/bench_execution.py failed (exit status 3)" in out
    assert "not measured: node build + commit" in out and "targets met: 5 of 6" in out

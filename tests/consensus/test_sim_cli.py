"""`plume-node sim` through click's CliRunner: the done-when commands of the
simulator issue, the JSON form, exit codes, and usage errors (never a
traceback) for malformed options."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from consensus.sim import Scenario, evidence_power
from consensus.sim.report import Report
from consensus.sim.scenario import Fault
from plume_node.cli import main


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["sim", *args], catch_exceptions=False)


def test_standard_suite_passes() -> None:
    result = _invoke("--suite", "standard")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines()[1:-1] if not line.startswith(" ")]
    assert len(rows) >= 15 and all(line.endswith(" ok") for line in rows), result.output
    assert "all ok" in result.output.splitlines()[-1]


def test_twins_of_one_validator_keep_agreement_over_20_heights() -> None:
    result = _invoke("--validators", "4", "--fault", "twins:0", "--heights", "20", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["agreement"] is True and data["violations"] == []
    assert data["min_height"] == 20
    # Both copies run honest code: each commits, and they are one validator.
    assert data["committed"]["0"] >= 1 and data["committed"]["0b"] >= 1


def test_twins_of_two_validators_agree_or_are_accountable() -> None:
    result = _invoke("--validators", "4", "--fault", "twins:0", "--fault", "twins:1", "--json")
    data = json.loads(result.output)
    scenario = Scenario(validators=4, seed=data["seed"], faults=(Fault("twins", 0), Fault("twins", 1)))
    report = Report(**{**data, "violations": tuple(data["violations"]), "evidence": tuple(data["evidence"])})
    assert data["agreement"] or 3 * evidence_power(scenario, report) >= scenario.total_power, data
    # Exit code 1 exactly when an invariant was violated (2 of 4 Byzantine may stall progress).
    assert result.exit_code == (1 if data["violations"] else 0)


def test_one_hundred_validators_commit_ten_heights() -> None:
    result = _invoke("--validators", "100", "--heights", "10", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["min_height"] == 10 and data["agreement"] and data["violations"] == []
    assert len(data["committed"]) == 100


def test_human_report_and_powers() -> None:
    result = _invoke("--powers", "40,30,20,10", "--heights", "3", "--fault", "silent:3")
    assert result.exit_code == 0, result.output
    assert "result     OK" in result.output and "agreement  yes" in result.output


def test_violation_exits_one() -> None:
    # Two of four silent: no quorum, so no progress; the run says so and fails.
    result = _invoke("--fault", "silent:0", "--fault", "silent:1", "--heights", "2", "--max-time", "20000")
    assert result.exit_code == 1
    assert "progress: node 2" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--partition", "0,9|x"), "'x' is not a node"),
        (("--partition", "0,9|1"), "no node '9'"),
        (("--fault", "twins:7"), "no node 7"),
        (("--fault", "explode:1"), "unknown kind"),
        (("--fault", "crash:1@500-100"), "after the start"),
        (("--validators", "5", "--powers", "1,2,3"), "5 validators but 3 powers"),
        (("--powers", "1,x"), "comma-separated integers"),
        (("--delay", "100-10"), "MIN must not exceed MAX"),
        (("--drop", "1.5"), "1.5"),
        (("--suite", "smoke", "--fault", "twins:0"), "drop --fault"),
    ],
)
def test_bad_arguments_are_usage_errors(args: tuple[str, ...], message: str) -> None:
    result = CliRunner().invoke(main, ["sim", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)

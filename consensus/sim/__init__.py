"""The deterministic consensus simulator: real engines, virtual time, one seed.

`run(Scenario(...))` returns a `Report`; `suites.SUITES` names the batteries
the CLI (`plume-node sim --suite ...`) and the tests run. Nothing here reads a
real clock (except `wall_s` in the report) or does I/O, so a run replays
exactly from its seed. See docs/testing-consensus.md.
"""

from consensus.sim.report import Report
from consensus.sim.scenario import (
    Fault,
    Partition,
    Scenario,
    ScenarioError,
    parse_delay,
    parse_fault,
    parse_partition,
    parse_powers,
)

__all__ = [
    "Fault",
    "Partition",
    "Report",
    "Scenario",
    "ScenarioError",
    "evidence_power",
    "parse_delay",
    "parse_fault",
    "parse_partition",
    "parse_powers",
    "run",
]


def run(scenario: Scenario) -> Report:
    """Run one scenario (imports the engine lazily so parsing works without it)."""
    from consensus.sim.simulator import run as _run

    return _run(scenario)


def evidence_power(scenario: Scenario, report: Report) -> int:
    from consensus.sim.simulator import evidence_power as _evidence_power

    return _evidence_power(scenario, report)

"""Hypothesis-driven schedules through the simulator.

Random delays, drops, partitions that heal, crashes with restarts and up to f
Byzantine validators of every kind: agreement must always hold and, once the
network heals, every honest node that is up must reach the target height.
A modest number of examples by default; ``PLUME_SOAK=1`` runs thousands.
A failing example prints its scenario; replay it with `plume-node sim`
(see docs/testing-consensus.md).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from consensus.sim import Scenario, evidence_power, run
from consensus.sim.keys import validator_key
from consensus.sim.scenario import Fault, Partition

SOAK = os.environ.get("PLUME_SOAK") == "1"


def _settings(default: int, soak: int) -> settings:
    return settings(
        max_examples=soak if SOAK else default,
        deadline=None,
        # Default runs are derandomized (the same examples every time, so CI
        # is reproducible); soak runs explore fresh schedules.
        derandomize=not SOAK,
        database=None,  # keep the checkout clean; a failure prints its seed and scenario
        # No shrinking: each example is a whole simulation, and the failing
        # scenario printed as is replays exactly from its seed.
        phases=(Phase.explicit, Phase.reuse, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


BYZANTINE = ("silent", "equivocate", "twins", "invalid-proposal")


@st.composite
def schedules(draw: st.DrawFn, byzantine_kinds: tuple[str, ...] = BYZANTINE) -> Scenario:
    n = draw(st.sampled_from((4, 4, 5, 7, 10)))
    powers = tuple(draw(st.lists(st.integers(1, 10), min_size=n, max_size=n))) if draw(st.booleans()) else None
    power = (lambda i: powers[i]) if powers is not None else (lambda i: 1)
    total = sum(power(i) for i in range(n))
    lo = draw(st.integers(1, 200))
    hi = draw(st.integers(lo, lo + draw(st.sampled_from((50, 500, 2000)))))
    drop = draw(st.sampled_from((0.0, 0.0, 0.05, 0.2)))
    # Faulty validators (Byzantine, or crashing: a crashed node does not
    # vote either) must keep their power below 1/3 of the total.
    budget = (total - 1) // 3
    faults: list[Fault] = []
    used = 0
    for i in draw(st.permutations(range(n))):
        if used + power(i) > budget or not draw(st.booleans()):
            continue
        used += power(i)
        kind = draw(st.sampled_from(byzantine_kinds + ("crash",)))
        if kind == "crash":
            start = draw(st.integers(0, 4000))
            faults.append(Fault("crash", i, start, start + draw(st.integers(1, 6000))))
        elif draw(st.integers(0, 3)) == 0:  # sometimes Byzantine only for a while
            start = draw(st.integers(0, 3000))
            faults.append(Fault(kind, i, start, start + draw(st.integers(1, 5000))))
        else:
            faults.append(Fault(kind, i))
    names = [str(i) for i in range(n)] + [f"{f.node}b" for f in faults if f.kind == "twins"]
    partitions = []
    if draw(st.booleans()):
        side = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names) - 1, unique=True))
        rest = [x for x in names if x not in side]
        start = draw(st.integers(0, 3000))
        partitions.append(Partition((frozenset(side), frozenset(rest)), start, start + draw(st.integers(100, 8000))))
    return Scenario(
        validators=n,
        powers=powers,
        heights=draw(st.integers(2, 4)),
        seed=draw(st.integers(0, 2**32)),
        delay_ms=(lo, hi),
        drop=drop,
        faults=tuple(faults),
        partitions=tuple(partitions),
        max_time_ms=300_000,
    )


@_settings(default=60, soak=3000)
@given(schedules())
def test_agreement_and_progress_under_up_to_f_faults(scenario: Scenario) -> None:
    report = run(scenario)
    assert report.agreement, (scenario.describe(), report.violations)
    assert report.violations == (), (scenario.describe(), report.violations)
    assert report.min_height == scenario.heights


@_settings(default=25, soak=1000)
@given(schedules(byzantine_kinds=("equivocate",)))
def test_equivocators_that_double_sign_are_proven(scenario: Scenario) -> None:
    report = run(scenario)
    assert report.ok, (scenario.describe(), report.violations)
    # Every address the report names was proven by verified evidence, and
    # only equivocators can be named: honest nodes never double-sign.
    byzantine = {validator_key(i).address.hex() for i in scenario.byzantine_validators()}
    assert set(report.evidence) <= byzantine, scenario.describe()


@_settings(default=20, soak=1000)
@given(
    seed=st.integers(0, 2**32),
    pair=st.sampled_from(((0, 1), (0, 2), (1, 3), (2, 3))),
    split=st.booleans(),
    heights=st.integers(2, 4),
)
def test_twins_of_two_of_four_keep_agreement_or_are_held_accountable(
    seed: int, pair: tuple[int, int], split: bool, heights: int
) -> None:
    """With half the power Byzantine, safety may be lost; accountability may not:
    either agreement holds or the evidence names at least 1/3 of the power."""
    a, b = pair
    honest = [str(i) for i in range(4) if i not in pair]
    partitions = ()
    if split:
        # The Twins move: each honest node sees a different copy of each twin.
        partitions = (
            Partition((frozenset({str(a), str(b), honest[0]}), frozenset({f"{a}b", f"{b}b", honest[1]})), 0, 6000),
        )
    scenario = Scenario(
        validators=4, heights=heights, seed=seed, faults=(Fault("twins", a), Fault("twins", b)),
        partitions=partitions, max_time_ms=60_000,
    )
    report = run(scenario)
    if not report.agreement:
        assert 3 * evidence_power(scenario, report) >= scenario.total_power, (scenario.describe(), report)


def test_same_seed_same_report() -> None:
    scenario = Scenario(
        validators=5, heights=3, seed=42, delay_ms=(5, 400), drop=0.1,
        faults=(Fault("equivocate", 1), Fault("crash", 3, 500, 3000)),
        partitions=(Partition((frozenset({"0", "1"}), frozenset({"2", "3", "4"})), 200, 2500),),
    )
    first, second = run(scenario), run(scenario)
    assert first.without_wall_time() == second.without_wall_time()
    assert first.to_json() != "" and first.messages > 0
    other = run(Scenario(**{**_fields(scenario), "seed": 43}))
    # A different seed draws different delays: the runs differ somewhere.
    assert (other.messages, other.sim_ms) != (first.messages, first.sim_ms)


def _fields(scenario: Scenario) -> dict[str, object]:
    return {k: getattr(scenario, k) for k in scenario.__dataclass_fields__ if k != "name"}


def test_an_equivocator_is_named_and_only_it() -> None:
    scenario = Scenario(validators=4, heights=3, seed=7, faults=(Fault("equivocate", 2),))
    report = run(scenario)
    assert report.ok, report.violations
    assert report.evidence == (validator_key(2).address.hex(),)
    assert evidence_power(scenario, report) == 1


def test_a_node_down_for_good_does_not_block_the_others() -> None:
    scenario = Scenario(validators=4, heights=3, seed=3, faults=(Fault("crash", 1, 0, None),))
    report = run(scenario)
    assert report.ok, report.violations
    assert report.committed["1"] == 0 and report.min_height == 3


def test_a_restarted_node_catches_up() -> None:
    scenario = Scenario(validators=4, heights=6, seed=5, faults=(Fault("crash", 0, 300, 6000),))
    report = run(scenario)
    assert report.ok, report.violations
    assert report.committed["0"] == 6 and report.sim_ms >= 6000


def test_same_seed_same_report_across_processes() -> None:
    """Determinism must not hang on set or dict order: two interpreters with
    different hash seeds give the same JSON report (but for wall time)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]

    args = [sys.executable, "-m", "plume_node.cli", "sim", "--validators", "5", "--heights", "3",
            "--seed", "11", "--delay", "5-300", "--drop", "0.1", "--fault", "twins:2",
            "--fault", "crash:4@300-2500", "--partition", "0,1,2b|2,3,4@100-2000", "--json"]
    reports = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, cwd=root)
        assert out.returncode == 0, out.stdout + out.stderr
        data = json.loads(out.stdout)
        data.pop("wall_s")
        reports.append(data)
    assert reports[0] == reports[1]


def test_an_exception_inside_a_step_is_reported_not_raised(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from consensus.sim import node as node_module

    def boom(self, timeout):  # type: ignore[no-untyped-def]
        raise RuntimeError("injected")

    monkeypatch.setattr(node_module.SimNode, "fire_timeout", boom)
    # Node 3 is down, so the others must wait out a timeout, which raises.
    report = run(Scenario(validators=4, heights=3, seed=1, faults=(Fault("crash", 3, 0, None), Fault("silent", 0))))
    assert not report.ok
    assert report.violations[0].startswith("exception: t=") and "RuntimeError: injected" in report.violations[0]

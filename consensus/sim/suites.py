"""Named batteries of scenarios: ``smoke`` (seconds), ``standard`` (CI), ``soak``.

Each entry is a plain `Scenario`; to add one, append it to `_standard()` (or
`_smoke()`) with a name that says what it exercises. Byzantine power stays
below 1/3 in every entry, so every entry must keep agreement and make
progress; a report with a violation is a bug to chase from its seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from consensus.sim.report import Report
from consensus.sim.scenario import Scenario, parse_fault, parse_partition


def _s(name: str, seed: int = 1, heights: int = 5, validators: int = 4, faults: tuple[str, ...] = (),
       partitions: tuple[str, ...] = (), **kw: object) -> Scenario:
    return Scenario(
        validators=validators,
        heights=heights,
        seed=seed,
        faults=tuple(parse_fault(f) for f in faults),
        partitions=tuple(parse_partition(p) for p in partitions),
        name=name,
        **kw,  # type: ignore[arg-type]
    )


def _smoke() -> list[Scenario]:
    return [
        _s("honest-4", heights=3),
        _s("partition-heals", heights=3, partitions=("0,1|2,3@200-4000",)),
        _s("crash-restart", heights=3, faults=("crash:1@300-3000",)),
        _s("equivocate-1-of-4", heights=3, faults=("equivocate:0",)),
        _s("twins-1-of-4", heights=3, faults=("twins:0",)),
    ]


def _standard() -> list[Scenario]:
    return [
        _s("honest-4"),
        _s("wide-delays", delay_ms=(5, 1500), seed=2),
        _s("drops-10pct", drop=0.10, seed=3),
        _s("partition-2-2-heals", partitions=("0,1|2,3@300-6000",), seed=4),
        _s("partition-minority-heals", partitions=("0|1,2,3@0-5000",), seed=5),
        _s("crash-restart", faults=("crash:1@800-5000",), seed=6),
        _s("crash-forever", faults=("crash:3@500",), seed=7),
        _s("silent-1-of-4", faults=("silent:2",), seed=8),
        _s("equivocate-1-of-4", faults=("equivocate:0",), seed=9),
        _s("invalid-proposal-1-of-4", faults=("invalid-proposal:1",), seed=10),
        _s("poisoned-payloads-all-4", faults=tuple(f"poisoned:{i}" for i in range(4)), seed=18),
        _s("twins-1-of-4", faults=("twins:0",), seed=11),
        # The Twins method's classic move: the two copies sit on opposite sides of a partition.
        _s("twins-split-by-partition", faults=("twins:0",), partitions=("0,1|0b,2,3@0-4000",), seed=12),
        _s("7-validators-2-byzantine", validators=7, faults=("equivocate:0", "silent:5"), seed=13),
        _s("10-validators-3-byzantine", validators=10,
           faults=("twins:0", "equivocate:1", "invalid-proposal:2"), seed=14),
        _s("unequal-powers", validators=5, powers=(30, 25, 20, 15, 10), faults=("equivocate:0",), seed=15),
        _s("mixed-drops-crash-equivocate", drop=0.05, faults=("crash:2@500-4000", "equivocate:3"), seed=16),
        _s("equivocate-while-partitioned", faults=("equivocate:1@0-5000",),
           partitions=("0,1|2,3@1000-4000",), seed=17),
    ]


def _soak() -> list[Scenario]:
    out: list[Scenario] = []
    for seed in range(100, 110):
        for base in _standard():
            out.append(
                Scenario(
                    validators=base.validators, heights=20, seed=seed, powers=base.powers,
                    delay_ms=base.delay_ms, drop=base.drop, partitions=base.partitions,
                    faults=base.faults, max_time_ms=400_000, name=f"{base.name}#{seed}",
                )
            )
    return out


SUITES: dict[str, Callable[[], list[Scenario]]] = {
    "smoke": _smoke,
    "standard": _standard,
    "soak": _soak,
}


def run_suite(name: str) -> Iterator[tuple[Scenario, Report]]:
    """Run every scenario of suite `name`, yielding each result as it finishes."""
    from consensus.sim import run

    for scenario in SUITES[name]():
        yield scenario, run(scenario)

"""`plume-node sim`: run one simulated consensus scenario, or a named suite.

One scenario prints a human report (or one JSON object with ``--json``); a
suite prints one table row per scenario. Either way the exit code is 1 if any
invariant was violated, so the command can gate CI. Malformed options are
usage errors (exit code 2) with a message naming the bad value.
"""

from __future__ import annotations

import json

import click

from consensus.sim.scenario import (
    Scenario,
    ScenarioError,
    parse_delay,
    parse_fault,
    parse_partition,
    parse_powers,
)


def _parse(param: str, parser, value):  # type: ignore[no-untyped-def]
    try:
        return parser(value)
    except ScenarioError as exc:
        raise click.BadParameter(str(exc), param_hint=param) from None


@click.command("sim")
@click.option("--validators", type=click.IntRange(min=1), default=None, help="Number of validators (default 4, or one per --powers entry).")
@click.option("--powers", default=None, metavar="P1,P2,...", help="Voting power of each validator (default: all equal).")
@click.option("--heights", type=click.IntRange(min=1), default=5, show_default=True, help="Target height every honest node must reach.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the run: same seed, same report.")
@click.option("--delay", default="10-100", show_default=True, metavar="MIN-MAX", help="Per-message delay range in ms.")
@click.option("--drop", type=click.FloatRange(min=0.0, max=1.0, max_open=True), default=0.0, show_default=True, help="Probability that a message is lost.")
@click.option("--partition", "partitions", multiple=True, metavar='"0,1|2,3@T1-T2"', help="Groups that cannot talk from T1 to T2 ms (repeatable).")
@click.option("--fault", "faults", multiple=True, metavar="KIND:NODE[@T[-T2]]", help="silent, equivocate, twins, invalid-proposal, crash or poisoned (repeatable).")
@click.option("--max-time", "max_time", type=click.IntRange(min=1), default=120_000, show_default=True, help="Simulated time limit in ms.")
@click.option("--suite", type=click.Choice(["smoke", "standard", "soak"]), default=None, help="Run a named battery of scenarios instead of one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def sim(validators: int | None, powers: str | None, heights: int, seed: int, delay: str, drop: float,
        partitions: tuple[str, ...], faults: tuple[str, ...], max_time: int, suite: str | None, as_json: bool) -> None:
    """Run the deterministic consensus simulator (real engines, virtual time)."""
    if suite is not None:
        ctx = click.get_current_context()
        given = [
            name for name in ("validators", "powers", "heights", "seed", "delay", "drop", "partitions", "faults", "max_time")
            if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT
        ]
        if given:
            flags = ", ".join("--" + n.rstrip("s").replace("_", "-") if n in ("partitions", "faults") else "--" + n.replace("_", "-") for n in given)
            raise click.UsageError(f"--suite runs its own fixed scenarios; drop {flags}")
        _run_suite(suite, as_json)
        return
    power_values = _parse("--powers", parse_powers, powers) if powers is not None else None
    if validators is None:
        validators = len(power_values) if power_values is not None else 4
    try:
        scenario = Scenario(
            validators=validators,
            heights=heights,
            seed=seed,
            powers=power_values,
            delay_ms=_parse("--delay", parse_delay, delay),
            drop=drop,
            partitions=tuple(_parse("--partition", parse_partition, p) for p in partitions),
            faults=tuple(_parse("--fault", parse_fault, f) for f in faults),
            max_time_ms=max_time,
        )
    except ScenarioError as exc:
        raise click.UsageError(str(exc)) from None

    from consensus.sim import run

    report = run(scenario)
    click.echo(report.to_json() if as_json else report.to_text())
    if not report.ok:
        raise SystemExit(1)


def _run_suite(name: str, as_json: bool) -> None:
    from consensus.sim.suites import run_suite

    header = f"{'scenario':<34} {'seed':>5} {'heights':>7} {'max round':>9} {'messages':>9} {'sim ms':>8} {'ok':>4}"
    rows: list[dict[str, object]] = []
    failed = total = 0
    if not as_json:
        click.echo(header)
    for scenario, report in run_suite(name):
        total += 1
        failed += not report.ok
        if as_json:
            rows.append({"scenario": scenario.name, **report.to_dict()})
            continue
        click.echo(
            f"{scenario.name:<34} {report.seed:>5} {report.min_height:>7} {report.max_round:>9} "
            f"{report.messages:>9} {report.sim_ms:>8} {'ok' if report.ok else 'FAIL':>4}"
        )
        for violation in report.violations:
            click.echo(f"    {violation}")
    if as_json:
        click.echo(json.dumps(rows, sort_keys=True))
    else:
        verdict = "all ok" if not failed else f"{failed} violated an invariant"
        click.echo(f"suite {name}: {total} scenarios, {verdict}")
    if failed:
        raise SystemExit(1)

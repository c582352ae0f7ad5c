"""Engine bugs the simulator found, each pinned as a replayable scenario.

Each test is a plain simulator run that must keep every invariant: it failed
while the engine had the bug its docstring describes and now guards against
its return. Replay one with the `plume-node sim` command in its docstring.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from consensus.sim import Scenario, run
from consensus.sim.scenario import parse_fault
from plume_node.cli import main


def test_equivocator_cannot_stall_the_chain_by_splitting_a_pol() -> None:
    """One equivocating validator of 5 (f=1) stalls height 1 forever.

    Replay: plume-node sim --validators 5 --heights 3 --seed 873 --delay 63-63
            --drop 0.05 --fault equivocate:1

    Validator 1 sends a prevote for block B to half of its peers and nil to
    the other half in round 0. Nodes 0 and 2 count 4 prevotes for B (a POL)
    and lock on B; nodes 3 and 4 counted validator 1's nil prevote first.
    `consensus/vote_set.py` keeps only the first vote per validator and never
    counts a conflicting one ("returned as a conflict ... never counted"), so
    even after gossip brings validator 1's B prevote to nodes 3 and 4 (the
    engine reports the evidence), they never see the round-0 POL for B: they
    reject every later proposal of B with pol_round 0, the locked nodes never
    prevote anything else, and no round reaches a quorum again. The paper's
    rules count messages per value (arXiv 1807.04938, "2f+1 <PREVOTE, h, r,
    id(v)>"); CometBFT keeps conflicting votes per block for the same reason
    (VoteSet.votesByBlock / peer maj23 claims). Safety is unaffected.
    Fixed in b24f0c2 (votes are counted per value).
    """
    scenario = Scenario(
        validators=5, heights=3, seed=873, delay_ms=(63, 63), drop=0.05,
        faults=(parse_fault("equivocate:1"),), max_time_ms=60_000,
    )
    report = run(scenario)
    assert report.agreement
    assert report.violations == (), report.violations


@pytest.mark.parametrize(
    "args",
    [
        # Other random schedules that stalled the same way before b24f0c2.
        "--validators 4 --heights 2 --seed 1026792032 --delay 134-250 --drop 0.05 --partition 0,2|1,3@111-4188 --fault equivocate:0",
        "--validators 5 --heights 3 --seed 1827343941 --delay 180-187 --drop 0.05 --partition 0,2,3,4|1@39-6917 --fault equivocate:3",
        "--validators 4 --heights 2 --seed 349110 --delay 81-554 --drop 0.2 --fault equivocate:1",
        "--validators 5 --heights 3 --seed 1547569 --delay 9-71 --drop 0.05 --fault equivocate:0",
        "--validators 7 --heights 2 --seed 136774 --delay 169-205 --fault twins:0 --fault invalid-proposal:4",
    ],
)
def test_other_schedules_the_split_pol_stalled(args: str) -> None:
    result = CliRunner().invoke(main, ["sim", "--max-time", "60000", "--json", *args.split()])
    data = json.loads(result.output)
    assert data["violations"] == [] and result.exit_code == 0, data["violations"]

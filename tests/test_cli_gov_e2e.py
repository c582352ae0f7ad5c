"""Governance through the command line against a real `plume-node start`: propose, vote, query, refusals.

A one-validator node whose operator (the `operator` key of its home) holds
all the bonded stake: its yes vote passes a proposal, whose change then
shows in `plume_stakingParams`. Every outcome is checked through the node's
JSON-RPC, not through the CLI's own output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from e2e_node import fails, ok, start_node  # noqa: E402
from rpcclient import rpc  # noqa: E402
from waiting import wait_until  # noqa: E402

pytestmark = pytest.mark.slow
VOTING_PERIOD = 20  # seconds of block time: the CLI calls before the vote take a few seconds each


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    running = start_node(tmp_path_factory.mktemp("cli-gov"), sections={"gov": {"voting_period": VOTING_PERIOD}})
    yield running
    running.stop()


def _signed(node) -> tuple[str, ...]:
    return ("--home", str(node.home), "--password-file", str(node.password_file), "--rpc", node.rpc_url)


def test_propose_vote_pass_and_query(node) -> None:
    out = json.loads(ok("tx", "gov", "propose", "--title", "faster unbonding", "--description", "two minutes",
                        "--change", "staking.unbonding_period=120", "--change", "staking.block_reward=2plume",
                        "--deposit", "10plume", "--json", *_signed(node)))
    assert out["status"] == "success" and out["proposal"] == 1
    shown = ok("query", "proposal", "1", "--rpc", node.rpc_url)
    assert "voting_period" in shown and "staking.unbonding_period = 120" in shown
    ok("tx", "gov", "vote", "1", "yes", *_signed(node))
    assert rpc(node.rpc_url, "plume_getProposal", 1)["tally"]["voters"] == "0x1"
    wait_until(lambda: rpc(node.rpc_url, "plume_getProposal", 1)["status"] == "passed", timeout=60,
               what="proposal 1 passes")
    params = rpc(node.rpc_url, "plume_stakingParams")
    assert params["unbondingPeriod"] == hex(120) and params["blockReward"] == hex(2 * 10**18)
    listing = ok("query", "proposals", "--rpc", node.rpc_url)
    assert "faster unbonding" in listing and "passed" in listing
    final = json.loads(ok("query", "proposal", "1", "--json", "--rpc", node.rpc_url))
    assert final["tally"]["live"] is False and int(final["tally"]["yes"]) > 0
    governable = json.loads(ok("query", "gov-params", "--json", "--rpc", node.rpc_url))["governable"]
    assert governable["staking.unbonding_period"] == "120"


def test_refusals_name_the_reason_and_send_nothing(node) -> None:
    assert "unknown parameter key" in fails("tx", "gov", "propose", "--title", "t", "--change", "staking.nope=1",
                                            "--deposit", "10plume", *_signed(node), code=2)
    refused = fails("tx", "gov", "propose", "--title", "t", "--change", "execution.base_fee_burn_bps=10001",
                    "--deposit", "10plume", *_signed(node))
    assert "the governance contract refuses submitProposal" in refused and "between 0 and 10000" in refused
    assert "nothing was sent" in refused
    fails("tx", "gov", "vote", "1", "maybe", *_signed(node), code=2)
    wait_until(lambda: rpc(node.rpc_url, "plume_getProposals")["total"] != "0x0", timeout=60, what="a proposal")
    closed = fails("tx", "gov", "deposit", "1", "1plume", *_signed(node))
    assert "is closed" in closed
    assert "no proposal 9" in fails("tx", "gov", "vote", "9", "no", *_signed(node))
    assert "no proposal 9" in fails("query", "proposal", "9", "--rpc", node.rpc_url)

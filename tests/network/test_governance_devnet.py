"""Governance on a devnet of four real validator processes and a full node that syncs later (issue 11's "done when").

Short periods via `devnet init --set gov.voting_period=...`. Four proposals run
side by side: a shorter unbonding period (deposited by two accounts, voted yes
by three validators: passes, and an undelegation after it uses the new
period); the whole base fee burned (passes: the following blocks burn all of
it, as plume_supply shows); one voted by a single validator (misses quorum:
its deposit is burned); one vetoed (its deposit is burned). Then delegators
holding most of the bonded stake vote yes against their validators' no, and
the proposal passes. Last, a full node started after all of it block-syncs
through the parameter changes and ends with the same state roots.
"""

from __future__ import annotations

import pytest
from eth_utils import to_checksum_address

import govrpc
import stakingrpc
from govrpc import NO, VETO, YES, change
from netharness import Net
from rpcclient import rpc
from waiting import wait_until

from plume_node.config import load_config

pytestmark = pytest.mark.slow
PLUME = 10**18
VOTING_PERIOD = 30  # seconds of block time: every vote below lands well inside it, even on a loaded machine
NEW_UNBONDING = 45
OPEN = ("deposit_period", "voting_period")


def ok(receipt: dict) -> dict:
    assert receipt["status"] == "0x1", receipt
    return receipt


def proposal_ids(url: str) -> dict[str, int]:
    listing = rpc(url, "plume_getProposals", 0, 100)["proposals"]
    return {p["title"]: int(p["id"], 16) for p in listing}


def closed(url: str, proposal_id: int) -> dict:
    return wait_until(lambda: (p := rpc(url, "plume_getProposal", proposal_id))["status"] not in OPEN and p,
                      180, f"proposal {proposal_id} closes")


def supply(url: str, height: int) -> dict[str, int]:
    return {k: int(v, 16) for k, v in rpc(url, "plume_supply", hex(height)).items()}


def vote_all(net: Net, url: str, votes: list[tuple[str, int, int]]) -> None:
    """Submit every (private key, proposal, option) at once, one nonce after another per key, then wait."""
    nonces: dict[str, int] = {}
    hashes = []
    for key, proposal_id, option in votes:
        if key not in nonces:
            address = govrpc.Account.from_key(key).address
            nonces[key] = int(rpc(url, "eth_getTransactionCount", address, "pending"), 16)
        hashes.append(govrpc.submit(url, net.chain_id, key, "vote", proposal_id, option, nonce=nonces[key]))
        nonces[key] += 1
    for tx_hash in hashes:
        ok(govrpc.receipt(url, tx_hash, "a vote"))


def first_height_where(url: str, start: int, predicate) -> int:
    height = start
    while not predicate(height):
        height += 1
    return height


@pytest.fixture
def net(tmp_path):
    made = Net.create(tmp_path / "net", 4, full_nodes=1, settings=(
        f"gov.voting_period={VOTING_PERIOD}", "gov.max_deposit_period=120",
        "staking.max_validator_share_bps=10000",  # the delegators below may outweigh their validators
    ))
    try:
        yield made
    finally:
        made.stop_all()


def _burn_check(url: str, start: int, end: int) -> None:
    """From ``start`` (the first block after the change) to ``end``: every block burns its whole base fee."""
    burning = 0
    for height in range(start, end + 1):
        block = rpc(url, "eth_getBlockByNumber", hex(height), False)
        fee = int(block["baseFeePerGas"], 16) * int(block["gasUsed"], 16)
        before, after = supply(url, height - 1), supply(url, height)
        base_fee_burn = (after["totalBurned"] - before["totalBurned"]) - (
            after["burnedByGovernance"] - before["burnedByGovernance"]) - (
            after["burnedBySlashing"] - before["burnedBySlashing"])
        assert base_fee_burn == fee, height
        burning += fee > 0
    assert burning, "no block with transactions after the change"


def test_proposals_pass_fail_burn_and_a_syncing_node_agrees(net: Net) -> None:
    net.start([0, 1, 2, 3])
    net.wait_height(range(4), 2)
    url = net.nodes[0].rpc_url
    password = net.dir / "password.txt"
    validators = [govrpc.operator_key(node.home, password) for node in net.nodes[:4]]
    operators = [to_checksum_address(load_config(node.home / "config.toml").fee_address) for node in net.nodes[:4]]
    users = [a["private_key"] for a in net.accounts]

    submitted = [
        govrpc.submit(url, net.chain_id, users[0], "submitProposal", "unbonding", "shorter",
                      [change("staking.unbonding_period", NEW_UNBONDING)], value=5 * PLUME),
        govrpc.submit(url, net.chain_id, users[1], "submitProposal", "burn all", "",
                      [change("execution.base_fee_burn_bps", 10_000)], value=10 * PLUME),
        govrpc.submit(url, net.chain_id, users[2], "submitProposal", "no quorum", "", [], value=10 * PLUME),
        govrpc.submit(url, net.chain_id, users[3], "submitProposal", "vetoed", "", [], value=10 * PLUME),
    ]
    for tx_hash in submitted:
        ok(govrpc.receipt(url, tx_hash, "a proposal"))
    ids = proposal_ids(url)
    unbonding, burn, no_quorum, vetoed = (ids[t] for t in ("unbonding", "burn all", "no quorum", "vetoed"))
    assert rpc(url, "plume_getProposal", unbonding)["status"] == "deposit_period"  # 5 of 10 PLUME
    ok(govrpc.send(url, net.chain_id, users[1], "deposit", unbonding, value=5 * PLUME))
    assert rpc(url, "plume_getProposal", unbonding)["status"] == "voting_period"
    vote_all(net, url, [
        *((validators[v], unbonding, YES) for v in range(3)),
        *((validators[v], burn, YES) for v in range(3)),
        (validators[0], no_quorum, YES),
        (validators[0], vetoed, YES), (validators[1], vetoed, YES),
        (validators[2], vetoed, VETO), (validators[3], vetoed, VETO),
    ])
    live = rpc(url, "plume_getProposal", unbonding)["tally"]
    assert live["live"] and live["yes"] == hex(300 * PLUME) and live["bonded"] == hex(400 * PLUME)

    results = {pid: closed(url, pid) for pid in (unbonding, burn, no_quorum, vetoed)}
    assert results[unbonding]["status"] == results[burn]["status"] == "passed"
    assert (results[no_quorum]["status"], results[no_quorum]["outcome"]) == ("rejected", "no_quorum")
    assert (results[vetoed]["status"], results[vetoed]["outcome"]) == ("rejected", "vetoed")
    head = net.nodes[0].height()
    after = supply(url, head)
    assert after["burnedByGovernance"] == 20 * PLUME and after["governanceDeposits"] == 0
    assert rpc(url, "plume_stakingParams")["unbondingPeriod"] == hex(NEW_UNBONDING)
    assert rpc(url, "plume_govParams")["governable"]["execution.base_fee_burn_bps"] == "10000"

    # an undelegation after the change uses the new period
    ok(stakingrpc.send(url, net.chain_id, users[0], "delegate", operators[0], value=2 * PLUME))
    receipt = ok(stakingrpc.send(url, net.chain_id, users[0], "undelegate", operators[0], PLUME))
    block_time = int(rpc(url, "eth_getBlockByNumber", receipt["blockNumber"], False)["timestamp"], 16)
    _, times, _ = stakingrpc.view(url, "getUnbondings", net.accounts[0]["address"], operators[0])
    assert list(times) == [block_time + NEW_UNBONDING]

    # the whole base fee burns from the block after the change on
    changed = first_height_where(url, 1, lambda h: rpc(url, "plume_govParams", hex(h))[
        "governable"]["execution.base_fee_burn_bps"] == "10000")
    _burn_check(url, changed + 1, int(receipt["blockNumber"], 16))

    # delegators holding the majority of bonded stake override their validators' no
    for user in users[1:3]:
        for operator in operators:
            ok(stakingrpc.send(url, net.chain_id, user, "delegate", operator, value=150 * PLUME))
    ok(govrpc.send(url, net.chain_id, users[3], "submitProposal", "override", "",
                   [change("staking.max_validators", 50)], value=10 * PLUME))
    override = proposal_ids(url)["override"]
    vote_all(net, url, [*((v, override, NO) for v in validators), *((u, override, YES) for u in users[1:3])])
    result = closed(url, override)
    assert result["status"] == "passed", result
    # no: the validators' own 400 PLUME and the 1 PLUME users[0] still delegates (it did not vote)
    assert result["tally"]["yes"] == hex(1200 * PLUME) and result["tally"]["no"] == hex(401 * PLUME)
    assert rpc(url, "plume_stakingParams")["maxValidators"] == hex(50)

    # a full node started now block-syncs through every change and agrees on every state root
    full = net.nodes[4]
    full.start()
    tip = net.nodes[0].height()
    net.wait_height([4], tip, timeout=120)
    net.assert_same_chain([0, 4], tip)
    assert rpc(full.rpc_url, "plume_stakingParams")["maxValidators"] == hex(50)

"""Downtime on a devnet of four real validator processes (issue 10's last "done when" items).

An honest devnet running three downtime windows jails nobody, each validator's share of the
rewards is within 5% of its share of the power, and every node exports each validator's missed
blocks. A validator stopped for longer than the window is slashed for downtime, jailed and
dropped from the set while the other three keep finalizing; restarted and unjailed with the CLI
after the jail time (refused before it), it returns to the set and signs again.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request

import pytest
from eth_utils import to_checksum_address
from prometheus_client.parser import text_string_to_metric_families

import stakingrpc
from netharness import Net
from rpcclient import rpc
from waiting import wait_until

from consensus.crypto import address_of
from plume_node.config import load_config
from plume_node.home import Home
from plume_node.node_keys import load_key_file

pytestmark = pytest.mark.slow


def operator_of(node) -> str:
    return to_checksum_address(load_config(node.home / "config.toml").fee_address)


def consensus_address(node) -> str:
    return "0x" + address_of(load_key_file(Home(node.home).validator_key_path).public_key).hex()


def earned(url: str, operator: str, height: int) -> int:
    """What the validator has earned so far and not withdrawn: its commission plus its own stake's rewards."""
    block = hex(height)
    commission = stakingrpc.view(url, "pendingCommission", operator, block=block)[0]
    return commission + stakingrpc.view(url, "pendingRewards", operator, operator, block=block)[0]


def missed_blocks_metric(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return {s.labels["validator"]: s.value for s in families["plume_validator_missed_blocks"].samples}


def signed_by(url: str, height: int, address: str) -> bool:
    commit = rpc(url, "plume_getBlockCommit", hex(height))
    return bool(commit) and address.lower() in [s["validator"].lower() for s in commit["signatures"]]


def in_consensus_set(url: str, address: str) -> bool:
    return address in [v["address"] for v in rpc(url, "plume_getValidatorSet", "latest")["validators"]]


def test_an_honest_devnet_jails_nobody_and_rewards_follow_power(tmp_path):
    window = 20
    net = Net.create(tmp_path / "net", 4, settings=(
        "staking.epoch_length=10", f"slashing.signed_blocks_window={window}",
    ))
    try:
        net.start()
        net.wait_height(range(4), 2)
        url = net.nodes[0].rpc_url
        operators = [operator_of(node) for node in net.nodes[:4]]
        start = 2
        end = start + 3 * window
        net.wait_height(range(4), end, timeout=180)
        for operator in operators:
            info = rpc(url, "plume_getValidator", operator, hex(end))
            assert not info["jailed"] and int(info["jailedUntil"], 16) == 0, info
            start_height, offset, missed, until, tombstoned = stakingrpc.view(
                url, "getSigningInfo", operator, block=hex(end))
            assert offset >= 3 * window and missed == int(info["missedBlocks"], 16), (offset, missed)
        supply = rpc(url, "plume_supply", hex(end))
        assert int(supply["burnedBySlashing"], 16) == 0

        powers = {v["address"]: int(v["power"], 16) for v in rpc(url, "plume_getValidatorSet", hex(end))["validators"]}
        power_share = {op: powers[consensus_address(node)] / sum(powers.values())
                       for op, node in zip(operators, net.nodes)}
        gains = {op: earned(url, op, end) - earned(url, op, start) for op in operators}
        total = sum(gains.values())
        for op in operators:
            share = gains[op] / total
            assert abs(share - power_share[op]) <= 0.05 * power_share[op], (op, share, power_share[op])

        metric = wait_until(lambda: (m := missed_blocks_metric(url)) and len(m) == 4 and m, 30, "the metric")
        assert set(metric) == set(operators)
        assert all(value < window // 2 for value in metric.values()), metric
    finally:
        net.stop_all()


def plume_node(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "plume_node.cli", *args], capture_output=True, text=True, timeout=90)


def test_a_stopped_validator_is_jailed_for_downtime_and_returns_after_unjail(tmp_path):
    window, jail = 10, 30
    net = Net.create(tmp_path / "net", 4, settings=(
        "staking.epoch_length=5", f"slashing.signed_blocks_window={window}",
        f"slashing.downtime_jail_duration={jail}", "slashing.slash_fraction_downtime_bps=100",
    ))
    try:
        net.start()
        net.wait_height(range(4), 2)
        url = net.nodes[0].rpc_url
        victim = net.nodes[3]
        operator, address = operator_of(victim), consensus_address(victim)
        tokens = int(rpc(url, "plume_getValidator", operator)["tokens"], 16)
        victim.kill(signal.SIGTERM)

        info = wait_until(lambda: (v := rpc(url, "plume_getValidator", operator)) and v["jailed"] and v,
                          180, "the stopped validator jailed for downtime")
        assert not info["tombstoned"] and int(info["tokens"], 16) == tokens - tokens * 100 // 10_000
        assert int(rpc(url, "plume_supply")["burnedBySlashing"], 16) == tokens * 100 // 10_000
        until = int(info["jailedUntil"], 16)
        shown = plume_node("query", "validator", operator, "--rpc", url)
        assert shown.returncode == 0 and "jailed" in shown.stdout and "  jailed until   " in shown.stdout, shown
        wait_until(lambda: not in_consensus_set(url, address), 60, "the jailed validator out of the consensus set")
        left_at = net.nodes[0].height()
        net.wait_height([0, 1, 2], left_at + 5, timeout=120)  # the other three keep finalizing

        signed = ("--home", str(victim.home), "--password-file", str(net.dir / "password.txt"), "--rpc", url)
        early = plume_node("tx", "staking", "unjail", *signed)  # the jail time is still ahead
        assert early.returncode != 0 and f"jailed for downtime until {until}" in early.stdout + early.stderr, early
        victim.start()
        wait_until(lambda: int(rpc(url, "eth_getBlockByNumber", "latest", False)["timestamp"], 16) >= until,
                   120, "the jail time")
        done = plume_node("tx", "staking", "unjail", *signed)
        assert done.returncode == 0, done.stdout + done.stderr
        assert not rpc(url, "plume_getValidator", operator)["jailed"]

        wait_until(lambda: in_consensus_set(url, address), 120, "the unjailed validator back in the consensus set")
        returned = net.nodes[0].height()
        wait_until(lambda: any(signed_by(url, h, address) for h in range(returned, net.nodes[0].height())), 120,
                   "its precommit in a certificate after its return")
        # it signs again: counted a whole window since it returned and not judged down
        wait_until(lambda: stakingrpc.view(url, "getSigningInfo", operator)[1] >= window, 180,
                   "a whole window counted since it returned")
        first = stakingrpc.view(url, "getSigningInfo", operator)
        wait_until(lambda: stakingrpc.view(url, "getSigningInfo", operator)[1] >= first[1] + window, 180,
                   "another window counted")
        later = stakingrpc.view(url, "getSigningInfo", operator)
        assert later[2] <= first[2] and later[2] < window // 2, (first, later)
        assert not rpc(url, "plume_getValidator", operator)["jailed"]
        net.assert_same_chain(range(3), net.nodes[0].height() - 1)
    finally:
        net.stop_all()

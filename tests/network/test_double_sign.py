"""`plume-node debug double-sign` against one validator of a 4-validator devnet: it is slashed
by the configured fraction, tombstoned, out of the set, its delegators' tokens fall by the same
fraction, and the other three keep finalizing (issue 10's done-when)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from eth_utils import to_checksum_address

import stakingrpc
from netharness import Net
from rpcclient import rpc
from supplyrpc import checked_supply
from waiting import wait_until

from consensus.crypto import address_of
from plume_node.config import load_config
from plume_node.home import Home
from plume_node.node_keys import load_key_file

pytestmark = pytest.mark.slow
PLUME = 10**18


def plume_node(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "plume_node.cli", *args], capture_output=True, text=True, timeout=60)


def test_a_double_signer_is_slashed_tombstoned_and_dropped(tmp_path):
    net = Net.create(tmp_path / "net", 4, settings=("staking.epoch_length=5", "slashing.slash_fraction_double_sign_bps=500"))
    try:
        net.start()
        net.wait_height(range(4), 2)
        url = net.nodes[0].rpc_url
        victim = net.nodes[3]
        operator = to_checksum_address(load_config(victim.home / "config.toml").fee_address)
        consensus = "0x" + address_of(load_key_file(Home(victim.home).validator_key_path).public_key).hex()
        delegator = net.accounts[0]
        assert stakingrpc.send(url, net.chain_id, delegator["private_key"], "delegate", operator,
                               value=20 * PLUME)["status"] == "0x1"
        # the slash is a fraction of the power it signed with: let the delegation reach its power first
        def power_now() -> int:
            validators = rpc(url, "plume_getValidatorSet", "latest")["validators"]
            return next(int(v["power"], 16) for v in validators if v["address"] == consensus)

        wait_until(lambda: power_now() == 120, 60, "the delegation in the victim's power")

        refused = plume_node("debug", "double-sign", "--home", str(victim.home), "--rpc", url)
        assert refused.returncode == 2 and "--yes-slash-me" in refused.stderr
        done = plume_node("debug", "double-sign", "--home", str(victim.home), "--rpc", url, "--yes-slash-me")
        assert done.returncode == 0, done.stderr

        info = wait_until(lambda: (v := rpc(url, "plume_getValidator", operator)) and v["tombstoned"] and v,
                          60, "the double-signer tombstoned")
        assert info["jailed"] and int(info["tokens"], 16) == 114 * PLUME  # 5% of 120 PLUME burned
        assert stakingrpc.view(url, "getDelegation", delegator["address"], operator)[1] == 19 * PLUME
        assert checked_supply(url)["burnedBySlashing"] == 6 * PLUME  # and the supply identities hold
        chosen = int(rpc(url, "plume_consensusState")["nextValidators"]["chosenAt"], 16)
        net.wait_height(range(3), chosen + 6)
        validators = rpc(url, "plume_getValidatorSet", chosen + 2)["validators"]
        assert consensus not in {v["address"] for v in validators} and len(validators) == 3
        net.assert_same_chain(range(4), chosen + 6)
    finally:
        net.stop_all()

"""Rewards on a devnet of four real validator processes (issue 10's first "done when").

A delegator delegates to every genesis validator: its pending rewards grow in every block
(certificates carry at least three of the four signers); a validator's commission is 10% of
its share, so its delegators' rewards grow by nine times its commission, within rounding;
a claim pays exactly what was pending when its block began; restake and auto-restake grow
the delegation; and every node computes the same state roots through all of it, the
end-of-block auto-restake hook included.
"""

from __future__ import annotations

import pytest
from eth_utils import to_checksum_address

import stakingrpc
from netharness import Net
from rpcclient import rpc

from plume_node.config import load_config

pytestmark = pytest.mark.slow
PLUME = 10**18
EPOCH = 10


def operators(net: Net) -> list[str]:
    """The genesis validators' operators (their fee addresses)."""
    return [to_checksum_address(load_config(node.home / "config.toml").fee_address) for node in net.nodes[:4]]


def rewards(url: str, address: str, height: int) -> dict:
    return rpc(url, "plume_getRewards", address, hex(height))


def pending(url: str, delegator: str, validator: str, height: int) -> int:
    entries = rewards(url, delegator, height)["rewards"]
    return next(int(r["pending"], 16) for r in entries if r["validator"] == validator)


def stake(url: str, delegator: str, validator: str, height: int) -> int:
    listed = rpc(url, "plume_getDelegations", delegator, 0, 100, hex(height))["delegations"]
    return next(int(d["tokens"], 16) for d in listed if d["validator"] == validator)


def balance(url: str, address: str, height: int) -> int:
    return int(rpc(url, "eth_getBalance", address, hex(height)), 16)


def sent(net: Net, who: dict, name: str, *args, value: int = 0) -> tuple[int, int]:
    """(block, fee paid) of a staking call that must succeed."""
    receipt = stakingrpc.send(net.nodes[0].rpc_url, net.chain_id, who["private_key"], name, *args, value=value)
    assert receipt["status"] == "0x1", receipt
    return int(receipt["blockNumber"], 16), int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)


@pytest.fixture
def net(tmp_path):
    made = Net.create(tmp_path / "net", 4, settings=(f"staking.epoch_length={EPOCH}",))
    yield made
    made.stop_all()


def test_rewards_claim_restake_and_auto_restake_on_a_devnet(net):
    net.start()
    net.wait_height(range(4), 2)
    url = net.nodes[0].rpc_url
    validators = operators(net)
    delegator = net.accounts[1]
    me = to_checksum_address(delegator["address"])
    start = max(sent(net, delegator, "delegate", v, value=10 * PLUME)[0] for v in validators)

    # pending grows in every block; nine times the commission goes to a validator's delegators
    window = range(start, start + 8)
    net.wait_height([0], window.stop)
    totals = [int(rewards(url, me, h)["total"], 16) for h in window]
    assert all(a < b for a, b in zip(totals, totals[1:])), totals
    v = validators[0]
    commission = [int(rewards(url, v, h)["commission"], 16) for h in (window[0], window[-1])]
    owed = [pending(url, me, v, h) + pending(url, v, v, h) for h in (window[0], window[-1])]
    earned, taken = owed[1] - owed[0], commission[1] - commission[0]
    assert taken > 0
    # per block: commission = share // 10, delegators = share - share // 10 = 9 * commission + share % 10
    assert 9 * taken - 2 <= earned <= 9 * taken + 9 * len(window)

    # claim: exactly what was pending before its block (rewards come at the end of a block)
    n, fee = sent(net, delegator, "claimRewards", v)
    claimed = pending(url, me, v, n - 1)
    assert claimed > 0 and balance(url, me, n) - balance(url, me, n - 1) == claimed - fee

    # restake: the pending amount joins the delegation
    n, _ = sent(net, delegator, "restakeRewards", validators[1])
    assert stake(url, me, validators[1], n) == stake(url, me, validators[1], n - 1) + pending(url, me, validators[1], n - 1)

    # auto-restake: at the next epoch end every opted-in delegation grows without a transaction
    last = max(sent(net, delegator, "setAutoRestake", v, True)[0] for v in validators)
    epoch_end = (last // EPOCH + 1) * EPOCH
    net.wait_height(range(4), epoch_end + 1)
    for v in validators:
        assert stake(url, me, v, epoch_end) > stake(url, me, v, epoch_end - 1), v
        assert pending(url, me, v, epoch_end) == 0, v
    assert balance(url, me, epoch_end) == balance(url, me, epoch_end - 1)
    view = rewards(url, me, epoch_end)
    assert [r["autoRestake"] for r in view["rewards"]] == [True] * 4

    top = epoch_end + 1
    net.assert_same_chain(range(4), top)

"""The validator set follows stake on a devnet of real processes (issue 9's "done when").

A full node becomes a validator through the staking contract and the chain
goes on with five; with ``max_validators`` 4, a validator whose stake falls
behind leaves the set at the next epoch; undelegated tokens arrive exactly
when their unbonding ends; redelegated power moves at the next epoch; a
restarted validator and a node block-syncing from height 1 through all of it
end with the same state roots.
"""

from __future__ import annotations

import pytest
from eth_utils import to_checksum_address

import stakingrpc
from netharness import Net
from rpcclient import rpc
from waiting import wait_until

from consensus.crypto import address_of
from plume_node.config import load_config
from plume_node.home import Home
from plume_node.node_keys import load_key_file

pytestmark = pytest.mark.slow
PLUME = 10**18


@pytest.fixture
def nets():
    made: list[Net] = []
    yield made
    for net in made:
        net.stop_all()


def chosen_at(url: str) -> int:
    return int(rpc(url, "plume_consensusState")["nextValidators"]["chosenAt"], 16)


def signers(url: str, height: int) -> set[str]:
    return {s["validator"] for s in rpc(url, "plume_getBlockCommit", height)["signatures"]}


def active(url: str) -> dict[str, int]:
    operators, powers = stakingrpc.view(url, "getActiveValidators")
    return {to_checksum_address(o): p for o, p in zip(operators, powers)}


def node_pubkey(net: Net, index: int) -> bytes:
    return load_key_file(Home(net.nodes[index].home).validator_key_path).public_key


def test_a_full_node_joins_the_set_proposes_and_may_leave(tmp_path, nets):
    net = Net.create(tmp_path / "net", 4, full_nodes=1, settings=("staking.epoch_length=5",))
    nets.append(net)
    net.start()
    net.wait_height(range(5), 2)
    url = net.nodes[0].rpc_url
    operator = net.accounts[0]
    pubkey = node_pubkey(net, 4)
    receipt = stakingrpc.send(url, net.chain_id, operator["private_key"], "createValidator",
                              pubkey, "node4", 500, 2000, 100, value=100 * PLUME)
    assert receipt["status"] == "0x1", receipt

    # In getActiveValidators from the epoch end after it; counted from two heights later.
    wait_until(lambda: operator["address"] in active(url), 60, "node4's operator in the active set")
    effective = chosen_at(url) + 2
    consensus_address = "0x" + address_of(pubkey).hex()
    net.wait_height(range(5), effective + 1)
    for height in range(effective - 2, effective):
        assert consensus_address not in consensus_set_at(net, height)
    assert consensus_set_at(net, effective)[consensus_address] == 100
    wait_until(lambda: any(consensus_address in signers(url, h) for h in range(effective, net.nodes[0].height())),
               60, "a certificate carrying node4's precommit")
    fee_address = load_config(net.nodes[4].home / "config.toml").fee_address.lower()
    wait_until(lambda: any(net.nodes[0].block(h)["miner"].lower() == fee_address
                           for h in range(effective, net.nodes[0].height() + 1)), 90, "a block proposed by node4")

    # Five validators; node4 holds 100 of 500: the others finalize without it.
    net.nodes[4].kill()
    top = net.nodes[0].height()
    net.wait_height(range(4), top + 5)
    net.assert_same_chain(range(4), top + 5)


def consensus_set_at(net: Net, height: int) -> dict[str, int]:
    """{consensus address: power} of the set that decided ``height``, as node0's chain defines it."""
    result = rpc(net.nodes[0].rpc_url, "plume_getValidatorSet", height)
    return {v["address"]: int(v["power"], 16) for v in result["validators"]}


def genesis_operators(net: Net) -> dict[str, str]:
    """{operator address: consensus address} of the genesis validators (their fee address operates them)."""
    out = {}
    for node in net.nodes[:4]:
        operator = to_checksum_address(load_config(node.home / "config.toml").fee_address)
        out[operator] = "0x" + address_of(load_key_file(Home(node.home).validator_key_path).public_key).hex()
    return out


def balance(url: str, address: str, block: int) -> int:
    return int(rpc(url, "eth_getBalance", address, hex(block)), 16)


def next_epoch_after(url: str, height: int) -> int:
    """Wait for the first epoch end after ``height``; return it."""
    return wait_until(lambda: chosen_at(url) if chosen_at(url) > height else None, 60, f"an epoch end after {height}")


def test_stake_moves_the_set_and_every_node_agrees(tmp_path, nets):
    net = Net.create(tmp_path / "net", 4, full_nodes=1, settings=(
        "staking.epoch_length=5", "staking.max_validators=4", "staking.unbonding_period=20"))
    nets.append(net)
    net.start(range(4))
    net.wait_height(range(4), 2)
    url = net.nodes[0].rpc_url
    operators = genesis_operators(net)
    newcomer, delegator = net.accounts[0], net.accounts[1]

    # A validator with no node outbids one genesis validator: 101 against 100.
    key = load_key_file(Home(net.nodes[4].home).node_key_path).public_key  # any valid Ed25519 key
    receipt = stakingrpc.send(url, net.chain_id, newcomer["private_key"], "createValidator",
                              key, "outbidder", 0, 1000, 100, value=101 * PLUME)
    assert receipt["status"] == "0x1", receipt
    wait_until(lambda: newcomer["address"] in active(url), 60, "the newcomer in the active set")
    (dropped,) = set(operators) - set(active(url))
    assert dropped == max(operators, key=lambda a: bytes.fromhex(a[2:]))  # ties go to the lower address
    first = chosen_at(url)
    assert operators[dropped] in consensus_set_at(net, first + 1)
    net.wait_height(range(4), first + 8)  # 3 live validators hold 300 of 401: they finalize
    assert operators[dropped] not in consensus_set_at(net, first + 2)
    assert "0x" + address_of(key).hex() in consensus_set_at(net, first + 2)

    # The newcomer undelegates under 100: out at the next epoch, the dropped one back in.
    receipt = stakingrpc.send(url, net.chain_id, newcomer["private_key"], "undelegate",
                              newcomer["address"], 2 * PLUME)
    assert receipt["status"] == "0x1", receipt
    (_,), (completion,), (amount,) = stakingrpc.view(url, "getUnbondings", newcomer["address"], newcomer["address"])
    assert amount == 2 * PLUME
    second = next_epoch_after(url, int(receipt["blockNumber"], 16))
    assert dropped in active(url) and newcomer["address"] not in active(url)
    net.wait_height(range(4), second + 4)
    assert operators[dropped] in consensus_set_at(net, second + 2)
    wait_until(lambda: any(operators[dropped] in signers(url, h) for h in range(second + 2, net.nodes[0].height())),
               60, "the returning validator's precommit in a certificate")

    # Redelegation: power moves at the next epoch, long before the 20 s unbonding period.
    low, high = sorted(operators, key=lambda a: bytes.fromhex(a[2:]))[:2]
    assert stakingrpc.send(url, net.chain_id, delegator["private_key"], "delegate", low, value=10 * PLUME)["status"] == "0x1"
    receipt = stakingrpc.send(url, net.chain_id, delegator["private_key"], "redelegate", low, high, 10 * PLUME)
    assert receipt["status"] == "0x1", receipt
    (_,), (_,), (_,), (matures,), (_,) = stakingrpc.view(url, "getRedelegations", delegator["address"])
    third = next_epoch_after(url, int(receipt["blockNumber"], 16))
    assert active(url)[high] == 110 and active(url)[low] == 100
    net.wait_height(range(4), third + 2)
    assert consensus_set_at(net, third + 2)[operators[high]] == 110
    assert int(net.nodes[0].block(third + 2)["timestamp"], 16) < matures

    # The undelegated tokens arrive in the first block whose time reaches completionTime.
    wait_until(lambda: int(net.nodes[0].block(net.nodes[0].height())["timestamp"], 16) >= completion, 60, "maturity")
    paid = next(n for n in range(int(receipt["blockNumber"], 16), net.nodes[0].height() + 1)
                if balance(url, newcomer["address"], n) > balance(url, newcomer["address"], n - 1))
    assert balance(url, newcomer["address"], paid) - balance(url, newcomer["address"], paid - 1) == 2 * PLUME
    assert int(net.nodes[0].block(paid - 1)["timestamp"], 16) < completion <= int(net.nodes[0].block(paid)["timestamp"], 16)

    # A restarted validator and a node syncing from height 1 through every change agree.
    net.nodes[1].kill()
    net.nodes[1].start()
    net.nodes[4].start()
    top = net.nodes[0].height() + 3
    net.wait_height(range(5), top, timeout=120)
    net.assert_same_chain(range(5), top)

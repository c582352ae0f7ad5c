"""A partitioned validator returns to consensus within seconds of the heal.

Four real validator processes dial each other through the fault-injecting
proxy (`faultproxy.FaultProxy`). One validator is cut off (a blackhole: its
existing connections stall both ways, new ones are accepted but never
forwarded), the other three keep committing; after the heal it must have
committed the network's height within `REJOIN_DEADLINE_S` and sign later
blocks. The same for a longer partition: recovery must not grow with it.
"""

from __future__ import annotations

import time

import pytest
from faultproxy import FaultProxy
from netharness import Net, NetNode
from rpcclient import rpc
from waiting import wait_until

pytestmark = pytest.mark.slow

REJOIN_DEADLINE_S = 3.0


@pytest.fixture
def proxied_net(tmp_path):
    proxy = FaultProxy(seed=7).start()
    # The 90 s cut is longer than half of the default downtime window (100
    # blocks): with downtime judged, the victim would be jailed and leave the
    # set, and this test is about consensus recovery, so nobody is judged down.
    net = Net.create(tmp_path / "net", validators=4, settings=("slashing.min_signed_per_window_bps=0",))
    try:
        net.route_through(proxy)
        net.start()
        yield net, proxy
    finally:
        net.stop_all()
        proxy.stop()


def _heights(nodes: list[NetNode]) -> list[int]:
    return [node.height() for node in nodes]


def _signers(node: NetNode, height: int) -> set[str]:
    commit = rpc(node.rpc_url, "plume_getBlockCommit", hex(height))
    return {s["validator"].lower().removeprefix("0x") for s in commit["signatures"]} if commit else set()


def _partition(net: Net, proxy: FaultProxy, victim: NetNode, seconds: float) -> None:
    others = [n for n in net.nodes if n is not victim]
    proxy.cut(victim.name)
    cut_at = time.monotonic()
    start_heights = _heights(others)
    victim_at_cut = victim.height()
    # The other three hold 75% of the power: they must keep committing throughout.
    checkpoints = 3
    for i in range(1, checkpoints + 1):
        floor = min(_heights(others))
        wait_until(lambda: min(_heights(others)) > floor, 15, f"the other three to commit during the cut ({i})")
        time.sleep(max(0.0, cut_at + seconds * i / checkpoints - time.monotonic()))
    assert min(_heights(others)) >= min(start_heights) + 5, "the majority stalled during the partition"
    assert victim.height() <= victim_at_cut + 1, "the cut did not isolate the victim"

    proxy.heal(victim.name)
    healed_at = time.monotonic()
    network_height = max(_heights(others))
    try:
        wait_until(lambda: victim.height() >= network_height, REJOIN_DEADLINE_S, "the victim to reach the network")
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}: victim at {victim.height()}, network at {network_height} "
            f"after a {seconds:.0f}s partition\n--- {victim.name} log tail ---\n{victim.log_tail(40)}"
        ) from None
    rejoined = victim.height()
    elapsed = time.monotonic() - healed_at
    print(f"{victim.name}: rejoined {elapsed:.2f}s after a {seconds:.0f}s partition at height {rejoined}")

    # It takes part again: its precommit is in the certificate of a later height.
    me = victim.validator_address.lower().removeprefix("0x")

    def signs_again() -> bool:
        top = min(_heights(others))
        return any(me in _signers(others[0], h) for h in range(rejoined + 1, top + 1))

    wait_until(signs_again, 20, f"{victim.name}'s signature in a certificate after height {rejoined}")


def test_a_partitioned_validator_is_back_in_consensus_within_seconds_of_the_heal(proxied_net):
    net, proxy = proxied_net
    net.wait_height(range(4), 3, timeout=60)
    _partition(net, proxy, net.nodes[3], 30)
    _partition(net, proxy, net.nodes[1], 90)

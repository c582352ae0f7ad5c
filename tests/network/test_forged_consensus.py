"""An outsider floods a 4-validator devnet with forged consensus messages.

The done-when test of "one forged vote halts the chain" and "junk consensus
messages are relayed network-wide": real `plume-node start` processes, and an
attacker that is a real p2p client with its own node key (no validator key).
For 60 seconds it sends three of the four validators forged votes claiming
to be each validator (current and next heights), proposals with bad
signatures or from made-up proposers, far-future proposals with 1 MiB junk
blocks and undecodable payloads, reconnecting with a fresh key whenever it is
banned. Meanwhile it listens to the attacked nodes as a well-behaved peer and
re-sends every genuine proposal it is gossiped, with junk bytes or the bytes
of an earlier block, to the other attacked nodes (the "poisoned payload"
race). The chain must keep committing on every node, no validator may ban
another (a node relays only what it verified, and blames the copy of a
proposal that carried the junk, so honest relayers are never blamed), and
every attacked node must ban the attacker for what it sent.
"""

from __future__ import annotations

import threading
import time

import pytest
import trio

from attacker import Attack, AttackReport
from netharness import Net
from rpcclient import rpc
from waiting import wait_until

from plume_node.genesis import load_genesis
from plume_node.home import Home

pytestmark = pytest.mark.slow

ATTACK_S = 60.0
ATTACKED = (0, 1, 2)
POLL_S = 1.0
MAX_STALL_S = 20.0  # no node may go this long without a new block during the attack
BAN_REASONS = ("consensus message rejected:", "undecodable consensus message:")
POISON_BAN = "consensus message rejected: payload mismatch"


def _run_attack(attack: Attack, out: list) -> None:
    try:
        out.append(trio.run(attack.run))
    except BaseException as exc:  # surfaced by the test thread
        out.append(exc)


def _p2p_target(url: str) -> tuple[str, int]:
    host, port = rpc(url, "plume_nodeInfo")["listenAddr"].rsplit(":", 1)
    return host, int(port)


def test_forged_votes_and_junk_proposals_from_an_outsider_do_not_stall_or_split_the_validators(tmp_path):
    net = Net.create(tmp_path / "net", 4)
    try:
        net.start()
        net.wait_height(range(4), 3)
        urls = [n.rpc_url for n in net.nodes]
        validator_ids = {rpc(u, "plume_nodeInfo")["nodeId"] for u in urls}
        listen = {_p2p_target(u) for u in urls}
        validators = tuple(
            bytes.fromhex(v["address"][2:]) for v in rpc(urls[0], "plume_consensusState")["validators"]
        )
        attack = Attack(
            targets=tuple(_p2p_target(urls[i]) for i in ATTACKED),
            chain_id=str(net.chain_id),
            genesis_hash=load_genesis(Home.at(net.nodes[0].home).genesis_path).hash(),
            validators=validators,
            duration_s=ATTACK_S,
            poison=True,
        )
        result: list = []
        thread = threading.Thread(target=_run_attack, args=(attack, result), daemon=True)
        thread.start()
        bans = _watch(net, thread)
        thread.join(timeout=30)
        assert result and isinstance(result[0], AttackReport), f"the attack itself failed: {result}"
        report: AttackReport = result[0]

        # No validator banned another (by node id or by its listening address).
        validator_keys = {f"id:{i}" for i in validator_ids} | {f"addr:{h}:{p}" for h, p in listen}
        blamed = {(node, key, reason) for node, key, reason in bans if key in validator_keys}
        assert not blamed, f"honest validators were banned: {sorted(blamed)}"
        # Every attacked node banned the attacker's keys for what they sent.
        for i in ATTACKED:
            name = f"{attack.targets[ATTACKED.index(i)][0]}:{attack.targets[ATTACKED.index(i)][1]}"
            ours = {f"id:{node_id}" for node_id in report.node_ids.get(name, [])}
            reasons = {reason for node, key, reason in bans if node == i and key in ours}
            assert reasons, f"node {i} never banned the attacker ({report.sessions.get(name)} sessions)"
            unexpected = {r for r in reasons if not r.startswith(BAN_REASONS)}
            assert not unexpected, unexpected
            assert report.cut_off.get(name, 0) >= report.sessions[name] // 2, (name, report)
        # Junk bytes that won the race to a node cost their sender a ban. Whether
        # junk beats the genuine bytes at a given node is a race (one a loaded
        # machine may not run every node's way), so: at some node, at least.
        poisoners = {f"id:{node_id}" for ids in report.poison_ids.values() for node_id in ids}
        mismatches = [r for node, key, r in bans if key in poisoners and r.startswith(POISON_BAN)]
        assert mismatches, f"no node banned a sender of junk proposal bytes ({report.poisoned} sent)"
        assert report.junk_bytes > 50 * 1024 * 1024, "the attack sent too little to mean anything"
        assert report.poisoned > 50, f"too few genuine proposals re-sent with junk bytes: {report.poisoned}"
        # And the chain goes on after the attack, the same on every node.
        top = max(n.height() for n in net.nodes)
        net.wait_height(range(4), top + 3)
        net.assert_same_chain([0, 1, 2, 3], min(n.height() for n in net.nodes))
    finally:
        net.stop_all()


def _watch(net: Net, thread: threading.Thread) -> set[tuple[int, str, str]]:
    """Poll every node while the attack runs: heights must keep rising; return
    every (node index, ban key, reason) seen."""
    bans: set[tuple[int, str, str]] = set()
    last_height = [n.height() for n in net.nodes]
    last_rise = [time.monotonic()] * len(net.nodes)
    while thread.is_alive():
        for i, node in enumerate(net.nodes):
            height = wait_until(node.height, 10, f"{node.name} to answer")
            now = time.monotonic()
            if height > last_height[i]:
                last_height[i], last_rise[i] = height, now
            assert now - last_rise[i] < MAX_STALL_S, (
                f"{node.name} stuck at height {height} for {now - last_rise[i]:.0f}s during the attack\n"
                f"{node.log_tail()}"
            )
            for ban in rpc(node.rpc_url, "plume_peers")["bans"]:
                bans.add((i, ban["key"], ban["reason"]))
        time.sleep(POLL_S)
    return bans

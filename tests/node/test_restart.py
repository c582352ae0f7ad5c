"""Stopping and restarting a node: in-process (stop, reopen) and as a real
process (`kill -9`, SIGTERM). The node must resume at the next height with
every old height's block hash and state root unchanged, and the double-sign
guard's memory must survive."""

from __future__ import annotations

import dataclasses
import re
import signal
import time

import pytest
import trio

from consensus.messages import PRECOMMIT, PREVOTE, CommitCertificate, Proposal, Vote
from consensus.signer import STEP_PRECOMMIT, STEP_PREVOTE, STEP_PROPOSAL
from waiting import await_until
from node_helpers import (
    PASSWORD,
    NodeProcess,
    chain_record,
    cli,
    fast_config,
    make_home,
    running,
    wait_for_height,
)
from ports import free_port
from plume_node.keystore import Keystore
from plume_node.node import Node


async def test_reopen_resumes_with_identical_history_and_signer_state(tmp_path) -> None:
    home = make_home(tmp_path / "home")
    config = fast_config(home, block_time_ms=100)

    node = Node.open(home, config)
    try:
        async with running(node):
            await wait_for_height(node, 5)
        head = node.app.committed_height()
        record = chain_record(node)
        certs = {h: node.commit_certificate(h) for h in range(1, head + 1)}
        guard = node.signer.state
    finally:
        node.close()
    # A lone validator signs a height's proposal, prevote and precommit and
    # commits it in one step of the event loop: the guard's last signature is
    # the precommit of the last committed height.
    assert (guard.height, guard.round, guard.step) == (head, 0, STEP_PRECOMMIT)

    node = Node.open(home, config)
    try:
        assert node.app.committed_height() == head
        after = node.signer.state
        assert (after.height, after.round, after.step) == (guard.height, guard.round, guard.step)
        assert after == guard  # sign-bytes, signature and lock too
        assert node.signer.locked(head) == (0, record[head][0])
        assert chain_record(node) == record
        assert {h: node.commit_certificate(h) for h in range(1, head + 1)} == certs

        # The guard is live after the restart: it refuses a conflicting precommit
        # for the last signed height, and an earlier step.
        me = node.validator_address
        assert node.signer.sign(Vote(PRECOMMIT, head, 0, b"\x66" * 32, me)) is None
        assert node.signer.sign(Vote(PREVOTE, head, 0, record[head][0], me)) is None
        assert node.signer.sign(Proposal(head, 0, b"\x66" * 32, -1, me)) is None
        assert node.signer.state == guard

        committed: list[int] = []
        node.driver.on_commit = committed.append
        async with running(node):
            await wait_for_height(node, head + 3)
        assert committed[:3] == [head + 1, head + 2, head + 3], "did not resume at the next height"
        chain = node.chain
        assert chain.get_header(head + 1).parent_hash == record[head][0]
        carried = CommitCertificate.decode(chain.get_sidecar(head + 1).last_commit)
        assert carried.encode() == certs[head]
        assert {h: v for h, v in chain_record(node).items() if h <= head} == record
    finally:
        node.close()


def operator_transfer(node: Node, nonce: int) -> bytes:
    account = Keystore(node.home.root).unlock("operator", PASSWORD)
    signed = account.sign_transaction({
        "type": 2, "chainId": node.chain_id, "nonce": nonce, "to": bytes.fromhex("5e" * 20), "value": 1,
        "gas": 21000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9,
    })
    return bytes(signed.raw_transaction)


class Crash(Exception):
    """The process dies here: whatever was written so far is on disk, nothing more runs."""


def quick_timeouts(config):
    return config.replace(consensus=dataclasses.replace(
        config.consensus, timeout_propose_ms=300, timeout_prevote_ms=200, timeout_precommit_ms=200,
        timeout_propose_delta_ms=100, timeout_prevote_delta_ms=100, timeout_precommit_delta_ms=100,
    ))


async def run_until_crash(node: Node, should_crash, *, at_height: int | None = None, with_tx: bool = False):
    """Run `node` until its guard has durably saved a signature for which
    `should_crash(state)` is true, and "die" right there. Returns (height, tx hash).

    The height is the node's next one (or `at_height`); with `with_tx` a transfer
    is submitted first, so that height's block holds it (the mempool dies too,
    so a rebuilt block would differ)."""
    store = node.signer.store
    real_save = store.save
    armed: dict = {}

    def save(state) -> None:
        real_save(state)  # synced: this signature survives the crash
        if armed and state.height == armed["height"] and should_crash(state):
            raise Crash

    store.save = save
    tx_hash = None
    try:
        async with running(node):
            if at_height is None:
                await wait_for_height(node, 2)
                at_height = node.app.committed_height() + 1
            if with_tx:
                tx_hash = node.submit_transaction(operator_transfer(node, 0))
            armed["height"] = at_height
            await trio.sleep(15)
    except BaseExceptionGroup as group:
        if not group.subgroup(Crash):
            raise
    else:
        raise AssertionError("the node did not reach the crash point")
    finally:
        store.save = real_save
        node.close()
    return at_height, tx_hash


async def restart_and_commit(home, config, height: int) -> Node:
    node = Node.open(home, config)
    try:
        assert node.app.committed_height() == height - 1
        async with running(node):
            await await_until(
                lambda: node.app.committed_height() >= height, 15,
                f"the restarted validator to commit height {height} (engine at round {node.engine.round}, "
                f"step {node.engine.step!r}; guard at {node.signer.state and (node.signer.state.height, node.signer.state.round, node.signer.state.step)})",
            )
        assert node.chain.get_header(height).parent_hash == node.chain.get_header(height - 1).hash
    except BaseException:
        node.close()
        raise
    return node


@pytest.mark.parametrize("crash_after", [STEP_PROPOSAL, STEP_PREVOTE, STEP_PRECOMMIT],
                         ids=["proposal", "prevote", "precommit"])
async def test_restart_after_a_crash_in_the_middle_of_a_height(tmp_path, crash_after: int) -> None:
    """kill -9 can land between the guard's fsync of a signature and the commit
    of the height. Reproduced deterministically: the running node dies right
    after its guard durably saved the chosen signature of a height that holds
    a transaction. A lone validator must still commit that height after the
    restart, and the block it commits must be the one it had voted for."""
    home = make_home(tmp_path / "home")
    config = quick_timeouts(fast_config(home, block_time_ms=100))
    height, tx_hash = await run_until_crash(
        Node.open(home, config), lambda state: state.step == crash_after, with_tx=True
    )
    node = await restart_and_commit(home, config, height)
    try:
        if crash_after != STEP_PROPOSAL:
            # it voted for the block: it must commit that block (after a precommit it is locked on it)
            block = node.chain.get_block(height)
            assert [tx.hash for tx in block.transactions] == [tx_hash], "the committed block is not the one signed"
        # (crashed right after signing the proposal, before it left: another block is as good)
    finally:
        node.close()


async def test_restart_after_crashes_in_a_later_round(tmp_path) -> None:
    """Crash after the proposal (so the restarted height needs round 1), then
    crash again after round 1's prevote: the guard is now at round 1, and the
    restarted engine, which starts every height at round 0, must still finish."""
    home = make_home(tmp_path / "home")
    config = quick_timeouts(fast_config(home, block_time_ms=100))
    height, _ = await run_until_crash(
        Node.open(home, config), lambda state: state.step == STEP_PROPOSAL, with_tx=True
    )
    await run_until_crash(
        Node.open(home, config),
        lambda state: state.round >= 1 and state.step == STEP_PREVOTE,
        at_height=height,
    )
    node = Node.open(home, config)
    try:
        guard = node.signer.state
        assert (guard.height, guard.round, guard.step) == (height, 1, STEP_PREVOTE)
    finally:
        node.close()
    (await restart_and_commit(home, config, height)).close()


def _blocks_by_rpc(proc: NodeProcess, upto: int) -> dict[int, tuple[str, str]]:
    out = {}
    for h in range(upto + 1):
        block = proc.rpc("eth_getBlockByNumber", hex(h), False)
        assert block is not None, f"RPC has no block {h}"
        out[h] = (block["hash"], block["stateRoot"])
    return out


def test_kill_9_then_restart_resumes_and_sigterm_stops_cleanly(tmp_path) -> None:
    """Real processes: `plume-node init`, `start`, kill -9, `start` again, SIGTERM."""
    home = tmp_path / "home"
    result = cli("init", "--home", str(home), "--chain-id", "4242", "--json")
    assert result.returncode == 0, result.stderr
    config = home / "config.toml"
    text = config.read_text()
    assert "block_time_ms = 1000" in text
    config.write_text(text.replace("block_time_ms = 1000", "block_time_ms = 200"))

    first = NodeProcess(home, tmp_path / "run1.log", free_port(), free_port())
    try:
        first.wait_for_block(4, timeout=90)
        seen = first.block_number()
        record = _blocks_by_rpc(first, seen)
        assert int(first.rpc("eth_chainId"), 16) == 4242
    finally:
        first.kill()  # SIGKILL: no shutdown code runs
    assert first.proc.returncode == -signal.SIGKILL
    logged = first.committed_heights()
    assert logged == list(range(1, len(logged) + 1)), f"first run's commits are not consecutive: {logged}"
    old_head = logged[-1]
    assert old_head >= seen

    second = NodeProcess(home, tmp_path / "run2.log", free_port(), free_port())
    try:
        second.wait_for_block(old_head + 3, timeout=90)
        log = second.log()
        opened = re.search(r"chain 4242 at height (\d+)", log)
        assert opened, f"no start-up line in the log:\n{log[-2000:]}"
        resumed_at = int(opened.group(1))
        # +1 only if the kill fell between a height's synced batch and its log line
        assert resumed_at in (old_head, old_head + 1), f"reopened at {resumed_at}, last commit logged {old_head}"
        commits = second.committed_heights()
        assert commits[0] == resumed_at + 1, f"first commit after restart is {commits[0]}, not {resumed_at + 1}"
        assert commits == list(range(commits[0], commits[0] + len(commits)))
        assert _blocks_by_rpc(second, seen) == record, "an old height's hash or state root changed"
        # heights committed after the last RPC poll, before the kill: their logged hashes
        logged_hashes = first.committed_hash_prefixes()
        assert sorted(logged_hashes) == logged
        for h, prefix in logged_hashes.items():
            assert second.rpc("eth_getBlockByNumber", hex(h), False)["hash"][2:].startswith(prefix), h
        # the chain continues on the old head
        parent = second.rpc("eth_getBlockByNumber", hex(resumed_at + 1), False)["parentHash"]
        assert parent == second.rpc("eth_getBlockByNumber", hex(resumed_at), False)["hash"]

        started = time.monotonic()
        code = second.stop(signal.SIGTERM, timeout=30)
        assert code == 0, f"SIGTERM exit code {code}; log:\n{second.log()[-2000:]}"
        assert time.monotonic() - started < 30
        last_line = [line for line in second.log().splitlines() if line.strip()][-1]
        assert "stopped cleanly at height" in last_line, last_line
        assert "Traceback" not in second.log()
    finally:
        second.kill()


def test_repeated_kill_9_at_random_moments_never_loses_or_stalls(tmp_path) -> None:
    """kill -9 at random moments of a fast chain (100 ms blocks, so a kill
    often lands inside a height); every restart resumes where the last run
    stopped and commits again, with the history unchanged."""
    import random

    home = tmp_path / "home"
    result = cli("init", "--home", str(home), "--json")
    assert result.returncode == 0, result.stderr
    config = home / "config.toml"
    config.write_text(config.read_text().replace("block_time_ms = 1000", "block_time_ms = 100"))
    rng = random.Random()
    history: dict[int, str] = {}
    for run in range(3):
        proc = NodeProcess(home, tmp_path / f"run{run}.log", free_port(), free_port())
        try:
            start = max(history, default=0)
            proc.wait_for_block(start + 2, timeout=90)
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            proc.kill()
        commits = proc.committed_heights()
        assert commits and commits[0] in (start + 1, start + 2), f"run {run} resumed at {commits[:1]}, history ends at {start}"
        for h, prefix in proc.committed_hash_prefixes().items():
            assert h not in history, f"height {h} committed twice"
            history[h] = prefix
    last = NodeProcess(home, tmp_path / "last.log", free_port(), free_port())
    try:
        top = max(history)
        last.wait_for_block(top + 1, timeout=90)
        for h in range(1, top + 1):
            block = last.rpc("eth_getBlockByNumber", hex(h), False)
            if h in history:
                assert block["hash"][2:].startswith(history[h]), f"block {h} changed"
        assert last.stop(signal.SIGTERM) == 0
    finally:
        last.kill()

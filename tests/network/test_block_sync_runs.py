"""Block sync of a few hundred blocks between real processes: progress in the
log, the same chain at the end, and a SIGKILL in the middle of a batched run.

The chain is written into a lone validator's home through the node's own
code path (tests/support/certchain.py: real blocks with transfers and ERC-20
calls, real certificates signed by the validator's key); the validator then
serves it (`create_empty_blocks=false` keeps its tip put) and a fresh full
node syncs it over real TCP, verifying every certificate.
"""

from __future__ import annotations

import re

import pytest

from certchain import prepare_chain
from netharness import Net
from rpcclient import rpc
from waiting import wait_until

from plume_node.config import load_config
from plume_node.home import Home
from plume_node.node import Node

pytestmark = pytest.mark.slow

BLOCKS = 400
TXS_PER_BLOCK = 4

PROGRESS = re.compile(r"sync: height (\d+) of (\d+) \(([0-9.]+) blocks/s\), ([0-9.]+) tx/s, ETA (\d+) s")


def _serving_net(tmp_path) -> Net:
    net = Net.create(tmp_path / "net", 1, full_nodes=1, settings=(
        "consensus.create_empty_blocks=false", "p2p.sync_progress_ms=300",
    ))
    prepare_chain(net.nodes[0].home, net.accounts, BLOCKS, TXS_PER_BLOCK)
    net.start([0])
    net.wait_height([0], BLOCKS)
    return net


def test_a_fresh_node_logs_sync_progress_and_ends_with_the_same_chain(tmp_path):
    net = _serving_net(tmp_path)
    full = net.nodes[1]
    try:
        full.start()
        net.wait_height([1], BLOCKS, timeout=300)
        wait_until(lambda: f"caught up at height {BLOCKS}:" in full.log_text(), 60, "the caught-up line")
        log = full.log_text()
        progress = PROGRESS.findall(log)
        assert progress, log[-3000:]
        for height, target, blocks_s, tx_s, _eta in progress:
            assert int(target) == BLOCKS and int(height) <= BLOCKS, (height, target)
            assert float(blocks_s) > 0 and float(tx_s) > 0
        assert re.search(r"sync: height \d+ of \d+ \(rate pending\)", log), log[-3000:]  # the first line, at once
        caught_up = re.search(r"caught up at height (\d+): (\d+) blocks, (\d+) txs", log)
        assert int(caught_up.group(1)) == BLOCKS and int(caught_up.group(2)) == BLOCKS
        # block 1 deploys the token; every later block carries TXS_PER_BLOCK transactions
        assert int(caught_up.group(3)) == 1 + (BLOCKS - 1) * TXS_PER_BLOCK
        net.assert_same_chain([0, 1], BLOCKS)
    finally:
        net.stop_all()


def test_a_sigkill_in_the_middle_of_a_sync_run_leaves_a_certified_head_that_resumes(tmp_path):
    net = _serving_net(tmp_path)
    validator, full = net.nodes
    try:
        full.start()
        wait_until(lambda: full.height() >= BLOCKS // 4, 300, "the full node to be a quarter through", interval=0.05)
        full.kill()
        # Offline, as the node opens it: the head is a block the validator's chain
        # holds, with its certificate, and the state of that block is all there.
        node = Node.open(Home(full.home), load_config(full.home / "config.toml"))
        try:
            app = node.app
            head = app.committed_height()
            assert BLOCKS // 4 <= head < BLOCKS, f"killed at {head}: not in the middle of the sync"
            block = app.chain.get_block(head)
            want = validator.block(head)
            assert ("0x" + block.hash.hex(), "0x" + block.header.state_root.hex()) == (want["hash"], want["stateRoot"])
            certificate = app.commit_certificate(head)
            certificate.verify(app.validator_set(head), app.chain_id)
            assert certificate.block_hash == block.hash
            state = app.chain.state_at()
            for account in net.accounts[:2]:
                address = account["address"]
                assert hex(state.balance(bytes.fromhex(address[2:]))) == rpc(
                    validator.rpc_url, "eth_getBalance", address, hex(head)
                )
        finally:
            node.close()
        full.start()
        net.wait_height([1], BLOCKS, timeout=300)
        net.assert_same_chain([0, 1], BLOCKS)
    finally:
        net.stop_all()

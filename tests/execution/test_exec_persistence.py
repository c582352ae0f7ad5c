"""Restart and crash behaviour on a real LevelDB, with real subprocesses for the crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from execution.block import PlumeBlock
from plume_exec_helpers import SINK, build_and_commit, open_chain, transfer
from plume_node.storage import PREFIX_CERT, PrefixedDB

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def test_restart_same_head_and_state_roots(tmp_path: Path) -> None:
    db, chain = open_chain(tmp_path / "db")
    seen = [(chain.head.hash, chain.head.state_root)]
    for h in range(1, 7):
        build_and_commit(chain, [transfer(0, h - 1, value=10), transfer(1, h - 1, value=1)])
        seen.append((chain.head.hash, chain.head.state_root))
    sink_at = [chain.state_at(n).balance(SINK) for n in range(7)]
    db.close()

    db, chain = open_chain(tmp_path / "db", create=False)
    try:
        assert chain.height == 6 and chain.head.hash == seen[-1][0]
        for n, (block_hash, root) in enumerate(seen):
            header = chain.get_header(n)
            assert (header.hash, header.state_root) == (block_hash, root)
            assert chain.state_at(n).balance(SINK) == sink_at[n] == 11 * n
        # and it keeps going from there
        build_and_commit(chain, [transfer(0, 6, value=10)])
        assert chain.height == 7 and chain.state_at().balance(SINK) == 66 + 10
    finally:
        db.close()


def test_held_head_block_is_the_stored_block(tmp_path: Path) -> None:
    """get_block(head) answers from the block just committed, built here or
    decoded from a proposer's bytes; a reopened chain, which holds nothing,
    decodes the same block from the database."""
    db, chain = open_chain(tmp_path / "db")
    build_and_commit(chain, [transfer(0, 0, value=10), transfer(1, 0, value=1)])
    held = chain.get_block()
    assert held is chain.head_block and held is chain.get_block_by_hash(chain.head.hash)
    db.close()
    validator_db, validator = open_chain(tmp_path / "validator")  # commits the proposer's bytes
    try:
        validator.commit(PlumeBlock.decode(held.encode()))
        assert validator.get_block() is validator.head_block
        assert validator.head_block.encode() == held.encode()
        assert validator.head_block.tx_hashes == held.tx_hashes
    finally:
        validator_db.close()
    db, chain = open_chain(tmp_path / "db", create=False)
    try:
        assert chain.head_block is None
        stored = chain.get_block()
        assert stored.encode() == held.encode() and stored.header == held.header
        assert [tx.hash for tx in stored.transactions] == [tx.hash for tx in held.transactions]
        build_and_commit(chain, [transfer(0, 1, value=10)])
        assert chain.get_block(1).encode() == held.encode()  # no longer the head: read back
    finally:
        db.close()


CHILD = textwrap.dedent(
    """
    import os, sys
    sys.path[:0] = [{repo!r}, {here!r}]
    from plume_exec_helpers import open_chain, transfer, COINBASE, sidecar
    from plume_node.storage import PREFIX_CERT, PrefixedDB
    mode, stop_at = sys.argv[1], int(sys.argv[2])
    db, chain = open_chain({path!r})
    nonce = chain.state_at().nonce(transfer(0, 0).sender)
    while True:
        h = chain.height + 1
        txs = [transfer(0, nonce + i, value=1) for i in range(20)]
        blk = chain.build_block(txs, timestamp=chain.head.timestamp, coinbase=COINBASE,
                                sidecar=sidecar()).block
        with chain.commit_batch(blk) as batch:
            PrefixedDB(batch, PREFIX_CERT)[b"%08d" % h] = b"cert-%d" % h
            if mode == "exit-inside" and h == stop_at:
                os._exit(0)   # dies with the height's writes staged, not written
        nonce += 20
        print(h, flush=True)
        if mode == "exit-after" and h == stop_at:
            os._exit(0)
    """
)


def _child(path: Path) -> str:
    return CHILD.format(repo=str(REPO), here=str(HERE), path=str(path))


def _check_consistent(path: Path) -> int:
    db, chain = open_chain(path, create=False)
    try:
        head = chain.height
        certs = PrefixedDB(db, PREFIX_CERT)
        for h in range(1, head + 1):
            # the node's record committed in the same batch as the block
            assert certs[b"%08d" % h] == b"cert-%d" % h
            header = chain.get_header(h)
            assert chain.get_block(h).hash == header.hash
            assert len(chain.get_receipts(h)) == 20
        assert not certs.exists(b"%08d" % (head + 1))
        # state of the head is complete: the sink got 1 wei per transaction
        assert chain.state_at().balance(SINK) == 20 * head
        # the chain continues from the head
        build_and_commit(chain, [])
        assert chain.height == head + 1
        return head
    finally:
        db.close()


def test_exit_inside_commit_keeps_previous_height(tmp_path: Path) -> None:
    path = tmp_path / "db"
    proc = subprocess.run([sys.executable, "-c", _child(path), "exit-inside", "3"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "2"]
    assert _check_consistent(path) == 2


def test_exit_between_commits_keeps_all_committed(tmp_path: Path) -> None:
    path = tmp_path / "db"
    proc = subprocess.run([sys.executable, "-c", _child(path), "exit-after", "3"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert _check_consistent(path) == 3


def test_sigkill_during_commits(tmp_path: Path) -> None:
    path = tmp_path / "db"
    proc = subprocess.Popen([sys.executable, "-c", _child(path), "run", "0"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    reported = 0
    deadline = time.monotonic() + 90
    while reported < 4 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        reported = int(line)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for line in proc.stdout.read().split():  # printed before death, not yet read
        reported = int(line)
    assert reported >= 4, "child did not commit in time"
    head = _check_consistent(path)
    assert reported <= head <= reported + 1

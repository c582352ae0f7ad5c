"""plume_node/storage.py: the LevelDB adapter against py-evm's in-memory AtomicDB,
batches, crashes (real subprocesses), key spaces, and refusing foreign directories."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import plyvel
import pytest
from eth.db.atomic import AtomicDB
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plume_node.storage import (
    KEY_SPACES,
    PREFIX_CERT,
    PREFIX_CHAIN,
    SCHEMA_VERSION,
    LevelDB,
    Overlay,
    PrefixedDB,
    open_database,
)
from execution.db import StorageError  # the base: LevelDB's errors and a closed batch's

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def db(tmp_path: Path):
    d = open_database(tmp_path / "db", create=True)
    yield d
    d.close()


# --------------------------------------------------------------- equivalence
KEYS = st.sampled_from([b"a", b"b", b"c", b"ab", b"\x00", b"\xff" * 3])
VALUES = st.binary(min_size=0, max_size=8)

simple_op = st.one_of(
    st.tuples(st.just("set"), KEYS, VALUES),
    st.tuples(st.just("delete"), KEYS),
    st.tuples(st.just("del"), KEYS),
    st.tuples(st.just("get"), KEYS),
    st.tuples(st.just("exists"), KEYS),
)
batch_op = st.tuples(
    st.just("batch"),
    st.lists(
        st.one_of(simple_op, st.tuples(st.just("nested"), st.lists(simple_op, max_size=4), st.booleans())),
        max_size=8,
    ),
    st.booleans(),  # raise at the end?
)
ops = st.lists(st.one_of(simple_op, batch_op), max_size=12)


class Boom(Exception):
    pass


def run_simple(target, op):
    kind = op[0]
    try:
        if kind == "set":
            target.set(op[1], op[2])
            return ("ok",)
        if kind == "delete":
            target.delete(op[1])
            return ("ok",)
        if kind == "del":
            del target[op[1]]
            return ("ok",)
        if kind == "get":
            return ("val", target[op[1]])
        if kind == "exists":
            return ("val", target.exists(op[1]))
    except KeyError:
        return ("keyerror",)
    raise AssertionError(op)


def run_ops(target, op_list):
    out = []
    for op in op_list:
        if op[0] != "batch":
            out.append(run_simple(target, op))
            continue
        _, inner, explode = op
        try:
            with target.atomic_batch() as batch:
                for sub in inner:
                    if sub[0] == "nested":
                        if not hasattr(batch, "atomic_batch"):
                            # py-evm's batch cannot nest: emulate a nested batch that
                            # is applied or dropped as a whole
                            if not sub[2]:
                                for s in sub[1]:
                                    out.append(run_simple(batch, s))
                            else:
                                out.extend(("skip",) for _ in sub[1])
                            continue
                        try:
                            with batch.atomic_batch() as nested:
                                for s in sub[1]:
                                    out.append(("skip",) if sub[2] else run_simple(nested, s))
                                if sub[2]:
                                    raise Boom()
                        except Boom:
                            pass
                    else:
                        out.append(run_simple(batch, sub))
                if explode:
                    raise Boom()
        except Boom:
            out.append(("discarded",))
    final = {k: target.get(k) for k in [b"a", b"b", b"c", b"ab", b"\x00", b"\xff" * 3]}
    return out, final


_counter = iter(range(10**9))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op_list=ops)
def test_adapter_matches_pyevm_atomicdb(db: LevelDB, op_list) -> None:
    # a fresh key space per example over one real LevelDB
    view = db.prefixed(b"t%08d/" % next(_counter))
    assert run_ops(view, op_list) == run_ops(AtomicDB(), op_list)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op_list=ops)
def test_root_leveldb_matches_atomicdb(tmp_path_factory, op_list) -> None:
    d = open_database(tmp_path_factory.mktemp("eq") / "db", create=True)
    try:
        assert run_ops(d, op_list) == run_ops(AtomicDB(), op_list)
    finally:
        d.close()


# --------------------------------------------------------------- batches
def test_batch_read_your_writes_and_deletes(db: LevelDB) -> None:
    db[b"k1"] = b"old"
    db[b"k2"] = b"gone-soon"
    with db.atomic_batch() as b:
        b[b"k1"] = b"new"
        del b[b"k2"]
        b[b"k3"] = b"three"
        assert b[b"k1"] == b"new"
        assert not b.exists(b"k2")
        with pytest.raises(KeyError):
            b[b"k2"]
        assert b[b"k3"] == b"three"
        # not visible outside before the batch is written
        assert db[b"k1"] == b"old" and db.exists(b"k2") and not db.exists(b"k3")
    assert db[b"k1"] == b"new" and not db.exists(b"k2") and db[b"k3"] == b"three"


def test_exception_discards_batch(db: LevelDB) -> None:
    db[b"x"] = b"1"
    with pytest.raises(RuntimeError):
        with db.atomic_batch() as b:
            b[b"x"] = b"2"
            b[b"y"] = b"3"
            raise RuntimeError("boom")
    assert db[b"x"] == b"1" and not db.exists(b"y")


def test_closed_batch_refuses_use(db: LevelDB) -> None:
    with db.atomic_batch() as b:
        b[b"a"] = b"1"
    with pytest.raises(StorageError, match="closed"):
        b[b"a"] = b"2"


def test_nested_prefixed_batches_land_in_one_root_batch(db: LevelDB) -> None:
    with db.atomic_batch() as root:
        chain = PrefixedDB(root, PREFIX_CHAIN)
        with chain.atomic_batch() as nested:  # what py-evm's ChainDB does
            nested[b"h"] = b"header"
        PrefixedDB(root, PREFIX_CERT)[b"c"] = b"cert"
        assert root.pending_count() == 2
        assert not db.exists(PREFIX_CHAIN + b"h")
    assert db[PREFIX_CHAIN + b"h"] == b"header" and db[PREFIX_CERT + b"c"] == b"cert"


def test_overlay_never_writes_through_until_flushed(db: LevelDB) -> None:
    view = db.prefixed(PREFIX_CHAIN)
    view[b"base"] = b"b"
    ov = Overlay(view)
    ov[b"n"] = b"1"
    with ov.atomic_batch() as b:
        b[b"m"] = b"2"
    del ov[b"base"]
    assert not view.exists(b"n") and view.exists(b"base")
    assert ov[b"m"] == b"2" and not ov.exists(b"base")
    with db.atomic_batch() as root:
        ov.flush_into(PrefixedDB(root, PREFIX_CHAIN))
    assert view[b"n"] == b"1" and view[b"m"] == b"2" and not view.exists(b"base")


# --------------------------------------------------------------- key spaces
def test_key_spaces_are_prefix_free() -> None:
    prefixes = list(KEY_SPACES.values())
    assert len(set(prefixes)) == len(prefixes)
    for a in prefixes:
        for b in prefixes:
            if a is not b:
                assert not a.startswith(b)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    a=st.sampled_from(sorted(KEY_SPACES.values())),
    b=st.sampled_from(sorted(KEY_SPACES.values())),
    key=st.binary(max_size=6),
)
def test_prefixes_do_not_collide(db: LevelDB, a: bytes, b: bytes, key: bytes) -> None:
    if a == b:
        return
    va, vb = db.prefixed(a), db.prefixed(b)
    with db.atomic_batch() as root:
        PrefixedDB(root, a)[key] = b"A"
        PrefixedDB(root, b)[key] = b"B"
    assert va[key] == b"A" and vb[key] == b"B"
    va.delete(key)
    assert not va.exists(key) and vb[key] == b"B"
    vb.delete(key)


def test_iterate_prefix(db: LevelDB) -> None:
    db.prefixed(PREFIX_CERT)[b"2"] = b"b"
    db.prefixed(PREFIX_CERT)[b"1"] = b"a"
    db.prefixed(PREFIX_CHAIN)[b"1"] = b"z"
    assert list(db.prefixed(PREFIX_CERT).iterate()) == [(b"1", b"a"), (b"2", b"b")]


# --------------------------------------------------------------- crashes
CHILD = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {repo!r})
    from plume_node.storage import open_database
    db = open_database({path!r}, create=True)
    crash_at = int(sys.argv[1])      # batch index to crash inside, -1 = never
    crash_where = sys.argv[2]        # 'inside' (mid-batch) or 'after' (between batches)
    n = int(sys.argv[3])
    from contextlib import nullcontext
    # "run": every batch inside one durable_run (unsynced, one synced write at its end)
    with db.durable_run() if sys.argv[4:] == ["run"] else nullcontext():
        for i in range(n):
            with db.atomic_batch() as b:
                for j in range(50):
                    b[b"b%06d/%03d" % (i, j)] = b"v%d" % i
                if i == crash_at and crash_where == "inside":
                    os._exit(0)
            print(i, flush=True)
            if i == crash_at and crash_where == "after":
                os._exit(0)
    """
)


def _batches_on_disk(path: Path) -> dict[int, int]:
    db = open_database(path)
    try:
        counts: dict[int, int] = {}
        for key, _ in db.iterate_prefix(b"b"):
            i = int(key[:6])
            counts[i] = counts.get(i, 0) + 1
        return counts
    finally:
        db.close()


@pytest.mark.parametrize("where", ["inside", "after"])
def test_crash_between_batches_keeps_exactly_completed_batches(tmp_path: Path, where: str) -> None:
    path = tmp_path / "db"
    script = CHILD.format(repo=str(REPO), path=str(path))
    proc = subprocess.run(
        [sys.executable, "-c", script, "3", where, "10"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    done = [int(x) for x in proc.stdout.split()]
    counts = _batches_on_disk(path)
    expected = {0, 1, 2} if where == "inside" else {0, 1, 2, 3}
    assert set(done) == expected
    assert set(counts) == expected
    assert all(c == 50 for c in counts.values())


@pytest.mark.parametrize("mode", ["synced", "run"])
def test_sigkill_leaves_whole_batches_only(tmp_path: Path, mode: str) -> None:
    # "run": inside a durable_run the batches are written unsynced; a killed
    # process still leaves a prefix of whole batches (LevelDB's log is sequential).
    path = tmp_path / "db"
    script = CHILD.format(repo=str(REPO), path=str(path))
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "-1", "after", "100000", mode], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    seen = 0
    deadline = time.monotonic() + 60
    while seen < 5 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen = int(line) + 1
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # lines the child printed before it died but we had not read yet
    for line in proc.stdout.read().split():
        seen = int(line) + 1
    assert seen >= 5, "child did not get going"
    counts = _batches_on_disk(path)
    # every batch that reported success is there, whole; at most one more (written,
    # not yet reported) may be; none is partial
    assert set(range(seen)) <= set(counts)
    assert set(counts) == set(range(len(counts)))
    assert len(counts) <= seen + 1
    assert all(c == 50 for c in counts.values())


def test_a_durable_run_writes_unsynced_batches_and_one_synced_write_at_its_end(db: LevelDB) -> None:
    real = db._db
    syncs: list[bool] = []

    class Recorder:  # the plyvel handle, recording each batch's sync flag
        def __getattr__(self, name):
            return getattr(real, name)

        def write_batch(self, sync: bool = False):
            syncs.append(sync)
            return real.write_batch(sync=sync)

    def other_thread_batch() -> None:
        with db.atomic_batch() as b:
            b[b"other"] = b"v"

    db._db = Recorder()
    try:
        with pytest.raises(RuntimeError), db.durable_run():
            for i in range(3):
                with db.atomic_batch() as b:
                    b[b"k%d" % i] = b"v%d" % i
            with db.durable_run():  # nested: joins the outer run
                with db.atomic_batch() as b:
                    b[b"nested"] = b"v"
            thread = threading.Thread(target=other_thread_batch)
            thread.start()
            thread.join()
            assert db[b"k2"] == b"v2" and db[b"nested"] == b"v"  # written, readable at once
            raise RuntimeError("the run ends early: what it wrote is still made durable")
        with db.atomic_batch() as b:
            b[b"after"] = b"v"
    finally:
        db._db = real
    # 4 unsynced batches, the other thread's synced one, the run's closing synced write, then synced again
    assert syncs == [False, False, False, False, True, True, True]
    assert db[b"other"] == b"v" and db[b"after"] == b"v"


# --------------------------------------------------------------- refusing directories
def _snapshot(path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def test_foreign_leveldb_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "foreign"
    raw = plyvel.DB(str(path), create_if_missing=True)
    for i in range(100):
        raw.put(b"k%d" % i, b"v" * 100)  # leaves a write-ahead log LevelDB would replay
    raw.close()
    before = _snapshot(path)
    for create in (False, True):
        with pytest.raises(StorageError, match="not a Plume database.*LevelDB"):
            open_database(path, create=create)
    assert _snapshot(path) == before


def test_garbage_directory_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "garbage"
    path.mkdir()
    (path / "CURRENT").write_bytes(os.urandom(64))
    (path / "notes.txt").write_text("my files")
    before = _snapshot(path)
    for create in (False, True):
        with pytest.raises(StorageError, match="not a Plume database"):
            open_database(path, create=create)
    assert _snapshot(path) == before


def test_plain_file_and_missing_dir_refused(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(StorageError, match="not a directory"):
        open_database(f, create=True)
    with pytest.raises(StorageError, match="plume-node init"):
        open_database(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()


def test_meta_schema_and_chain_identity(tmp_path: Path) -> None:
    path = tmp_path / "db"
    db = open_database(path, create=True)
    assert db.schema_version() == SCHEMA_VERSION
    assert db.chain_identity() is None
    db.check_chain_identity(5, b"\x01" * 32)  # no chain yet: passes
    LevelDB.write_chain_identity(db, 5, b"\x01" * 32)
    db.close()
    db = open_database(path)
    try:
        assert db.chain_identity() == (5, b"\x01" * 32)
        db.check_chain_identity(5, b"\x01" * 32)
        with pytest.raises(StorageError, match="belongs to chain id 5"):
            db.check_chain_identity(6, b"\x01" * 32)
        with pytest.raises(StorageError, match="genesis"):
            db.check_chain_identity(5, b"\x02" * 32)
    finally:
        db.close()


def test_other_schema_version_refused(tmp_path: Path) -> None:
    path = tmp_path / "db"
    db = open_database(path, create=True)
    db.meta[b"schema_version"] = (SCHEMA_VERSION + 1).to_bytes(4, "big")
    db.close()
    with pytest.raises(StorageError, match="schema version"):
        open_database(path)


def test_second_open_is_refused_while_in_use(db: LevelDB) -> None:
    assert db.path is not None
    with pytest.raises(StorageError, match="stop it first"):
        open_database(db.path)


def test_values_must_be_bytes(db: LevelDB) -> None:
    with pytest.raises(TypeError):
        db[b"k"] = "text"  # type: ignore[assignment]
    with pytest.raises(TypeError):
        db["k"] = b"v"  # type: ignore[index]


def test_empty_existing_dir_is_created_in_place(tmp_path: Path) -> None:
    d = tmp_path / "empty"
    d.mkdir()
    db = open_database(d, create=True)
    db.close()
    assert (d / "PLUME_DB").is_file() and (d / "CURRENT").is_file()
    open_database(d).close()


def test_nested_batch_discarded_alone(db: LevelDB) -> None:
    with db.atomic_batch() as outer:
        outer[b"keep"] = b"1"
        with pytest.raises(Boom):
            with outer.atomic_batch() as inner:
                inner[b"drop"] = b"2"
                del inner[b"keep"]
                assert not inner.exists(b"keep")
                raise Boom()
        assert outer[b"keep"] == b"1" and not outer.exists(b"drop")
    assert db[b"keep"] == b"1" and not db.exists(b"drop")

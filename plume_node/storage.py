"""LevelDB storage for the whole node: one plyvel database, key spaces by prefix.

This module owns the plyvel backend and the node's key layout:

* ``LevelDB``: a plyvel-backed implementation of py-evm's ``AtomicDatabaseAPI``
  (py-evm 0.12.1b1 ships none). Plain writes go straight to LevelDB (synced);
  ``atomic_batch()`` collects writes in memory and writes them as ONE plyvel
  ``WriteBatch`` with ``sync=True`` when the context exits without an
  exception. Reads inside a batch see the batch's own writes and deletes.
* ``open_database(path, create=...)``: opens (or creates) a Plume database and
  refuses anything else. A directory is a Plume database when it holds our
  marker file ``PLUME_DB`` *and* a LevelDB whose meta record carries our schema
  version. A foreign LevelDB or a directory of other files is refused without
  being opened by LevelDB at all (opening would let LevelDB rewrite its log
  and manifest), so it is left byte-for-byte untouched.
* the node's key spaces, beside execution's (``KEY_SPACES``).

The storage pieces that do not need LevelDB (``WriteBatch``, ``PrefixedDB``,
``Overlay``, ``SnapshotDB``/``snapshot_view``, execution's key spaces) live in
``execution/db.py`` so execution can use them without importing the node;
they are re-exported here under their old names.

Key spaces (``KEY_SPACES``) are fixed byte prefixes, none a prefix of another,
so keys of two spaces can never collide. See ``docs/execution.md``.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plyvel
from eth.abc import DatabaseAPI
from eth.db.backends.base import BaseAtomicDB

from execution import db as execdb
from execution.errors import truncate
from execution.db import (
    META_CHAIN_ID,
    META_GENESIS_HASH,
    META_SCHEMA_VERSION,
    PREFIX_CHAIN,
    PREFIX_EXEC,
    PREFIX_META,
    Overlay,
    PrefixedDB,
    PrefixMixin,
    ReadOnlyError,
    SnapshotDB,
    WriteBatch,
    check_key,
    check_value,
    snapshot_view,
)
from plume_node.errors import UserError

SCHEMA_VERSION = 1
MARKER_FILE = "PLUME_DB"
MARKER_CONTENT = b"plume-node leveldb\n"

# Key spaces. Fixed, short, and prefix-free (checked below) so that no key of one
# space can ever equal a key of another.
# meta (m/), chain (e/) and exec (x/) are execution's: see execution/db.py.
PREFIX_CERT = b"c/"  # commit certificates (node)
PREFIX_SIGNER = b"s/"  # double-sign guard state (node)
PREFIX_CONSENSUS = b"w/"  # consensus WAL (node)
PREFIX_PEERS = b"p/"  # known peers (node)
PREFIX_NODE = b"n/"  # anything else the node keeps
_DURABLE_RUN_KEY = PREFIX_NODE + b"durable-run"  # the synced write that ends a `durable_run`

KEY_SPACES: dict[str, bytes] = {
    "meta": PREFIX_META,
    "chain": PREFIX_CHAIN,
    "exec": PREFIX_EXEC,
    "cert": PREFIX_CERT,
    "signer": PREFIX_SIGNER,
    "consensus": PREFIX_CONSENSUS,
    "peers": PREFIX_PEERS,
    "node": PREFIX_NODE,
}


def _check_prefix_free(spaces: dict[str, bytes]) -> None:
    items = list(spaces.items())
    for i, (name_a, a) in enumerate(items):
        for name_b, b in items[i + 1 :]:
            if a.startswith(b) or b.startswith(a):
                raise AssertionError(f"key spaces {name_a} and {name_b} overlap")


_check_prefix_free(KEY_SPACES)


class StorageError(UserError, execdb.StorageError):
    """The database cannot be used as asked; the message says what to do.

    A ``UserError`` (the CLI prints it as one line) and an
    ``execution.db.StorageError`` (catching that one catches both).
    """


class StorageWriteError(StorageError):
    """A write to LevelDB failed (disk full, I/O error). The node must stop:
    nothing it promised can be made durable any more. What was committed
    before stays committed (every height is one synced batch)."""




@contextmanager
def _failing_writes_stop(path: Path | None) -> Iterator[None]:
    """Turn LevelDB's and the OS's write failures into one StorageWriteError."""
    try:
        yield
    except (plyvel.IOError, OSError) as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        reason = truncate(str(reason))
        where = f"the database at {path}" if path is not None else "the database"
        raise StorageWriteError(
            f"cannot write to {where}: {reason}. Free space on that disk (or fix it) and start "
            "the node again: every committed height is intact."
        ) from None


_open_dbs: dict[int, weakref.ref[LevelDB]] = {}


@atexit.register
def _close_all() -> None:
    for ref in list(_open_dbs.values()):
        db = ref()
        if db is not None:
            db.close()


class _ClosedHandle:
    """Stands in for the plyvel handle after ``close()``: every use says so."""

    closed = True

    def __getattr__(self, name: str) -> Any:
        raise StorageError("the database is closed; open it again with open_database()")


_CLOSED = _ClosedHandle()


class LevelDB(PrefixMixin, BaseAtomicDB):
    """py-evm ``AtomicDatabaseAPI`` over a plyvel database.

    Plain ``set``/``delete`` are written immediately with ``sync=True``: a write
    that returned is durable. Bulk work should go through ``atomic_batch()``.
    """

    def __init__(self, db: plyvel.DB, path: Path | None = None) -> None:
        self._db = db
        self.path = path
        # Per thread: a run of batches written by one thread (block sync) never
        # makes another thread's batches unsynced.
        self._run = threading.local()
        _open_dbs[id(self)] = weakref.ref(self)

    # -- DatabaseAPI --------------------------------------------------------
    def __getitem__(self, key: bytes) -> bytes:
        value = self._db.get(check_key(key))
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: bytes, default: Any = None) -> Any:  # type: ignore[override]
        value = self._db.get(check_key(key))
        return default if value is None else value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        with _failing_writes_stop(self.path):
            self._db.put(check_key(key), check_value(value), sync=True)

    def __delitem__(self, key: bytes) -> None:
        # MemoryDB raises KeyError for a missing key; LevelDB would not, so check.
        if self._db.get(check_key(key)) is None:
            raise KeyError(key)
        with _failing_writes_stop(self.path):
            self._db.delete(key, sync=True)

    def _exists(self, key: bytes) -> bool:
        return self._db.get(check_key(key)) is not None

    # -- batches ------------------------------------------------------------
    @contextmanager
    def atomic_batch(self) -> Iterator[WriteBatch]:
        """Yield a batch; on clean exit its writes go to LevelDB as one synced WriteBatch."""
        batch = WriteBatch(self)
        try:
            yield batch
        except BaseException:
            batch.take_pending()
            raise
        else:
            self.apply_pending(batch.take_pending())

    def apply_pending(self, pending: dict[bytes, bytes | None]) -> None:
        """Write a closed batch's writes as one LevelDB WriteBatch: synced,
        unless this thread is inside a ``durable_run()`` (which syncs at its end)."""
        if not pending:
            return
        sync = not getattr(self._run, "active", False)
        with _failing_writes_stop(self.path), self._db.write_batch(sync=sync) as wb:
            for key, value in pending.items():
                if value is None:
                    wb.delete(key)
                else:
                    wb.put(key, value)

    @contextmanager
    def durable_run(self) -> Iterator[None]:
        """Write this thread's batches unsynced until the run ends, then make
        them all durable with one synced write.

        LevelDB appends every write to one sequential log, so the synced write
        at the end makes every earlier one durable too, and a crash in the
        middle of the run loses a suffix of whole batches (each is atomic),
        never a batch in the middle. Callers announce what the run wrote only
        after it ends. Nested runs join the outer one.
        """
        if getattr(self._run, "active", False):
            yield
            return
        self._run.active = True
        try:
            yield
        finally:
            self._run.active = False
            with _failing_writes_stop(self.path), self._db.write_batch(sync=True) as wb:
                wb.put(_DURABLE_RUN_KEY, b"")  # any synced write flushes the log; this one is ours

    # -- extras -------------------------------------------------------------
    def snapshot(self) -> SnapshotDB:
        """A read-only view of the database as it is now; later writes are not seen."""
        return SnapshotDB(self._db.snapshot())

    def iterate_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Committed (key without prefix, value) pairs under ``prefix``, in key order."""
        n = len(prefix)
        for key, value in self._db.iterator(prefix=prefix):
            yield key[n:], value

    def close(self) -> None:
        """Close LevelDB and drop the handle now.

        plyvel's DB object reports an error if it is only freed during interpreter
        teardown, so the handle is released here (and at exit, see ``_close_all``).
        """
        db = self._db
        if db is _CLOSED:
            return
        self._db = _CLOSED  # type: ignore[assignment]
        _open_dbs.pop(id(self), None)
        if not db.closed:
            db.close()
        del db

    @property
    def closed(self) -> bool:
        return self._db is _CLOSED

    # -- meta ---------------------------------------------------------------
    @property
    def meta(self) -> PrefixedDB:
        return self.prefixed(PREFIX_META)

    def schema_version(self) -> int | None:
        raw = self.meta.get(META_SCHEMA_VERSION)
        return None if raw is None else int.from_bytes(raw, "big")

    def chain_identity(self) -> tuple[int, bytes] | None:
        """(chain id, genesis hash) recorded at genesis, or None before genesis."""
        chain_id = self.meta.get(META_CHAIN_ID)
        genesis = self.meta.get(META_GENESIS_HASH)
        if chain_id is None or genesis is None:
            return None
        return int.from_bytes(chain_id, "big"), genesis

    @staticmethod
    def write_chain_identity(target: DatabaseAPI, chain_id: int, genesis_hash: bytes) -> None:
        """Record (chain id, genesis hash) into ``target`` (the root db or a root batch)."""
        meta = PrefixedDB(target, PREFIX_META)
        meta[META_CHAIN_ID] = chain_id.to_bytes(32, "big")
        meta[META_GENESIS_HASH] = genesis_hash

    def check_chain_identity(self, chain_id: int, genesis_hash: bytes) -> None:
        """Raise ``StorageError`` unless this database belongs to (chain_id, genesis_hash).

        A database that has no chain yet passes (genesis will be written into it).
        """
        found = self.chain_identity()
        if found is None:
            return
        found_id, found_hash = found
        if found_id != chain_id or found_hash != genesis_hash:
            raise StorageError(
                f"database at {self.path} belongs to chain id {found_id} with genesis "
                f"0x{found_hash.hex()}, but the configured genesis is chain id {chain_id} "
                f"with genesis 0x{genesis_hash.hex()}; point the node at the right data "
                "directory, or remove this one to start the new chain from scratch"
            )


@dataclass(frozen=True)
class DatabaseInfo:
    path: Path
    schema_version: int
    chain_id: int | None
    genesis_hash: bytes | None


def _dir_snapshot_is_leveldb(path: Path) -> bool:
    return (path / "CURRENT").is_file()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_marker(path: Path) -> None:
    tmp = path / (MARKER_FILE + ".tmp")
    with open(tmp, "wb") as f:
        f.write(MARKER_CONTENT)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path / MARKER_FILE)
    _fsync_dir(path)


def _open_plyvel(path: Path, create: bool) -> plyvel.DB:
    try:
        return plyvel.DB(str(path), create_if_missing=create)
    except plyvel.IOError as exc:
        raise StorageError(
            f"cannot open the database at {path}: {exc}. If another plume-node process "
            "is using this data directory, stop it first"
        ) from exc
    except plyvel.Error as exc:
        raise StorageError(
            f"the database at {path} is damaged ({exc}); restore it from a backup or "
            "remove the directory and resync"
        ) from exc


def open_database(path: str | os.PathLike[str], *, create: bool = False) -> LevelDB:
    """Open the Plume database at ``path``; with ``create=True`` create it if absent.

    Refuses (``StorageError``), without modifying anything, a directory that
    holds anything other than a Plume database: a foreign LevelDB, other files,
    or a Plume database of another schema version.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise StorageError(f"{p} exists and is not a directory; choose another data directory")

    if not p.exists() or (p.is_dir() and not any(p.iterdir())):
        if not create:
            raise StorageError(
                f"no Plume database at {p}; initialise the node first (`plume-node init`)"
            )
        p.mkdir(parents=True, exist_ok=True)
        # Marker first: a crash after it but before the meta record leaves a
        # directory we recognise as an unfinished init and complete below.
        _write_marker(p)
        raw = _open_plyvel(p, create=True)
        db = LevelDB(raw, p)
        db.meta[META_SCHEMA_VERSION] = SCHEMA_VERSION.to_bytes(4, "big")
        return db

    marker = p / MARKER_FILE
    if not marker.is_file() or marker.read_bytes() != MARKER_CONTENT:
        what = "a LevelDB of another program" if _dir_snapshot_is_leveldb(p) else "other files"
        raise StorageError(
            f"{p} is not a Plume database (it holds {what}); refusing to open or modify it. "
            "Choose an empty or new data directory"
        )
    if not _dir_snapshot_is_leveldb(p):
        if not create:
            raise StorageError(
                f"{p} holds a Plume marker but no database (an interrupted init); "
                "run `plume-node init` again or remove the directory"
            )
    raw = _open_plyvel(p, create=create)
    db = LevelDB(raw, p)
    version = db.schema_version()
    if version is None:
        if create and db.chain_identity() is None:
            # interrupted init: marker written, meta not yet
            db.meta[META_SCHEMA_VERSION] = SCHEMA_VERSION.to_bytes(4, "big")
            return db
        db.close()
        raise StorageError(
            f"{p} has a Plume marker but no schema record; the database is damaged. "
            "Restore it from a backup or remove the directory and resync"
        )
    if version != SCHEMA_VERSION:
        db.close()
        raise StorageError(
            f"{p} uses storage schema version {version}, this node understands "
            f"{SCHEMA_VERSION}; use a matching plume-node release or resync into a new directory"
        )
    return db


def database_info(db: LevelDB) -> DatabaseInfo:
    ident = db.chain_identity()
    return DatabaseInfo(
        path=db.path or Path("."),
        schema_version=db.schema_version() or 0,
        chain_id=None if ident is None else ident[0],
        genesis_hash=None if ident is None else ident[1],
    )


__all__ = [
    "KEY_SPACES",
    "PREFIX_CERT",
    "PREFIX_CHAIN",
    "PREFIX_CONSENSUS",
    "PREFIX_EXEC",
    "PREFIX_META",
    "PREFIX_NODE",
    "PREFIX_PEERS",
    "PREFIX_SIGNER",
    "SCHEMA_VERSION",
    "DatabaseInfo",
    "LevelDB",
    "Overlay",
    "PrefixedDB",
    "ReadOnlyError",
    "SnapshotDB",
    "StorageError",
    "WriteBatch",
    "database_info",
    "open_database",
    "snapshot_view",
]

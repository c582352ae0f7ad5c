"""Storage pieces execution needs, over any py-evm database: no LevelDB here.

This module owns:

* ``WriteBatch``: pending writes over a parent database, with
  read-your-writes. A backend's ``atomic_batch()`` yields one (the LevelDB
  backend, ``plume_node/storage.py``, does); batches nest: a batch's
  ``atomic_batch()`` yields a child whose writes fold into the parent on
  success (and are dropped on an exception), so py-evm code that opens its own
  ``atomic_batch()`` on a view of our batch still lands in one root batch.
* ``PrefixedDB``: a view of any database under a key prefix. One root batch
  with prefixed views over it is how the node writes py-evm's chain and state
  data and its own records in the same batch.
* ``Overlay``: an in-memory, never-committing layer of writes over a read-only
  base. The execution cache keeps a built/validated block's state writes in
  one of these until ``commit`` flushes them into the commit batch.
* ``SnapshotDB`` / ``snapshot_view(db)``: a read-only, point-in-time view of a
  backend that can take snapshots (the LevelDB backend can), which another
  thread may read while the node keeps committing.
* Execution's key spaces (``PREFIX_CHAIN``, ``PREFIX_EXEC``, ``PREFIX_META``
  and the meta keys it writes at genesis) and the sidecar key. The node's own
  key spaces live in ``plume_node/storage.py``, which checks that all of them
  together are prefix-free.

The batch protocol between a batch and its parent is two public methods:
``take_pending()`` (close a batch, hand over its writes) and
``apply_pending(writes)`` (a parent absorbs a child's writes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eth.abc import AtomicWriteBatchAPI, DatabaseAPI
from eth.db.backends.base import BaseAtomicDB, BaseDB

# Execution's key spaces (see docs/execution.md). The node adds its own in
# plume_node/storage.py; together they must stay prefix-free.
PREFIX_META = b"m/"  # schema version, chain id, genesis hash
PREFIX_CHAIN = b"e/"  # py-evm: headers, bodies, tx/receipt tries, state trie, indexes
PREFIX_EXEC = b"x/"  # execution's own records: sidecars by block hash

META_SCHEMA_VERSION = b"schema_version"
META_CHAIN_ID = b"chain_id"
META_GENESIS_HASH = b"genesis_hash"

SIDECAR_KEY = b"sidecar/"  # under PREFIX_EXEC: sidecar/<block hash> -> encoded sidecar

Pending = dict[bytes, bytes | None]  # key -> value, None marks a delete


def sidecar_key(block_hash: bytes) -> bytes:
    return SIDECAR_KEY + block_hash


class StorageError(Exception):
    """The database cannot be used as asked; the message says what to do."""


class ReadOnlyError(StorageError):
    """A write to a snapshot."""


def check_key(key: Any) -> bytes:
    """``key`` as bytes; a TypeError for anything else."""
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError(f"keys must be bytes, got {type(key).__name__}")
    return bytes(key)


def check_value(value: Any) -> bytes:
    """``value`` as bytes; a TypeError for anything else."""
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError(f"values must be bytes, got {type(value).__name__}")
    return bytes(value)


def readable(db: Any, key: bytes) -> bool:
    """Whether ``db[key]`` answers (a batch or overlay that records deletions as None
    raises KeyError for them, so membership is the read itself)."""
    try:
        db[key]
    except KeyError:
        return False
    return True


class PrefixMixin:
    def prefixed(self, prefix: bytes) -> PrefixedDB:
        """A view of this database whose keys all live under ``prefix``."""
        return PrefixedDB(self, prefix)  # type: ignore[arg-type]


class WriteBatch(PrefixMixin, BaseDB, AtomicWriteBatchAPI):
    """Pending writes over a parent database, with read-your-writes (deletes too).

    Yielded by ``atomic_batch()``; unusable once its context has exited.
    """

    def __init__(self, parent: DatabaseAPI) -> None:
        self._parent: DatabaseAPI | None = parent
        self._pending: Pending | None = {}

    def _live(self) -> Pending:
        if self._pending is None:
            raise StorageError("this write batch is closed: use it only inside its `with` block")
        return self._pending

    def take_pending(self) -> Pending:
        """Close the batch and hand over its writes (value None = delete)."""
        pending = self._live()
        self._pending = None
        self._parent = None
        return pending

    def __getitem__(self, key: bytes) -> bytes:
        pending = self._live()
        key = check_key(key)
        if key in pending:
            value = pending[key]
            if value is None:
                raise KeyError(key)
            return value
        assert self._parent is not None
        return self._parent[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._live()[check_key(key)] = check_value(value)

    def __delitem__(self, key: bytes) -> None:
        if not self._exists(key):
            raise KeyError(key)
        self._live()[bytes(key)] = None

    def _exists(self, key: bytes) -> bool:
        return readable(self, key)

    def apply_pending(self, pending: Pending) -> None:
        """Absorb a child batch's writes."""
        self._live().update(pending)

    def atomic_batch(self) -> Any:
        """A nested batch: folds into this one on success, discarded on an exception."""
        self._live()
        return nested_batch(self)

    def pending_count(self) -> int:
        return len(self._live())


def fold_into(parent: DatabaseAPI, pending: Pending) -> None:
    """Write ``pending`` into ``parent``: in one go if it takes batches, else key by key."""
    apply = getattr(parent, "apply_pending", None)
    if apply is not None:
        apply(pending)
        return
    for key, value in pending.items():
        if value is None:
            parent.delete(key)
        else:
            parent[key] = value


@contextmanager
def nested_batch(parent: DatabaseAPI) -> Iterator[WriteBatch]:
    """A child batch of ``parent``: folded in on a clean exit, dropped on an exception."""
    child = WriteBatch(parent)
    try:
        yield child
    except BaseException:
        child.take_pending()
        raise
    else:
        fold_into(parent, child.take_pending())


class PrefixedDB(PrefixMixin, BaseAtomicDB):
    """A view of ``inner`` in which every key is stored as ``prefix + key``.

    Works over a backend, a ``WriteBatch``, an ``Overlay`` or another view.
    ``atomic_batch()`` opens a batch on ``inner`` and yields a view of it, so
    nested batches all end in the root's single batch.
    """

    def __init__(self, inner: DatabaseAPI, prefix: bytes) -> None:
        if not prefix:
            raise ValueError("a prefixed view needs a non-empty prefix")
        self.inner = inner
        self.prefix = bytes(prefix)

    def __getitem__(self, key: bytes) -> bytes:
        return self.inner[self.prefix + check_key(key)]

    def get(self, key: bytes, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self.inner[self.prefix + check_key(key)]
        except KeyError:
            return default

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.inner[self.prefix + check_key(key)] = value

    def __delitem__(self, key: bytes) -> None:
        del self.inner[self.prefix + check_key(key)]

    def _exists(self, key: bytes) -> bool:
        return (self.prefix + check_key(key)) in self.inner

    @contextmanager
    def atomic_batch(self) -> Iterator[PrefixedDB]:  # type: ignore[override]
        opener = getattr(self.inner, "atomic_batch", None)
        if opener is not None:
            with opener() as batch:
                yield PrefixedDB(batch, self.prefix)
            return
        # `inner` is a batch that cannot nest (e.g. py-evm's AtomicDBWriteBatch):
        # stage in a child batch and fold it in on success.
        with nested_batch(self.inner) as child:
            yield PrefixedDB(child, self.prefix)

    def iterate(self) -> Iterator[tuple[bytes, bytes]]:
        """Committed (key, value) pairs of this view (needs a backend that iterates)."""
        inner, prefix = unwrap_prefixes(self)
        iterate_prefix = getattr(inner, "iterate_prefix", None)
        if iterate_prefix is None:
            raise StorageError("iterate() needs a view over the LevelDB itself, not a batch")
        return iterate_prefix(prefix)


def unwrap_prefixes(db: DatabaseAPI) -> tuple[DatabaseAPI, bytes]:
    """(the database under every ``PrefixedDB`` layer of ``db``, their joined prefix)."""
    prefix = b""
    inner: Any = db
    while isinstance(inner, PrefixedDB):
        prefix = inner.prefix + prefix
        inner = inner.inner
    return inner, prefix


class Overlay(PrefixMixin, BaseAtomicDB):
    """In-memory writes over a base that is only ever read.

    Unlike a ``WriteBatch`` it never writes through: ``pending()`` hands the
    writes to whoever persists them (the execution cache, at commit). Its
    ``atomic_batch()`` nests like a ``WriteBatch`` so py-evm can use it as a
    chain database.
    """

    def __init__(self, base: DatabaseAPI) -> None:
        self.base = base
        self._pending: Pending = {}

    def __getitem__(self, key: bytes) -> bytes:
        pending = self._pending
        if key in pending:
            value = pending[key]
            if value is None:
                raise KeyError(key)
            return value
        return self.base[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._pending[check_key(key)] = check_value(value)

    def __delitem__(self, key: bytes) -> None:
        if not self._exists(key):
            raise KeyError(key)
        self._pending[bytes(key)] = None

    def _exists(self, key: bytes) -> bool:
        return readable(self, key)

    def apply_pending(self, pending: Pending) -> None:
        """Absorb a child batch's writes."""
        self._pending.update(pending)

    def atomic_batch(self) -> Any:
        return nested_batch(self)

    def pending(self) -> Pending:
        """The writes so far (value None = delete). Do not mutate."""
        return self._pending

    def flush_into(self, target: DatabaseAPI) -> None:
        """Copy the pending writes into ``target`` (typically a prefixed view of a root batch)."""
        for key, value in self._pending.items():
            if value is None:
                target.delete(key)
            else:
                target[key] = value


class SnapshotDB(PrefixMixin, BaseAtomicDB):
    """A backend's point-in-time snapshot (``get``/``release``) as a read-only py-evm database.

    Reads see the database as it was when the snapshot was taken, whatever is
    committed afterwards, and may run in another thread than the writer's
    (LevelDB snapshots are thread-safe). Every write raises ``ReadOnlyError``.
    ``release()`` frees it (LevelDB keeps old values alive while it exists).
    """

    def __init__(self, snapshot: Any) -> None:
        self._snapshot = snapshot

    def __getitem__(self, key: bytes) -> bytes:
        value = self._snapshot.get(check_key(key))
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: bytes, default: Any = None) -> Any:  # type: ignore[override]
        value = self._snapshot.get(check_key(key))
        return default if value is None else value

    def _exists(self, key: bytes) -> bool:
        return self._snapshot.get(check_key(key)) is not None

    def __setitem__(self, key: bytes, value: bytes) -> None:
        raise ReadOnlyError("a database snapshot is read-only")

    def __delitem__(self, key: bytes) -> None:
        raise ReadOnlyError("a database snapshot is read-only")

    def atomic_batch(self) -> Any:
        raise ReadOnlyError("a database snapshot is read-only")

    def release(self) -> None:
        self._snapshot.release()


def snapshot_view(db: DatabaseAPI) -> tuple[SnapshotDB, DatabaseAPI]:
    """(the snapshot, a view of it shaped like ``db``) for a backend or prefixed views of one.

    The backend under the prefixes must offer ``snapshot() -> SnapshotDB``
    (the LevelDB backend does). Read through the view; ``release()`` the
    snapshot when done.
    """
    prefixes: list[bytes] = []
    inner: Any = db
    while isinstance(inner, PrefixedDB):
        prefixes.append(inner.prefix)
        inner = inner.inner
    take = getattr(inner, "snapshot", None)
    if take is None:
        raise StorageError(f"snapshots need a LevelDB underneath, not {type(inner).__name__}")
    snapshot = take()
    view: DatabaseAPI = snapshot
    for prefix in reversed(prefixes):
        view = PrefixedDB(view, prefix)
    return snapshot, view

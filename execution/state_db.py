"""The account database Plume's VM state uses: py-evm's ``AccountDB`` with per-block trie work.

Two changes, neither visible in any root or value (tests compare every block's
state root with raw py-evm's):

* **One pass per block.** py-evm squashes a block's account changes and then
  calls ``HexaryTrie.set``/``delete`` once per changed account, each walking
  and rewriting the path from the root. ``PlumeAccountDB`` hands the whole
  diff to ``execution.trie_batch.apply_batch`` instead, which rewrites every
  touched node once (see that module).
* **Storage tries likewise.** py-evm writes a contract's changed slots into
  its storage trie one ``HexaryTrie.set`` at a time when the block's state
  root is made; ``BatchedStorageLookup`` collects them and applies them with
  one ``apply_batch`` the moment anything needs that trie (a read, its root,
  its commit, a wipe or a rollback), which is exactly what py-evm would have
  seen had each write gone in at once.
* **Accounts are encoded without rlp's sedes machinery** (``encode_account``),
  byte for byte as ``rlp.encode(account, sedes=Account)``: py-evm encodes an
  account again on every balance and nonce change.
* **Decoded nodes are cached.** Reading an account walks the trie from the
  root, and py-trie reads and RLP-decodes every node on the way from the
  database, for every account read in every block. ``CachingHexaryTrie``
  takes 32-byte node references from the process's ``NODE_CACHE`` (nodes are
  content-addressed: an entry never goes stale), so the upper levels are
  decoded once per process, and the nodes a block writes are already there for
  the next block.

The tries under ``AccountDB`` and the storage lookups are only read
(``apply_batch`` does all writes), so ``CachingHexaryTrie`` refuses ``set``/``delete``: py-trie mutates decoded
nodes in place while writing, which would corrupt shared cached nodes.
"""

from __future__ import annotations

from typing import Any

from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
from eth.db.batch import BatchDB
from eth.db.cache import CacheDB
from eth.db.journal import JournalDB
from eth.db.storage import AccountStorageDB, StorageLookup
from eth_hash.auto import keccak
from trie import HexaryTrie

from execution.trie_batch import HASH_LENGTH, apply_batch, load_node
from execution.trie_codec import encode_node


def encode_account(account: Any) -> bytes:
    """``rlp.encode(account, sedes=Account)`` without the sedes machinery (py-evm encodes
    the account again on every balance or nonce change)."""
    return encode_node([
        _uint_bytes(account.nonce), _uint_bytes(account.balance), account.storage_root, account.code_hash,
    ])


def _uint_bytes(value: int) -> bytes:
    """RLP's big-endian integer: no leading zeros, zero as the empty string."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


class CachingHexaryTrie(HexaryTrie):
    """A read-only ``HexaryTrie`` whose hashed nodes come through ``NODE_CACHE``."""

    def get_node(self, node_hash: Any) -> Any:
        if type(node_hash) is bytes and len(node_hash) == HASH_LENGTH and node_hash != BLANK_ROOT_HASH:
            return load_node(self.db, node_hash)
        return super().get_node(node_hash)

    def set(self, key: bytes, value: bytes) -> None:
        raise NotImplementedError("this trie is read through a shared node cache; write with apply_batch")

    def delete(self, key: bytes) -> None:
        raise NotImplementedError("this trie is read through a shared node cache; write with apply_batch")


class BatchedStorageLookup(StorageLookup):
    """py-evm's slot -> storage-trie lookup with writes applied in one batch, reads cached."""

    def _initialize_to_root_hash(self, root_hash: bytes) -> None:
        super()._initialize_to_root_hash(root_hash)
        self._pending_slots: dict[bytes, bytes | None] = {}  # hashed slot -> value (None: delete)

    def _get_write_trie(self) -> HexaryTrie:
        if self._trie_nodes_batch is None:
            self._trie_nodes_batch = BatchDB(self._db, read_through_deletes=True)
        if self._write_trie is None:
            self._write_trie = CachingHexaryTrie(self._trie_nodes_batch, self._starting_root_hash, prune=True)
        return self._write_trie

    def _get_read_trie(self) -> HexaryTrie:
        if self._write_trie is not None:
            return self._write_trie
        return CachingHexaryTrie(self._db, root_hash=self._starting_root_hash)

    def _flush(self) -> None:
        """Apply the collected writes to the write trie (before anything looks at it)."""
        if self._pending_slots:
            trie = self._write_trie
            trie.root_hash = apply_batch(trie.db, trie.root_hash, self._pending_slots.items())
            self._pending_slots = {}

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._get_write_trie()  # the root has changed from here on (has_changed_root)
        self._pending_slots[self._decode_key(key)] = value

    def __delitem__(self, key: bytes) -> None:
        self._get_write_trie()
        self._pending_slots[self._decode_key(key)] = None

    def __getitem__(self, key: bytes) -> bytes:
        self._flush()
        return super().__getitem__(key)

    def _exists(self, key: bytes) -> bool:
        self._flush()
        return super()._exists(key)

    def get_changed_root(self) -> Any:
        self._flush()
        return super().get_changed_root()

    def commit_to(self, db: Any) -> None:
        self._flush()
        super().commit_to(db)

    def new_trie(self) -> int:
        self._flush()
        return super().new_trie()

    def rollback_trie(self, trie_index: int) -> None:
        self._flush()  # the writes belong to the trie being dropped, as in py-evm
        super().rollback_trie(trie_index)


class PlumeStorageDB(AccountStorageDB):
    """``AccountStorageDB`` over a ``BatchedStorageLookup`` (py-evm's pipeline, rebuilt on it)."""

    def __init__(self, db: Any, storage_root: bytes, address: bytes) -> None:
        super().__init__(db, storage_root, address)
        self._storage_lookup = BatchedStorageLookup(db, storage_root, address)
        self._storage_cache = CacheDB(self._storage_lookup)
        self._locked_changes = JournalDB(self._storage_cache)
        self._journal_storage = JournalDB(self._locked_changes)


class PlumeAccountDB(AccountDB):
    """``AccountDB`` whose account trie is read through the node cache and updated once per block."""

    def __init__(self, db: Any, state_root: bytes = BLANK_ROOT_HASH) -> None:
        super().__init__(db, state_root)
        # Swap the trie under py-evm's HashTrie (the account-read pipeline above
        # it, cache and journal, holds the HashTrie itself, so it follows).
        self._trie._db = CachingHexaryTrie(self._batchtrie, state_root, prune=True)

    def _get_address_store(self, address: bytes) -> Any:
        store = self._account_stores.get(address)
        if store is None:
            store = PlumeStorageDB(self._raw_store_db, self._get_storage_root(address), address)
            self._account_stores[address] = store
        return store

    def _set_account(self, address: bytes, account: Any) -> None:
        self._account_cache[address] = account
        self._journaltrie[address] = encode_account(account)

    def _apply_account_diff_without_proof(self, diff: Any, trie: Any) -> None:
        """Called by ``make_state_root`` with the squashed account diff and a scratch
        trie (``trie.db`` commits into the state's batch when the caller's block ends)."""
        changes = [(keccak(address), None) for address in diff.deleted_keys()]
        changes.extend((keccak(address), value) for address, value in diff.pending_items())
        trie.root_hash = apply_batch(trie.db, trie.root_hash, changes)

"""The account database Plume's VM state uses: py-evm's ``AccountDB`` with per-block trie work.

Two changes, neither visible in any root or value (tests compare every block's
state root with raw py-evm's):

* **One pass per block.** py-evm squashes a block's account changes and then
  calls ``HexaryTrie.set``/``delete`` once per changed account, each walking
  and rewriting the path from the root. ``PlumeAccountDB`` hands the whole
  diff to ``execution.trie_batch.apply_batch`` instead, which rewrites every
  touched node once (see that module).
* **Decoded nodes are cached.** Reading an account walks the trie from the
  root, and py-trie reads and RLP-decodes every node on the way from the
  database, for every account read in every block. ``CachingHexaryTrie``
  takes 32-byte node references from the process's ``NODE_CACHE`` (nodes are
  content-addressed: an entry never goes stale), so the upper levels are
  decoded once per process, and the nodes a block writes are already there for
  the next block.

The trie under ``AccountDB`` is only read (``apply_batch`` does all writes),
so ``CachingHexaryTrie`` refuses ``set``/``delete``: py-trie mutates decoded
nodes in place while writing, which would corrupt shared cached nodes.
"""

from __future__ import annotations

from typing import Any

from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
from eth_hash.auto import keccak
from trie import HexaryTrie

from execution.trie_batch import HASH_LENGTH, apply_batch, load_node


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


class PlumeAccountDB(AccountDB):
    """``AccountDB`` whose account trie is read through the node cache and updated once per block."""

    def __init__(self, db: Any, state_root: bytes = BLANK_ROOT_HASH) -> None:
        super().__init__(db, state_root)
        # Swap the trie under py-evm's HashTrie (the account-read pipeline above
        # it, cache and journal, holds the HashTrie itself, so it follows).
        self._trie._db = CachingHexaryTrie(self._batchtrie, state_root, prune=True)

    def _apply_account_diff_without_proof(self, diff: Any, trie: Any) -> None:
        """Called by ``make_state_root`` with the squashed account diff and a scratch
        trie (``trie.db`` commits into the state's batch when the caller's block ends)."""
        changes = [(keccak(address), None) for address in diff.deleted_keys()]
        changes.extend((keccak(address), value) for address, value in diff.pending_items())
        trie.root_hash = apply_batch(trie.db, trie.root_hash, changes)

"""The execution cache: results of ``build_block``/``validate_block`` kept by block hash.

Consensus validates a block before it commits it, usually seconds apart; the
cache holds what execution produced (the state-trie writes in an ``Overlay``,
the receipts, the tx/receipt trie nodes) so ``commit`` only writes them out and
never re-executes. Bounded (oldest entries dropped first); on commit of height
h every entry at height <= h is dropped: the committed block's own entry is
used up and its siblings (other rounds' proposals for h) can never commit.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from eth.abc import LogAPI, ReceiptAPI

from execution.block import PlumeBlock
from execution.db import Overlay

DEFAULT_CACHE_SIZE = 16  # a few rounds of proposals; each entry holds a block's trie writes


@dataclass(frozen=True)
class ExecutionResult:
    block: PlumeBlock
    receipts: tuple[ReceiptAPI, ...]
    state_writes: Overlay  # state trie nodes and code written by the block
    trie_nodes: dict[bytes, bytes]  # transaction and receipt trie nodes
    system_logs: tuple[LogAPI, ...] = ()  # the end-of-block hooks' logs (execution/system_logs.py)


class ExecutionCache:
    def __init__(self, max_entries: int = DEFAULT_CACHE_SIZE) -> None:
        if max_entries < 1:
            raise ValueError("the execution cache needs room for at least one block")
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, ExecutionResult] = OrderedDict()

    def put(self, result: ExecutionResult) -> None:
        self._entries[result.block.hash] = result
        self._entries.move_to_end(result.block.hash)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def get(self, block_hash: bytes) -> ExecutionResult | None:
        return self._entries.get(block_hash)

    def __contains__(self, block_hash: bytes) -> bool:
        return block_hash in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def prune_through(self, height: int) -> None:
        """Drop every entry at height <= ``height`` (after that height committed)."""
        for h in [h for h, r in self._entries.items() if r.block.number <= height]:
            del self._entries[h]

    def clear(self) -> None:
        self._entries.clear()

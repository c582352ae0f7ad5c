"""Gossip bookkeeping: bounded "seen" sets keyed by message hash.

Owns `LRUSet`, used twice by the service: once node-wide (have we seen this
message at all? then a copy from another peer is a duplicate and is not
delivered again) and once per peer (does this peer already have it? then we
neither echo it back nor send it twice, and the node can ask which votes a
peer may still be missing). Both are bounded so a flood cannot grow memory.
"""

from __future__ import annotations

from collections import OrderedDict


class LRUSet:
    """A set of at most `capacity` keys; adding beyond it evicts the least
    recently added or touched key."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._items: OrderedDict[bytes, None] = OrderedDict()

    def add(self, key: bytes) -> bool:
        """Insert `key`; return True if it was new, False if already present."""
        if key in self._items:
            self._items.move_to_end(key)
            return False
        self._items[key] = None
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return True

    def discard(self, key: bytes) -> None:
        self._items.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

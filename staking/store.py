"""The staking contract's storage: named slots, gas priced like SLOAD/SSTORE, lists and queues.

Every value lives in a 32-byte slot of the contract's own EVM storage, so it
is inside the state root and py-evm's snapshots revert it with the call
frame. A slot's number is ``keccak256(name || key1 || key2 ...)`` (each key
left-padded to 32 bytes), like a Solidity mapping: ``slot("validator.tokens",
operator)``. docs/staking.md lists every name.

In a call, ``Store`` charges gas BEFORE each access (``SLOAD_GAS`` per read;
``SSTORE_SET_GAS`` to make a zero slot non-zero, ``SSTORE_RESET_GAS`` for any
other write; no refunds). The end-of-block rules use the same code with no
meter: nobody pays for the protocol's own work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any, Protocol

from eth_hash.auto import keccak

SLOAD_GAS = 2_100  # a cold SLOAD (EIP-2929)
SSTORE_SET_GAS = 22_100  # zero to non-zero, cold (EIP-2929 + EIP-2200)
SSTORE_RESET_GAS = 5_000  # any other write, cold
UINT256_MAX = 2**256 - 1
# Slot numbers remembered (a pure function of the name and keys): every
# transaction looks up the same few permission slots, one keccak each otherwise.
SLOT_CACHE_ENTRIES = 4_096

Key = int | bytes | str


class StateLike(Protocol):
    def get_storage(self, address: bytes, slot: int) -> int: ...
    def set_storage(self, address: bytes, slot: int, value: int) -> None: ...


def _key_bytes(key: Key) -> bytes:
    if isinstance(key, bytes):
        return key.rjust(32, b"\x00")
    if isinstance(key, str):
        return keccak(key.encode())
    return key.to_bytes(32, "big")


@lru_cache(maxsize=SLOT_CACHE_ENTRIES)
def slot(name: str, *keys: Key) -> int:
    """The slot of ``name`` at ``keys`` (a mapping entry, or a plain variable with no keys)."""
    return int.from_bytes(keccak(name.encode() + b"".join(map(_key_bytes, keys))), "big")


class Store:
    """One contract's storage, gas-metered when ``charge`` is given (a call), free otherwise."""

    def __init__(self, state: Any, address: bytes, charge: Callable[[int, str], None] | None = None):
        self.state = state
        self.address = address
        self._charge = charge

    def get(self, name: str, *keys: Key) -> int:
        if self._charge is not None:
            self._charge(SLOAD_GAS, f"staking read {name}")
        return self.state.get_storage(self.address, slot(name, *keys))

    def set(self, name: str, *keys_and_value: Any) -> None:
        *keys, value = keys_and_value
        if not 0 <= value <= UINT256_MAX:
            raise OverflowError(f"{name}: {value} does not fit in a slot")
        number = slot(name, *keys)
        if self._charge is not None:
            old = self.state.get_storage(self.address, number)
            cost = SSTORE_SET_GAS if old == 0 and value != 0 else SSTORE_RESET_GAS
            self._charge(cost, f"staking write {name}")
        self.state.set_storage(self.address, number, value)

    def add(self, name: str, *keys_and_delta: Any) -> int:
        """``name[keys] += delta`` (delta may be negative); returns the new value."""
        *keys, delta = keys_and_delta
        value = self.get(name, *keys) + delta
        if value < 0:
            raise AssertionError(f"{name} would go negative")  # a bug: rules check first
        self.set(name, *keys, value)
        return value

    # -- addresses and strings -----------------------------------------------

    def get_address(self, name: str, *keys: Key) -> bytes:
        return self.get(name, *keys).to_bytes(32, "big")[12:]

    def set_address(self, name: str, *keys_and_address: Any) -> None:
        *keys, address = keys_and_address
        self.set(name, *keys, int.from_bytes(address, "big"))

    def get_string(self, name: str, *keys: Key) -> str:
        """A string: its length at ``name``, its bytes in 32-byte chunks at ``name.chunk[i]``."""
        length = self.get(name, *keys)
        raw = b"".join(self.get(name + ".chunk", *keys, i).to_bytes(32, "big") for i in range(-(-length // 32)))
        return raw[:length].decode("utf-8", "replace")

    def set_string(self, name: str, *keys_and_text: Any) -> None:
        *keys, text = keys_and_text
        raw = text.encode()
        old_chunks = -(-self.get(name, *keys) // 32)
        chunks = [raw[i : i + 32].ljust(32, b"\x00") for i in range(0, len(raw), 32)]
        self.set(name, *keys, len(raw))
        for i in range(max(old_chunks, len(chunks))):
            value = int.from_bytes(chunks[i], "big") if i < len(chunks) else 0
            self.set(name + ".chunk", *keys, i, value)


class IdList:
    """An unordered list of non-zero ints under ``name`` at ``keys``: count, items, swap-remove.

    ``name.count`` holds the length and ``name.at[i]`` the items. Removal
    finds the item by scanning, so a list is only used where its length is
    bounded (``max_entries``, the per-delegator limits).
    """

    def __init__(self, store: Store, name: str, *keys: Key):
        self.store, self.name, self.keys = store, name, keys

    def __len__(self) -> int:
        return self.store.get(self.name + ".count", *self.keys)

    def at(self, index: int) -> int:
        return self.store.get(self.name + ".at", *self.keys, index)

    def items(self, offset: int = 0, limit: int | None = None) -> Iterator[int]:
        count = len(self)
        end = count if limit is None else min(count, offset + limit)
        for i in range(offset, end):
            yield self.at(i)

    def append(self, item: int) -> None:
        count = len(self)
        self.store.set(self.name + ".at", *self.keys, count, item)
        self.store.set(self.name + ".count", *self.keys, count + 1)

    def remove(self, item: int) -> bool:
        count = len(self)
        for i in range(count):
            if self.at(i) == item:
                last = self.at(count - 1)
                self.store.set(self.name + ".at", *self.keys, i, last)
                self.store.set(self.name + ".at", *self.keys, count - 1, 0)
                self.store.set(self.name + ".count", *self.keys, count - 1)
                return True
        return False


class Fifo:
    """A first-in first-out queue of ints: ``name.head``, ``name.tail``, ``name.at[i]`` (each at ``keys``)."""

    def __init__(self, store: Store, name: str, *keys: Key):
        self.store, self.name, self.keys = store, name, keys

    def push(self, item: int) -> None:
        tail = self.store.get(self.name + ".tail", *self.keys)
        self.store.set(self.name + ".at", *self.keys, tail, item)
        self.store.set(self.name + ".tail", *self.keys, tail + 1)

    def peek(self) -> int | None:
        head, tail = self.store.get(self.name + ".head", *self.keys), self.store.get(self.name + ".tail", *self.keys)
        return None if head == tail else self.store.get(self.name + ".at", *self.keys, head)

    def pop(self) -> None:
        head = self.store.get(self.name + ".head", *self.keys)
        self.store.set(self.name + ".at", *self.keys, head, 0)
        self.store.set(self.name + ".head", *self.keys, head + 1)

    def newest_first(self, limit: int) -> Iterator[int]:
        """The last ``limit`` items (at most), newest first."""
        head, tail = self.store.get(self.name + ".head", *self.keys), self.store.get(self.name + ".tail", *self.keys)
        for position in range(tail - 1, max(head, tail - limit) - 1, -1):
            yield self.store.get(self.name + ".at", *self.keys, position)

"""EIP-1186 proofs: an account and some of its storage slots, proven against a block's state root.

py-evm keeps the state in a secure hexary trie (keys are ``keccak(address)``,
values the RLP of ``[nonce, balance, storage_root, code_hash]``), and each
account's storage in another (keys ``keccak(slot as 32 bytes)``, values the
RLP of the integer). ``trie.HexaryTrie.get_proof`` walks a trie to a key and
returns the nodes on the way; a proof is those nodes RLP-encoded, as
``eth_getProof`` returns them, and anyone holding the state root can check
it with no other data (``HexaryTrie.get_from_proof``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import rlp
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.rlp.accounts import Account
from eth_hash.auto import keccak
from trie import HexaryTrie

MAX_PROOF_SLOTS = 256  # storage keys one request may ask proofs for


@dataclass(frozen=True)
class StorageProof:
    slot: int
    value: int
    proof: tuple[bytes, ...]  # RLP-encoded trie nodes, root first


@dataclass(frozen=True)
class AccountProof:
    address: bytes
    nonce: int
    balance: int
    storage_root: bytes
    code_hash: bytes
    proof: tuple[bytes, ...]
    storage: tuple[StorageProof, ...]


def _encoded(nodes: Sequence) -> tuple[bytes, ...]:
    return tuple(rlp.encode(node) for node in nodes)


def storage_proof(db, storage_root: bytes, slot: int) -> StorageProof:
    storage = HexaryTrie(db, storage_root)
    key = keccak(slot.to_bytes(32, "big"))
    raw = storage.get(key)
    value = rlp.decode(raw, sedes=rlp.sedes.big_endian_int) if raw else 0
    return StorageProof(slot, value, _encoded(storage.get_proof(key)))


def account_proof(db, state_root: bytes, address: bytes, slots: Sequence[int]) -> AccountProof:
    """The proof of ``address`` (present or absent) and of each of ``slots`` at ``state_root``."""
    if len(slots) > MAX_PROOF_SLOTS:
        raise ValueError(f"at most {MAX_PROOF_SLOTS} storage keys per proof, got {len(slots)}")
    state = HexaryTrie(db, state_root)
    key = keccak(address)
    raw = state.get(key)
    account = rlp.decode(raw, sedes=Account) if raw else Account(0, 0, BLANK_ROOT_HASH, EMPTY_SHA3)
    return AccountProof(
        address=address,
        nonce=account.nonce,
        balance=account.balance,
        storage_root=account.storage_root,
        code_hash=account.code_hash,
        proof=_encoded(state.get_proof(key)),
        storage=tuple(storage_proof(db, account.storage_root, slot) for slot in slots),
    )

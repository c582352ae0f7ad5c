"""The simulator's application: tiny blocks whose validity anyone can check.

A block is ``b"block:<height>:<proposer>:<round>:<nonce>"`` and its hash is
SHA-256 of those bytes. Validation checks the hash, the prefix and the height,
so a block from the ``invalid-proposal`` behaviour (``b"invalid:..."``), a
block for another height, or a payload that does not hash to the proposed hash
all fail. `is_valid_block` is a pure function: the invariant checker uses the
same rule to prove that only valid blocks were committed.
"""

from __future__ import annotations

import hashlib

from consensus.actions import BlockVerdict


def block_hash(block: bytes) -> bytes:
    return hashlib.sha256(block).digest()


def make_block(height: int, proposer: str, round_: int, nonce: str = "0") -> bytes:
    return f"block:{height}:{proposer}:{round_}:{nonce}".encode()


def make_invalid_block(height: int, proposer: str, round_: int) -> bytes:
    return f"invalid:{height}:{proposer}:{round_}".encode()


def make_junk_payload(height: int, round_: int, nonce: int) -> bytes:
    """Bytes an outsider pairs with a genuine proposal (the ``poisoned`` fault):
    they hash to nothing anyone proposed."""
    return f"junk:{height}:{round_}:{nonce}".encode()


def validation_error(height: int, expected_hash: bytes, block: bytes) -> str:
    """Empty string if `block` is a valid block for `height` hashing to `expected_hash`."""
    if block_hash(block) != expected_hash:
        return "block does not hash to the proposed block hash"
    parts = block.split(b":")
    if len(parts) != 5 or parts[0] != b"block":
        return "not a well-formed block"
    if parts[1] != str(height).encode():
        return f"block is for height {parts[1].decode(errors='replace')}, not {height}"
    return ""


def verdict_of(height: int, expected_hash: bytes, block: bytes) -> tuple[BlockVerdict, str]:
    """The typed answer a driver gives the engine: bytes that do not hash to
    the proposed hash are not that block (PAYLOAD_MISMATCH), anything else
    wrong is a verdict on the block (INVALID)."""
    if block_hash(block) != expected_hash:
        return BlockVerdict.PAYLOAD_MISMATCH, "block does not hash to the proposed block hash"
    reason = validation_error(height, expected_hash, block)
    return (BlockVerdict.INVALID, reason) if reason else (BlockVerdict.VALID, "")


def is_valid_block(height: int, expected_hash: bytes, block: bytes) -> bool:
    return validation_error(height, expected_hash, block) == ""

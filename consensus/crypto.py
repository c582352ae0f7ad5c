"""Ed25519 keys and validator addresses (via `cryptography`).

An address is the first 20 bytes of SHA-256 of the 32-byte raw public key, so
an address pins its public key forever: the engine may check a signature for
an address it saw in any validator set.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

ADDRESS_SIZE = 20
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
SEED_SIZE = 32


def address_of(pub_key: bytes) -> bytes:
    """The 20-byte validator address of a 32-byte raw Ed25519 public key."""
    if len(pub_key) != PUBLIC_KEY_SIZE:
        raise ValueError(f"public key must be {PUBLIC_KEY_SIZE} bytes, got {len(pub_key)}")
    return hashlib.sha256(pub_key).digest()[:ADDRESS_SIZE]


@dataclass(frozen=True)
class PublicKey:
    """A raw 32-byte Ed25519 public key that can verify signatures."""

    raw: bytes
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.raw) != PUBLIC_KEY_SIZE:
            raise ValueError(f"public key must be {PUBLIC_KEY_SIZE} bytes")
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.raw))

    @property
    def address(self) -> bytes:
        return address_of(self.raw)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True iff `signature` is a valid Ed25519 signature of `message`."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@functools.lru_cache(maxsize=4096)
def _public_key(raw: bytes) -> PublicKey:
    # Validators sign many messages: parse each key once, not per signature.
    return PublicKey(raw)


def verify(pub_key: bytes, signature: bytes, message: bytes) -> bool:
    """Verify with a raw public key; False (never an exception) for bad input."""
    try:
        key = _public_key(bytes(pub_key))
    except ValueError:
        return False
    return key.verify(signature, message)


class PrivateKey:
    """An Ed25519 signing key, built from a 32-byte seed or generated."""

    __slots__ = ("_key", "public_key")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = PublicKey(raw)

    @classmethod
    def generate(cls) -> "PrivateKey":
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> "PrivateKey":
        if len(seed) != SEED_SIZE:
            raise ValueError(f"seed must be {SEED_SIZE} bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def seed(self) -> bytes:
        return self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    @property
    def address(self) -> bytes:
        return self.public_key.address

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def __repr__(self) -> str:  # never print key material
        return f"PrivateKey(address={self.address.hex()})"

"""The Noise protocol framework, revision 34, for exactly one protocol:
``Noise_XX_25519_ChaChaPoly_SHA256``.

Owns CipherState, SymmetricState, HandshakeState and Split, following the
spec's pseudo-code section by section (names kept so the two can be read side
by side). Sans-I/O: messages go in and out as bytes; framing them on a socket
is `p2p.framing`'s job, and what the payloads mean is `p2p.identity`'s.

Primitives come from `cryptography`: X25519 for DH, ChaCha20-Poly1305 for
AEAD, SHA-256 with the spec's HMAC-based HKDF (section 4.3; not RFC 5869's
HKDF-Expand with info, which is different).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from p2p.errors import DecryptError, NoiseError

PROTOCOL_NAME = b"Noise_XX_25519_ChaChaPoly_SHA256"
DHLEN = 32
HASHLEN = 32
TAGLEN = 16
MAX_MESSAGE_LEN = 65535  # spec section 3: every Noise message is at most 65535 bytes
MAX_NONCE = 2**64 - 1  # spec section 5.1: reserved, never used for encryption

# Message patterns of XX (spec section 7.5): no pre-messages.
_XX_PATTERNS: tuple[tuple[str, ...], ...] = (
    ("e",),
    ("e", "ee", "s", "es"),
    ("s", "se"),
)


def public_bytes(key: X25519PrivateKey | X25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, X25519PrivateKey) else key
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def hkdf(chaining_key: bytes, input_key_material: bytes, num_outputs: int) -> tuple[bytes, ...]:
    """HKDF as defined in Noise section 4.3 (two or three 32-byte outputs)."""
    if num_outputs not in (2, 3):
        raise ValueError("num_outputs must be 2 or 3")
    temp_key = _hmac(chaining_key, input_key_material)
    out1 = _hmac(temp_key, b"\x01")
    out2 = _hmac(temp_key, out1 + b"\x02")
    if num_outputs == 2:
        return out1, out2
    return out1, out2, _hmac(temp_key, out2 + b"\x03")


def _dh(private: X25519PrivateKey, public: bytes) -> bytes:
    try:
        return private.exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError as exc:
        # cryptography rejects low-order points (all-zero shared secret); a peer
        # that sends one is attacking the handshake.
        raise NoiseError(f"invalid DH public key: {exc}") from exc


class CipherState:
    """Spec section 5.1: a key (or none) and a 64-bit nonce counter."""

    __slots__ = ("_k", "_aead", "n")

    def __init__(self, key: bytes | None = None) -> None:
        self._k: bytes | None = None
        self._aead: ChaCha20Poly1305 | None = None
        self.n = 0
        if key is not None:
            self.initialize_key(key)

    def initialize_key(self, key: bytes | None) -> None:
        self._k = key
        self._aead = ChaCha20Poly1305(key) if key is not None else None
        self.n = 0

    def has_key(self) -> bool:
        return self._k is not None

    def _nonce(self) -> bytes:
        # ChaChaPoly nonce (section 12.3): 32 bits of zeros then the 64-bit
        # counter little-endian.
        if self.n >= MAX_NONCE:
            raise NoiseError("nonce exhausted; the session must be rekeyed or closed")
        return b"\x00\x00\x00\x00" + self.n.to_bytes(8, "little")

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes) -> bytes:
        if self._aead is None:
            return plaintext
        ciphertext = self._aead.encrypt(self._nonce(), plaintext, ad)
        self.n += 1
        return ciphertext

    def decrypt_with_ad(self, ad: bytes, ciphertext: bytes) -> bytes:
        if self._aead is None:
            return ciphertext
        try:
            plaintext = self._aead.decrypt(self._nonce(), ciphertext, ad)
        except InvalidTag:
            # The nonce is not advanced on failure (spec 5.1); the caller must
            # treat the session as dead anyway.
            raise DecryptError("authentication failed (corrupt, forged, replayed or reordered message)") from None
        self.n += 1
        return plaintext


class SymmetricState:
    """Spec section 5.2: chaining key, handshake hash and a CipherState."""

    def __init__(self, protocol_name: bytes = PROTOCOL_NAME) -> None:
        if len(protocol_name) <= HASHLEN:
            self.h = protocol_name.ljust(HASHLEN, b"\x00")
        else:
            self.h = _hash(protocol_name)
        self.ck = self.h
        self.cipher = CipherState()

    def mix_key(self, input_key_material: bytes) -> None:
        self.ck, temp_k = hkdf(self.ck, input_key_material, 2)
        self.cipher.initialize_key(temp_k[:32])

    def mix_hash(self, data: bytes) -> None:
        self.h = _hash(self.h + data)

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ciphertext = self.cipher.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        plaintext = self.cipher.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[CipherState, CipherState]:
        temp_k1, temp_k2 = hkdf(self.ck, b"", 2)
        return CipherState(temp_k1[:32]), CipherState(temp_k2[:32])


@dataclass(frozen=True)
class HandshakeResult:
    """What a finished handshake leaves: the two transport ciphers, the
    handshake hash (for channel binding) and the peer's static key."""

    send: CipherState
    receive: CipherState
    handshake_hash: bytes
    remote_static: bytes


class HandshakeState:
    """Spec section 5.3 for the XX pattern.

    `s` is the local static key; `e` may be given only to reproduce test
    vectors (otherwise a fresh ephemeral key is generated when the pattern
    asks for one). Call `write_message` / `read_message` in pattern order;
    after the third message `result` holds the split ciphers.
    """

    def __init__(
        self,
        initiator: bool,
        s: X25519PrivateKey,
        prologue: bytes = b"",
        e: X25519PrivateKey | None = None,
    ) -> None:
        self.initiator = initiator
        self.s = s
        self.e = e
        self.rs: bytes | None = None
        self.re: bytes | None = None
        self.symmetric = SymmetricState(PROTOCOL_NAME)
        self.symmetric.mix_hash(prologue)
        self._index = 0  # which of the three message patterns comes next
        self.result: HandshakeResult | None = None

    @property
    def complete(self) -> bool:
        return self.result is not None

    def is_my_turn(self) -> bool:
        """True if the next message is ours to write."""
        if self.complete:
            return False
        # Initiator writes messages 0 and 2, responder writes message 1.
        return (self._index % 2 == 0) == self.initiator

    def _dh_token(self, token: str) -> bytes:
        # "es" = DH(initiator's e, responder's s); "se" = DH(initiator's s,
        # responder's e). Each side computes it with its own private half.
        if token == "ee":
            local, remote = self.e, self.re
        elif token == "es":
            local, remote = (self.e, self.rs) if self.initiator else (self.s, self.re)
        else:  # "se"
            local, remote = (self.s, self.re) if self.initiator else (self.e, self.rs)
        if local is None or remote is None:
            raise NoiseError(f"missing key for DH token {token!r}")
        return _dh(local, remote)

    def write_message(self, payload: bytes = b"") -> bytes:
        if not self.is_my_turn():
            raise NoiseError("write_message called out of turn")
        out = bytearray()
        for token in _XX_PATTERNS[self._index]:
            if token == "e":
                if self.e is None:
                    self.e = X25519PrivateKey.generate()
                e_pub = public_bytes(self.e)
                out += e_pub
                self.symmetric.mix_hash(e_pub)
            elif token == "s":
                out += self.symmetric.encrypt_and_hash(public_bytes(self.s))
            else:
                self.symmetric.mix_key(self._dh_token(token))
        out += self.symmetric.encrypt_and_hash(payload)
        if len(out) > MAX_MESSAGE_LEN:
            raise NoiseError("handshake message exceeds 65535 bytes")
        self._advance()
        return bytes(out)

    def read_message(self, message: bytes) -> bytes:
        if self.complete or self.is_my_turn():
            raise NoiseError("read_message called out of turn")
        if len(message) > MAX_MESSAGE_LEN:
            raise NoiseError("handshake message exceeds 65535 bytes")
        pos = 0
        for token in _XX_PATTERNS[self._index]:
            if token == "e":
                if len(message) - pos < DHLEN:
                    raise NoiseError("handshake message too short for an ephemeral key")
                self.re = message[pos : pos + DHLEN]
                pos += DHLEN
                self.symmetric.mix_hash(self.re)
            elif token == "s":
                n = DHLEN + (TAGLEN if self.symmetric.cipher.has_key() else 0)
                if len(message) - pos < n:
                    raise NoiseError("handshake message too short for a static key")
                self.rs = self.symmetric.decrypt_and_hash(message[pos : pos + n])
                pos += n
            else:
                self.symmetric.mix_key(self._dh_token(token))
        # Every XX message after the first carries an encrypted payload, so it
        # has at least a tag; the first may be bare.
        if self.symmetric.cipher.has_key() and len(message) - pos < TAGLEN:
            raise NoiseError("handshake message too short for its payload tag")
        payload = self.symmetric.decrypt_and_hash(message[pos:])
        self._advance()
        return payload

    def _advance(self) -> None:
        self._index += 1
        if self._index == len(_XX_PATTERNS):
            c1, c2 = self.symmetric.split()
            # c1 carries initiator->responder traffic, c2 the reverse.
            send, receive = (c1, c2) if self.initiator else (c2, c1)
            assert self.rs is not None
            self.result = HandshakeResult(send, receive, self.symmetric.h, self.rs)

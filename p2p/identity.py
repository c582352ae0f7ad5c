"""Node identity inside the Noise handshake.

Owns the node id derivation and the handshake payload that binds a node's
long-lived Ed25519 identity key to the Noise static key of this connection,
the way libp2p does: the payload carries the Ed25519 public key and its
signature over ``IDENTITY_SIG_PREFIX + noise_static_public_key``. The Noise
static key is fresh per process (it never needs to be stored); the identity
key is the node key, so a peer is known by its node id:

    node_id = hex(SHA-256(ed25519_public_key)[:20])

the same derivation as a consensus validator address. `SecureHandshake`
drives the XX handshake with these payloads (sans-I/O, one Noise message at a
time); a payload that does not verify raises `IdentityError`.
"""

from __future__ import annotations

import hashlib

import msgpack
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from p2p.errors import IdentityError, NoiseError
from p2p.noise import HandshakeResult, HandshakeState, public_bytes

# Domain separation: this signature can never be confused with a vote,
# proposal or any other Ed25519 signature the node key makes.
IDENTITY_SIG_PREFIX = b"plume-noise-static-key:"
# Bound into the Noise handshake hash: both sides must speak this protocol.
PROLOGUE = b"plume-p2p/1"
NODE_ID_BYTES = 20


def ed25519_public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def node_id_of(ed25519_public_key: bytes) -> str:
    """Node id: hex of the first 20 bytes of SHA-256 of the Ed25519 public key."""
    if len(ed25519_public_key) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return hashlib.sha256(ed25519_public_key).digest()[:NODE_ID_BYTES].hex()


def is_node_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) == 2 * NODE_ID_BYTES
        and all(c in "0123456789abcdef" for c in value)
    )


def make_identity_payload(identity_key: Ed25519PrivateKey, noise_static_public: bytes) -> bytes:
    """The handshake payload proving that `identity_key` owns this Noise static key."""
    signature = identity_key.sign(IDENTITY_SIG_PREFIX + noise_static_public)
    return msgpack.packb([ed25519_public_bytes(identity_key), signature], use_bin_type=True)


def verify_identity_payload(payload: bytes, remote_noise_static: bytes) -> bytes:
    """Check a peer's handshake payload against the Noise static key the
    handshake authenticated; return the peer's Ed25519 public key."""
    try:
        decoded = msgpack.unpackb(payload, raw=False, use_list=True, max_bin_len=64, max_array_len=2, max_str_len=0)
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise IdentityError(f"identity payload is not valid msgpack: {exc}") from None
    if (
        not isinstance(decoded, list)
        or len(decoded) != 2
        or not all(isinstance(x, bytes) for x in decoded)
        or len(decoded[0]) != 32
        or len(decoded[1]) != 64
    ):
        raise IdentityError("identity payload must be [32-byte Ed25519 key, 64-byte signature]")
    if msgpack.packb(decoded, use_bin_type=True) != payload:
        raise IdentityError("identity payload is not canonically encoded")
    pub_bytes, signature = decoded
    try:
        Ed25519PublicKey.from_public_bytes(pub_bytes).verify(signature, IDENTITY_SIG_PREFIX + remote_noise_static)
    except (InvalidSignature, ValueError):
        raise IdentityError("identity signature does not verify over the Noise static key") from None
    return pub_bytes


class SecureHandshake:
    """The XX handshake carrying identity payloads, one Noise message at a time.

    Message 1 (initiator -> responder): ephemeral key, empty payload.
    Message 2 (responder -> initiator): the responder's identity payload.
    Message 3 (initiator -> responder): the initiator's identity payload.
    Each side learns and verifies the other's identity before the handshake
    completes; `remote_node_id` is set when it has.
    """

    def __init__(
        self,
        initiator: bool,
        identity_key: Ed25519PrivateKey,
        prologue: bytes = PROLOGUE,
        noise_static: X25519PrivateKey | None = None,
    ) -> None:
        self._identity = identity_key
        self._state = HandshakeState(initiator, noise_static or X25519PrivateKey.generate(), prologue)
        self._static_public = public_bytes(self._state.s)
        self._messages = 0
        self.remote_identity_key: bytes | None = None
        self.remote_node_id: str | None = None

    @property
    def initiator(self) -> bool:
        return self._state.initiator

    @property
    def complete(self) -> bool:
        return self._state.complete

    @property
    def result(self) -> HandshakeResult:
        if self._state.result is None:
            raise NoiseError("handshake not complete")
        return self._state.result

    def is_my_turn(self) -> bool:
        return self._state.is_my_turn()

    def write(self) -> bytes:
        """The next handshake message to send."""
        payload = b"" if self._messages == 0 else make_identity_payload(self._identity, self._static_public)
        message = self._state.write_message(payload)
        self._messages += 1
        return message

    def read(self, message: bytes) -> None:
        """Process the peer's next handshake message; raises a `NoiseError`
        (or its subclass `IdentityError`) if it is invalid."""
        payload = self._state.read_message(message)
        index = self._messages
        self._messages += 1
        if index == 0:
            if payload:
                raise NoiseError("first handshake message must have an empty payload")
            return
        assert self._state.rs is not None  # XX has sent s by messages 2 and 3
        self.remote_identity_key = verify_identity_payload(payload, self._state.rs)
        self.remote_node_id = node_id_of(self.remote_identity_key)

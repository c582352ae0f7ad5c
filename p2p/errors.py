"""The p2p package's exception hierarchy.

Every failure the protocol layers can detect on bytes from a peer is one of
these, so the transport can catch `P2PError` and close (and maybe ban) the
connection without ever crashing the node.
"""

from __future__ import annotations


class P2PError(Exception):
    """Base class of every p2p failure caused by the remote side's bytes."""


class NoiseError(P2PError):
    """A Noise protocol failure: bad handshake message or failed authentication."""


class DecryptError(NoiseError):
    """A ciphertext failed ChaCha20-Poly1305 authentication (forged, corrupt,
    replayed or reordered: the nonce did not match)."""


class IdentityError(NoiseError):
    """The handshake payload's identity key or signature is missing or invalid."""


class FramingError(P2PError):
    """A frame or message violates the framing rules (size cap, empty frame)."""


class MessageError(P2PError):
    """A p2p message failed to decode or validate. The only error `decode` raises."""

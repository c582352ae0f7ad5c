"""The p2p package's exception hierarchy.

Every failure the protocol layers can detect on bytes from a peer is one of
these, so the transport can catch `P2PError` and close (and maybe ban) the
connection without ever crashing the node.

Error text built from a peer's bytes ends up in logs, ban reasons and
disconnect notices, so it is always bounded: every `P2PError` clips its
message to `MAX_ERROR_TEXT` characters, and `describe` names a hostile value
(an 8 MB "type tag") by its type, size and first bytes instead of its repr.
"""

from __future__ import annotations

from typing import Any

MAX_ERROR_TEXT = 200  # characters of any error text, ban or disconnect reason derived from peer input
_DESCRIBE_PREFIX = 32  # characters or bytes of a long value shown by `describe`


def clip(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    """`text` cut to at most `limit` characters (marked with "...")."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value: Any) -> str:
    """A short description of a peer-supplied value, without ever building its full repr."""
    if isinstance(value, (str, bytes, bytearray)):
        if len(value) <= _DESCRIBE_PREFIX:
            return repr(value)
        return f"{type(value).__name__} of length {len(value)} starting {value[:_DESCRIBE_PREFIX]!r}"
    if isinstance(value, (list, tuple, dict)):
        return f"{type(value).__name__} of length {len(value)}"
    if isinstance(value, (int, float, bool)) or value is None:
        return clip(repr(value), 64)
    return type(value).__name__


class P2PError(Exception):
    """Base class of every p2p failure caused by the remote side's bytes.
    Its message is clipped to `MAX_ERROR_TEXT` characters."""

    def __init__(self, message: object = "") -> None:
        super().__init__(clip(str(message)))


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

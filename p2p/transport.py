"""The secure transport over one trio stream.

Owns the only I/O glue between the sans-I/O pieces and a socket:
`secure_handshake` runs `SecureHandshake` over length-prefixed frames, and
`SecureConnection` sends and receives whole application messages through
`MessageEncoder` / `MessageDecoder`. Timeouts are the caller's (cancel
scopes); peer policy (bans, limits, Hello) is `p2p.service`'s.
"""

from __future__ import annotations

from collections import deque

import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p2p.framing import DEFAULT_MAX_MESSAGE_BYTES, FrameBuffer, MessageDecoder, MessageEncoder, encode_frame
from p2p.identity import PROLOGUE, SecureHandshake

RECEIVE_CHUNK = 65536 + 2


class ConnectionClosed(Exception):
    """The remote end closed the TCP connection (not a protocol fault)."""


class SecureConnection:
    """An authenticated, encrypted message stream to one peer.

    `send_message` must not be called concurrently with itself (the service
    has one writer task per connection); the same for `receive_message`.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        handshake: SecureHandshake,
        frames: FrameBuffer,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        result = handshake.result
        assert handshake.remote_node_id is not None and handshake.remote_identity_key is not None
        self.stream = stream
        self.remote_node_id: str = handshake.remote_node_id
        self.remote_identity_key: bytes = handshake.remote_identity_key
        self.handshake_hash = result.handshake_hash
        self._encoder = MessageEncoder(result.send, max_message_bytes)
        self._decoder = MessageDecoder(result.receive, max_message_bytes, frames)
        self._pending: deque[bytes] = deque()

    def encode(self, message: bytes) -> bytes:
        """Encrypt `message` into wire bytes (advances the send nonce)."""
        return self._encoder.encode(message)

    async def send_wire(self, wire: bytes) -> None:
        await self.stream.send_all(wire)

    async def send_message(self, message: bytes) -> None:
        await self.send_wire(self.encode(message))

    async def receive_message(self) -> bytes:
        """The next whole message. Raises `ConnectionClosed` on EOF, a
        `P2PError` on framing or authentication failure."""
        # Bytes that arrived with the last handshake frame may already hold messages.
        if not self._pending:
            self._pending.extend(self._decoder.feed())
        while not self._pending:
            data = await self.stream.receive_some(RECEIVE_CHUNK)
            if not data:
                raise ConnectionClosed("connection closed by peer")
            self._pending.extend(self._decoder.feed(data))
        return self._pending.popleft()

    async def aclose(self) -> None:
        await self.stream.aclose()


async def _read_frame(stream: trio.abc.Stream, frames: FrameBuffer) -> bytes:
    while (frame := frames.next_frame()) is None:
        data = await stream.receive_some(RECEIVE_CHUNK)
        if not data:
            raise ConnectionClosed("connection closed during the handshake")
        frames.feed(data)
    return frame


async def secure_handshake(
    stream: trio.abc.Stream,
    initiator: bool,
    identity_key: Ed25519PrivateKey,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    prologue: bytes = PROLOGUE,
) -> SecureConnection:
    """Run the Noise XX handshake with identity payloads over `stream`.

    Raises `NoiseError`/`IdentityError`/`FramingError` on a bad peer and
    `ConnectionClosed` on EOF; wrap in `trio.fail_after` for a deadline.
    """
    hs = SecureHandshake(initiator, identity_key, prologue)
    frames = FrameBuffer()
    while not hs.complete:
        if hs.is_my_turn():
            await stream.send_all(encode_frame(hs.write()))
        else:
            hs.read(await _read_frame(stream, frames))
    return SecureConnection(stream, hs, frames, max_message_bytes)

"""Wire framing, sans-I/O: bytes in, frames and messages out.

Owns two layers:

* A frame is a 2-byte big-endian length then that many bytes (1..65535): one
  Noise message. Handshake messages travel in frames as they are.
* After the handshake, an application message M becomes the plaintext
  ``u32_be(len(M)) || M``, cut into chunks of at most 65535 - 16 bytes, each
  encrypted with the next Noise transport nonce into its own frame. The
  receiver checks the announced length against `max_message_bytes` as soon
  as it has the first chunk, so an oversized message is refused before it is
  buffered.

A replayed, dropped, reordered or altered frame decrypts under the wrong
nonce and fails authentication (`DecryptError`): the session is dead and the
connection must be closed.
"""

from __future__ import annotations

import struct

from p2p.errors import FramingError
from p2p.noise import MAX_MESSAGE_LEN, TAGLEN, CipherState

FRAME_HEADER = 2
MESSAGE_HEADER = 4
MAX_FRAME_PAYLOAD = MAX_MESSAGE_LEN  # one Noise message
MAX_CHUNK_PLAINTEXT = MAX_MESSAGE_LEN - TAGLEN
DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def encode_frame(payload: bytes) -> bytes:
    if not 0 < len(payload) <= MAX_FRAME_PAYLOAD:
        raise FramingError(f"frame payload of {len(payload)} bytes outside 1..{MAX_FRAME_PAYLOAD}")
    return struct.pack(">H", len(payload)) + payload


class FrameBuffer:
    """Accumulates received bytes and yields complete frame payloads."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_frame(self) -> bytes | None:
        """The next complete frame's payload, or None if more bytes are needed."""
        if len(self._buf) < FRAME_HEADER:
            return None
        (length,) = struct.unpack_from(">H", self._buf)
        if length == 0:
            raise FramingError("empty frame")
        if len(self._buf) < FRAME_HEADER + length:
            return None
        payload = bytes(self._buf[FRAME_HEADER : FRAME_HEADER + length])
        del self._buf[: FRAME_HEADER + length]
        return payload

    def __len__(self) -> int:
        return len(self._buf)


class MessageEncoder:
    """Turns application messages into encrypted wire frames."""

    def __init__(self, cipher: CipherState, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self._cipher = cipher
        self.max_message_bytes = max_message_bytes

    def encode(self, message: bytes) -> bytes:
        if not 0 < len(message) <= self.max_message_bytes:
            raise FramingError(f"message of {len(message)} bytes outside 1..{self.max_message_bytes}")
        plain = struct.pack(">I", len(message)) + message
        out = bytearray()
        for start in range(0, len(plain), MAX_CHUNK_PLAINTEXT):
            chunk = plain[start : start + MAX_CHUNK_PLAINTEXT]
            out += encode_frame(self._cipher.encrypt_with_ad(b"", chunk))
        return bytes(out)


class MessageDecoder:
    """Turns received wire bytes into application messages.

    `feed` raises `FramingError` (size rules) or `DecryptError` (failed
    authentication); after either, the decoder and the connection are dead.
    """

    def __init__(
        self,
        cipher: CipherState,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        frames: FrameBuffer | None = None,
    ) -> None:
        self._cipher = cipher
        self.max_message_bytes = max_message_bytes
        # Bytes received after the last handshake frame belong to us.
        self._frames = frames if frames is not None else FrameBuffer()
        self._plain = bytearray()
        self._expected: int | None = None

    def feed(self, data: bytes = b"") -> list[bytes]:
        if data:
            self._frames.feed(data)
        messages: list[bytes] = []
        while (frame := self._frames.next_frame()) is not None:
            if len(frame) < TAGLEN:
                raise FramingError("frame too short to be a Noise transport message")
            self._plain += self._cipher.decrypt_with_ad(b"", frame)
            while True:
                if self._expected is None:
                    if len(self._plain) < MESSAGE_HEADER:
                        break
                    (length,) = struct.unpack_from(">I", self._plain)
                    if length == 0:
                        raise FramingError("empty message")
                    if length > self.max_message_bytes:
                        raise FramingError(f"message of {length} bytes exceeds the cap of {self.max_message_bytes}")
                    self._expected = length
                    del self._plain[:MESSAGE_HEADER]
                if len(self._plain) < self._expected:
                    break
                messages.append(bytes(self._plain[: self._expected]))
                del self._plain[: self._expected]
                self._expected = None
        return messages

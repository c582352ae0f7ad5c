"""The double-sign guard: the only place a consensus key signs.

`Signer.sign(message)` persists (height, round, step, sign-bytes, signature)
through a `SignStateStore` BEFORE it returns the signature, so a crash can
never let a signature out that the guard has forgotten. It refuses a
(height, round, step) lower than the last one signed and different sign-bytes
at the same step; the identical request returns the same signature (so a
restarted node can re-broadcast). It also keeps the last non-nil precommit so
a restarted validator resumes with its lock (`locked(height)`).

Steps order the messages of one round: proposal < prevote < precommit.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from . import codec
from .codec import MAX_INT64, MAX_ROUND, check_bytes, check_int
from .crypto import SIGNATURE_SIZE, PrivateKey
from .messages import HASH_SIZE, PRECOMMIT, PREVOTE, Proposal, Vote

STEP_PROPOSAL = 1
STEP_PREVOTE = 2
STEP_PRECOMMIT = 3


def step_of(message: Vote | Proposal) -> int:
    if isinstance(message, Proposal):
        return STEP_PROPOSAL
    return STEP_PREVOTE if message.type == PREVOTE else STEP_PRECOMMIT


@dataclass(frozen=True, slots=True)
class SignState:
    """What the guard last signed, and the last non-nil precommit (the lock)."""

    height: int
    round: int
    step: int
    sign_bytes: bytes
    signature: bytes
    lock_height: int = -1
    lock_round: int = -1
    lock_hash: bytes = b""

    def encode(self) -> bytes:
        return codec.pack([self.height, self.round, self.step, self.sign_bytes, self.signature,
                           self.lock_height, self.lock_round, self.lock_hash])

    @classmethod
    def decode(cls, data: bytes) -> "SignState":
        f = codec.unpack(data, 8, max_size=4096)
        s = cls(
            height=check_int(f[0], "sign_state.height", 0, MAX_INT64),
            round=check_int(f[1], "sign_state.round", 0, MAX_ROUND),
            step=check_int(f[2], "sign_state.step", STEP_PROPOSAL, STEP_PRECOMMIT),
            sign_bytes=check_bytes(f[3], "sign_state.sign_bytes", max_len=1024),
            signature=check_bytes(f[4], "sign_state.signature", (SIGNATURE_SIZE,)),
            lock_height=check_int(f[5], "sign_state.lock_height", -1, MAX_INT64),
            lock_round=check_int(f[6], "sign_state.lock_round", -1, MAX_ROUND),
            lock_hash=check_bytes(f[7], "sign_state.lock_hash", (0, HASH_SIZE)),
        )
        codec.ensure_canonical(data, s.encode())
        return s


class SignStateStore(Protocol):
    """Durable storage of one SignState. `save` must be durable on return."""

    def load(self) -> SignState | None: ...

    def save(self, state: SignState) -> None: ...


class MemoryStore:
    """A SignStateStore in memory (tests, simulator); survives nothing."""

    def __init__(self, state: SignState | None = None) -> None:
        self.state = state

    def load(self) -> SignState | None:
        return self.state

    def save(self, state: SignState) -> None:
        self.state = state


class FileStore:
    """A SignStateStore in one file, replaced atomically and fsynced.

    Writes a temp file in the same directory, fsyncs it, renames it over the
    target and fsyncs the directory, so after a crash the file holds either the
    old state or the new one, never a torn write.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> SignState | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        # A corrupt guard file must stop the validator, not reset the guard:
        # DecodeError propagates.
        return SignState.decode(data)

    def save(self, state: SignState) -> None:
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(state.encode())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


M = TypeVar("M", Vote, Proposal)


class Signer:
    """Signs votes and proposals for one key on one chain, never twice differently."""

    def __init__(self, private_key: PrivateKey, store: SignStateStore, chain_id: str | bytes) -> None:
        self.private_key = private_key
        self.address = private_key.address
        self.store = store
        self.chain_id = chain_id
        self._state = store.load()

    @property
    def state(self) -> SignState | None:
        return self._state

    def sign(self, message: M) -> M | None:
        """The message with its signature, or None if signing could double-sign."""
        signer_addr = message.proposer if isinstance(message, Proposal) else message.validator
        if signer_addr != self.address:
            raise ValueError("message is not for this signer's address")
        step = step_of(message)
        hrs = (message.height, message.round, step)
        sign_bytes = message.sign_bytes(self.chain_id)
        last = self._state
        if last is not None:
            last_hrs = (last.height, last.round, last.step)
            if hrs < last_hrs:
                return None
            if hrs == last_hrs:
                if sign_bytes == last.sign_bytes:
                    return message.with_signature(last.signature)
                return None
        signature = self.private_key.sign(sign_bytes)
        lock = (last.lock_height, last.lock_round, last.lock_hash) if last else (-1, -1, b"")
        if isinstance(message, Vote) and message.type == PRECOMMIT and not message.is_nil:
            lock = (message.height, message.round, message.block_hash)
        new = SignState(message.height, message.round, step, sign_bytes, signature, *lock)
        self.store.save(new)  # durable before the signature leaves
        self._state = new
        return message.with_signature(signature)

    def locked(self, height: int) -> tuple[int, bytes] | None:
        """(round, block_hash) of the last non-nil precommit signed at `height`."""
        s = self._state
        if s is None or s.lock_height != height:
            return None
        return (s.lock_round, s.lock_hash)

"""The double-sign guard's state on the node's LevelDB.

One record under the signer key space, written with a synced LevelDB write
before the guard releases a signature (plain writes to `LevelDB` are synced),
so a signature that left the node is on disk even if the machine loses power
right after. A record that does not decode stops the node: resetting the guard
silently is exactly how validators double-sign after a crash.
"""

from __future__ import annotations

from consensus.errors import DecodeError
from consensus.signer import SignState
from plume_node.storage import PREFIX_SIGNER, LevelDB

_KEY = b"last"


class CorruptSignState(Exception):
    pass


class LevelDBSignStore:
    """A `consensus.signer.SignStateStore` kept in the node's LevelDB."""

    def __init__(self, db: LevelDB) -> None:
        self._db = db.prefixed(PREFIX_SIGNER)

    def load(self) -> SignState | None:
        data = self._db.get(_KEY)
        if data is None:
            return None
        try:
            return SignState.decode(data)
        except DecodeError as exc:
            raise CorruptSignState(
                f"the double-sign guard record in the data directory is corrupt ({exc}); "
                "refusing to sign anything: restore the data directory from a backup"
            ) from None

    def save(self, state: SignState) -> None:
        self._db[_KEY] = state.encode()

"""The node's Ed25519 keys: the validator (consensus signing) key and the node (p2p identity) key.

Each is a JSON file, mode 0600, holding the raw 32-byte private key in hex with
its public key and derived id beside it so an operator can read them without
tools. The validator address and the node id are both the first 20 bytes of
SHA-256 of the public key (CometBFT's rule), shown in hex.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from consensus.crypto import address_of
from plume_node import jsonlimits
from plume_node.errors import UserError
from plume_node.files import unsafe_permissions, write_private_file


class KeyFileError(UserError):
    """A key file that is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class Ed25519KeyFile:
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def address(self) -> bytes:
        return address_of(self.public_key)

    @property
    def private_bytes(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        return self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def generate_key_file(path: Path, kind: str) -> Ed25519KeyFile:
    key = Ed25519KeyFile(Ed25519PrivateKey.generate())
    doc = {
        "type": f"plume/{kind}-key/ed25519",
        "address": key.address.hex(),
        "public_key": key.public_key.hex(),
        "private_key": key.private_bytes.hex(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_file(path, (json.dumps(doc, indent=2) + "\n").encode())
    return key


def load_key_file(path: Path) -> Ed25519KeyFile:
    try:
        problem = unsafe_permissions(path)
        if problem is not None:
            raise KeyFileError(problem)
        doc = jsonlimits.loads(path.read_text())
    except FileNotFoundError:
        raise KeyFileError(f"key file {path} is missing; run `plume-node init` to create a home") from None
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"key file {path} is unreadable: {exc}") from None
    try:
        raw = bytes.fromhex(doc["private_key"])
        key = Ed25519KeyFile(Ed25519PrivateKey.from_private_bytes(raw))
    except (KeyError, TypeError, ValueError):
        raise KeyFileError(f"key file {path} holds no valid Ed25519 private key") from None
    if doc.get("public_key") not in (None, key.public_key.hex()):
        raise KeyFileError(f"key file {path}: public_key does not match private_key; the file is corrupt")
    return key

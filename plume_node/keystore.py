"""Operator and user accounts (secp256k1) kept as Web3 Secret Storage (keystore v3) files.

A home's `keystore/` folder holds one file per key, named `NAME.json`, mode
0600, in the same format geth and MetaMask export, so keys move between tools.
Passwords come from a file, the `PLUME_PASSWORD` variable, or a prompt on a
terminal, never from a command-line argument (it would land in shell history).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import click
from eth_account import Account
from eth_account.signers.local import LocalAccount

from plume_node import jsonlimits
from plume_node.errors import UserError
from plume_node.files import unsafe_permissions, write_private_file

PASSWORD_ENV = "PLUME_PASSWORD"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class KeystoreError(UserError):
    """A key that cannot be created, found or unlocked; the message says why."""


@dataclass(frozen=True)
class KeyInfo:
    name: str
    address: str  # checksummed 0x address
    path: Path


class Keystore:
    """The keystore v3 files of one home directory."""

    def __init__(self, home: Path | str) -> None:
        self.dir = Path(home) / "keystore"

    def new(self, name: str, password: str) -> KeyInfo:
        account = Account.create()
        return self._write(name, account.key, password)

    def import_key(self, name: str, private_key: bytes, password: str) -> KeyInfo:
        if len(private_key) != 32:
            raise KeystoreError(f"a private key is 32 bytes, got {len(private_key)}")
        return self._write(name, private_key, password)

    def list(self) -> list[KeyInfo]:
        if not self.dir.is_dir():
            return []
        infos = []
        for path in sorted(self.dir.glob("*.json")):
            try:
                address = jsonlimits.loads(path.read_text())["address"]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not a keystore file; `keys list` shows keys, not debris
            infos.append(KeyInfo(path.stem, _checksum(address), path))
        return infos

    def get(self, name_or_address: str) -> KeyInfo:
        wanted = name_or_address.lower().removeprefix("0x")
        for info in self.list():
            if info.name == name_or_address or info.address.lower().removeprefix("0x") == wanted:
                return info
        known = ", ".join(i.name for i in self.list()) or "none"
        raise KeystoreError(
            f"no key named {name_or_address!r} in {self.dir} (keys: {known}); "
            "create one with `plume-node keys new NAME` or import it with `plume-node keys import`"
        )

    def unlock(self, name_or_address: str, password: str) -> LocalAccount:
        info = self.get(name_or_address)
        try:
            problem = unsafe_permissions(info.path)
            if problem is not None:
                raise KeystoreError(problem)
            keyfile = jsonlimits.loads(info.path.read_text())
        except (OSError, ValueError) as exc:
            raise KeystoreError(f"keystore file {info.path} is unreadable: {exc}") from None
        try:
            private_key = Account.decrypt(keyfile, password)
        except ValueError:
            raise KeystoreError(f"wrong password for key {info.name!r} ({info.path})") from None
        return Account.from_key(private_key)

    def _write(self, name: str, private_key: bytes, password: str) -> KeyInfo:
        if not _NAME.match(name):
            raise KeystoreError(
                f"invalid key name {name!r}: use 1-64 letters, digits, '.', '_' or '-'"
            )
        path = self.dir / f"{name}.json"
        if path.exists():
            raise KeystoreError(f"a key named {name!r} already exists at {path}")
        address = Account.from_key(private_key).address
        for info in self.list():
            if info.address == address:
                raise KeystoreError(f"this key is already stored as {info.name!r} ({address})")
        # scrypt n=2**14 keeps `keys new` under a second on a slow machine while
        # staying far above what brute force can afford for a decent password.
        keyfile = Account.encrypt(private_key, password, kdf="scrypt", iterations=2**14)
        self.dir.mkdir(parents=True, exist_ok=True)
        write_private_file(path, json.dumps(keyfile, indent=2).encode())
        return KeyInfo(name, address, path)


def resolve_password(password_file: str | None, *, confirm: bool) -> str:
    """The password from a file, else $PLUME_PASSWORD, else a terminal prompt."""
    if password_file:
        try:
            return Path(password_file).read_text().rstrip("\r\n")
        except OSError as exc:
            raise KeystoreError(f"cannot read password file {password_file}: {exc.strerror}") from None
    if PASSWORD_ENV in os.environ:
        return os.environ[PASSWORD_ENV]
    if sys.stdin.isatty():
        return click.prompt("Keystore password", hide_input=True, confirmation_prompt=confirm)
    raise KeystoreError(
        f"no password given: pass --password-file FILE or set {PASSWORD_ENV} "
        "(no terminal to prompt on)"
    )


def _checksum(address: str) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(address if address.startswith("0x") else "0x" + address)

"""Secrets in files others can read or write are refused, as ssh refuses such keys."""

from __future__ import annotations

import pytest

from plume_node.keystore import Keystore, KeystoreError

PASSWORD = "not a great password"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602, 0o666])
def test_keystore_refuses_to_unlock_a_file_others_can_touch(tmp_path, mode: int) -> None:
    keystore = Keystore(tmp_path)
    info = keystore.new("alice", PASSWORD)
    info.path.chmod(mode)
    with pytest.raises(KeystoreError, match=rf"permissions {mode:04o} for .* are too open.*chmod 600"):
        keystore.unlock("alice", PASSWORD)
    info.path.chmod(0o600)
    assert keystore.unlock("alice", PASSWORD).address == info.address


def test_owner_only_modes_are_accepted(tmp_path) -> None:
    keystore = Keystore(tmp_path)
    info = keystore.new("bob", PASSWORD)
    info.path.chmod(0o400)  # read-only for the owner is fine
    assert keystore.unlock("bob", PASSWORD).address == info.address

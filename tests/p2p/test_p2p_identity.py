"""Identity inside the handshake: node ids, signature binding, forgeries."""

from __future__ import annotations

import hashlib

import msgpack
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from p2p.errors import DecryptError, IdentityError, NoiseError
from p2p.identity import (
    IDENTITY_SIG_PREFIX,
    SecureHandshake,
    ed25519_public_bytes,
    make_identity_payload,
    node_id_of,
    verify_identity_payload,
)
from p2p.noise import public_bytes


def _run(init: SecureHandshake, resp: SecureHandshake) -> None:
    resp.read(init.write())
    init.read(resp.write())
    resp.read(init.write())


def test_node_id_is_first_20_bytes_of_sha256_of_public_key() -> None:
    key = Ed25519PrivateKey.generate()
    pub = ed25519_public_bytes(key)
    assert node_id_of(pub) == hashlib.sha256(pub).digest()[:20].hex()
    assert len(node_id_of(pub)) == 40


def test_handshake_authenticates_both_node_ids() -> None:
    ka, kb = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    init, resp = SecureHandshake(True, ka), SecureHandshake(False, kb)
    _run(init, resp)
    assert init.complete and resp.complete
    assert init.remote_node_id == node_id_of(ed25519_public_bytes(kb))
    assert resp.remote_node_id == node_id_of(ed25519_public_bytes(ka))
    ct = init.result.send.encrypt_with_ad(b"", b"hi")
    assert resp.result.receive.decrypt_with_ad(b"", ct) == b"hi"


def test_payload_signed_for_another_static_key_is_rejected() -> None:
    key = Ed25519PrivateKey.generate()
    payload = make_identity_payload(key, public_bytes(X25519PrivateKey.generate()))
    with pytest.raises(IdentityError):
        verify_identity_payload(payload, public_bytes(X25519PrivateKey.generate()))


def test_signature_without_domain_prefix_is_rejected() -> None:
    key = Ed25519PrivateKey.generate()
    static = public_bytes(X25519PrivateKey.generate())
    payload = msgpack.packb([ed25519_public_bytes(key), key.sign(static)], use_bin_type=True)
    with pytest.raises(IdentityError):
        verify_identity_payload(payload, static)
    good = msgpack.packb([ed25519_public_bytes(key), key.sign(IDENTITY_SIG_PREFIX + static)], use_bin_type=True)
    assert verify_identity_payload(good, static) == ed25519_public_bytes(key)


@pytest.mark.parametrize(
    "payload",
    [b"", b"\xc1", msgpack.packb([b"x" * 32]), msgpack.packb([b"x" * 31, b"y" * 64]), msgpack.packb("str")],
)
def test_malformed_payloads_rejected(payload: bytes) -> None:
    with pytest.raises(IdentityError):
        verify_identity_payload(payload, b"\x00" * 32)


class _ForgingHandshake(SecureHandshake):
    """A responder claiming someone else's identity key: it signs with its own
    key but presents the victim's public key."""

    def __init__(self, own: Ed25519PrivateKey, victim: Ed25519PrivateKey) -> None:
        super().__init__(False, own)
        self._victim_pub = ed25519_public_bytes(victim)

    def write(self) -> bytes:
        sig = self._identity.sign(IDENTITY_SIG_PREFIX + self._static_public)
        payload = msgpack.packb([self._victim_pub, sig], use_bin_type=True)
        self._messages += 1
        return self._state.write_message(payload)


def test_forged_identity_in_handshake_is_rejected() -> None:
    init = SecureHandshake(True, Ed25519PrivateKey.generate())
    forger = _ForgingHandshake(Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate())
    forger.read(init.write())
    with pytest.raises(IdentityError):
        init.read(forger.write())
    assert init.remote_node_id is None


def test_replayed_identity_payload_from_another_session_is_rejected() -> None:
    # A valid payload lifted from one session is bound to that session's
    # static key, so it cannot vouch for an attacker's static key.
    victim = Ed25519PrivateKey.generate()
    stolen = make_identity_payload(victim, public_bytes(X25519PrivateKey.generate()))
    attacker = SecureHandshake(False, Ed25519PrivateKey.generate())
    init = SecureHandshake(True, Ed25519PrivateKey.generate())
    attacker.read(init.write())
    attacker._messages += 1
    msg = attacker._state.write_message(stolen)
    with pytest.raises(IdentityError):
        init.read(msg)


def test_nonempty_first_payload_and_garbage_are_rejected() -> None:
    resp = SecureHandshake(False, Ed25519PrivateKey.generate())
    with pytest.raises(NoiseError):
        resp.read(public_bytes(X25519PrivateKey.generate()) + b"extra")
    resp2 = SecureHandshake(False, Ed25519PrivateKey.generate())
    with pytest.raises(NoiseError):
        resp2.read(b"GET / HTTP/1.1")


def test_prologue_mismatch_fails() -> None:
    init = SecureHandshake(True, Ed25519PrivateKey.generate(), prologue=b"a")
    resp = SecureHandshake(False, Ed25519PrivateKey.generate(), prologue=b"b")
    resp.read(init.write())
    with pytest.raises(DecryptError):
        init.read(resp.write())

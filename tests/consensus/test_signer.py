"""The double-sign guard: refusals, idempotence, durability and restart."""

from __future__ import annotations


import pytest

from consensus.errors import DecodeError
from consensus.messages import NIL, PRECOMMIT, PREVOTE, Proposal, Vote
from consensus.signer import FileStore, MemoryStore, SignState, Signer
from engine_harness import CHAIN, block_for, key

A = block_for("A")[0]
B = block_for("B")[0]


def vote(k, t, h, r, bh):
    return Vote(t, h, r, bh, k.address)


def test_signs_and_signature_verifies():
    k = key(1)
    s = Signer(k, MemoryStore(), CHAIN)
    v = s.sign(vote(k, PREVOTE, 1, 0, A))
    assert v is not None and v.verify_signature(k.public_key.raw, CHAIN)
    assert not v.verify_signature(k.public_key.raw, "another-chain")


def test_identical_request_returns_same_signature():
    k = key(1)
    s = Signer(k, MemoryStore(), CHAIN)
    v1 = s.sign(vote(k, PREVOTE, 1, 0, A))
    v2 = s.sign(vote(k, PREVOTE, 1, 0, A))
    assert v1 == v2


def test_conflicting_same_step_refused():
    k = key(1)
    s = Signer(k, MemoryStore(), CHAIN)
    assert s.sign(vote(k, PREVOTE, 1, 0, A)) is not None
    assert s.sign(vote(k, PREVOTE, 1, 0, B)) is None
    assert s.sign(vote(k, PREVOTE, 1, 0, NIL)) is None


@pytest.mark.parametrize("later,earlier", [
    ((PRECOMMIT, 1, 0), (PREVOTE, 1, 0)),   # step regression
    ((PREVOTE, 1, 3), (PRECOMMIT, 1, 2)),   # round regression
    ((PREVOTE, 2, 0), (PRECOMMIT, 1, 9)),   # height regression
])
def test_regressions_refused(later, earlier):
    k = key(1)
    s = Signer(k, MemoryStore(), CHAIN)
    assert s.sign(vote(k, later[0], later[1], later[2], A)) is not None
    assert s.sign(vote(k, earlier[0], earlier[1], earlier[2], A)) is None


def test_proposal_step_before_prevote():
    k = key(1)
    s = Signer(k, MemoryStore(), CHAIN)
    p = s.sign(Proposal(1, 0, A, -1, k.address))
    assert p is not None and p.verify_signature(k.public_key.raw, CHAIN)
    assert s.sign(vote(k, PREVOTE, 1, 0, A)) is not None
    assert s.sign(Proposal(1, 0, A, -1, k.address)) is None  # after the prevote: regression


def test_wrong_address_is_a_bug():
    s = Signer(key(1), MemoryStore(), CHAIN)
    with pytest.raises(ValueError):
        s.sign(vote(key(2), PREVOTE, 1, 0, A))


def test_persisted_before_returning():
    class Spy(MemoryStore):
        def save(self, state):
            assert state.signature  # the signature is stored with its step
            self.saved_before_return = state
            super().save(state)

    k = key(1)
    st = Spy()
    v = Signer(k, st, CHAIN).sign(vote(k, PREVOTE, 4, 2, A))
    assert st.saved_before_return.signature == v.signature
    assert (st.state.height, st.state.round, st.state.step) == (4, 2, 2)


def test_failed_save_releases_nothing():
    class Broken(MemoryStore):
        def save(self, state):
            raise OSError("disk full")

    k = key(1)
    s = Signer(k, Broken(), CHAIN)
    with pytest.raises(OSError):
        s.sign(vote(k, PREVOTE, 1, 0, A))
    assert s.state is None


def test_lock_tracking():
    k = key(1)
    s = Signer(k, MemoryStore(), CHAIN)
    s.sign(vote(k, PRECOMMIT, 5, 1, A))
    s.sign(vote(k, PREVOTE, 5, 2, B))
    s.sign(vote(k, PRECOMMIT, 5, 2, NIL))  # a nil precommit does not unlock
    assert s.locked(5) == (1, A)
    s.sign(vote(k, PRECOMMIT, 5, 3, B))
    assert s.locked(5) == (3, B)
    assert s.locked(6) is None
    s.sign(vote(k, PREVOTE, 6, 0, A))
    assert s.locked(6) is None and s.locked(5) == (3, B)


def test_file_store_restart_keeps_lock_and_refusals(tmp_path):
    path = tmp_path / "guard" / "sign_state"
    k = key(3)
    s = Signer(k, FileStore(path), CHAIN)
    s.sign(vote(k, PREVOTE, 7, 1, A))
    signed = s.sign(vote(k, PRECOMMIT, 7, 1, A))
    # "crash": a new signer over the same file
    s2 = Signer(k, FileStore(path), CHAIN)
    assert s2.locked(7) == (1, A)
    assert s2.sign(vote(k, PRECOMMIT, 7, 1, B)) is None
    assert s2.sign(vote(k, PREVOTE, 7, 1, A)) is None
    assert s2.sign(vote(k, PRECOMMIT, 7, 1, A)) == signed
    assert s2.sign(vote(k, PREVOTE, 7, 2, B)) is not None
    assert [p.name for p in path.parent.iterdir()] == ["sign_state"]  # no temp files left


def test_file_store_corrupt_file_raises(tmp_path):
    path = tmp_path / "sign_state"
    path.write_bytes(b"\x93garbage")
    with pytest.raises(DecodeError):
        Signer(key(1), FileStore(path), CHAIN)


def test_file_store_missing_file_is_fresh(tmp_path):
    assert FileStore(tmp_path / "nope").load() is None


def test_sign_state_round_trip():
    st = SignState(1, 2, 3, b"bytes", b"\1" * 64, 1, 2, A)
    assert SignState.decode(st.encode()) == st

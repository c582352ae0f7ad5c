"""Encoding round-trips, strict decoding of malformed bytes, and verification
of commit certificates and duplicate-vote evidence with real signatures."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from consensus.crypto import address_of
from consensus.errors import DecodeError, InvalidCertificate, InvalidEvidence
from consensus.messages import (
    NIL,
    PRECOMMIT,
    PREVOTE,
    CommitCertificate,
    DuplicateVoteEvidence,
    Proposal,
    Vote,
)
from consensus.validators import Validator, ValidatorSet
from engine_harness import CHAIN, block_for, key, make_set, precommit, prevote

hashes = st.one_of(st.just(b""), st.binary(min_size=32, max_size=32))
addrs = st.binary(min_size=20, max_size=20)
sigs = st.binary(min_size=64, max_size=64)
heights = st.integers(0, 2**63 - 1)
rounds = st.integers(0, 2**31 - 1)

votes = st.builds(Vote, st.sampled_from([PREVOTE, PRECOMMIT]), heights, rounds, hashes, addrs, sigs)


@st.composite
def proposals(draw):
    r = draw(rounds)
    pol = draw(st.integers(-1, r - 1))
    return Proposal(draw(heights), r, draw(st.binary(min_size=32, max_size=32)), pol, draw(addrs), draw(sigs))


@settings(max_examples=200)
@given(votes)
def test_vote_round_trip(v):
    assert Vote.decode(v.encode()) == v


@settings(max_examples=200)
@given(proposals())
def test_proposal_round_trip(p):
    assert Proposal.decode(p.encode()) == p


@settings(max_examples=50)
@given(st.lists(votes, max_size=6), st.binary(min_size=32, max_size=32), heights, rounds)
def test_certificate_round_trip(vs, bh, h, r):
    vs = sorted({v.validator: v for v in vs}.values(), key=lambda v: v.validator)
    c = CommitCertificate(h, r, bh, tuple(vs))
    assert CommitCertificate.decode(c.encode()) == c


@settings(max_examples=100)
@given(votes, hashes)
def test_evidence_round_trip(v, other_hash):
    assume(other_hash != v.block_hash)
    ev = DuplicateVoteEvidence.from_votes(v, Vote(v.type, v.height, v.round, other_hash, v.validator, v.signature))
    assert DuplicateVoteEvidence.decode(ev.encode()) == ev


DECODERS = [Vote.decode, Proposal.decode, CommitCertificate.decode, DuplicateVoteEvidence.decode,
            ValidatorSet.decode, Validator.decode]


@settings(max_examples=300)
@given(st.binary(max_size=300), st.sampled_from(DECODERS))
def test_random_bytes_only_raise_decode_error(data, decode):
    try:
        decode(data)
    except DecodeError:
        pass


msgpack_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**64 - 1), st.binary(max_size=40),
              st.text(max_size=10), st.floats(allow_nan=False)),
    lambda inner: st.lists(inner, max_size=7) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=20,
)


@settings(max_examples=300)
@given(msgpack_values, st.sampled_from(DECODERS))
def test_wellformed_msgpack_of_wrong_shape_only_raises_decode_error(obj, decode):
    try:
        data = msgpack.packb(obj, use_bin_type=True)
    except (OverflowError, ValueError):
        return
    try:
        decode(data)
    except DecodeError:
        pass


@settings(max_examples=200)
@given(votes, st.integers(0, 200), st.integers(0, 255))
def test_mutated_vote_bytes_decode_to_something_else_or_fail(v, pos, byte):
    data = bytearray(v.encode())
    pos %= len(data)
    assume(data[pos] != byte)
    data[pos] = byte
    try:
        assert Vote.decode(bytes(data)) != v
    except DecodeError:
        pass


def test_specific_malformations_are_refused():
    good = prevote(key(1), 1, 0, NIL)
    f = msgpack.unpackb(good.encode())
    def enc(x): return msgpack.packb(x, use_bin_type=True)
    cases = [
        enc(f + [1]),                                  # extra field
        enc(f[:5]),                                    # missing field
        enc([3] + f[1:]),                              # unknown type
        enc([True] + f[1:]),                           # bool is not an int
        enc(f[:1] + [-1] + f[2:]),                     # negative height
        enc(f[:3] + [b"\0" * 31] + f[4:]),             # short hash
        enc(f[:4] + ["x" * 20] + f[5:]),               # str instead of bytes
        enc(f[:5] + [b"\0" * 63]),                     # short signature
        good.encode() + b"\0",                         # trailing data
        b"\x96\xcf" + (1).to_bytes(8, "big") + good.encode()[2:],  # non-minimal int
        enc({"type": 1}),                              # a map
    ]
    for data in cases:
        with pytest.raises(DecodeError):
            Vote.decode(data)
    p = Proposal(1, 2, block_for("A")[0], 2, key(1).address, b"\0" * 64)  # pol_round == round
    with pytest.raises(DecodeError):
        Proposal.decode(p.encode())


def test_address_is_sha256_prefix():
    import hashlib
    k = key(1)
    assert address_of(k.public_key.raw) == hashlib.sha256(k.public_key.raw).digest()[:20] == k.address


def test_sign_bytes_bind_chain_and_kind():
    k = key(1)
    v = Vote(PREVOTE, 1, 0, NIL, k.address)
    assert v.sign_bytes("a") != v.sign_bytes("b")
    assert v.sign_bytes("a") != Vote(PRECOMMIT, 1, 0, NIL, k.address).sign_bytes("a")
    p = Proposal(1, 0, block_for("A")[0], -1, k.address)
    assert msgpack.unpackb(p.sign_bytes(CHAIN))[0] == b"plume/proposal"
    assert msgpack.unpackb(v.sign_bytes(CHAIN))[:2] == [b"plume/vote", CHAIN.encode()]


# ------------------------------------------------------------ certificates

def cert(keys, h, r, bh, signers):
    pcs = sorted((precommit(keys[i], h, r, bh) for i in signers), key=lambda v: v.validator)
    return CommitCertificate(h, r, bh, tuple(pcs))


def test_certificate_verifies_with_quorum():
    keys, vs = make_set([1, 1, 1, 1])
    a = block_for("A")[0]
    cert(keys, 3, 1, a, [0, 1, 2]).verify(vs, CHAIN)
    CommitCertificate.decode(cert(keys, 3, 1, a, [0, 1, 2, 3]).encode()).verify(vs, CHAIN)


def reason(c, vs, chain=CHAIN):
    with pytest.raises(InvalidCertificate) as exc:
        c.verify(vs, chain)
    return str(exc.value)


def test_certificate_too_little_power():
    keys, vs = make_set([1, 1, 1, 1])
    a = block_for("A")[0]
    assert "need more than 2/3" in reason(cert(keys, 3, 1, a, [0, 1]), vs)
    keys, vs = make_set([3, 1, 1, 1])  # 4 of 6 is exactly 2/3: not enough
    assert "need more than 2/3" in reason(cert(keys, 3, 1, a, [0, 1]), vs)


def test_certificate_wrong_signature():
    keys, vs = make_set([1, 1, 1, 1])
    a = block_for("A")[0]
    c = cert(keys, 3, 1, a, [0, 1, 2])
    bad = c.precommits[0].with_signature(bytes(64))
    c2 = CommitCertificate(3, 1, a, (bad,) + c.precommits[1:])
    assert "bad signature" in reason(c2, vs)
    assert "bad signature" in reason(c, vs, chain="other-chain")


def test_certificate_duplicate_signer():
    keys, vs = make_set([1, 1, 1, 1])
    a = block_for("A")[0]
    v = precommit(keys[0], 3, 1, a)
    c = CommitCertificate(3, 1, a, (v, v, precommit(keys[1], 3, 1, a)))
    assert "duplicate" in reason(c, vs)


def test_certificate_non_validator():
    keys, vs = make_set([1, 1, 1, 1])
    a = block_for("A")[0]
    outsider = precommit(key(42), 3, 1, a)
    c = cert(keys, 3, 1, a, [0, 1])
    c2 = CommitCertificate(3, 1, a, c.precommits + (outsider,))
    assert "not in the validator set" in reason(c2, vs)


def test_certificate_mismatched_votes():
    keys, vs = make_set([1, 1, 1, 1])
    a, b = block_for("A")[0], block_for("B")[0]
    good = list(cert(keys, 3, 1, a, [0, 1, 2]).precommits)
    for bad in [precommit(keys[3], 3, 1, b), precommit(keys[3], 3, 2, a), precommit(keys[3], 4, 1, a),
                prevote(keys[3], 3, 1, a)]:
        c = CommitCertificate(3, 1, a, tuple(good[:2] + [bad]))
        reason(c, vs)
    assert "nil" in reason(CommitCertificate(3, 1, NIL, ()), vs)


# ------------------------------------------------------------ evidence

def test_evidence_verify():
    keys, vs = make_set([1, 1, 1, 1])
    a, b = block_for("A")[0], block_for("B")[0]
    ev = DuplicateVoteEvidence.from_votes(prevote(keys[0], 2, 0, b), prevote(keys[0], 2, 0, a))
    ev.verify(vs, CHAIN)
    assert ev.vote_a.block_hash < ev.vote_b.block_hash
    with pytest.raises(InvalidEvidence):
        ev.verify(vs, "other-chain")
    with pytest.raises(InvalidEvidence):
        DuplicateVoteEvidence.from_votes(prevote(keys[0], 2, 0, a), prevote(keys[1], 2, 0, b)).verify(vs, CHAIN)
    with pytest.raises(InvalidEvidence):
        DuplicateVoteEvidence.from_votes(prevote(keys[0], 2, 0, a), prevote(keys[0], 2, 1, b)).verify(vs, CHAIN)
    with pytest.raises(InvalidEvidence):
        DuplicateVoteEvidence.from_votes(prevote(keys[0], 2, 0, a), precommit(keys[0], 2, 0, b)).verify(vs, CHAIN)
    outsider = key(42)
    with pytest.raises(InvalidEvidence):
        DuplicateVoteEvidence.from_votes(prevote(outsider, 2, 0, a), prevote(outsider, 2, 0, b)).verify(vs, CHAIN)
    # Non-canonical order is refused at decode time.
    swapped = DuplicateVoteEvidence(ev.vote_b, ev.vote_a)
    with pytest.raises(DecodeError):
        DuplicateVoteEvidence.decode(swapped.encode())


def test_hostile_shapes_are_decode_errors():
    bombs = [
        b"\x91" * 100_000,                 # nesting far deeper than any value
        b"\xdd\xff\xff\xff\xff",            # array header claiming 4 billion items
        b"\xc4\xff",                        # bin header longer than the data
        b"\xdc\xff\xff" + b"\x00" * 10,     # array16 cut short
    ]
    for data in bombs:
        for decode in DECODERS:
            with pytest.raises(DecodeError):
                decode(data)
    with pytest.raises(DecodeError):
        Vote.decode("not bytes")  # type: ignore[arg-type]

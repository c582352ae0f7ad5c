"""plume_node.app.consensus_facts: a sidecar's certificate and evidence as the
plain values the end-of-block hooks read (real keys, real signatures)."""

from __future__ import annotations

import hashlib

import pytest
from eth_hash.auto import keccak

from consensus.crypto import PrivateKey
from consensus.errors import ConsensusError
from consensus.messages import PRECOMMIT, CommitCertificate, DuplicateVoteEvidence, Vote
from execution.sidecar import Sidecar
from consensus.validators import Validator, ValidatorSet
from plume_node.app import consensus_facts
from staking.end_of_block import CommitSigner, ConsensusFacts, Misbehaviour

CHAIN = "1337"
KEYS = [PrivateKey.from_seed(hashlib.sha256(b"facts-key-%d" % i).digest()) for i in range(3)]
VSET = ValidatorSet.new(Validator.from_pub_key(k.public_key.raw, 10 + i) for i, k in enumerate(KEYS))


def set_of(height: int) -> ValidatorSet:
    # the certificate's height (4) for the signers, the evidence's (3) for the double-signer
    assert height in (3, 4), "the facts read the set of the certified or the infraction height"
    return VSET


def signed(k: PrivateKey, height: int, block_hash: bytes) -> Vote:
    vote = Vote(PRECOMMIT, height, 0, block_hash, k.address)
    return vote.with_signature(k.sign(vote.sign_bytes(CHAIN)))


def certificate(height: int, signers=KEYS) -> CommitCertificate:
    block_hash = hashlib.sha256(b"block %d" % height).digest()
    votes = sorted((signed(k, height, block_hash) for k in signers), key=lambda v: v.validator)
    return CommitCertificate(height, 0, block_hash, tuple(votes))


def test_block_one_has_no_signers_and_no_evidence() -> None:
    assert consensus_facts(Sidecar(round=0, last_commit=b""), set_of) == ConsensusFacts((), ())


def test_signers_and_evidence_are_decoded() -> None:
    cert = certificate(4)
    a, b = signed(KEYS[1], 3, b"\x01" * 32), signed(KEYS[1], 3, b"\x02" * 32)
    evidence = DuplicateVoteEvidence.from_votes(a, b)
    facts = consensus_facts(Sidecar(round=2, last_commit=cert.encode(), evidence=(evidence.encode(),)), set_of)
    assert facts.last_commit_signers == tuple(
        CommitSigner(k.address, k.public_key.raw, 10 + i) for i, k in sorted(enumerate(KEYS), key=lambda e: e[1].address)
    )
    # with the double-signer's key and power in the set of its height, for staking to slash,
    # and the keccak of the evidence's encoding (what plume_submitEvidence returns, EvidenceApplied logs)
    assert facts.evidence == (Misbehaviour(KEYS[1].address, 3, KEYS[1].public_key.raw, 11, keccak(evidence.encode())),)
    assert facts.last_commit_absent == ()  # everyone signed


def test_the_members_absent_from_the_certificate_are_listed_for_the_downtime_rule() -> None:
    cert = certificate(4, signers=KEYS[:2])  # decoding only: validate_block checks the power
    facts = consensus_facts(Sidecar(round=0, last_commit=cert.encode()), set_of)
    assert [s.address for s in facts.last_commit_signers] == sorted(k.address for k in KEYS[:2])
    assert facts.last_commit_absent == (CommitSigner(KEYS[2].address, KEYS[2].public_key.raw, 12),)


def test_an_undecodable_certificate_raises() -> None:
    with pytest.raises(ConsensusError):
        consensus_facts(Sidecar(round=0, last_commit=b"\x93junk"), set_of)

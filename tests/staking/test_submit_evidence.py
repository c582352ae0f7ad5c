"""``submitEvidence(bytes)``: anyone proves a double-sign with real signed votes; valid evidence
slashes, jails and tombstones in the transaction and logs EvidenceApplied, Slashed and Jailed;
every kind of bad evidence reverts with its reason and changes nothing; evidence applies once,
whether it comes by transaction or in a block's sidecar. The verifier is the node's
(``plume_node.evidence``) over real consensus keys and a validator-set history."""

from __future__ import annotations

import hashlib
from functools import partial

import pytest
from eth_bloom import BloomFilter
from eth_utils import keccak

from consensus.crypto import PrivateKey
from consensus.messages import PRECOMMIT, PREVOTE, DuplicateVoteEvidence, Vote
from consensus.validators import Validator, ValidatorSet
from execution.chain import no_consensus_facts
from execution.errors import InvalidBlock
from execution.sidecar import Sidecar
from plume_node.app import consensus_facts
from plume_node.evidence import ChainEvidenceVerifier
from staking import abi, views
from staking.addresses import STAKING_ADDRESS
from staking.end_of_block import ConsensusFacts
from staking.evidence import (
    EVIDENCE_GAS_PER_SET_BYTE,
    MAX_EVIDENCE_BYTES,
    SUBMIT_EVIDENCE_GAS,
    InvalidEvidence,
    Misbehaviour,
)
from staking.params import SlashingParams, StakingParams
from staking_harness import ADDRS, CHAIN_ID, PLUME, StakingChain, calldata, consensus_key, decoded_logs

JOINS_AT = 3  # validator 3 is in the consensus set from this height on (0..2 from genesis)


def signing_key(i: int) -> PrivateKey:
    key = PrivateKey.from_seed(keccak(b"consensus-%d" % i))
    assert key.public_key.raw == consensus_key(i)  # the harness's genesis validator i
    return key


def validator_set_of(height: int) -> ValidatorSet:
    """A history: validators 0..2 from genesis, 3 and 6 join at JOINS_AT (every one 100 power)."""
    members = (0, 1, 2, 3, 6) if height >= JOINS_AT else (0, 1, 2)  # 6: a key no staking validator has
    return ValidatorSet.new([Validator.from_pub_key(consensus_key(i), 100) for i in members])


def set_size_of(height: int) -> int:
    """What the node reads without decoding: the byte length of the stored set."""
    return len(validator_set_of(height).encode())


def vote(who: int, height: int, tag: bytes, *, rnd: int = 0, kind: int = PREVOTE,
         chain_id: str = str(CHAIN_ID)) -> Vote:
    key = signing_key(who)
    v = Vote(kind, height, rnd, hashlib.sha256(tag).digest(), key.address)
    return v.with_signature(key.sign(v.sign_bytes(chain_id)))


def evidence(who: int, height: int, **kw) -> bytes:
    return DuplicateVoteEvidence.from_votes(vote(who, height, b"a", **kw), vote(who, height, b"b", **kw)).encode()


class Chain(StakingChain):
    """A staking chain whose contract verifies with the node's verifier and whose next block's
    sidecar carries ``self.pending`` evidence."""

    def __init__(self, slashing: SlashingParams = SlashingParams(), verifier: bool = True) -> None:
        self.pending: tuple[Misbehaviour, ...] = ()
        super().__init__(
            StakingParams(unbonding_period=60, epoch_length=1000), slashing=slashing,
            read_sidecar=lambda sidecar: ConsensusFacts((), self.pending),
            evidence_verifier=ChainEvidenceVerifier(validator_set_of, set_size_of, str(CHAIN_ID)) if verifier else None,
        )

    def submit(self, who: int, encoded: bytes):
        return self.send(who, "submitEvidence", encoded)

    def in_sidecar(self, misbehaviour: Misbehaviour):
        self.pending = (misbehaviour,)
        result = self.block()
        self.pending = ()
        return result

    def tombstoned(self, i: int) -> bool:
        return views.validator(self.state(), ADDRS[i], 0).tombstoned


def expected_events(i: int, ev: bytes, height: int, burned: int) -> list[tuple[str, tuple]]:
    operator = ADDRS[i]
    return [
        ("EvidenceApplied", (operator, keccak(ev), height)),
        ("Slashed", (operator, abi.Infraction.DOUBLE_SIGN, burned, height)),
        ("Jailed", (operator, abi.Infraction.DOUBLE_SIGN, abi.JAILED_FOREVER)),
    ]


def test_valid_evidence_slashes_in_the_transaction_and_logs_the_three_events():
    c = Chain()
    c.advance(4)
    infraction = c.chain.height
    ev = evidence(1, infraction)
    slashed_before = c.chain.state_at().total_slashed()
    out = c.submit(5, ev)  # anyone may submit: 5 is no validator
    assert out.ok and out.gas_used > 21_000 + SUBMIT_EVIDENCE_GAS
    burned = 5 * PLUME  # 5% of the 100 power it signed with
    assert decoded_logs(out.logs) == expected_events(1, ev, infraction, burned)
    assert c.tombstoned(1) and views.validator(c.state(), ADDRS[1], 0).tokens == 95 * PLUME
    assert c.chain.state_at().total_slashed() - slashed_before == burned
    assert ADDRS[1] not in [v.operator for v in views.active_set(c.state())]  # chosen again at the block's end


def test_evidence_applies_once_by_transaction_then_sidecar_and_by_sidecar_then_transaction():
    c = Chain()
    c.advance(4)
    h = c.chain.height
    ev = evidence(1, h)
    assert c.submit(5, ev).ok
    tokens = views.validator(c.state(), ADDRS[1], 0).tokens
    # the same evidence again by transaction: refused, by sidecar: nothing happens, no log
    c.refused_raw(6, calldata("submitEvidence", ev), reason="evidence already applied")
    c.in_sidecar(Misbehaviour(signing_key(1).address, h, consensus_key(1), 100, keccak(ev)))
    assert c.chain.get_system_logs_by_hash(c.chain.head.hash) == ()
    assert views.validator(c.state(), ADDRS[1], 0).tokens == tokens
    # the other way round: the sidecar applies it (with the three logs), the transaction reverts
    ev2 = evidence(2, h)
    c.in_sidecar(Misbehaviour(signing_key(2).address, h, consensus_key(2), 100, keccak(ev2)))
    assert decoded_logs(c.chain.get_system_logs_by_hash(c.chain.head.hash)) == expected_events(2, ev2, h, 5 * PLUME)
    c.refused_raw(5, calldata("submitEvidence", ev2), reason="evidence already applied")


def test_a_transaction_and_the_sidecar_in_one_block_slash_once():
    c = Chain()
    c.advance(4)
    h = c.chain.height
    ev = evidence(1, h)
    c.pending = (Misbehaviour(signing_key(1).address, h, consensus_key(1), 100, keccak(ev)),)
    out = c.submit(5, ev)  # the transaction runs before the end-of-block hooks
    c.pending = ()
    assert out.ok and len(out.logs) == 3
    assert c.chain.get_system_logs_by_hash(c.chain.head.hash) == ()
    assert views.validator(c.state(), ADDRS[1], 0).tokens == 95 * PLUME


def _garbage_cases(h: int) -> list[tuple[str, bytes, str]]:
    a = vote(1, h, b"a")
    return [
        ("another chain id", evidence(1, h, chain_id="9999"), "bad signature"),
        ("two votes for the same block", DuplicateVoteEvidence(a, a).encode(), "votes are for the same block"),
        ("different heights", DuplicateVoteEvidence.from_votes(a, vote(1, h - 1, b"b")).encode(),
         "different height, round or type"),
        ("different rounds", DuplicateVoteEvidence.from_votes(a, vote(1, h, b"b", rnd=1)).encode(),
         "different height, round or type"),
        ("different types", DuplicateVoteEvidence.from_votes(a, vote(1, h, b"b", kind=PRECOMMIT)).encode(),
         "different height, round or type"),
        ("unknown validator", evidence(7, h), "validator not in the set of the evidence height"),
        ("a key not in the set of that height", evidence(3, JOINS_AT - 1), "validator not in the set of the evidence height"),
        ("bad signature", _forged(h), "bad signature"),
        ("a future height", evidence(1, h + 100), "evidence height is not a past height"),
        ("height 0", evidence(1, 0), "evidence height is not a past height"),
        ("garbage bytes", b"\xde\xad\xbe\xef" * 20, "malformed evidence"),
        ("empty bytes", b"", "malformed evidence"),
        # one byte over the bound makes the calldata longer than the method's bound
        ("too large", b"\x00" * (MAX_EVIDENCE_BYTES + 1), "-byte bound"),
    ]


def _forged(h: int) -> bytes:
    a, b = vote(1, h, b"a"), vote(1, h, b"b")
    bad = Vote(b.type, b.height, b.round, b.block_hash, b.validator, bytes([b.signature[0] ^ 1]) + b.signature[1:])
    return DuplicateVoteEvidence.from_votes(a, bad).encode()


def test_each_kind_of_bad_evidence_reverts_with_its_reason_and_slashes_nobody():
    c = Chain()
    c.advance(6)
    for name, ev, reason in _garbage_cases(c.chain.height):
        out = c.refused_raw(5, calldata("submitEvidence", ev), reason=reason)
        assert out.logs == [], name
    assert not any(c.tombstoned(i) for i in range(4))


def test_calldata_over_the_bound_reverts_before_it_is_decoded():
    c = Chain()
    c.advance(2)
    method = [m for m in abi.METHODS.values() if m.name == "submitEvidence"][0]
    huge = calldata("submitEvidence", b"\x01" * 4096)
    out = c.refused_raw(5, huge, reason=f"calldata of {len(huge)} bytes is over the {method.max_calldata}-byte bound")
    # what it paid: the base gas and the transaction's calldata, nothing for decoding or verifying
    assert out.gas_used < 21_000 + SUBMIT_EVIDENCE_GAS + 16 * len(huge) * 4


def test_verified_evidence_that_slashes_nobody_reverts_too_old_or_no_validator():
    c = Chain(SlashingParams(max_evidence_age=3))
    c.advance(3)
    old = evidence(1, c.chain.height)
    c.advance(4)
    c.refused_raw(5, calldata("submitEvidence", old), reason="evidence older than max_evidence_age")
    assert not c.tombstoned(1)
    c.refused_raw(5, calldata("submitEvidence", evidence(6, c.chain.height - 1)),
                  reason="the evidence's key belongs to no validator")


def test_without_a_verifier_the_method_reverts_unavailable():
    c = Chain(verifier=False)
    c.advance(3)
    c.refused_raw(5, calldata("submitEvidence", evidence(1, 2)), reason="evidence verification unavailable")


def test_static_call_cannot_submit_and_eth_call_simulates_without_writing():
    c = Chain()
    c.advance(3)
    ev = evidence(1, 2)
    # eth_call runs the verifier and the slash on a throwaway state: nothing changes
    assert c.chain.call({"from": ADDRS[5], "to": STAKING_ADDRESS, "data": calldata("submitEvidence", ev)}) == b""
    assert not c.tombstoned(1)


@pytest.mark.parametrize("who", [0, 3])
def test_the_verdict_reads_the_set_of_the_evidence_height(who):
    """Validator 3 was not in the set of height JOINS_AT - 1 but is from JOINS_AT on."""
    c = Chain()
    c.advance(5)
    assert c.submit(5, evidence(who, JOINS_AT)).ok
    assert c.tombstoned(who)


def test_sidecar_evidence_logs_are_in_the_bloom_and_the_same_on_a_replaying_node():
    """The node's own decoder (consensus_facts) gives the evidence hash; a node that validates
    the blocks after the fact (as block sync does) gets the same logs; one whose hooks see no
    evidence refuses the block on its bloom."""
    read = partial(consensus_facts, validator_set_of=validator_set_of)
    proposer, replayer = StakingChain(read_sidecar=read), StakingChain(read_sidecar=read)
    blind = StakingChain(read_sidecar=no_consensus_facts)
    blocks = [proposer.block().block for _ in range(4)]
    ev = evidence(1, 3)
    built = proposer.chain.build_block([], timestamp=proposer.chain.head.timestamp + 1, coinbase=bytes(20),
                                       sidecar=Sidecar(round=0, last_commit=b"", evidence=(ev,)))
    proposer.chain.commit(built.block)
    blocks.append(built.block)
    logs = proposer.chain.get_system_logs_by_hash(built.block.hash)
    assert decoded_logs(logs) == expected_events(1, ev, 3, 5 * PLUME)
    bloom = int(built.block.header.bloom)
    assert all(bits & bloom == bits for bits in (_bits(STAKING_ADDRESS), _bits(abi.EVIDENCE_APPLIED.topic0.to_bytes(32, "big"))))
    assert built.block.header.receipt_root == blocks[0].header.receipt_root  # no receipt for them: the empty root
    for blk in blocks:
        replayer.chain.validate_block(blk)
        replayer.chain.commit(blk)
    assert replayer.chain.get_system_logs_by_hash(built.block.hash) == logs
    for blk in blocks[:-1]:
        blind.chain.commit(blk)
    with pytest.raises(InvalidBlock, match="logs bloom mismatch"):
        blind.chain.validate_block(built.block)


def _bits(value: bytes) -> int:
    bloom = BloomFilter()
    bloom.add(value)
    return int(bloom)


def test_the_verifier_charges_per_byte_of_the_stored_set_before_decoding_it():
    verify = ChainEvidenceVerifier(validator_set_of, set_size_of, str(CHAIN_ID))
    charged: list[int] = []
    assert verify(evidence(1, 5), 10, charged.append).pub_key == consensus_key(1)
    assert charged == [EVIDENCE_GAS_PER_SET_BYTE * set_size_of(5)]
    charged.clear()
    with pytest.raises(InvalidEvidence, match="bad signature"):
        verify(_forged(2), 10, charged.append)
    assert charged == [EVIDENCE_GAS_PER_SET_BYTE * set_size_of(2)]  # charged before the signatures
    charged.clear()
    with pytest.raises(InvalidEvidence, match="malformed"):
        verify(b"junk", 10, charged.append)
    assert charged == []  # no set read


def test_gas_for_the_base_but_not_for_the_set_runs_out_and_changes_nothing():
    c = Chain()
    c.advance(6)
    data = calldata("submitEvidence", evidence(1, 5))
    intrinsic = 21_000 + sum(4 if b == 0 else 16 for b in data)
    gas = intrinsic + SUBMIT_EVIDENCE_GAS + EVIDENCE_GAS_PER_SET_BYTE * set_size_of(5) - 1
    out = c.refused_raw(5, data, reason=None, gas=gas)  # out of gas: no revert data
    assert out.gas_used == gas and not c.tombstoned(1)

"""Unit tests of the simulator's parts that do not need an engine run:
scenario parsing and checks, the virtual clock, the network model, the
application's validity rule, the invariant checker and the evidence pool
(fed real signed votes and certificates)."""

from __future__ import annotations

import random

import pytest

from consensus.messages import PRECOMMIT, PREVOTE, CommitCertificate, Vote
from consensus.sim.app import block_hash, make_block, make_invalid_block, validation_error
from consensus.sim.events import EventQueue
from consensus.sim.evidence import EvidencePool
from consensus.sim.invariants import InvariantChecker
from consensus.sim.network import Network
from consensus.sim.scenario import (
    Fault,
    Partition,
    Scenario,
    ScenarioError,
    parse_delay,
    parse_fault,
    parse_partition,
    parse_powers,
)
from consensus.sim.keys import CHAIN_ID, validator_key
from consensus.validators import Validator, ValidatorSet


# -- parsing -------------------------------------------------------------------


def test_parse_partition_with_window() -> None:
    p = parse_partition("0,1|2,3@1000-5000")
    assert p == Partition((frozenset({"0", "1"}), frozenset({"2", "3"})), 1000, 5000)
    assert p.active(1000) and p.active(4999) and not p.active(5000) and not p.active(999)


def test_parse_partition_forms() -> None:
    assert parse_partition("0|1,2,0b@7").end_ms is None
    assert parse_partition("0|1").start_ms == 0
    assert "0b" in parse_partition("0b|1").groups[0]


@pytest.mark.parametrize("text", ["0,9|x", "0,1", "|1", "0|1@x-3", "0|1@5-"])
def test_parse_partition_rejects(text: str) -> None:
    with pytest.raises(ScenarioError):
        parse_partition(text)


def test_parse_fault_forms() -> None:
    assert parse_fault("twins:0") == Fault("twins", 0, 0, None)
    assert parse_fault("crash:2@100-900") == Fault("crash", 2, 100, 900)
    assert parse_fault("silent:1@50") == Fault("silent", 1, 50, None)
    for bad in ("twins", "bogus:1", "crash:x", "crash:1@a"):
        with pytest.raises(ScenarioError):
            parse_fault(bad)


def test_parse_delay_and_powers() -> None:
    assert parse_delay("10-100") == (10, 100)
    assert parse_delay("7") == (7, 7)
    assert parse_powers("3,2,1") == (3, 2, 1)
    for bad in ("100-10", "a-b", "-1"):
        with pytest.raises(ScenarioError):
            parse_delay(bad)
    for bad in ("1,x", "1,0", ""):
        with pytest.raises(ScenarioError):
            parse_powers(bad)


def test_scenario_checks_nodes_powers_and_windows() -> None:
    with pytest.raises(ScenarioError, match="no node 4"):
        Scenario(validators=4, faults=(Fault("silent", 4),))
    with pytest.raises(ScenarioError, match="powers"):
        Scenario(validators=3, powers=(1, 2))
    with pytest.raises(ScenarioError, match="no node '1b'"):
        Scenario(validators=4, partitions=(parse_partition("0|1b"),))
    with pytest.raises(ScenarioError, match="two groups"):
        Scenario(validators=4, partitions=(parse_partition("0,1|1,2"),))
    with pytest.raises(ScenarioError, match="more than one Byzantine"):
        Scenario(validators=4, faults=(Fault("silent", 1), Fault("twins", 1)))
    with pytest.raises(ScenarioError, match="after the start"):
        Scenario(validators=4, faults=(Fault("crash", 1, 500, 100),))
    ok = Scenario(validators=4, faults=(Fault("twins", 1),), partitions=(parse_partition("0,1|1b,2,3@0-10"),))
    assert ok.node_names() == ("0", "1", "2", "3", "1b")
    assert ok.byzantine_validators() == {1}
    assert ok.last_fault_change_ms() == 10 and ok.heals()


# -- clock and network ---------------------------------------------------------------


def test_event_queue_orders_by_time_then_insertion() -> None:
    q = EventQueue()
    q.schedule(5, "b")
    q.schedule(1, "a")
    q.schedule(5, "c")
    assert [q.pop() for _ in range(3)] == ["a", "b", "c"]
    assert q.now_ms == 5
    with pytest.raises(ValueError):
        q.schedule(-1, "past")


def test_network_partition_and_drop() -> None:
    part = parse_partition("0,1|2@100-200")
    net = Network(random.Random(1), (10, 20), 0.0, (part,))
    assert net.connected("0", "2", 99) and not net.connected("0", "2", 100)
    assert net.connected("0", "1", 150)
    # "3" is named in no group: it shares the extra group, cut off from 0 and 2.
    assert not net.connected("3", "0", 150) and net.connected("3", "0", 200)
    assert all(10 <= (net.transit("0", "1", 0) or -1) <= 20 for _ in range(50))
    assert net.transit("0", "2", 150) is None
    lossy = Network(random.Random(2), (1, 1), 0.5, ())
    lost = sum(lossy.transit("0", "1", 0) is None for _ in range(400))
    assert 120 < lost < 280


# -- application ----------------------------------------------------------------------


def test_block_validity_rule() -> None:
    good = make_block(3, "1", 0)
    assert validation_error(3, block_hash(good), good) == ""
    assert "height" in validation_error(4, block_hash(good), good)
    assert "hash" in validation_error(3, block_hash(b"other"), good)
    bad = make_invalid_block(3, "1", 0)
    assert validation_error(3, block_hash(bad), bad) != ""


# -- invariant checker and evidence, with real signatures -------------------------------


def _keys_and_set(n: int = 4) -> tuple[list, ValidatorSet]:
    keys = [validator_key(i) for i in range(n)]
    return keys, ValidatorSet.new(Validator(k.address, k.public_key.raw, 1) for k in keys)


def _vote(key, type_: int, height: int, round_: int, hash_: bytes) -> Vote:  # type: ignore[no-untyped-def]
    unsigned = Vote(type_, height, round_, hash_, key.address)
    return unsigned.with_signature(key.sign(unsigned.sign_bytes(CHAIN_ID)))


def _cert(keys, height: int, block: bytes, signers: int) -> CommitCertificate:  # type: ignore[no-untyped-def]
    h = block_hash(block)
    votes = sorted((_vote(k, PRECOMMIT, height, 0, h) for k in keys[:signers]), key=lambda v: v.validator)
    return CommitCertificate(height, 0, h, tuple(votes))


def test_checker_accepts_a_good_commit_and_flags_disagreement() -> None:
    keys, vset = _keys_and_set()
    checker = InvariantChecker(CHAIN_ID, lambda h: vset, frozenset({"0", "1", "2"}))
    a, b = make_block(1, "0", 0), make_block(1, "0", 0, nonce="x")
    checker.on_commit("0", 10, 1, block_hash(a), a, _cert(keys, 1, a, 3))
    assert checker.violations == [] and checker.agreement
    # A Byzantine node's commit of another (certified) block is not a disagreement...
    checker.on_commit("3", 11, 1, block_hash(b), b, _cert(keys, 1, b, 3))
    assert checker.agreement
    # ...an honest node's is.
    checker.on_commit("1", 12, 1, block_hash(b), b, _cert(keys, 1, b, 3))
    assert not checker.agreement and any(v.startswith("agreement") for v in checker.violations)


def test_checker_flags_weak_certificate_invalid_block_and_gaps() -> None:
    keys, vset = _keys_and_set()
    checker = InvariantChecker(CHAIN_ID, lambda h: vset, frozenset({"0"}))
    a = make_block(1, "0", 0)
    checker.on_commit("0", 1, 1, block_hash(a), a, _cert(keys, 1, a, 2))  # 2 of 4 is not +2/3
    assert any(v.startswith("certificate") for v in checker.violations)
    bad = make_invalid_block(2, "0", 0)
    checker.on_commit("0", 2, 2, block_hash(bad), bad, _cert(keys, 2, bad, 3))
    assert any(v.startswith("validity") for v in checker.violations)
    c = make_block(5, "0", 0)
    checker.on_commit("0", 3, 5, block_hash(c), c, _cert(keys, 5, c, 4))
    assert any("right after height 2" in v for v in checker.violations)


def test_checker_progress() -> None:
    checker = InvariantChecker(CHAIN_ID, lambda h: None, frozenset({"0", "1"}))
    checker.check_progress(3, {"0": 3, "1": 2}, ["0", "1"], 999)
    assert checker.violations == ["progress: node 1 reached height 2 of 3 by t=999ms"]


def test_evidence_pool_proves_only_real_double_signs() -> None:
    keys, vset = _keys_and_set()
    pool = EvidencePool(CHAIN_ID, lambda h: vset)
    h1, h2 = block_hash(b"x"), block_hash(b"y")
    pool.observe_vote(_vote(keys[0], PREVOTE, 1, 0, h1))
    pool.observe_vote(_vote(keys[0], PREVOTE, 1, 0, h1))  # same vote again: no evidence
    pool.observe_vote(_vote(keys[0], PREVOTE, 1, 1, h2))  # another round: no evidence
    pool.observe_vote(_vote(keys[1], PRECOMMIT, 1, 0, h1))  # another type/validator
    assert pool.addresses() == ()
    pool.observe_vote(_vote(keys[0], PREVOTE, 1, 0, h2))
    assert pool.addresses() == (keys[0].address.hex(),)
    # A forged second vote (bad signature) proves nothing and is reported.
    forged = Vote(PREVOTE, 1, 0, h2, keys[2].address, b"\x01" * 64)
    pool.observe_vote(_vote(keys[2], PREVOTE, 1, 0, h1))
    pool.observe_vote(forged)
    assert keys[2].address not in pool.proven and pool.bad

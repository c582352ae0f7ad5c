"""Validator registration, edits, jailing and unjail: every rule, each refusal clean."""

from __future__ import annotations

import pytest

from staking.ed25519 import P, is_valid_public_key
from staking.params import DAY, StakingParams
from staking.validators import MAX_MONIKER_BYTES
from staking_harness import ADDRS, PLUME, StakingChain, consensus_key

NEW = 5  # an account that operates no validator yet

# The eight points of order dividing 8 (libsodium's blocklist): anyone can forge signatures for them.
SMALL_ORDER_KEYS = [bytes.fromhex(h) for h in (
    "0100000000000000000000000000000000000000000000000000000000000000",  # identity
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
    "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
    "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
)]


def _y(value: int, sign: int = 0) -> bytes:
    return (value | sign << 255).to_bytes(32, "little")


@pytest.fixture
def sc() -> StakingChain:
    return StakingChain()


def create(sc: StakingChain, who: int = NEW, key: bytes | None = None, moniker: str = "new",
           rate: int = 500, max_rate: int = 2000, max_change: int = 100, value: int = 10 * PLUME):
    key = consensus_key(who) if key is None else key
    return sc.send(who, "createValidator", key, moniker, rate, max_rate, max_change, value=value)


# -- Ed25519 key check ----------------------------------------------------------------


def test_real_keys_are_valid() -> None:
    assert all(is_valid_public_key(consensus_key(i)) for i in range(20))


@pytest.mark.parametrize("key", SMALL_ORDER_KEYS)
def test_small_order_points_are_refused(key: bytes) -> None:
    assert not is_valid_public_key(key)


def test_non_canonical_y_is_refused() -> None:
    # y = 3 is a point of large order; y = P + 3 encodes the same point non-canonically
    assert is_valid_public_key(_y(3))
    assert not is_valid_public_key(_y(P + 3))
    assert not is_valid_public_key(_y(P + 1))  # the identity, non-canonically


def test_not_on_curve_and_negative_zero_are_refused() -> None:
    assert not is_valid_public_key(_y(2))  # no x for y = 2
    assert not is_valid_public_key(_y(1, sign=1))  # x = 0 with the sign bit set
    assert not is_valid_public_key(consensus_key(1)[:31])


@pytest.mark.parametrize("key", [SMALL_ORDER_KEYS[4], _y(P + 3), _y(2)])
def test_create_validator_refuses_invalid_keys(sc: StakingChain, key: bytes) -> None:
    sc.refused(NEW, "createValidator", key, "bad", 500, 2000, 100, value=10 * PLUME,
               reason="not a valid Ed25519 public key")


# -- createValidator ---------------------------------------------------------------------


def test_create_validator_registers_and_self_delegates(sc: StakingChain) -> None:
    before = sc.balance(ADDRS[NEW])
    out = create(sc, moniker="alice")
    assert out.ok, out.reason
    key, moniker, tokens, shares, rate, jailed, status = sc.view("getValidator", ADDRS[NEW])
    assert (key, moniker, tokens, shares, rate, jailed, status) == (
        consensus_key(NEW), "alice", 10 * PLUME, 10 * PLUME, 500, False, 0)
    assert sc.view("getDelegation", ADDRS[NEW], ADDRS[NEW]) == (10 * PLUME, 10 * PLUME)
    assert sc.view("getValidatorByConsensusKey", consensus_key(NEW)) == ("0x" + ADDRS[NEW].hex(),)
    assert sc.view("validatorCount") == (5,)
    assert sc.view("totalBonded") == (410 * PLUME,)
    head = sc.chain.head
    fee = out.gas_used * (head.base_fee_per_gas + 10**9)
    assert sc.balance(ADDRS[NEW]) == before - 10 * PLUME - fee
    assert sc.view("getCommission", ADDRS[NEW]) == (500, 2000, 100, head.timestamp)


def test_create_validator_below_min_self_delegation(sc: StakingChain) -> None:
    sc.refused(NEW, "createValidator", consensus_key(NEW), "x", 0, 0, 0, value=PLUME - 1, reason="below the minimum")


def test_duplicate_operator_and_duplicate_key(sc: StakingChain) -> None:
    sc.refused(0, "createValidator", consensus_key(NEW), "x", 0, 0, 0, value=PLUME, reason="already operates")
    sc.refused(NEW, "createValidator", consensus_key(1), "x", 0, 0, 0, value=PLUME, reason="already used")


@pytest.mark.parametrize("rate,max_rate,max_change,reason", [
    (0, 10_001, 0, "above 10000 bps"),
    (2001, 2000, 0, "above the max commission"),
    (0, 2000, 2001, "max change 2001 bps is above the max commission"),
])
def test_commission_bounds_at_creation(sc, rate, max_rate, max_change, reason) -> None:
    sc.refused(NEW, "createValidator", consensus_key(NEW), "x", rate, max_rate, max_change, value=PLUME, reason=reason)


def test_commission_bounds_edges_are_accepted(sc: StakingChain) -> None:
    assert create(sc, rate=10_000, max_rate=10_000, max_change=10_000).ok


def test_moniker_length(sc: StakingChain) -> None:
    sc.refused(NEW, "createValidator", consensus_key(NEW), "m" * (MAX_MONIKER_BYTES + 1), 0, 0, 0, value=PLUME,
               reason="moniker is longer")
    # the limit is in bytes of UTF-8: 22 three-byte characters are 66 bytes
    sc.refused(NEW, "createValidator", consensus_key(NEW), "\u20ac" * 22, 0, 0, 0, value=PLUME, reason="moniker")
    assert create(sc, moniker="m" * MAX_MONIKER_BYTES).ok
    assert sc.view("getValidator", ADDRS[NEW])[1] == "m" * MAX_MONIKER_BYTES


# -- editValidator -------------------------------------------------------------------------


def test_edit_commission_rules(sc: StakingChain) -> None:
    assert create(sc, rate=500, max_rate=2000, max_change=100).ok
    created_at = sc.chain.head.timestamp
    # a new moniker with the same rate is fine at any time
    out = sc.send(NEW, "editValidator", "renamed", 500)
    assert out.ok and sc.view("getValidator", ADDRS[NEW])[1] == "renamed"
    # the creation counts as the last rate change: no change within 24 h of it
    sc.refused(NEW, "editValidator", "renamed", 600, reason="less than 24 h ago")
    sc.advance(1, dt=created_at + DAY - 1 - sc.chain.head.timestamp)
    sc.refused(NEW, "editValidator", "renamed", 600, reason="less than 24 h ago")
    sc.advance(1, dt=1)  # now exactly 24 h after the creation
    sc.refused(NEW, "editValidator", "renamed", 601, reason="at most 100 bps")
    assert sc.send(NEW, "editValidator", "renamed", 600, dt=0).ok
    changed_at = sc.chain.head.timestamp
    assert sc.view("getCommission", ADDRS[NEW]) == (600, 2000, 100, changed_at)
    sc.advance(1, dt=DAY)
    assert sc.send(NEW, "editValidator", "x", 500, dt=0).ok  # down by max_change


def test_edit_above_max_commission(sc: StakingChain) -> None:
    assert create(sc, rate=1950, max_rate=2000, max_change=100).ok
    sc.advance(1, dt=DAY)
    sc.refused(NEW, "editValidator", "x", 2001, reason="above the max commission")


def test_edit_moniker_too_long_and_unknown_validator(sc: StakingChain) -> None:
    sc.refused(0, "editValidator", "m" * (MAX_MONIKER_BYTES + 1), 1000, reason="moniker is longer")
    sc.refused(NEW, "editValidator", "x", 0, reason="no validator")


def test_edit_shortens_moniker_and_clears_old_chunks(sc: StakingChain) -> None:
    assert create(sc, moniker="a" * 64).ok
    assert sc.send(NEW, "editValidator", "b", 500).ok
    assert sc.view("getValidator", ADDRS[NEW])[1] == "b"


# -- jailing ---------------------------------------------------------------------------------


def test_self_undelegation_under_minimum_jails_and_unjail_needs_the_minimum_back() -> None:
    params = StakingParams(unbonding_period=60, epoch_length=5, min_self_delegation=50 * PLUME)
    sc = StakingChain(params)
    out = sc.send(0, "undelegate", ADDRS[0], 50 * PLUME)  # exactly the minimum left: not jailed
    assert out.ok and not sc.view("getValidator", ADDRS[0])[5]
    out = sc.send(0, "undelegate", ADDRS[0], 1)
    assert out.ok and sc.view("getValidator", ADDRS[0])[5]
    jailed = [log for log in out.logs if len(log.topics) == 2]
    assert len(jailed) == 1  # Jailed(operator, reason, until)
    sc.refused(0, "unjail", reason="below the minimum")
    # jailed: out of the active set at the next epoch end
    sc.to_epoch_end()
    assert ("0x" + ADDRS[0].hex()) not in sc.view("getActiveValidators")[0]
    assert sc.view("getValidator", ADDRS[0])[6] == 1  # unbonding
    # the operator delegates the missing wei back, then unjails
    assert sc.send(0, "delegate", ADDRS[0], value=1).ok
    assert sc.send(0, "unjail").ok
    assert not sc.view("getValidator", ADDRS[0])[5]
    sc.to_epoch_end()
    assert ("0x" + ADDRS[0].hex()) in sc.view("getActiveValidators")[0]


def test_unjail_refusals(sc: StakingChain) -> None:
    sc.refused(0, "unjail", reason="not jailed")
    sc.refused(NEW, "unjail", reason="no validator")


def test_undelegation_by_others_does_not_jail(sc: StakingChain) -> None:
    assert sc.send(NEW, "delegate", ADDRS[0], value=10 * PLUME).ok
    assert sc.send(NEW, "undelegate", ADDRS[0], 10 * PLUME).ok
    assert not sc.view("getValidator", ADDRS[0])[5]


def test_self_redelegation_under_minimum_jails() -> None:
    params = StakingParams(unbonding_period=60, epoch_length=5, min_self_delegation=95 * PLUME)
    sc = StakingChain(params)
    out = sc.send(0, "redelegate", ADDRS[0], ADDRS[1], 6 * PLUME)
    assert out.ok, out.reason
    assert sc.view("getValidator", ADDRS[0])[5]

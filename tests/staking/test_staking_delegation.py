"""Delegation: share math (rounding, dust), the stake cap, undelegate, redelegate, cancelUnbonding."""

from __future__ import annotations

import pytest

from staking import queues
from staking.delegation import add_delegation, remove_delegation, token_value
from staking.errors import StakingRevert
from staking.params import StakingParams
from staking.store import Store
from staking_harness import ADDRS, PLUME, StakingChain, calldata, consensus_key

D = 5  # a delegator that operates no validator
V = bytes.fromhex("11" * 20)
A, B = bytes.fromhex("aa" * 20), bytes.fromhex("bb" * 20)
ADDR = bytes(19) + b"\x10"


class DictState:
    """Storage in a dict: the share math on its own, with a validator whose tokens moved
    without new shares (as a slash or a compounded reward will do)."""

    def __init__(self) -> None:
        self.slots: dict = {}

    def get_storage(self, address: bytes, slot: int) -> int:
        return self.slots.get((address, slot), 0)

    def set_storage(self, address: bytes, slot: int, value: int) -> None:
        self.slots[(address, slot)] = value


def _store_with_validator(tokens: int, shares: int) -> Store:
    store = Store(DictState(), ADDR)
    add_delegation(store, V, V, shares)  # 1:1 at first
    store.set("validator.tokens", V, tokens)
    store.set("total_bonded", tokens)
    return store


# -- share math ----------------------------------------------------------------------------


def test_buying_rounds_shares_down() -> None:
    store = _store_with_validator(tokens=70, shares=100)
    assert add_delegation(store, A, V, 10) == 14  # 10 * 100 / 70 = 14.28...
    assert store.get("validator.shares", V) == 114
    assert store.get("validator.tokens", V) == 80
    assert token_value(store, A, V) == (14, 9)  # 14 * 80 // 114: under what was paid, never above


def test_selling_rounds_shares_given_up_up() -> None:
    store = _store_with_validator(tokens=70, shares=100)
    add_delegation(store, A, V, 35)  # 50 shares
    assert remove_delegation(store, A, V, 10) == 10
    # 10 wei cost ceil(10 * 150 / 105) = 15 shares (14.28 rounded up)
    assert store.get("delegation.shares", A, V) == 35
    assert store.get("validator.shares", V) == 135
    assert store.get("validator.tokens", V) == 95


def test_cannot_take_more_than_the_value() -> None:
    store = _store_with_validator(tokens=70, shares=100)
    add_delegation(store, A, V, 10)
    with pytest.raises(StakingRevert, match="worth 9 wei"):
        remove_delegation(store, A, V, 10)


def test_delegators_last_shares_go_with_their_last_wei() -> None:
    """Taking a delegation's whole value sells all its shares, not all but a worthless few."""
    store = _store_with_validator(tokens=70, shares=100)
    add_delegation(store, A, V, 10)  # 14 shares worth 9 wei
    _, value = token_value(store, A, V)
    assert remove_delegation(store, A, V, value) == value
    assert token_value(store, A, V) == (0, 0)
    assert store.get("delegation.shares", A, V) == 0
    assert store.get("delegator.validators.count", A) == 0
    assert store.get("validator.shares", V) == 100


def test_validators_last_shares_take_the_dust() -> None:
    """Selling the validator's very last shares takes its remaining tokens, rounding dust included."""
    store = _store_with_validator(tokens=250, shares=100)  # a share is worth 2.5 wei
    # 248 wei cost ceil(99.2) = 100 shares: all of them, so the last 2 wei go too
    assert remove_delegation(store, V, V, 248) == 250
    assert store.get("validator.tokens", V) == 0 and store.get("validator.shares", V) == 0
    assert store.get("total_bonded") == 0


def test_a_single_holder_keeps_shares_that_are_still_worth_wei() -> None:
    store = _store_with_validator(tokens=72, shares=100)
    assert remove_delegation(store, V, V, 71) == 71  # 99 shares sold; the last one holds the last wei
    assert token_value(store, V, V) == (1, 1)


def test_worthless_shares_refuse_delegation() -> None:
    store = _store_with_validator(tokens=0, shares=100)
    with pytest.raises(StakingRevert, match="worth nothing"):
        add_delegation(store, A, V, 10)


def test_delegation_too_small_for_one_share() -> None:
    store = _store_with_validator(tokens=1000, shares=10)
    with pytest.raises(StakingRevert, match="less than one share"):
        add_delegation(store, A, V, 99)
    assert add_delegation(store, A, V, 100) == 1


# -- delegate / undelegate on a chain ---------------------------------------------------------


@pytest.fixture
def sc() -> StakingChain:
    return StakingChain()


def test_delegate_and_undelegate(sc: StakingChain) -> None:
    out = sc.send(D, "delegate", ADDRS[1], value=7 * PLUME)
    assert out.ok
    assert sc.view("getDelegation", ADDRS[D], ADDRS[1]) == (7 * PLUME, 7 * PLUME)
    assert sc.view("getDelegations", ADDRS[D], 0, 10) == (["0x" + ADDRS[1].hex()], [7 * PLUME], [7 * PLUME])
    assert sc.view("totalBonded") == (407 * PLUME,)
    out = sc.send(D, "undelegate", ADDRS[1], 7 * PLUME)
    assert out.ok
    assert sc.view("getDelegation", ADDRS[D], ADDRS[1]) == (0, 0)
    assert sc.view("getDelegations", ADDRS[D], 0, 10) == ([], [], [])
    assert sc.view("totalBonded") == (400 * PLUME,)
    assert sc.view("totalUnbonding") == (7 * PLUME,)
    assert sc.balance(queues.STAKING_ADDRESS) == 407 * PLUME


def test_delegate_refusals(sc: StakingChain) -> None:
    sc.refused(D, "delegate", ADDRS[7], value=PLUME, reason="no validator")
    sc.refused(D, "delegate", ADDRS[1], value=0, reason="amount must be positive")


def test_undelegate_refusals(sc: StakingChain) -> None:
    assert sc.send(D, "delegate", ADDRS[1], value=5 * PLUME).ok
    sc.refused(D, "undelegate", ADDRS[1], 5 * PLUME + 1, reason="cannot take")
    sc.refused(D, "undelegate", ADDRS[1], 0, reason="amount must be positive")
    sc.refused(D, "undelegate", ADDRS[2], 1, reason="no delegation")
    sc.refused(D, "undelegate", ADDRS[7], 1, reason="no validator")
    sc.refused(D, "undelegate", ADDRS[1], 2**256 - 1, reason="cannot take")


def test_max_entries_per_pair() -> None:
    sc = StakingChain(StakingParams(unbonding_period=60, epoch_length=5, max_entries=3))
    assert sc.send(D, "delegate", ADDRS[1], value=10 * PLUME).ok
    for _ in range(3):
        assert sc.send(D, "undelegate", ADDRS[1], PLUME).ok
    sc.refused(D, "undelegate", ADDRS[1], PLUME, reason="too many unbonding entries")
    assert sc.send(D, "delegate", ADDRS[2], value=PLUME).ok
    assert sc.send(D, "undelegate", ADDRS[2], PLUME).ok  # another pair has its own limit
    sc.advance(1, dt=60)  # the three mature
    assert sc.send(D, "undelegate", ADDRS[1], PLUME).ok


# -- the stake cap ------------------------------------------------------------------------------


def _cap_max(tokens: int, total: int, cap: int = 3333) -> int:
    """The largest x with (tokens + x) * 10000 <= cap * (total + x)."""
    return (cap * total - tokens * 10_000) // (10_000 - cap)


def test_cap_boundary_with_four_validators(sc: StakingChain) -> None:
    x = _cap_max(100 * PLUME, 400 * PLUME)
    sc.refused(D, "delegate", ADDRS[0], value=x + 1, reason="the cap is 3333 bps")
    assert sc.send(D, "delegate", ADDRS[0], value=x).ok


def test_one_validator_chain_delegates_freely() -> None:
    sc = StakingChain(n_validators=1)
    assert sc.send(D, "delegate", ADDRS[0], value=1000 * PLUME).ok
    assert sc.view("totalBonded") == (1100 * PLUME,)


def test_cap_enforced_once_the_active_set_is_large_enough() -> None:
    sc = StakingChain(n_validators=3)  # ceil(10000 / 3333) = 4 validators needed
    assert sc.send(D, "delegate", ADDRS[0], value=100 * PLUME).ok  # 200 of 400: 50%
    assert sc.send(3, "createValidator", consensus_key(3), "v3", 0, 100, 10, value=100 * PLUME).ok
    assert sc.send(D, "delegate", ADDRS[0], value=PLUME).ok  # still 3 in the recorded set
    sc.to_epoch_end()
    assert len(sc.view("getActiveValidators")[0]) == 4
    sc.refused(D, "delegate", ADDRS[0], value=PLUME, reason="the cap is 3333 bps")
    sc.refused(6, "createValidator", consensus_key(6), "v6", 0, 100, 10, value=300 * PLUME, reason="cap")


def test_redelegation_respects_the_cap_on_the_unchanged_total(sc: StakingChain) -> None:
    """Moving stake leaves the total unchanged: the cap compares with the whole total."""
    assert sc.send(D, "delegate", ADDRS[1], value=40 * PLUME).ok  # v1: 140 of 440 = 31.8%
    out = sc.send(D, "redelegate", ADDRS[1], ADDRS[0], 40 * PLUME)  # v0: 140 of 440, within the cap
    assert out.ok, out.reason
    assert sc.view("getValidator", ADDRS[0])[2] == 140 * PLUME


def test_redelegation_over_the_cap_is_refused(sc: StakingChain) -> None:
    assert sc.send(D, "delegate", ADDRS[1], value=45 * PLUME).ok
    assert sc.send(D, "delegate", ADDRS[2], value=45 * PLUME).ok  # total 490
    assert sc.send(D, "redelegate", ADDRS[1], ADDRS[0], 45 * PLUME).ok  # v0: 145 of 490
    room = 3333 * 490 * PLUME // 10_000 - 145 * PLUME  # what v0 may still receive
    sc.refused(D, "redelegate", ADDRS[2], ADDRS[0], room + 1, reason="the cap is 3333 bps")
    out = sc.send(D, "redelegate", ADDRS[2], ADDRS[0], room, dt=0)
    assert out.ok, out.reason


# -- redelegation -----------------------------------------------------------------------------------


def test_redelegation_moves_tokens_at_once_and_power_at_the_epoch(sc: StakingChain) -> None:
    assert sc.send(D, "delegate", ADDRS[1], value=20 * PLUME).ok
    sc.to_epoch_end()
    assert sc.view("getValidator", ADDRS[1])[2] == 120 * PLUME
    out = sc.send(D, "redelegate", ADDRS[1], ADDRS[2], 20 * PLUME)
    assert out.ok
    assert sc.view("getValidator", ADDRS[1])[2] == 100 * PLUME
    assert sc.view("getValidator", ADDRS[2])[2] == 120 * PLUME
    assert sc.view("totalBonded") == (420 * PLUME,)
    assert sc.view("totalUnbonding") == (0,)
    srcs, dsts, heights, times, amounts = sc.view("getRedelegations", ADDRS[D])
    assert (srcs, dsts, heights, amounts) == (
        ["0x" + ADDRS[1].hex()], ["0x" + ADDRS[2].hex()], [sc.chain.height], [20 * PLUME])
    assert times == [sc.chain.head.timestamp + 60]
    operators, powers = sc.view("getActiveValidators")
    assert dict(zip(operators, powers))["0x" + ADDRS[1].hex()] == 120  # until the epoch end
    sc.to_epoch_end()
    operators, powers = sc.view("getActiveValidators")
    assert dict(zip(operators, powers))["0x" + ADDRS[2].hex()] == 120
    assert dict(zip(operators, powers))["0x" + ADDRS[1].hex()] == 100


def test_redelegation_refusals(sc: StakingChain) -> None:
    assert sc.send(D, "delegate", ADDRS[1], value=10 * PLUME).ok
    sc.refused(D, "redelegate", ADDRS[1], ADDRS[1], PLUME, reason="the same")
    sc.refused(D, "redelegate", ADDRS[7], ADDRS[1], PLUME, reason="no validator")
    sc.refused(D, "redelegate", ADDRS[1], ADDRS[7], PLUME, reason="no validator")
    sc.refused(D, "redelegate", ADDRS[1], ADDRS[2], 10 * PLUME + 1, reason="cannot take")
    sc.refused(D, "redelegate", ADDRS[2], ADDRS[1], PLUME, reason="no delegation")
    sc.refused(D, "redelegate", ADDRS[1], ADDRS[2], 0, reason="amount must be positive")


def test_no_hop_from_an_immature_redelegation(sc: StakingChain) -> None:
    assert sc.send(D, "delegate", ADDRS[1], value=10 * PLUME).ok
    assert sc.send(D, "redelegate", ADDRS[1], ADDRS[2], 5 * PLUME).ok
    sc.refused(D, "redelegate", ADDRS[2], ADDRS[3], PLUME, reason="has not matured")
    assert sc.send(D, "redelegate", ADDRS[1], ADDRS[3], PLUME, dt=0).ok  # from elsewhere: fine
    assert sc.send(D, "undelegate", ADDRS[2], PLUME, dt=0).ok  # undelegating from it: fine
    sc.advance(1, dt=60)
    assert sc.view("getRedelegations", ADDRS[D])[0] == []
    assert sc.send(D, "redelegate", ADDRS[2], ADDRS[3], PLUME).ok  # matured: the hop is allowed


def test_max_entries_per_redelegation_pair() -> None:
    sc = StakingChain(StakingParams(unbonding_period=60, epoch_length=1000, max_entries=2))
    assert sc.send(D, "delegate", ADDRS[1], value=10 * PLUME).ok
    assert sc.send(D, "redelegate", ADDRS[1], ADDRS[2], 1).ok
    assert sc.send(D, "redelegate", ADDRS[1], ADDRS[2], 1).ok
    sc.refused(D, "redelegate", ADDRS[1], ADDRS[2], 1, reason="between these validators")
    assert sc.send(D, "redelegate", ADDRS[1], ADDRS[3], 1, dt=0).ok


def test_max_redelegations_per_delegator() -> None:
    limit = queues.MAX_REDELEGATIONS_PER_DELEGATOR
    sc = StakingChain(StakingParams(unbonding_period=600, epoch_length=1000, max_entries=limit))
    assert sc.send(D, "delegate", ADDRS[1], value=10 * PLUME).ok
    txs = [sc.tx(D, calldata("redelegate", ADDRS[1], ADDRS[2 + i % 2], 1)) for i in range(limit)]
    sc.block(txs)
    assert len(sc.view("getRedelegations", ADDRS[D])[0]) == limit
    sc.refused(D, "redelegate", ADDRS[1], ADDRS[3], 1, reason=f"too many pending redelegations (at most {limit})")


# -- cancelUnbonding -----------------------------------------------------------------------------


def test_cancel_unbonding_partly_then_fully(sc: StakingChain) -> None:
    assert sc.send(D, "delegate", ADDRS[1], value=10 * PLUME).ok
    assert sc.send(D, "undelegate", ADDRS[1], 4 * PLUME).ok
    height = sc.chain.height
    out = sc.send(D, "cancelUnbonding", ADDRS[1], height, PLUME)
    assert out.ok
    assert sc.view("getDelegation", ADDRS[D], ADDRS[1])[1] == 7 * PLUME
    assert sc.view("getUnbondings", ADDRS[D], ADDRS[1])[2] == [3 * PLUME]
    assert sc.view("totalUnbonding") == (3 * PLUME,)
    sc.refused(D, "cancelUnbonding", ADDRS[1], height, 3 * PLUME + 1, reason="holds")
    sc.refused(D, "cancelUnbonding", ADDRS[1], height + 1, PLUME, reason="no unbonding entry")
    sc.refused(D, "cancelUnbonding", ADDRS[1], height, 0, reason="amount must be positive")
    sc.refused(D, "cancelUnbonding", ADDRS[7], height, 1, reason="no validator")
    assert sc.send(D, "cancelUnbonding", ADDRS[1], height, 3 * PLUME).ok
    assert sc.view("getUnbondings", ADDRS[D], ADDRS[1]) == ([], [], [])
    assert sc.view("totalUnbonding") == (0,)
    before = sc.balance(ADDRS[D])
    sc.advance(1, dt=120)  # the emptied entry leaves the queue and pays nothing
    assert sc.balance(ADDRS[D]) == before
    assert sc.balance(queues.STAKING_ADDRESS) == sc.view("totalBonded")[0]


def test_cancel_after_maturity_is_refused(sc: StakingChain) -> None:
    assert sc.send(D, "delegate", ADDRS[1], value=10 * PLUME).ok
    assert sc.send(D, "undelegate", ADDRS[1], 4 * PLUME).ok
    height = sc.chain.height
    sc.advance(1, dt=60)
    sc.refused(D, "cancelUnbonding", ADDRS[1], height, PLUME, reason="no unbonding entry")

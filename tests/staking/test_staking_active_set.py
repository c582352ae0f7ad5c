"""The epoch-end active set: top max_validators by tokens, ties, jail, power, empty choice."""

from __future__ import annotations

from staking import views
from staking.params import StakingParams
from staking_harness import ADDRS, PLUME, StakingChain, consensus_key

D = 5


def hexa(i: int) -> str:
    return "0x" + ADDRS[i].hex()


def active(sc: StakingChain) -> dict[str, int]:
    operators, powers = sc.view("getActiveValidators")
    return dict(zip(operators, powers))


def test_the_set_changes_only_at_the_end_of_an_epoch_block() -> None:
    sc = StakingChain(StakingParams(unbonding_period=60, epoch_length=5))
    assert sc.chain.height == 0 and active(sc)[hexa(1)] == 100
    assert sc.send(D, "delegate", ADDRS[1], value=10 * PLUME).ok  # height 1
    while sc.chain.height < 4:
        sc.advance()
        assert active(sc)[hexa(1)] == 100
    sc.advance()  # height 5: the end of the epoch
    assert active(sc)[hexa(1)] == 110
    assert views.active_set_chosen_at(sc.state()) == 5


def test_top_max_validators_by_tokens_ties_by_lower_address() -> None:
    params = StakingParams(unbonding_period=60, epoch_length=5, max_validators=3, max_validator_share_bps=10_000)
    sc = StakingChain(params, n_validators=3)
    assert sc.send(3, "createValidator", consensus_key(3), "v3", 0, 100, 10, value=100 * PLUME).ok
    sc.to_epoch_end()
    # four validators at 100: the three lowest operator addresses win the tie
    expected = sorted([hexa(i) for i in range(4)])[:3]
    assert sorted(active(sc)) == expected
    loser = sorted(hexa(i) for i in range(4))[3]
    loser_index = [hexa(i) for i in range(4)].index(loser)
    assert sc.send(D, "delegate", ADDRS[loser_index], value=1).ok  # one wei more: it outranks the rest
    sc.to_epoch_end()
    operators, powers = sc.view("getActiveValidators")
    assert operators[0] == loser and powers[0] == 100  # power = tokens // power_reduction
    assert len(operators) == 3
    dropped = sorted([hexa(i) for i in range(4)])[2]
    assert dropped not in operators
    dropped_index = [hexa(i) for i in range(4)].index(dropped)
    assert sc.view("getValidator", ADDRS[dropped_index])[6] == 1  # unbonding
    sc.advance(1, dt=60)
    assert sc.view("getValidator", ADDRS[dropped_index])[6] == 0  # unbonded
    assert sc.view("getValidator", ADDRS[loser_index])[6] == 2  # bonded


def test_order_of_the_recorded_set_is_the_rank() -> None:
    sc = StakingChain(StakingParams(unbonding_period=60, epoch_length=5, max_validator_share_bps=10_000))
    assert sc.send(D, "delegate", ADDRS[2], value=30 * PLUME + PLUME // 2).ok
    assert sc.send(D, "delegate", ADDRS[3], value=10 * PLUME).ok
    sc.to_epoch_end()
    operators, powers = sc.view("getActiveValidators")
    assert operators[:2] == [hexa(2), hexa(3)]
    assert powers == [130, 110, 100, 100]  # 130.5 PLUME gives power 130
    assert operators[2:] == sorted([hexa(0), hexa(1)])


def test_jailed_and_powerless_validators_are_left_out() -> None:
    params = StakingParams(unbonding_period=60, epoch_length=5, min_self_delegation=PLUME // 2)
    sc = StakingChain(params)
    assert sc.send(D, "createValidator", consensus_key(D), "small", 0, 100, 10, value=PLUME - 1).ok
    assert sc.send(6, "createValidator", consensus_key(6), "ok", 0, 100, 10, value=PLUME).ok
    assert sc.send(0, "undelegate", ADDRS[0], 100 * PLUME - PLUME // 2 + 1).ok  # jailed
    sc.to_epoch_end()
    assert set(active(sc)) == {hexa(1), hexa(2), hexa(3), hexa(6)}
    assert active(sc)[hexa(6)] == 1


def test_an_empty_choice_keeps_the_old_set() -> None:
    sc = StakingChain(StakingParams(unbonding_period=60, epoch_length=5), n_validators=1)
    chosen_at = views.active_set_chosen_at(sc.state())
    assert sc.send(0, "undelegate", ADDRS[0], 100 * PLUME).ok  # jailed, no tokens
    sc.to_epoch_end()
    assert active(sc) == {hexa(0): 100}
    assert views.active_set_chosen_at(sc.state()) == chosen_at
    assert sc.view("getValidator", ADDRS[0])[6] == 2


def test_max_validators_one_keeps_the_biggest() -> None:
    sc = StakingChain(StakingParams(unbonding_period=60, epoch_length=5, max_validators=1), n_validators=1)
    assert sc.send(1, "createValidator", consensus_key(1), "big", 0, 100, 10, value=101 * PLUME).ok
    sc.to_epoch_end()
    assert active(sc) == {hexa(1): 101}

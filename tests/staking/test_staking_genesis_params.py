"""Staking parameters and genesis validators: checked at load, each error naming what is wrong."""

from __future__ import annotations

import pytest
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB

from staking import views
from staking.addresses import STAKING_ADDRESS, SYSTEM_CONTRACT_CODE
from staking.genesis import GenesisValidator, init_genesis_staking
from staking.params import MAX_UNBONDING_PERIOD, ParamError, StakingParams
from staking_harness import ADDRS, PLUME, consensus_key

TIME = 1_700_000_000


def gv(i: int, tokens: int = 10 * PLUME, key: bytes | None = None, operator: bytes | None = None):
    return GenesisValidator(operator or ADDRS[i], consensus_key(i) if key is None else key, tokens, f"g{i}")


def genesis(params: StakingParams, vals) -> AccountDB:
    state = AccountDB(AtomicDB())
    init_genesis_staking(state, params, vals, TIME)
    return state


@pytest.mark.parametrize("values,message", [
    ({"unbonding_period": 0}, "staking.unbonding_period must be between 1"),
    ({"unbonding_period": MAX_UNBONDING_PERIOD + 1}, "staking.unbonding_period"),
    ({"max_validators": 0}, "staking.max_validators"),
    ({"epoch_length": 0}, "staking.epoch_length"),
    ({"min_self_delegation": 0}, "staking.min_self_delegation"),
    ({"max_entries": 101}, "staking.max_entries"),
    ({"power_reduction": 0}, "staking.power_reduction"),
    ({"max_validator_share_bps": 0}, "staking.max_validator_share_bps"),
    ({"max_validator_share_bps": 10_001}, "staking.max_validator_share_bps"),
    ({"epoch_length": True}, "must be an integer"),
    ({"epoch_length": "10"}, "must be an integer"),
    ({"epoch_lenght": 10}, "unknown staking parameter(s): epoch_lenght"),
])
def test_parameters_out_of_bounds(values, message) -> None:
    with pytest.raises(ParamError, match=message.replace("(", r"\(").replace(")", r"\)")):
        StakingParams.from_mapping(values)


def test_cap_enforced_from() -> None:
    assert StakingParams().cap_enforced_from() == 4
    assert StakingParams(max_validator_share_bps=5_000).cap_enforced_from() == 2
    assert StakingParams(max_validator_share_bps=10_000).cap_enforced_from() == 1


def test_genesis_bonds_the_validators_and_records_the_first_set() -> None:
    params = StakingParams()
    state = genesis(params, [gv(0, 30 * PLUME), gv(1, 20 * PLUME)])
    assert state.get_nonce(STAKING_ADDRESS) == 1 and state.get_code(STAKING_ADDRESS) == SYSTEM_CONTRACT_CODE
    assert state.get_balance(STAKING_ADDRESS) == 50 * PLUME == views.total_bonded(state)
    assert [(v.operator, v.power) for v in views.active_set(state)] == [(ADDRS[0], 30), (ADDRS[1], 20)]
    assert views.params(state) == params
    info = views.validator(state, ADDRS[0], TIME)
    assert (info.commission_bps, info.max_commission_bps, info.max_change_bps, info.status) == (1000, 2000, 100, 2)


@pytest.mark.parametrize("vals,message", [
    ([gv(0), gv(1, operator=ADDRS[0])], "already operates"),
    ([gv(0), gv(1, key=consensus_key(0))], "already used"),
    ([gv(0, key=bytes(32))], "not a valid Ed25519"),
    ([gv(0, tokens=PLUME - 1)], "below staking.min_self_delegation"),
])
def test_bad_genesis_validators(vals, message) -> None:
    with pytest.raises(ParamError, match=message):
        genesis(StakingParams(), vals)


def test_every_genesis_validator_must_fit_in_the_first_set() -> None:
    with pytest.raises(ParamError, match="must fit in the active set"):
        genesis(StakingParams(max_validators=1), [gv(0), gv(1)])
    with pytest.raises(ParamError, match="must fit in the active set"):
        genesis(StakingParams(min_self_delegation=1), [gv(0, tokens=PLUME - 1)])  # no power

"""The staking contract at genesis: its account, the parameters, and the genesis validators bonded.

Each genesis validator is registered with its operator's self-delegation
minted into the contract's balance (so it counts in the total supply), and
they form the first active set, as if an epoch had ended at height 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from staking import active_set, rewards, validators
from staking.addresses import STAKING_ADDRESS, SYSTEM_CONTRACT_CODE
from staking.delegation import add_delegation
from staking.errors import StakingRevert
from staking.params import ParamError, SlashingParams, StakingParams
from staking.store import Store

GENESIS_COMMISSION = validators.Commission(rate_bps=1_000, max_rate_bps=2_000, max_change_bps=100)


@dataclass(frozen=True)
class GenesisValidator:
    operator: bytes  # 20-byte account that operates the validator
    consensus_pubkey: bytes  # 32-byte Ed25519 key
    tokens: int  # self-delegation in wei
    moniker: str = ""


def genesis_stake(genesis_validators: Sequence[GenesisValidator]) -> int:
    return sum(v.tokens for v in genesis_validators)


def init_genesis_staking(
    state: Any,
    params: StakingParams,
    genesis_validators: Sequence[GenesisValidator],
    timestamp: int,
    slashing: SlashingParams = SlashingParams(),
) -> None:
    """Write the contract's genesis state into ``state`` (a py-evm AccountDB or state)."""
    state.set_nonce(STAKING_ADDRESS, 1)
    state.set_code(STAKING_ADDRESS, SYSTEM_CONTRACT_CODE)
    store = Store(state, STAKING_ADDRESS)
    for name, value in params.to_mapping().items():
        store.set("param." + name, value)
    for name, value in slashing.to_mapping().items():
        store.set("param.slashing." + name, value)
    for v in genesis_validators:
        _bond_genesis_validator(store, params, v, timestamp)
    state.set_balance(STAKING_ADDRESS, genesis_stake(genesis_validators))
    chosen = active_set.choose_active_set(store)
    if len(chosen) != len(genesis_validators):
        raise ParamError(
            f"all {len(genesis_validators)} genesis validators must fit in the active set "
            f"(max_validators {params.max_validators}, each at least power_reduction wei of stake)"
        )
    active_set.write_active_set(store, chosen, 0, timestamp)


def _bond_genesis_validator(store: Store, params: StakingParams, v: GenesisValidator, timestamp: int) -> None:
    if v.tokens < params.min_self_delegation:
        raise ParamError(f"genesis validator {v.moniker or v.operator.hex()}: stake below staking.min_self_delegation")
    try:
        validators.register(store, v.operator, v.consensus_pubkey, v.moniker, GENESIS_COMMISSION, timestamp)
    except StakingRevert as exc:
        raise ParamError(f"genesis validator {v.moniker or v.operator.hex()}: {exc.reason}") from None
    add_delegation(store, v.operator, v.operator, v.tokens)
    rewards.restart(store, v.operator, v.operator)

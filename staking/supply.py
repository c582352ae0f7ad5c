"""The supply report: every counter of the supply accounting, read at one state root.

What ``plume_supply`` returns and what the supply property test checks, read
the same way for both. Two identities hold after every block
(docs/staking.md, "Supply"):

    genesis supply + total_issued - total_burned == total_supply == sum of all balances
    balance(0x…1000) == bonded + unbonding + undistributed_rewards + unwithdrawn_commission

with ``total_burned == sum(burned_by_cause)``. The reward pool (``0x…1002``)
is a separate account: its balance (``reward_pool``) is income received and
not yet allocated, and counts in the first identity only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staking import fees
from staking.addresses import GOVERNANCE_ADDRESS, STAKING_ADDRESS
from staking.governance.proposals import deposits_held
from staking.store import Store


@dataclass(frozen=True)
class SupplyReport:
    total_supply: int  # the supply counter: genesis + issued - burned
    total_issued: int  # block rewards minted so far
    total_burned: int
    burned_by_cause: tuple[tuple[str, int], ...]  # (cause, wei) per fees.BURN_CAUSES; they add up to total_burned
    reward_pool: int  # the pool's balance: received, not yet allocated to validators
    staking_balance: int  # balance(0x…1000)
    bonded: int  # totalBonded(): wei delegated to validators
    unbonding: int  # totalUnbonding(): wei waiting in the unbonding queue
    undistributed_rewards: int  # allocated to delegators, not yet paid (with F1 rounding dust)
    unwithdrawn_commission: int  # credited to operators, not yet withdrawn
    governance_deposits: int  # deposits of open proposals (a counter; balance(0x…1001) may hold stray wei too)

    @property
    def rewards_outstanding(self) -> int:
        """``rewards.outstanding``: undistributed rewards and unwithdrawn commission together."""
        return self.undistributed_rewards + self.unwithdrawn_commission


def read_supply(state: Any) -> SupplyReport:
    """The report at ``state`` (a py-evm ``AccountDB`` or state: ``get_storage``/``get_balance``)."""
    store = Store(state, STAKING_ADDRESS)
    outstanding = store.get("rewards.outstanding")
    commission = store.get("rewards.commission_total")
    return SupplyReport(
        total_supply=fees.total_supply(state),
        total_issued=fees.total_issued(state),
        total_burned=fees.total_burned(state),
        burned_by_cause=fees.burned_by_cause(state),
        reward_pool=fees.reward_pool_balance(state),
        staking_balance=int(state.get_balance(STAKING_ADDRESS)),
        bonded=store.get("total_bonded"),
        unbonding=store.get("total_unbonding"),
        undistributed_rewards=outstanding - commission,
        unwithdrawn_commission=commission,
        governance_deposits=deposits_held(Store(state, GOVERNANCE_ADDRESS)),
    )

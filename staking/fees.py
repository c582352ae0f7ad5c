"""Fee-burn accounting: the split of every block's base fee (``execution.base_fee_burn_bps``, default 50/50), and the supply counters.

Staking owns this; ``apply_fee_split`` runs at the end of every block (inside
the state root) as the first of ``staking.end_of_block.END_OF_BLOCK_HOOKS``,
and execution calls ``init_genesis_accounting`` when it builds genesis.

The REWARD POOL is a system account at ``REWARD_POOL_ADDRESS`` (``staking/addresses.py``). Its balance is
the staking reward pool; its EVM storage holds the supply counters at fixed slots:

* ``SLOT_TOTAL_BURNED``: wei burned so far (base-fee burns and slashes),
* ``SLOT_TOTAL_SUPPLY``: wei in existence: the genesis allocations, minus burns,
  plus issuance,
* ``SLOT_TOTAL_ISSUED``: wei issued by staking (the block rewards),
* ``SLOT_TOTAL_SLASHED``: of the burned wei, what slashing burned,
* ``SLOT_BURNED_BASE_FEE``: of the burned wei, what the fee split burned,
* ``SLOT_TOTAL_GOV_BURNED``: of the burned wei, what governance burned (deposits of
  vetoed, quorum-less and dropped proposals),
* ``SLOT_BURNED_SELF_DESTRUCT`` (6): of the burned wei, what SELFDESTRUCT destroyed
  (execution records it),
* ``SLOT_BURNED_ABSENT_SIGNERS`` (7): of the burned wei, the parts of the block
  rewards that members of the parent's set forfeited by not signing it.

Every burn names its cause (``BURN_CAUSES``: the cause's name and its
counter), so ``total burned == sum of the causes' counters`` at every height
and ``plume_supply`` reports each cause (``burnedBy<Name>``). A new kind of
burn adds a cause here and records with ``record_burn``.

Why the arithmetic works: py-evm takes ``gas_used * (base_fee + tip)`` from the
sender, gives the tip to the coinbase and credits the base-fee part to nobody.
So the base fee has already vanished from the supply when the block ends; the
hook hands the pool's share (``10000 - base_fee_burn_bps`` bps, read from the
staking contract's slot ``param.execution.base_fee_burn_bps``, which governance
may change) back to the reward pool and records the rest as burned: supply
falls by exactly the burned part.

Odd-wei rule: when the pool's share is not a whole number of wei, the
rounding wei is BURNED (the pool gets the floor of its share; with the
default 5000 bps: when ``base_fee * gas_used`` is odd, the odd wei burns). Burning the odd wei keeps the pool's share
an exact function of the total that never exceeds half, and keeps
``burned + pooled == base_fee * gas_used`` exact.

The account is created at genesis with nonce 1 so it is never "empty" in the
EIP-161 sense: an empty account touched by a transaction (say a 0-value
transfer to it) would be deleted, taking the counters with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staking.addresses import REWARD_POOL_ADDRESS, STAKING_ADDRESS
from staking.params import BPS, ExecutionParams
from staking.store import slot as named_slot


SLOT_TOTAL_BURNED = 0
SLOT_TOTAL_SUPPLY = 1
SLOT_TOTAL_ISSUED = 2
SLOT_TOTAL_SLASHED = 3  # of the burned wei, what slashing burned
SLOT_BURNED_BASE_FEE = 4  # of the burned wei, what the fee split burned
SLOT_TOTAL_GOV_BURNED = 5  # of the burned wei, governance deposits burned (veto, no quorum, dropped)
SLOT_BURNED_SELF_DESTRUCT = 6  # of the burned wei, what SELFDESTRUCT destroyed
SLOT_BURNED_ABSENT_SIGNERS = 7  # of the burned wei, the shares of the block rewards absent validators forfeited
DEFAULT_BURN_BPS = ExecutionParams().base_fee_burn_bps  # 5000: half
BURN_BPS_SLOT_NAME = "param.execution.base_fee_burn_bps"  # a named slot of the staking contract


@dataclass(frozen=True)
class BurnCause:
    name: str  # as plume_supply reports it: ``burnedBy<name>``
    slot: int  # its counter in the reward pool's storage


BURN_BASE_FEE = BurnCause("BaseFee", SLOT_BURNED_BASE_FEE)
BURN_SLASHING = BurnCause("Slashing", SLOT_TOTAL_SLASHED)
BURN_GOVERNANCE = BurnCause("Governance", SLOT_TOTAL_GOV_BURNED)
# wei SELFDESTRUCT destroyed (execution counts it: execution/vm.py)
BURN_SELF_DESTRUCT = BurnCause("SelfDestruct", SLOT_BURNED_SELF_DESTRUCT)
# a signing validator's share of the block's rewards that the parent's set gave an absent member
BURN_ABSENT_SIGNERS = BurnCause("AbsentSigners", SLOT_BURNED_ABSENT_SIGNERS)
BURN_CAUSES: tuple[BurnCause, ...] = (BURN_BASE_FEE, BURN_SLASHING, BURN_GOVERNANCE, BURN_SELF_DESTRUCT, BURN_ABSENT_SIGNERS)


@dataclass(frozen=True)
class FeeSplit:
    """How one block's base fee was divided."""

    total: int  # base_fee * gas_used
    burned: int  # total - to_pool: the rounding wei, if any, is burned
    to_pool: int  # floor(total * (10000 - burn_bps) / 10000)


def split_base_fee(base_fee_per_gas: int, gas_used: int, burn_bps: int = DEFAULT_BURN_BPS) -> FeeSplit:
    """Split ``base_fee_per_gas * gas_used``: the pool gets the floor of its share, the rest burns."""
    if base_fee_per_gas < 0 or gas_used < 0 or not 0 <= burn_bps <= BPS:
        raise ValueError("base fee and gas used must be non-negative, the burn share within 0..10000 bps")
    total = base_fee_per_gas * gas_used
    to_pool = total * (BPS - burn_bps) // BPS
    return FeeSplit(total=total, burned=total - to_pool, to_pool=to_pool)


def burn_bps(state: Any) -> int:
    """The governed burn share ``execution.base_fee_burn_bps`` (staking contract storage)."""
    return int(state.get_storage(STAKING_ADDRESS, named_slot(BURN_BPS_SLOT_NAME)))


def init_genesis_accounting(state: Any, total_supply: int) -> None:
    """Create the reward pool account (nonce 1, balance 0) with its counters.

    ``state`` is a py-evm ``StateAPI`` or ``AccountDB`` (anything with
    ``set_nonce``/``set_storage``).
    """
    state.set_nonce(REWARD_POOL_ADDRESS, 1)
    state.set_storage(REWARD_POOL_ADDRESS, SLOT_TOTAL_SUPPLY, total_supply)
    state.set_storage(REWARD_POOL_ADDRESS, SLOT_TOTAL_BURNED, 0)
    state.set_storage(REWARD_POOL_ADDRESS, SLOT_TOTAL_ISSUED, 0)


def apply_fee_split(state: Any, base_fee_per_gas: int, gas_used: int) -> FeeSplit:
    """End-of-block hook: credit the pool's share of the base fee to the pool, record the rest burned."""
    split = split_base_fee(base_fee_per_gas, gas_used, burn_bps(state))
    if split.total == 0:
        return split
    if split.to_pool:
        state.delta_balance(REWARD_POOL_ADDRESS, split.to_pool)
    record_burn(state, split.burned, BURN_BASE_FEE)
    return split


def record_burn(state: Any, amount: int, cause: BurnCause) -> None:
    """Count ``amount`` wei, already gone from every balance, as burned by ``cause``:
    total burned and the cause's counter grow, the supply falls."""
    if amount <= 0:
        return
    for slot, delta in ((SLOT_TOTAL_BURNED, amount), (cause.slot, amount), (SLOT_TOTAL_SUPPLY, -amount)):
        state.set_storage(REWARD_POOL_ADDRESS, slot, state.get_storage(REWARD_POOL_ADDRESS, slot) + delta)


def issue(state: Any, amount: int) -> None:
    """Mint ``amount`` wei into the reward pool (staking issuance) and count it in the supply."""
    if amount <= 0:
        return
    state.delta_balance(REWARD_POOL_ADDRESS, amount)
    state.set_storage(REWARD_POOL_ADDRESS, SLOT_TOTAL_ISSUED, state.get_storage(REWARD_POOL_ADDRESS, SLOT_TOTAL_ISSUED) + amount)
    state.set_storage(REWARD_POOL_ADDRESS, SLOT_TOTAL_SUPPLY, state.get_storage(REWARD_POOL_ADDRESS, SLOT_TOTAL_SUPPLY) + amount)


def burn_slashed(state: Any, amount: int) -> None:
    """Record ``amount`` wei, already taken out of an account's balance, as burned by slashing."""
    record_burn(state, amount, BURN_SLASHING)


def burn_deposit(state: Any, holder: bytes, amount: int) -> None:
    """Burn ``amount`` wei of governance deposits out of ``holder``'s balance, counted apart."""
    if amount <= 0:
        return
    state.delta_balance(holder, -amount)
    record_burn(state, amount, BURN_GOVERNANCE)


def total_gov_burned(state: Any) -> int:
    return int(state.get_storage(REWARD_POOL_ADDRESS, SLOT_TOTAL_GOV_BURNED))


def total_slashed(state: Any) -> int:
    return int(state.get_storage(REWARD_POOL_ADDRESS, SLOT_TOTAL_SLASHED))


def burned_by_cause(state: Any) -> tuple[tuple[str, int], ...]:
    """(cause name, wei it burned) for every cause, in ``BURN_CAUSES`` order."""
    return tuple((cause.name, int(state.get_storage(REWARD_POOL_ADDRESS, cause.slot))) for cause in BURN_CAUSES)


def total_burned(state: Any) -> int:
    return int(state.get_storage(REWARD_POOL_ADDRESS, SLOT_TOTAL_BURNED))


def total_supply(state: Any) -> int:
    return int(state.get_storage(REWARD_POOL_ADDRESS, SLOT_TOTAL_SUPPLY))


def total_issued(state: Any) -> int:
    return int(state.get_storage(REWARD_POOL_ADDRESS, SLOT_TOTAL_ISSUED))


def reward_pool_balance(state: Any) -> int:
    return int(state.get_balance(REWARD_POOL_ADDRESS))

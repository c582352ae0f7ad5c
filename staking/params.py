"""The staking parameters: what each means, its default, its bounds, and their slots.

They are set in genesis (``genesis.json``, section ``staking``), written into
the staking contract's storage at genesis, and read from there by every rule,
so a later governance change (a storage write) takes effect at once and is
inside the state root like everything else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

DAY = 24 * 3600
PLUME = 10**18
BPS = 10_000  # basis points in one whole

# Bounds every parameter is checked against (at genesis load; governance later).
MAX_ACTIVE_VALIDATORS = 10_000  # consensus carries at most this many validators per set
MAX_UNBONDING_PERIOD = 10 * 365 * DAY
MAX_EPOCH_LENGTH = 1_000_000
MAX_ENTRIES_BOUND = 100  # views return up to max_entries entries per pair
# The missed-block bitmap has signed_blocks_window bits (window / 256 slots):
# clearing it when a validator is jailed is bounded by this.
MAX_SIGNED_BLOCKS_WINDOW = 100_000
MAX_DOWNTIME_JAIL_DURATION = 365 * DAY
# Total voting power must stay within what consensus accepts (int64 / 8).
MAX_TOTAL_VOTING_POWER = (2**63 - 1) // 8


class ParamError(ValueError):
    """A staking parameter out of its bounds; the message names it."""


@dataclass(frozen=True)
class StakingParams:
    unbonding_period: int = 21 * DAY  # seconds of block time before undelegated tokens are paid
    max_validators: int = 100  # size of the active set
    epoch_length: int = 100  # blocks; the active set is recomputed at the end of every epoch_length-th block
    min_self_delegation: int = PLUME  # wei an operator must keep delegated to its own validator
    max_entries: int = 7  # pending unbonding (or redelegation) entries per delegator and validator
    power_reduction: int = PLUME  # wei of stake per unit of voting power
    max_validator_share_bps: int = 3_333  # no delegation may take a validator above this share of all stake
    block_reward: int = PLUME  # wei issued per block into the reward pool, shared among the signers

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if type(value) is not int:
                raise ParamError(f"staking.{f.name} must be an integer, got {value!r}")
        _check_range("unbonding_period", self.unbonding_period, 1, MAX_UNBONDING_PERIOD)
        _check_range("max_validators", self.max_validators, 1, MAX_ACTIVE_VALIDATORS)
        _check_range("epoch_length", self.epoch_length, 1, MAX_EPOCH_LENGTH)
        _check_range("min_self_delegation", self.min_self_delegation, 1, 2**128)
        _check_range("max_entries", self.max_entries, 1, MAX_ENTRIES_BOUND)
        _check_range("power_reduction", self.power_reduction, 1, 2**128)
        _check_range("max_validator_share_bps", self.max_validator_share_bps, 1, BPS)
        _check_range("block_reward", self.block_reward, 0, 10**30)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> "StakingParams":
        """Defaults overridden by ``values``; an unknown key is an error."""
        return _from_mapping(cls, values, "staking")

    def to_mapping(self) -> dict[str, int]:
        return asdict(self)

    def cap_enforced_from(self) -> int:
        """The active-set size from which ``max_validator_share_bps`` is enforced.

        Below ``ceil(BPS / max_validator_share_bps)`` validators no split of the
        stake can respect the cap (one validator holds 100%), so a small
        network (a 1-validator devnet) delegates freely until it has that many.
        """
        return -(-BPS // self.max_validator_share_bps)


@dataclass(frozen=True)
class SlashingParams:
    """Genesis section ``slashing``: what a proven double-sign and downtime cost (stored as ``param.slashing.<name>``)."""

    slash_fraction_double_sign_bps: int = 500  # 5% of the stake at the infraction, burned
    max_evidence_age: int = 100_000  # blocks: older evidence slashes nobody
    signed_blocks_window: int = 100  # blocks over which each validator's missed precommits are counted
    min_signed_per_window_bps: int = 5_000  # the share of the window it must sign (50%)
    slash_fraction_downtime_bps: int = 100  # 1% of its bonded tokens, burned, when it signs too few
    downtime_jail_duration: int = 600  # seconds of block time before a validator jailed for downtime may unjail

    def __post_init__(self) -> None:
        for f in fields(self):
            if type(getattr(self, f.name)) is not int:
                raise ParamError(f"slashing.{f.name} must be an integer, got {getattr(self, f.name)!r}")
        _check_range("slash_fraction_double_sign_bps", self.slash_fraction_double_sign_bps, 0, BPS, "slashing")
        _check_range("max_evidence_age", self.max_evidence_age, 1, 10**9, "slashing")
        _check_range("signed_blocks_window", self.signed_blocks_window, 1, MAX_SIGNED_BLOCKS_WINDOW, "slashing")
        _check_range("min_signed_per_window_bps", self.min_signed_per_window_bps, 0, BPS, "slashing")
        _check_range("slash_fraction_downtime_bps", self.slash_fraction_downtime_bps, 0, BPS, "slashing")
        _check_range("downtime_jail_duration", self.downtime_jail_duration, 0, MAX_DOWNTIME_JAIL_DURATION, "slashing")

    def max_missed(self) -> int:
        """Missed blocks allowed in a window: more jails (``window - ceil(window * min_signed)``)."""
        return max_missed_blocks(self.signed_blocks_window, self.min_signed_per_window_bps)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> "SlashingParams":
        """Defaults overridden by ``values``; an unknown key is an error."""
        return _from_mapping(cls, values, "slashing")

    def to_mapping(self) -> dict[str, int]:
        return asdict(self)


def max_missed_blocks(window: int, min_signed_bps: int) -> int:
    """``window - ceil(window * min_signed_bps / 10000)``: a validator missing more is down."""
    return window - -(-window * min_signed_bps // BPS)


def _from_mapping(cls: Any, values: dict[str, Any], section: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ParamError(f"unknown {section} parameter(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return cls(**values)


def _check_range(name: str, value: int, low: int, high: int, section: str = "staking") -> None:
    if not low <= value <= high:
        raise ParamError(f"{section}.{name} must be between {low} and {high}, got {value}")


DEVNET_STAKING = {"unbonding_period": 60, "epoch_length": 10}
"""Devnet defaults: a minute of unbonding and 10-block epochs, so the flows show in minutes."""

DEVNET_GOV = {"max_deposit_period": 300, "voting_period": 60}
"""Devnet governance defaults: five minutes to deposit, a minute of voting."""


MAX_GOV_PERIOD = 365 * DAY  # bound of the deposit and voting periods


@dataclass(frozen=True)
class GovParams:
    """Genesis section ``gov``: how proposals are decided (stored in the governance contract as ``param.<name>``)."""

    min_deposit: int = 10 * PLUME  # wei of deposits a proposal needs to enter its voting period
    max_deposit_period: int = 2 * DAY  # seconds of block time to reach min_deposit, else dropped
    voting_period: int = 2 * DAY  # seconds of block time votes are taken
    quorum_bps: int = 3_340  # of all bonded stake (active set) that must vote
    threshold_bps: int = 5_000  # yes must be more than this share of the non-abstain votes
    veto_threshold_bps: int = 3_340  # veto above this share of all votes rejects and burns the deposits

    def __post_init__(self) -> None:
        for f in fields(self):
            if type(getattr(self, f.name)) is not int:
                raise ParamError(f"gov.{f.name} must be an integer, got {getattr(self, f.name)!r}")
        _check_range("min_deposit", self.min_deposit, 1, 2**128, "gov")
        _check_range("max_deposit_period", self.max_deposit_period, 1, MAX_GOV_PERIOD, "gov")
        _check_range("voting_period", self.voting_period, 1, MAX_GOV_PERIOD, "gov")
        _check_range("quorum_bps", self.quorum_bps, 1, BPS, "gov")
        _check_range("threshold_bps", self.threshold_bps, 1, BPS - 1, "gov")  # BPS would make passing impossible
        _check_range("veto_threshold_bps", self.veto_threshold_bps, 1, BPS, "gov")

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> "GovParams":
        return _from_mapping(cls, values, "gov")

    def to_mapping(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class ExecutionParams:
    """Genesis section ``execution``: the fee-burn share (stored in the staking contract as ``param.execution.<name>``)."""

    base_fee_burn_bps: int = 5_000  # of every block's base fee, burned; the rest goes to the reward pool

    def __post_init__(self) -> None:
        for f in fields(self):
            if type(getattr(self, f.name)) is not int:
                raise ParamError(f"execution.{f.name} must be an integer, got {getattr(self, f.name)!r}")
        _check_range("base_fee_burn_bps", self.base_fee_burn_bps, 0, BPS, "execution")

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> "ExecutionParams":
        return _from_mapping(cls, values, "execution")

    def to_mapping(self) -> dict[str, int]:
        return asdict(self)

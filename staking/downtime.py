"""Downtime: a validator that signs too few of the last ``signed_blocks_window`` blocks
is slashed a small fraction, jailed for a while, and leaves the active set.

Cosmos x/slashing (``HandleValidatorSignature``) is the model. Every block,
for each validator of the set that decided the parent (the signers of the
block's ``last_commit`` and the set's other members, as the node decoded
them), ``process_downtime`` records one bit in that validator's missed-block
bitmap, a ring of ``signed_blocks_window`` bits in 256-bit slots
(``slashing.missed_bits``), and keeps ``slashing.missed_count`` equal to the
bits set; ``slashing.record_window`` is the window size the record was
started with (a changed ``signed_blocks_window`` restarts it). A validator is judged once it has been counted for a whole window
(``slashing.index_offset >= signed_blocks_window``); then, when

    missed > max_missed = window - ceil(window * min_signed_per_window_bps / 10000)

it is slashed ``slash_fraction_downtime_bps`` of its bonded tokens (burned),
jailed until ``now + downtime_jail_duration`` (``slashing.jailed_until``),
its counters are reset (judged again only a whole window after it
returns), and the active set is chosen again at the end of this block
(``active.dirty``), so consensus drops it two heights later.

Every member of the parent's consensus set is counted, jailed or not: a
validator jailed for another cause (low self-delegation) that stays in the
consensus set for two more heights must not miss them for free, and then
unjail. Only the slash waits while it is jailed (Cosmos does the same): one
absence is punished once. Every jailing chooses the set again at the end of
its block (``validators.jail`` sets ``active.dirty``), so a jailed validator
leaves consensus two heights later, whatever the cause. Work per block: a few slot
reads and writes per member of the parent's set (at most one bitmap slot each);
a reset (jailing, re-entering the set, removal, a changed window) writes three
counters and clears no bitmap slot: the ring's first pass after it ignores and
overwrites the stale bits (``record_signature``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from staking import validators
from staking.addresses import STAKING_ADDRESS
from staking.fees import burn_slashed
from staking.params import BPS, max_missed_blocks
from staking.slashing import slash_tokens
from staking.store import Store

BITS_PER_SLOT = 256


@dataclass(frozen=True)
class DowntimeParams:
    window: int
    max_missed: int
    slash_fraction_bps: int
    jail_duration: int

    @classmethod
    def read(cls, store: Store) -> "DowntimeParams":
        window = store.get("param.slashing.signed_blocks_window")
        return cls(
            window=window,
            max_missed=max_missed_blocks(window, store.get("param.slashing.min_signed_per_window_bps")),
            slash_fraction_bps=store.get("param.slashing.slash_fraction_downtime_bps"),
            jail_duration=store.get("param.slashing.downtime_jail_duration"),
        )


@dataclass(frozen=True)
class SigningInfo:
    """One validator's record of signing (``getSigningInfo``)."""

    start_height: int  # the first height counted since it was (re)tracked; 0 if none yet
    index_offset: int  # blocks counted since then
    missed_blocks: int  # of the last min(index_offset, window) counted blocks, those it missed
    jailed_until: int  # block time from which unjail may succeed (0: at once)


def signing_info(store: Store, operator: bytes) -> SigningInfo:
    return SigningInfo(
        start_height=store.get("slashing.start_height", operator),
        index_offset=store.get("slashing.index_offset", operator),
        missed_blocks=store.get("slashing.missed_count", operator),
        jailed_until=store.get("slashing.jailed_until", operator),
    )


def record_signature(store: Store, operator: bytes, missed: bool, height: int, window: int) -> int:
    """Count ``operator``'s (non-)signature of block ``height``; returns its missed count in the window."""
    offset = store.get("slashing.index_offset", operator)
    if offset and store.get("slashing.record_window", operator) != window:
        # the window was changed (a parameter change): the ring's positions mean
        # something else now, so the record starts afresh
        reset_signing_info(store, operator)
        offset = 0
    if offset == 0:
        store.set("slashing.start_height", operator, height)
        store.set("slashing.record_window", operator, window)
    store.set("slashing.index_offset", operator, offset + 1)
    word, bit = divmod(offset % window, BITS_PER_SLOT)
    stored = store.get("slashing.missed_bits", operator, word)
    count = store.get("slashing.missed_count", operator)
    if offset < window:
        # first pass of the ring since the record (re)started: positions are written in
        # order, so this bit and those above it in the slot are stale (a reset clears
        # nothing: the bitmap is cleared here, lazily, one slot write at most per block)
        bits = stored & ((1 << bit) - 1)
        was_missed = False
    else:
        bits = stored
        was_missed = bool(bits >> bit & 1)
    bits = bits & ~(1 << bit) | (int(missed) << bit)
    if bits != stored:
        store.set("slashing.missed_bits", operator, word, bits)
    if was_missed != missed:
        count += 1 if missed else -1
        store.set("slashing.missed_count", operator, count)
    return count


def reset_signing_info(store: Store, operator: bytes) -> None:
    """Forget ``operator``'s window: counters to 0, in O(1) slot writes. The bitmap is not
    cleared here: ``record_signature`` ignores (and overwrites) a slot's stale bits on the
    ring's first pass after the reset."""
    if store.get("slashing.missed_count", operator):
        store.set("slashing.missed_count", operator, 0)
    store.set("slashing.index_offset", operator, 0)
    store.set("slashing.start_height", operator, 0)


def restart_on_entering_the_set(store: Store, operator: bytes, height: int) -> None:
    """A validator (re)entering the active set at ``height`` after at least a whole window
    out of it starts a fresh record, judged a whole window after it returns (Cosmos resets
    its signing info's start height at bonding): its old bits are about another time.

    One that was out for less keeps its record: otherwise an offline operator could
    jail itself (low self-delegation) before each window is up, unjail and return at
    the next epoch end with a fresh record, in consensus most of the time and never
    judged."""
    window = store.get("param.slashing.signed_blocks_window")
    if height - store.get("validator.left_at", operator) >= window:
        reset_signing_info(store, operator)


def is_down(store: Store, operator: bytes, missed: int, params: DowntimeParams) -> bool:
    """Counted for a whole window and missed more than allowed."""
    return store.get("slashing.index_offset", operator) >= params.window and missed > params.max_missed


def slash_downtime(state: Any, store: Store, operator: bytes, fraction_bps: int) -> int:
    """Burn ``fraction_bps`` of the validator's bonded tokens (every share loses it); returns wei burned.

    Unbonding and redelegation entries are not cut: the rule judges a whole
    window, not one height, and stake that left within it is out of reach."""
    amount = store.get("validator.tokens", operator) * fraction_bps // BPS
    burned = slash_tokens(store, operator, amount)
    if burned:
        state.delta_balance(STAKING_ADDRESS, -burned)
        burn_slashed(state, burned)
    return burned


def jail_for_downtime(store: Store, operator: bytes, now: int, params: DowntimeParams) -> int:
    """Jail until ``now + jail_duration``, reset the window, choose the set again now; returns the time."""
    until = now + params.jail_duration
    validators.jail(store, operator)
    store.set("slashing.jailed_until", operator, until)
    reset_signing_info(store, operator)
    store.set("active.dirty", 1)
    return until


def members(store: Store, signers: tuple, absent: tuple) -> Iterator[tuple[bytes, bool]]:
    """(operator, missed) of every member of the parent's set the contract knows, jailed or not:
    a jailed validator still in the consensus set is counted (only its slash waits)."""
    for group, missed in ((signers, False), (absent, True)):
        for member in group:
            operator = store.get_address("consensus_key.operator", member.pub_key)
            if operator != bytes(20):
                yield operator, missed

"""CometBFT's weighted round-robin proposer selection, as pure functions.

A port of the priority arithmetic of CometBFT's `types/validator_set.go`
(IncrementProposerPriority, RescalePriorities, shiftByAvgProposerPriority,
the update rules of updateWithChangeSet) over mutable `Entry` records, so the
exact arithmetic can be tested against CometBFT's own sequences with its
short test addresses. `ValidatorSet` wraps these in an immutable value.

Go's int64 arithmetic is reproduced where it matters: priorities clip at the
int64 bounds (safeAddClip/safeSubClip), division in rescaling truncates toward
zero, and the average uses big.Int's Euclidean division (floor for n > 0).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidValidatorSet

MAX_INT64 = 2**63 - 1
MIN_INT64 = -(2**63)
# CometBFT: MaxTotalVotingPower = MaxInt64 / 8, so priorities never overflow.
MAX_TOTAL_VOTING_POWER = MAX_INT64 // 8
# Priorities are rescaled so that max - min <= factor * total power.
PRIORITY_WINDOW_SIZE_FACTOR = 2


@dataclass(slots=True)
class Entry:
    address: bytes
    power: int
    priority: int = 0
    pub_key: bytes = b""


def _clip(x: int) -> int:
    return MAX_INT64 if x > MAX_INT64 else MIN_INT64 if x < MIN_INT64 else x


def _trunc_div(a: int, b: int) -> int:
    """Go's `/` on int64: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def total_power(entries: list[Entry]) -> int:
    total = sum(e.power for e in entries)
    if total > MAX_TOTAL_VOTING_POWER:
        raise InvalidValidatorSet(
            f"total voting power {total} exceeds maximum {MAX_TOTAL_VOTING_POWER}")
    return total


def more_priority(a: Entry, b: Entry) -> Entry:
    """CometBFT's CompareProposerPriority: higher priority, then smaller address."""
    if a.priority != b.priority:
        return a if a.priority > b.priority else b
    return a if a.address <= b.address else b


def find_proposer(entries: list[Entry]) -> Entry:
    best = entries[0]
    for e in entries[1:]:
        best = more_priority(best, e)
    return best


def rescale(entries: list[Entry], diff_max: int) -> None:
    if diff_max <= 0:
        return
    prios = [e.priority for e in entries]
    diff = max(prios) - min(prios)
    if diff > diff_max:
        ratio = (diff + diff_max - 1) // diff_max
        for e in entries:
            e.priority = _trunc_div(e.priority, ratio)


def average_priority(entries: list[Entry]) -> int:
    return sum(e.priority for e in entries) // len(entries)


def center(entries: list[Entry]) -> None:
    """shiftByAvgProposerPriority: make the priorities sum to (almost) zero."""
    avg = average_priority(entries)
    for e in entries:
        e.priority = _clip(e.priority - avg)


def _increment_once(entries: list[Entry], total: int) -> Entry:
    for e in entries:
        e.priority = _clip(e.priority + e.power)
    chosen = find_proposer(entries)
    chosen.priority = _clip(chosen.priority - total)
    return chosen


def increment(entries: list[Entry], times: int) -> Entry:
    """IncrementProposerPriority(times): returns the proposer it selects."""
    if not entries:
        raise InvalidValidatorSet("empty validator set")
    if times <= 0:
        raise ValueError("times must be positive")
    total = total_power(entries)
    rescale(entries, PRIORITY_WINDOW_SIZE_FACTOR * total)
    center(entries)
    chosen = entries[0]
    for _ in range(times):
        chosen = _increment_once(entries, total)
    return chosen


def apply_changes(entries: list[Entry], updates: list[Entry]) -> list[Entry]:
    """updateWithChangeSet: returns the new entries (sorted by address).

    Power 0 removes a validator; a new validator starts at priority
    -1.125 * (total power after updates, before removals) so that leaving and
    re-joining cannot reset a negative priority; then rescale and center.
    """
    seen: set[bytes] = set()
    for u in updates:
        if u.address in seen:
            raise InvalidValidatorSet(f"duplicate update for {u.address.hex()}")
        seen.add(u.address)
        if u.power < 0:
            raise InvalidValidatorSet(f"negative power for {u.address.hex()}")
    current = {e.address: e for e in entries}
    removals = [u for u in updates if u.power == 0]
    changes = [u for u in updates if u.power > 0]
    removed_power = 0
    for u in removals:
        if u.address not in current:
            raise InvalidValidatorSet(f"cannot remove {u.address.hex()}: not in the set")
        removed_power += current[u.address].power
    if not changes and len(removals) == len(entries):
        raise InvalidValidatorSet("applying the updates would leave an empty validator set")

    def delta(u: Entry) -> int:
        old = current.get(u.address)
        return u.power - (old.power if old else 0)

    # verifyUpdates: apply the deltas smallest first so an intermediate sum
    # exceeding the maximum is caught exactly as CometBFT does.
    tvp_after_removals = sum(e.power for e in entries) - removed_power
    for u in sorted(changes, key=delta):
        tvp_after_removals += delta(u)
        if tvp_after_removals > MAX_TOTAL_VOTING_POWER:
            raise InvalidValidatorSet("total voting power would exceed the maximum")
    tvp_after_updates_before_removals = tvp_after_removals + removed_power

    merged = {a: Entry(e.address, e.power, e.priority, e.pub_key) for a, e in current.items()}
    for u in changes:
        old = current.get(u.address)
        if old is None:
            prio = -(tvp_after_updates_before_removals + (tvp_after_updates_before_removals >> 3))
        else:
            prio = old.priority
        merged[u.address] = Entry(u.address, u.power, prio, u.pub_key or (old.pub_key if old else b""))
    for u in removals:
        del merged[u.address]
    result = [merged[a] for a in sorted(merged)]
    total = total_power(result)
    rescale(result, PRIORITY_WINDOW_SIZE_FACTOR * total)
    center(result)
    return result

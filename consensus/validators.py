"""Validators and validator sets with CometBFT proposer priorities.

`ValidatorSet` is immutable: `advance()` and `with_changes()` return new sets.
The set remembers the proposer chosen by its last priority increment, exactly
like CometBFT's `ValidatorSet.Proposer`: `ValidatorSet.new(vals)` is
CometBFT's `NewValidatorSet` (priorities centred, incremented once), and the
proposer for round r of a height is `set_for_height.advance(r).proposer()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from . import codec
from .codec import MAX_INT64, check_bytes, check_int, check_list
from .crypto import ADDRESS_SIZE, PUBLIC_KEY_SIZE, address_of
from .errors import DecodeError, InvalidValidatorSet
from .messages import MAX_VALIDATORS
from .proposer import MAX_TOTAL_VOTING_POWER, MIN_INT64, Entry, apply_changes, find_proposer, increment


@dataclass(frozen=True, slots=True)
class Validator:
    """A consensus key with voting power; `address` = address_of(pub_key)."""

    address: bytes
    pub_key: bytes
    power: int

    @classmethod
    def from_pub_key(cls, pub_key: bytes, power: int) -> "Validator":
        return cls(address_of(pub_key), pub_key, power)

    def encode(self) -> bytes:
        return codec.pack([self.address, self.pub_key, self.power])

    @classmethod
    def _from_fields(cls, obj: Any, what: str) -> "Validator":
        f = check_list(obj, 3, what)
        v = cls(
            address=check_bytes(f[0], f"{what}.address", (ADDRESS_SIZE,)),
            pub_key=check_bytes(f[1], f"{what}.pub_key", (PUBLIC_KEY_SIZE,)),
            power=check_int(f[2], f"{what}.power", 0, MAX_TOTAL_VOTING_POWER),
        )
        if address_of(v.pub_key) != v.address:
            raise DecodeError(f"{what}.address does not match its pub_key")
        return v

    @classmethod
    def decode(cls, data: bytes) -> "Validator":
        v = cls._from_fields(codec.unpack(data, 3, max_size=128), "validator")
        codec.ensure_canonical(data, v.encode())
        return v


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    """Validators sorted by address, their priorities, and the current proposer."""

    validators: tuple[Validator, ...]
    priorities: tuple[int, ...]
    proposer_address: bytes
    _index: dict[bytes, int] = field(init=False, repr=False, compare=False, hash=False)
    total_power: int = field(init=False, compare=False)
    quorum_power: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        vals = self.validators
        if not vals:
            raise InvalidValidatorSet("a validator set cannot be empty")
        if len(vals) > MAX_VALIDATORS:
            raise InvalidValidatorSet(f"more than {MAX_VALIDATORS} validators")
        if len(self.priorities) != len(vals):
            raise InvalidValidatorSet("one priority per validator is needed")
        addrs = [v.address for v in vals]
        if addrs != sorted(set(addrs)):
            raise InvalidValidatorSet("validators must be sorted by distinct address")
        for v in vals:
            if v.power <= 0:
                raise InvalidValidatorSet(f"validator {v.address.hex()} has non-positive power")
            if address_of(v.pub_key) != v.address:
                raise InvalidValidatorSet(f"address {v.address.hex()} does not match its pub_key")
        total = sum(v.power for v in vals)
        if total > MAX_TOTAL_VOTING_POWER:
            raise InvalidValidatorSet(f"total voting power {total} exceeds maximum")
        index = {a: i for i, a in enumerate(addrs)}
        if self.proposer_address not in index:
            raise InvalidValidatorSet("the proposer is not in the set")
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "total_power", total)
        # Smallest power strictly greater than 2/3 of the total.
        object.__setattr__(self, "quorum_power", total * 2 // 3 + 1)

    # -- construction ------------------------------------------------------

    @classmethod
    def new(cls, validators: Iterable[Validator]) -> "ValidatorSet":
        """CometBFT's NewValidatorSet: all priorities equal, centred, incremented once."""
        entries = [Entry(v.address, v.power, 0, v.pub_key) for v in validators]
        if not entries:
            raise InvalidValidatorSet("a validator set cannot be empty")
        entries = apply_changes([], entries)
        chosen = increment(entries, 1)
        return cls._from_entries(entries, chosen.address)

    @classmethod
    def _from_entries(cls, entries: list[Entry], proposer: bytes) -> "ValidatorSet":
        entries = sorted(entries, key=lambda e: e.address)
        return cls(
            tuple(Validator(e.address, e.pub_key, e.power) for e in entries),
            tuple(e.priority for e in entries),
            proposer,
        )

    def _entries(self) -> list[Entry]:
        return [Entry(v.address, v.power, p, v.pub_key) for v, p in zip(self.validators, self.priorities)]

    # -- queries -----------------------------------------------------------

    def __len__(self) -> int:
        return len(self.validators)

    def __contains__(self, address: object) -> bool:
        return address in self._index

    def get(self, address: bytes) -> Validator | None:
        i = self._index.get(address)
        return None if i is None else self.validators[i]

    def power_of(self, address: bytes) -> int:
        v = self.get(address)
        return 0 if v is None else v.power

    def priority_of(self, address: bytes) -> int:
        return self.priorities[self._index[address]]

    def proposer(self) -> Validator:
        return self.validators[self._index[self.proposer_address]]

    # -- transitions -------------------------------------------------------

    def advance(self, rounds: int = 1) -> "ValidatorSet":
        """IncrementProposerPriority(rounds); rounds=0 returns the set itself."""
        if rounds == 0:
            return self
        entries = self._entries()
        chosen = increment(entries, rounds)
        return self._from_entries(entries, chosen.address)

    def with_changes(self, updates: Iterable[Validator]) -> "ValidatorSet":
        """CometBFT's UpdateWithChangeSet (power 0 removes). The proposer stays
        if still present, else it is the highest-priority validator; a chain
        moves to its next height with `with_changes(updates).advance(1)`."""
        ups = []
        for u in updates:
            if u.power > 0 and address_of(u.pub_key) != u.address:
                raise InvalidValidatorSet(f"address {u.address.hex()} does not match its pub_key")
            ups.append(Entry(u.address, u.power, 0, u.pub_key))
        entries = apply_changes(self._entries(), ups)
        addrs = {e.address for e in entries}
        proposer = self.proposer_address if self.proposer_address in addrs else find_proposer(entries).address
        return self._from_entries(entries, proposer)

    # -- encoding ----------------------------------------------------------

    def encode(self) -> bytes:
        return codec.pack([
            [[v.address, v.pub_key, v.power] for v in self.validators],
            list(self.priorities),
            self.proposer_address,
        ])

    @classmethod
    def decode(cls, data: bytes) -> "ValidatorSet":
        f = codec.unpack(data, 3)
        if type(f[0]) is not list or type(f[1]) is not list:
            raise DecodeError("validator_set: expected lists of validators and priorities")
        if len(f[0]) > MAX_VALIDATORS:
            raise DecodeError("validator_set: too many validators")
        vals = tuple(Validator._from_fields(v, "validator_set.validator") for v in f[0])
        prios = tuple(check_int(p, "validator_set.priority", MIN_INT64, MAX_INT64) for p in f[1])
        proposer = check_bytes(f[2], "validator_set.proposer", (ADDRESS_SIZE,))
        try:
            vs = cls(vals, prios, proposer)
        except InvalidValidatorSet as exc:
            raise DecodeError(f"validator_set: {exc}") from None
        codec.ensure_canonical(data, vs.encode())
        return vs

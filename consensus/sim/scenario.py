"""What one simulated run is: the scenario value and the parsers for its text forms.

A `Scenario` is a frozen value; the CLI, the suites and the tests all build one
and hand it to `consensus.sim.simulator.run`. The text forms are the CLI's:

- delay ``MIN-MAX`` (ms, uniform per message) or ``MS``;
- partition ``0,1|2,3@T1-T2``: groups of node names that can only talk within
  their group from T1 until the heal at T2 (``@T1`` never heals, no ``@`` means
  from 0 and never heals); nodes named in no group form one more group;
- fault ``KIND:NODE[@T[-T2]]``: the behaviour of validator NODE between T and
  T2 (the whole run by default); for ``crash`` the node stops at T and
  restarts at T2 (never, without T2).

Node names are validator indexes ``"0"``, ``"1"``...; the second copy of a
twinned validator ``i`` is ``"ib"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# `poisoned` is not the node's fault: an outsider beside it races a copy of
# every proposal it is sent, with junk bytes, that arrives first.
FAULT_KINDS = ("silent", "equivocate", "twins", "invalid-proposal", "crash", "poisoned")
BYZANTINE_KINDS = frozenset({"silent", "equivocate", "twins", "invalid-proposal"})


class ScenarioError(ValueError):
    """A scenario or one of its text forms is malformed; the message says how."""


@dataclass(frozen=True)
class Partition:
    groups: tuple[frozenset[str], ...]
    start_ms: int = 0
    end_ms: int | None = None  # None: never heals

    def active(self, now_ms: int) -> bool:
        return self.start_ms <= now_ms and (self.end_ms is None or now_ms < self.end_ms)

    def __str__(self) -> str:
        text = "|".join(",".join(sorted(g, key=_node_sort_key)) for g in self.groups)
        end = "" if self.end_ms is None else f"-{self.end_ms}"
        return f"{text}@{self.start_ms}{end}"


@dataclass(frozen=True)
class Fault:
    kind: str
    node: int
    start_ms: int = 0
    end_ms: int | None = None  # None: for the rest of the run (crash: never restarts)

    def active(self, now_ms: int) -> bool:
        return self.start_ms <= now_ms and (self.end_ms is None or now_ms < self.end_ms)

    @property
    def byzantine(self) -> bool:
        return self.kind in BYZANTINE_KINDS

    def __str__(self) -> str:
        if self.start_ms == 0 and self.end_ms is None:
            return f"{self.kind}:{self.node}"
        end = "" if self.end_ms is None else f"-{self.end_ms}"
        return f"{self.kind}:{self.node}@{self.start_ms}{end}"


@dataclass(frozen=True)
class Scenario:
    validators: int = 4
    heights: int = 5
    seed: int = 0
    powers: tuple[int, ...] | None = None
    delay_ms: tuple[int, int] = (10, 100)
    drop: float = 0.0
    partitions: tuple[Partition, ...] = ()
    faults: tuple[Fault, ...] = ()
    max_time_ms: int = 120_000
    block_interval_ms: int = 100
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        self.check()

    # -- derived facts ---------------------------------------------------------

    def power_of(self, index: int) -> int:
        return self.powers[index] if self.powers is not None else 1

    @property
    def total_power(self) -> int:
        return sum(self.power_of(i) for i in range(self.validators))

    def byzantine_validators(self) -> frozenset[int]:
        return frozenset(f.node for f in self.faults if f.byzantine)

    def twinned(self) -> frozenset[int]:
        return frozenset(f.node for f in self.faults if f.kind == "twins")

    def node_names(self) -> tuple[str, ...]:
        names = [str(i) for i in range(self.validators)]
        names += [f"{i}b" for i in sorted(self.twinned())]
        return tuple(names)

    def last_fault_change_ms(self) -> int:
        """When the last scheduled fault or partition starts or ends."""
        times = [0]
        for item in (*self.faults, *self.partitions):
            times.append(item.start_ms)
            if item.end_ms is not None:
                times.append(item.end_ms)
        return max(times)

    def heals(self) -> bool:
        """True if every partition ends: only then is progress owed."""
        return all(p.end_ms is not None for p in self.partitions)

    # -- validation ------------------------------------------------------------

    def check(self) -> None:
        if self.validators < 1:
            raise ScenarioError("--validators must be at least 1")
        if self.heights < 1:
            raise ScenarioError("--heights must be at least 1")
        if self.powers is not None:
            if len(self.powers) != self.validators:
                raise ScenarioError(
                    f"{self.validators} validators but {len(self.powers)} powers given; "
                    "give one power per validator"
                )
            if any(p <= 0 for p in self.powers):
                raise ScenarioError("every power must be a positive integer")
        lo, hi = self.delay_ms
        if lo < 0 or hi < lo:
            raise ScenarioError(f"bad delay range {lo}-{hi}: need 0 <= MIN <= MAX")
        if not 0.0 <= self.drop < 1.0:
            raise ScenarioError(f"drop probability must be in [0, 1), got {self.drop}")
        if self.max_time_ms <= 0 or self.block_interval_ms < 0:
            raise ScenarioError("max time must be positive and the block interval not negative")
        seen_byz: set[int] = set()
        for fault in self.faults:
            if fault.kind not in FAULT_KINDS:
                raise ScenarioError(f"unknown fault kind {fault.kind!r}; one of {', '.join(FAULT_KINDS)}")
            if not 0 <= fault.node < self.validators:
                raise ScenarioError(
                    f"fault {fault}: there is no node {fault.node} (validators are 0..{self.validators - 1})"
                )
            if fault.end_ms is not None and fault.end_ms <= fault.start_ms:
                raise ScenarioError(f"fault {fault}: the end time must come after the start time")
            if fault.byzantine:
                if fault.node in seen_byz:
                    raise ScenarioError(f"validator {fault.node} has more than one Byzantine fault")
                seen_byz.add(fault.node)
        names = set(self.node_names())
        for part in self.partitions:
            members: set[str] = set()
            for group in part.groups:
                for name in group:
                    if name not in names:
                        raise ScenarioError(
                            f"partition {part}: there is no node {name!r} (nodes are {', '.join(sorted(names, key=_node_sort_key))})"
                        )
                    if name in members:
                        raise ScenarioError(f"partition {part}: node {name} is in two groups")
                    members.add(name)
            if part.end_ms is not None and part.end_ms <= part.start_ms:
                raise ScenarioError(f"partition {part}: the heal time must come after the start time")

    def describe(self) -> str:
        bits = [f"validators={self.validators}", f"heights={self.heights}", f"seed={self.seed}"]
        if self.powers is not None:
            bits.append("powers=" + ",".join(map(str, self.powers)))
        bits.append(f"delay={self.delay_ms[0]}-{self.delay_ms[1]}")
        if self.drop:
            bits.append(f"drop={self.drop}")
        bits += [f"partition={p}" for p in self.partitions]
        bits += [f"fault={f}" for f in self.faults]
        return " ".join(bits)


def _node_sort_key(name: str) -> tuple[int, str]:
    digits = name.rstrip("b")
    return (int(digits) if digits.isdigit() else 1 << 30, name)


# -- text forms ----------------------------------------------------------------


def _parse_ms(text: str, what: str) -> int:
    text = text.strip()
    if not text.isdigit():
        raise ScenarioError(f"{what}: {text!r} is not a whole number of milliseconds")
    return int(text)


def _parse_window(text: str, what: str) -> tuple[int, int | None]:
    if "-" in text:
        start, end = text.split("-", 1)
        return _parse_ms(start, what), _parse_ms(end, what)
    return _parse_ms(text, what), None


def parse_delay(text: str) -> tuple[int, int]:
    if "-" in text:
        lo, hi = text.split("-", 1)
        pair = (_parse_ms(lo, "delay"), _parse_ms(hi, "delay"))
    else:
        value = _parse_ms(text, "delay")
        pair = (value, value)
    if pair[1] < pair[0]:
        raise ScenarioError(f"delay {text!r}: MIN must not exceed MAX")
    return pair


def parse_powers(text: str) -> tuple[int, ...]:
    try:
        powers = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise ScenarioError(f"powers {text!r}: expected comma-separated integers like 10,20,30") from None
    if any(p <= 0 for p in powers):
        raise ScenarioError(f"powers {text!r}: every power must be positive")
    return powers


def parse_partition(text: str) -> Partition:
    body, _, window = text.partition("@")
    start, end = _parse_window(window, f"partition {text!r}") if window else (0, None)
    groups: list[frozenset[str]] = []
    for chunk in body.split("|"):
        names = [n.strip() for n in chunk.split(",") if n.strip()]
        if not names:
            raise ScenarioError(f"partition {text!r}: empty group (expected e.g. 0,1|2,3@1000-5000)")
        for name in names:
            core = name[:-1] if name.endswith("b") else name
            if not core.isdigit():
                raise ScenarioError(f"partition {text!r}: {name!r} is not a node (use indexes like 0 or 0b)")
        groups.append(frozenset(str(int(n[:-1])) + "b" if n.endswith("b") else str(int(n)) for n in names))
    if len(groups) < 2:
        raise ScenarioError(f"partition {text!r}: need at least two groups separated by '|'")
    return Partition(tuple(groups), start, end)


def parse_fault(text: str) -> Fault:
    kind, sep, rest = text.partition(":")
    if not sep:
        raise ScenarioError(f"fault {text!r}: expected KIND:NODE[@T[-T2]]")
    kind = kind.strip()
    if kind not in FAULT_KINDS:
        raise ScenarioError(f"fault {text!r}: unknown kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
    node_text, _, window = rest.partition("@")
    if not node_text.strip().isdigit():
        raise ScenarioError(f"fault {text!r}: node must be a validator index")
    start, end = _parse_window(window, f"fault {text!r}") if window else (0, None)
    return Fault(kind, int(node_text), start, end)

"""The outcome of one simulated run, as a frozen value with a JSON form.

Everything but `wall_s` is a function of the scenario (and so of its seed):
running the same scenario twice gives equal reports once `wall_s` is masked,
which `without_wall_time()` does for comparisons.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Report:
    seed: int
    validators: int
    agreement: bool
    violations: tuple[str, ...]
    committed: dict[str, int]  # node name -> last committed height
    min_height: int  # lowest committed height among honest nodes that are up at the end
    max_round: int  # highest round at which any honest node committed
    evidence: tuple[str, ...]  # hex addresses proven (by verified evidence) to double-sign
    messages: int  # point-to-point messages sent, lost ones included
    sim_ms: int
    wall_s: float
    scenario: str = ""

    def __hash__(self) -> int:  # `committed` is a dict; hash the stable parts
        return hash((self.seed, self.validators, self.agreement, self.violations, self.messages, self.sim_ms))

    @property
    def ok(self) -> bool:
        return not self.violations

    def without_wall_time(self) -> "Report":
        return replace(self, wall_s=0.0)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["violations"] = list(self.violations)
        data["evidence"] = list(self.evidence)
        data["committed"] = dict(self.committed)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_text(self) -> str:
        lines = [
            f"scenario   {self.scenario}" if self.scenario else f"seed       {self.seed}",
            f"result     {'OK' if self.ok else 'VIOLATION'}",
            f"agreement  {'yes' if self.agreement else 'NO'}",
            f"heights    min {self.min_height} over honest live nodes; committed "
            + " ".join(f"{k}:{v}" for k, v in self.committed.items()),
            f"max round  {self.max_round}",
            f"messages   {self.messages}",
            f"time       {self.sim_ms} ms simulated, {self.wall_s:.2f} s wall",
            "evidence   " + (", ".join(self.evidence) if self.evidence else "none"),
        ]
        lines += [f"violation  {v}" for v in self.violations]
        return "\n".join(lines)

"""The rules engine: pure, no I/O (fund flows in, typed hits out).

`PolicyEngine.check(flows)` judges a transaction's intended movements
against the reject rules before it enters the mempool (no state changes);
`PolicyEngine.observe(block)` judges a committed block's movements against
the rules of the given actions and records them in the windows the
stateful rules read.

One short function per rule kind (`denylist_hit`, `threshold_hit`,
`velocity_hit`, `structuring_hit`, `fresh_account_hit`), named in
`RULE_CHECKS`. Windows count committed blocks: a window of W blocks at
block N holds blocks N-W+1 .. N.

Bounded state (`WindowLimits`, docs/compliance.md "Limits"): at most
`tracked_senders` senders keep a history, each at most `events_per_sender`
movements (the oldest go first in both), and at most `tracked_new_accounts`
new accounts remember the block they appeared in. An evicted sender's
history restarts empty: the engine may then miss a pattern, never invent one.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from eth_utils import to_checksum_address

from plume_node.compliance.model import Action, BlockFlows, FundFlow, Hit, Policy, Rule, RuleKind

MAX_TRACKED_SENDERS = 10_000
MAX_EVENTS_PER_SENDER = 256
MAX_TRACKED_NEW_ACCOUNTS = 10_000


@dataclass(frozen=True)
class WindowLimits:
    tracked_senders: int = MAX_TRACKED_SENDERS
    events_per_sender: int = MAX_EVENTS_PER_SENDER
    tracked_new_accounts: int = MAX_TRACKED_NEW_ACCOUNTS


class Windows:
    """What the stateful rules remember of committed blocks (bounded, oldest evicted)."""

    def __init__(self, limits: WindowLimits) -> None:
        self.limits = limits
        self.sent: OrderedDict[bytes, deque[FundFlow]] = OrderedDict()  # least recently active first
        self.appeared: OrderedDict[bytes, int] = OrderedDict()  # new account -> its first block

    def recent(self, sender: bytes, since_block: int) -> list[FundFlow]:
        return [f for f in self.sent.get(sender, ()) if f.block >= since_block]

    def record(self, flow: FundFlow) -> None:
        history = self.sent.pop(flow.sender, None)
        if history is None:
            history = deque(maxlen=self.limits.events_per_sender)
        history.append(flow)
        self.sent[flow.sender] = history
        while len(self.sent) > self.limits.tracked_senders:
            self.sent.popitem(last=False)

    def record_new_accounts(self, accounts: Iterable[bytes], block: int) -> None:
        for account in sorted(accounts):  # sorted: eviction does not depend on set order
            self.appeared.setdefault(account, block)
        while len(self.appeared) > self.limits.tracked_new_accounts:
            self.appeared.popitem(last=False)

    def forget_before(self, block: int) -> None:
        """Drop senders whose newest movement is older than `block` (outside every window)."""
        while self.sent:
            sender, history = next(iter(self.sent.items()))
            if history[-1].block >= block:
                break
            del self.sent[sender]
        while self.appeared and next(iter(self.appeared.values())) < block:
            self.appeared.popitem(last=False)


def _who(address: bytes) -> str:
    return to_checksum_address(address)


def denylist_hit(rule: Rule, flow: FundFlow, windows: Windows) -> str | None:
    """A movement from or to a listed address (every asset)."""
    for role, address in (("sender", flow.sender), ("recipient", flow.recipient)):
        if address in rule.addresses:
            return f"{role} {_who(address)} is on the denylist"
    return None


def threshold_hit(rule: Rule, flow: FundFlow, windows: Windows) -> str | None:
    """A single movement of at least min_value."""
    if rule.watches(flow) and flow.amount >= rule.min_value:
        return f"{flow.amount} moved, the threshold is {rule.min_value}"
    return None


def velocity_hit(rule: Rule, flow: FundFlow, windows: Windows) -> str | None:
    """The sender's movements within window_blocks, this one included, exceed max_value in
    total or max_count in number."""
    if not rule.watches(flow):
        return None
    earlier = [f for f in windows.recent(flow.sender, flow.block - rule.window_blocks + 1) if rule.watches(f)]
    total = sum(f.amount for f in earlier) + flow.amount
    count = len(earlier) + 1
    if rule.max_value is not None and total > rule.max_value:
        return f"{_who(flow.sender)} moved {total} in {count} movements within {rule.window_blocks} blocks (max {rule.max_value})"
    if rule.max_count is not None and count > rule.max_count:
        return f"{_who(flow.sender)} made {count} movements within {rule.window_blocks} blocks (max {rule.max_count})"
    return None


def just_under(rule: Rule, amount: int) -> bool:
    """Within margin_percent below the structuring threshold."""
    return rule.threshold * (100 - rule.margin_percent) <= amount * 100 and amount < rule.threshold


def structuring_hit(rule: Rule, flow: FundFlow, windows: Windows) -> str | None:
    """At least min_count movements of the sender just under threshold within window_blocks."""
    if not (rule.watches(flow) and just_under(rule, flow.amount)):
        return None
    earlier = windows.recent(flow.sender, flow.block - rule.window_blocks + 1)
    count = 1 + sum(1 for f in earlier if rule.watches(f) and just_under(rule, f.amount))
    if count >= rule.min_count:
        return (f"{_who(flow.sender)} made {count} movements just under {rule.threshold} "
                f"within {rule.window_blocks} blocks")
    return None


def fresh_account_hit(rule: Rule, flow: FundFlow, windows: Windows) -> str | None:
    """A movement of at least min_value from an account that appeared within window_blocks."""
    appeared = windows.appeared.get(flow.sender)
    if appeared is None or not rule.watches(flow) or flow.amount < rule.min_value:
        return None
    if flow.block - appeared < rule.window_blocks:
        return f"{_who(flow.sender)} appeared at block {appeared} and moves {flow.amount}"
    return None


RULE_CHECKS: dict[RuleKind, Callable[[Rule, FundFlow, Windows], str | None]] = {
    RuleKind.DENYLIST: denylist_hit,
    RuleKind.THRESHOLD: threshold_hit,
    RuleKind.VELOCITY: velocity_hit,
    RuleKind.STRUCTURING: structuring_hit,
    RuleKind.FRESH_ACCOUNT: fresh_account_hit,
}


def hits_of(rules: Iterable[Rule], flow: FundFlow, windows: Windows) -> list[Hit]:
    found = []
    for rule in rules:
        detail = RULE_CHECKS[rule.kind](rule, flow, windows)
        if detail is not None:
            found.append(Hit(rule.name, rule.kind, rule.action, flow, detail))
    return found


class PolicyEngine:
    def __init__(self, policy: Policy, limits: WindowLimits = WindowLimits()) -> None:
        self.policy = policy
        self.windows = Windows(limits)

    def replace_policy(self, policy: Policy) -> None:
        """New rules (a reload); the windows are the chain's, so they are kept."""
        self.policy = policy

    def check(self, flows: Iterable[FundFlow]) -> Hit | None:
        """The first reject rule a transaction's movements break, or None. Changes nothing."""
        rules = self.policy.of_action(Action.REJECT)
        if not rules:
            return None
        for flow in flows:
            found = hits_of(rules, flow, self.windows)
            if found:
                return found[0]
        return None

    def observe(self, block: BlockFlows, actions: tuple[Action, ...] = (Action.FLAG,)) -> tuple[Hit, ...]:
        """The hits of the rules with `actions` on a committed block, movements in block
        order (each sees the earlier ones of its block); then the block is remembered."""
        rules = [r for r in self.policy.rules if r.action in actions]
        self.windows.record_new_accounts(block.new_accounts, block.number)
        found: list[Hit] = []
        for flow in block.flows:
            found.extend(hits_of(rules, flow, self.windows))
            self.windows.record(flow)
        self.windows.forget_before(block.number - self.policy.longest_window() + 1)
        return tuple(found)


__all__ = ["PolicyEngine", "RULE_CHECKS", "WindowLimits", "Windows", "just_under"]

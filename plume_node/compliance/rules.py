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

Bounded state and work (`WindowLimits`, docs/compliance.md "Limits"): each
windowed rule (velocity, structuring) keeps per sender a count and a total
per block (per bucket of ceil(W / (blocks_per_sender - 1)) blocks for a
window W longer than blocks_per_sender - 1) in at most `blocks_per_sender`
entries, for at most
`tracked_senders` senders shared out between those rules (the least
recently active go first); at most `tracked_new_accounts` new accounts
remember the block they appeared in. Judging a movement costs O(1)
amortized per rule. An evicted history restarts empty: the engine may then
miss a pattern, never invent one.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from eth_utils import to_checksum_address

from plume_node.compliance.model import Action, BlockFlows, FundFlow, Hit, Policy, Rule, RuleKind

MAX_TRACKED_SENDERS = 10_000  # shared by all windowed rules (velocity, structuring)
MAX_BLOCKS_PER_SENDER = 64  # a sender's most recent active blocks each windowed rule remembers
MAX_TRACKED_NEW_ACCOUNTS = 10_000


@dataclass(frozen=True)
class WindowLimits:
    tracked_senders: int = MAX_TRACKED_SENDERS
    blocks_per_sender: int = MAX_BLOCKS_PER_SENDER
    tracked_new_accounts: int = MAX_TRACKED_NEW_ACCOUNTS


def bucket_blocks(window_blocks: int, max_entries: int) -> int:
    """Blocks per entry so that a window of `window_blocks` fits in `max_entries` entries
    (1, exact, for windows up to max_entries - 1 blocks)."""
    return max(1, -(-window_blocks // max(1, max_entries - 1)))


class SenderWindow:
    """One sender's recorded movements for one rule, aggregated per bucket of `bucket`
    blocks: [first block of the bucket, count, total] entries, oldest first, at most
    `maxlen`. A bucket counts while its first block is inside the window, so a long
    window (bucket > 1) may count up to bucket - 1 blocks less than it says: a pattern
    may be missed, never invented."""

    __slots__ = ("entries", "count", "total", "maxlen", "bucket")

    def __init__(self, maxlen: int, bucket: int = 1) -> None:
        self.entries: deque[list[int]] = deque()
        self.count = self.total = 0
        self.maxlen = maxlen
        self.bucket = bucket

    def add(self, block: int, amount: int) -> None:
        start = block - block % self.bucket
        if self.entries and self.entries[-1][0] == start:
            self.entries[-1][1] += 1
            self.entries[-1][2] += amount
        else:
            self.entries.append([start, 1, amount])
            if len(self.entries) > self.maxlen:
                self._drop_oldest()
        self.count += 1
        self.total += amount

    def expire(self, low: int) -> None:
        while self.entries and self.entries[0][0] < low:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        _, count, total = self.entries.popleft()
        self.count -= count
        self.total -= total

    def since(self, low: int) -> tuple[int, int]:
        """(count, total) of the entries from block `low` on, without changing anything."""
        count, total = self.count, self.total
        for block, c, t in self.entries:
            if block >= low:
                break
            count, total = count - c, total - t
        return count, total


class Windows:
    """What the stateful rules remember of committed blocks (bounded, oldest evicted).

    Each windowed rule keeps, per sender, the blocks in which that sender made
    movements the rule counts (`SenderWindow`), so a check costs O(1) amortized
    per rule and movement. Senders are shared out: each of the policy's R
    windowed rules tracks at most tracked_senders // R of them."""

    def __init__(self, limits: WindowLimits) -> None:
        self.limits = limits
        self.by_rule: dict[Rule, OrderedDict[bytes, SenderWindow]] = {}
        self.appeared: OrderedDict[bytes, int] = OrderedDict()  # new account -> its first block
        self.per_rule_senders = limits.tracked_senders

    def keep_rules(self, rules: Iterable[Rule]) -> None:
        """Windows for exactly these rules: an unchanged rule keeps its history, a new one starts empty."""
        windowed = [r for r in rules if r.kind in WINDOW_RECORDERS]
        self.by_rule = {r: self.by_rule.get(r, OrderedDict()) for r in windowed}
        self.per_rule_senders = max(1, self.limits.tracked_senders // max(1, len(windowed)))

    def since(self, rule: Rule, sender: bytes, low: int) -> tuple[int, int]:
        window = self.by_rule.get(rule, {}).get(sender)
        return (0, 0) if window is None else window.since(low)

    def record(self, flow: FundFlow) -> None:
        for rule, senders in self.by_rule.items():
            if not WINDOW_RECORDERS[rule.kind](rule, flow):
                continue
            window = senders.pop(flow.sender, None) or SenderWindow(
                self.limits.blocks_per_sender, bucket_blocks(rule.window_blocks, self.limits.blocks_per_sender))
            window.expire(flow.block - rule.window_blocks + 1)
            window.add(flow.block, flow.amount)
            senders[flow.sender] = window  # most recently active last
            while len(senders) > self.per_rule_senders:
                senders.popitem(last=False)

    def record_new_accounts(self, accounts: Iterable[bytes], block: int) -> None:
        for account in sorted(accounts):  # sorted: eviction does not depend on set order
            self.appeared.setdefault(account, block)
        while len(self.appeared) > self.limits.tracked_new_accounts:
            self.appeared.popitem(last=False)

    def forget_before(self, block: int, fresh_window: int) -> None:
        """Drop senders whose newest block left their rule's window, and new accounts
        older than every fresh_account window."""
        for rule, senders in self.by_rule.items():
            low = block - rule.window_blocks + 1
            while senders:
                sender, window = next(iter(senders.items()))
                if window.entries and window.entries[-1][0] >= low:
                    break
                del senders[sender]
        while self.appeared and next(iter(self.appeared.values())) < block - fresh_window + 1:
            self.appeared.popitem(last=False)


class PendingView:
    """`Windows` as the reject rules see them at admission: committed history plus the
    movements of transactions still pending (read only; nothing is recorded)."""

    def __init__(self, windows: Windows, rules: Iterable[Rule], pending: Iterable[FundFlow]) -> None:
        self.windows = windows
        self.appeared = windows.appeared
        self.extra: dict[tuple[Rule, bytes], tuple[int, int]] = {}
        windowed = [r for r in rules if r.kind in WINDOW_RECORDERS]
        for flow in pending if windowed else ():
            for rule in windowed:
                if WINDOW_RECORDERS[rule.kind](rule, flow):
                    count, total = self.extra.get((rule, flow.sender), (0, 0))
                    self.extra[(rule, flow.sender)] = (count + 1, total + flow.amount)

    def since(self, rule: Rule, sender: bytes, low: int) -> tuple[int, int]:
        count, total = self.windows.since(rule, sender, low)
        extra_count, extra_total = self.extra.get((rule, sender), (0, 0))
        return count + extra_count, total + extra_total


WindowReader = Windows | PendingView  # what the rule checks read: `since` and `appeared`


def _who(address: bytes) -> str:
    return to_checksum_address(address)


def denylist_hit(rule: Rule, flow: FundFlow, windows: WindowReader) -> str | None:
    """A movement from or to a listed address (every asset)."""
    for role, address in (("sender", flow.sender), ("recipient", flow.recipient)):
        if address in rule.addresses:
            return f"{role} {_who(address)} is on the denylist"
    return None


def threshold_hit(rule: Rule, flow: FundFlow, windows: WindowReader) -> str | None:
    """A single movement of at least min_value."""
    if rule.watches(flow) and flow.amount >= rule.min_value:
        return f"{flow.amount} moved, the threshold is {rule.min_value}"
    return None


def velocity_hit(rule: Rule, flow: FundFlow, windows: WindowReader) -> str | None:
    """The sender's movements within window_blocks, this one included, exceed max_value in
    total or max_count in number."""
    if not rule.watches(flow):
        return None
    count, total = windows.since(rule, flow.sender, flow.block - rule.window_blocks + 1)
    count, total = count + 1, total + flow.amount
    if rule.max_value is not None and total > rule.max_value:
        return f"{_who(flow.sender)} moved {total} in {count} movements within {rule.window_blocks} blocks (max {rule.max_value})"
    if rule.max_count is not None and count > rule.max_count:
        return f"{_who(flow.sender)} made {count} movements within {rule.window_blocks} blocks (max {rule.max_count})"
    return None


def just_under(rule: Rule, amount: int) -> bool:
    """Within margin_percent below the structuring threshold."""
    return rule.threshold * (100 - rule.margin_percent) <= amount * 100 and amount < rule.threshold


def structuring_hit(rule: Rule, flow: FundFlow, windows: WindowReader) -> str | None:
    """At least min_count movements of the sender just under threshold within window_blocks."""
    if not (rule.watches(flow) and just_under(rule, flow.amount)):
        return None
    count = 1 + windows.since(rule, flow.sender, flow.block - rule.window_blocks + 1)[0]
    if count >= rule.min_count:
        return (f"{_who(flow.sender)} made {count} movements just under {rule.threshold} "
                f"within {rule.window_blocks} blocks")
    return None


def fresh_account_hit(rule: Rule, flow: FundFlow, windows: WindowReader) -> str | None:
    """A movement of at least min_value from an account that appeared within window_blocks."""
    appeared = windows.appeared.get(flow.sender)
    if appeared is None or not rule.watches(flow) or flow.amount < rule.min_value:
        return None
    if flow.block - appeared < rule.window_blocks:
        return f"{_who(flow.sender)} appeared at block {appeared} and moves {flow.amount}"
    return None


RULE_CHECKS: dict[RuleKind, Callable[[Rule, FundFlow, WindowReader], str | None]] = {
    RuleKind.DENYLIST: denylist_hit,
    RuleKind.THRESHOLD: threshold_hit,
    RuleKind.VELOCITY: velocity_hit,
    RuleKind.STRUCTURING: structuring_hit,
    RuleKind.FRESH_ACCOUNT: fresh_account_hit,
}


# What each windowed rule kind remembers of a committed movement.
WINDOW_RECORDERS: dict[RuleKind, Callable[[Rule, FundFlow], bool]] = {
    RuleKind.VELOCITY: lambda rule, flow: rule.watches(flow),
    RuleKind.STRUCTURING: lambda rule, flow: rule.watches(flow) and just_under(rule, flow.amount),
}


def hits_of(rules: Iterable[Rule], flow: FundFlow, windows: WindowReader) -> list[Hit]:
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
        self.windows.keep_rules(policy.rules)

    def replace_policy(self, policy: Policy) -> None:
        """New rules (a reload): an unchanged windowed rule keeps its history, a new or
        changed one starts with an empty window; new accounts are kept."""
        self.policy = policy
        self.windows.keep_rules(policy.rules)

    def check(self, flows: Iterable[FundFlow], parties: FundFlow | None = None,
              pending: Iterable[FundFlow] = ()) -> Hit | None:
        """The first reject rule a transaction's movements break, or None. Changes nothing.

        `parties`: the transaction's sender and recipient as a movement of nothing; the
        denylist rules judge it even when the transaction announces no movement (a call
        of value 0 from a listed sender is refused too). `pending`: the movements of the
        sender's transactions already in the mempool, counted by the windowed rules as
        if committed in the next block (64 transactions pushed at once do not all pass a
        velocity rule of max_count 5)."""
        rules = self.policy.of_action(Action.REJECT)
        if not rules:
            return None
        if parties is not None:
            denylists = [r for r in rules if r.kind is RuleKind.DENYLIST]
            found = hits_of(denylists, parties, self.windows)
            if found:
                return found[0]
        windows = PendingView(self.windows, rules, pending)
        for flow in flows:
            found = hits_of(rules, flow, windows)
            if found:
                return found[0]
        return None

    def observe(self, block: BlockFlows, actions: tuple[Action, ...] = (Action.FLAG,)) -> tuple[Hit, ...]:
        """The hits of the rules with `actions` on a committed block, movements in block
        order (each sees the earlier ones of its block); then the block is remembered.
        (`begin_block`, `observe_flow`, `end_block` do the same in steps.)"""
        rules = self.begin_block(block, actions)
        found: list[Hit] = []
        for flow in block.flows:
            found.extend(self.observe_flow(flow, rules))
        self.end_block(block.number)
        return tuple(found)

    def begin_block(self, block: BlockFlows, actions: tuple[Action, ...]) -> list[Rule]:
        """Note the block's new accounts; the rules to judge its movements with."""
        self.windows.record_new_accounts(block.new_accounts, block.number)
        return [r for r in self.policy.rules if r.action in actions]

    def observe_flow(self, flow: FundFlow, rules: list[Rule]) -> list[Hit]:
        found = hits_of(rules, flow, self.windows)
        self.windows.record(flow)
        return found

    def end_block(self, number: int) -> None:
        fresh = max((r.window_blocks for r in self.policy.rules if r.kind is RuleKind.FRESH_ACCOUNT), default=0)
        self.windows.forget_before(number, fresh)


__all__ = ["bucket_blocks", "PendingView", "PolicyEngine", "RULE_CHECKS", "SenderWindow", "WINDOW_RECORDERS", "WindowLimits", "Windows", "just_under"]

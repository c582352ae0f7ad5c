"""The values of the compliance rules: fund flows, rules, and what a rule found (hits).

All frozen; addresses are 20-byte `bytes`, amounts integers (wei for the
native coin, token units for tokens).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from eth_utils import to_checksum_address


class FlowKind(Enum):
    """Where a value movement was seen."""

    NATIVE = "native"  # a transaction's own value
    INTERNAL = "internal"  # a call with value made by a contract (from the execution trace)
    ERC20 = "erc20"  # a Transfer(address,address,uint256) log
    ERC1155 = "erc1155"  # a TransferSingle / TransferBatch log (one flow per id)
    STAKE_DEPOSIT = "stakeDeposit"  # value sent to the staking contract
    STAKE_PAYOUT = "stakePayout"  # rewards or commission paid out by the staking contract


class RuleKind(Enum):
    DENYLIST = "denylist"
    THRESHOLD = "threshold"
    VELOCITY = "velocity"
    STRUCTURING = "structuring"
    FRESH_ACCOUNT = "fresh_account"


class Action(Enum):
    REJECT = "reject"  # refused at RPC and mempool admission, never gossiped
    FLAG = "flag"  # admitted; an alert is raised when it commits


@dataclass(frozen=True)
class FundFlow:
    kind: FlowKind
    sender: bytes
    recipient: bytes
    amount: int
    block: int
    tx_hash: bytes | None = None  # None for movements of the end of block (none carry value today)
    asset: bytes | None = None  # the token contract; None = the native coin
    token_id: int | None = None  # ERC-1155 only

    def to_json(self) -> dict:
        return {
            "kind": self.kind.value,
            "from": to_checksum_address(self.sender),
            "to": to_checksum_address(self.recipient),
            "amount": str(self.amount),
            "asset": "native" if self.asset is None else to_checksum_address(self.asset),
            "tokenId": None if self.token_id is None else str(self.token_id),
            "blockNumber": self.block,
            "transactionHash": None if self.tx_hash is None else "0x" + self.tx_hash.hex(),
        }

    @classmethod
    def from_json(cls, data: dict) -> "FundFlow":
        """The inverse of `to_json` (the report reads flows served over RPC); raises
        ValueError/KeyError/TypeError for anything else."""
        asset = data["asset"]
        tx_hash = data.get("transactionHash")
        token_id = data.get("tokenId")
        flow = cls(
            kind=FlowKind(data["kind"]),
            sender=bytes.fromhex(data["from"][2:]),
            recipient=bytes.fromhex(data["to"][2:]),
            amount=int(data["amount"]),
            block=int(data["blockNumber"]),
            tx_hash=None if tx_hash is None else bytes.fromhex(tx_hash[2:]),
            asset=None if asset == "native" else bytes.fromhex(asset[2:]),
            token_id=None if token_id is None else int(token_id),
        )
        addresses = (flow.sender, flow.recipient) + (() if flow.asset is None else (flow.asset,))
        if any(len(a) != 20 for a in addresses) or not 0 <= flow.amount < 2**256:
            raise ValueError("not a fund flow: addresses of 20 bytes and amounts of 0 to 2**256-1")
        return flow


@dataclass(frozen=True)
class BlockFlows:
    """One committed block as the rules see it."""

    number: int
    flows: tuple[FundFlow, ...]
    # Accounts that had no nonce, no balance and no code before this block (for fresh_account).
    new_accounts: frozenset[bytes] = frozenset()
    # Movements left out by the bounds of flows.py (MAX_FLOWS_PER_BLOCK, MAX_LOG_FLOWS_PER_CONTRACT,
    # MAX_BATCH_IDS): the rules and the subscribers saw only `flows`.
    truncated: int = 0
    # False when the internal value transfers were not traced (not needed, or the re-execution
    # was refused by a budget): `flows` then holds only what the receipts and logs show.
    internal_traced: bool = True


@dataclass(frozen=True)
class Rule:
    """One rule of compliance.toml; each kind reads only its own fields (docs/compliance.md)."""

    name: str
    kind: RuleKind
    action: Action
    asset: bytes | None = None  # the asset whose movements it watches; None = native
    any_asset: bool = False  # asset = "any": every asset (amounts are then compared as they are)
    addresses: frozenset[bytes] = field(default_factory=frozenset)  # denylist
    min_value: int = 0  # threshold, fresh_account
    max_value: int | None = None  # velocity
    max_count: int | None = None  # velocity
    window_blocks: int = 0  # velocity, structuring, fresh_account
    threshold: int = 0  # structuring
    margin_percent: int = 10  # structuring: "just under" = within this percentage below threshold
    min_count: int = 3  # structuring

    def watches(self, flow: FundFlow) -> bool:
        return self.any_asset or flow.asset == self.asset


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...] = ()

    def of_action(self, action: Action) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.action is action)

    def longest_window(self) -> int:
        return max((r.window_blocks for r in self.rules), default=0)


@dataclass(frozen=True)
class Hit:
    """A rule that matched a movement (an alert for flag rules, a refusal for reject rules)."""

    rule: str
    kind: RuleKind
    action: Action
    flow: FundFlow
    detail: str  # human text built by the engine, never parsed

    def to_json(self) -> dict:
        return {"rule": self.rule, "kind": self.kind.value, "action": self.action.value,
                "detail": self.detail, "flow": self.flow.to_json()}

"""The values of the compliance rules: fund flows, rules, and what a rule found (hits).

All frozen; addresses are 20-byte `bytes`, amounts integers (wei for the
native coin, token units for tokens).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

from eth_utils import to_checksum_address


# A block's flows repeat a few addresses (a token, its holders): their checksums are cached.
_checksum = lru_cache(maxsize=4096)(to_checksum_address)


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
            "from": _checksum(self.sender),
            "to": _checksum(self.recipient),
            "amount": str(self.amount),
            "asset": "native" if self.asset is None else _checksum(self.asset),
            "tokenId": None if self.token_id is None else str(self.token_id),
            "blockNumber": self.block,
            "transactionHash": None if self.tx_hash is None else "0x" + self.tx_hash.hex(),
        }

    @classmethod
    def from_json(cls, data: dict) -> "FundFlow":
        """The inverse of `to_json` (the report reads flows served over RPC), strict about
        types (an answering node is not trusted: no floats, no 1e400); raises
        ValueError/KeyError/TypeError for anything else."""
        asset = data["asset"]
        tx_hash = data.get("transactionHash")
        token_id = data.get("tokenId")
        block = data["blockNumber"]
        if type(block) is not int or not 0 <= block < 2**63:
            raise ValueError("blockNumber must be an integer")
        return cls(
            kind=FlowKind(data["kind"]),
            sender=_address(data["from"]),
            recipient=_address(data["to"]),
            amount=_uint256(data["amount"]),
            block=block,
            tx_hash=None if tx_hash is None else _hex(tx_hash, 32),
            asset=None if asset == "native" else _address(asset),
            token_id=None if token_id is None else _uint256(token_id),
        )


_DECIMAL = re.compile(r"[0-9]{1,78}")


def _uint256(value: object) -> int:
    """A decimal string of 0 .. 2**256-1 (what `to_json` writes for amounts and token ids)."""
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value) or int(value) >= 2**256:
        raise ValueError("not a decimal string of 0 to 2**256-1")
    return int(value)


def _hex(value: object, size: int) -> bytes:
    if not isinstance(value, str) or len(value) != 2 + 2 * size or not value.startswith("0x"):
        raise ValueError(f"not 0x and {2 * size} hex digits")
    return bytes.fromhex(value[2:])


def _address(value: object) -> bytes:
    return _hex(value, 20)


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

"""The staking contract's ABI as the precompile uses it: methods, events, revert data.

``METHODS`` is the dispatch table, keyed by 4-byte selector; each method
names its Solidity argument and return types, whether it accepts value and
whether it writes, and its base gas. The shipped ABI JSON
(``staking/interfaces/IStaking.json``, compiled from docs/IStaking.sol) must agree
with it; a test holds them together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from importlib import resources

from eth_abi import decode, encode
from eth_hash.auto import keccak

from staking.evidence import MAX_EVIDENCE_BYTES, SUBMIT_EVIDENCE_GAS

ERROR_SELECTOR = keccak(b"Error(string)")[:4]
MAX_REASON_BYTES = 256


@dataclass(frozen=True)
class Method:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    base_gas: int  # charged before anything else, on top of the per-slot costs
    writes: bool = False
    payable: bool = False
    max_calldata: int | None = None  # longer calldata reverts before it is decoded

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.inputs)})"

    @property
    def selector(self) -> bytes:
        return keccak(self.signature.encode())[:4]

    def decode_args(self, calldata: bytes) -> tuple:
        """The arguments, addresses as 20 raw bytes (eth_abi gives checksum strings)."""
        values = decode(list(self.inputs), calldata[4:])
        return tuple(
            bytes.fromhex(v[2:]) if t == "address" else v for t, v in zip(self.inputs, values)
        )

    def encode_result(self, values: tuple) -> bytes:
        return encode(list(self.outputs), list(values))


VALIDATOR_VIEW = ("bytes32", "string", "uint256", "uint256", "uint16", "bool", "uint8")
PARAMS_VIEW = ("uint256",) * 8

_METHODS = (
    Method("createValidator", ("bytes32", "string", "uint16", "uint16", "uint16"), (), 50_000, True, True),
    Method("editValidator", ("string", "uint16"), (), 20_000, True),
    Method("unjail", (), (), 20_000, True),
    Method("delegate", ("address",), (), 20_000, True, True),
    Method("undelegate", ("address", "uint256"), ("uint256",), 30_000, True),
    Method("redelegate", ("address", "address", "uint256"), ("uint256",), 40_000, True),
    Method("cancelUnbonding", ("address", "uint256", "uint256"), (), 30_000, True),
    Method("getValidator", ("address",), VALIDATOR_VIEW, 2_000),
    Method("getCommission", ("address",), ("uint16", "uint16", "uint16", "uint256"), 2_000),
    Method("getSigningInfo", ("address",), ("uint256", "uint256", "uint256", "uint256", "bool"), 2_000),
    Method("getValidatorByConsensusKey", ("bytes32",), ("address",), 2_000),
    Method("getValidators", ("uint256", "uint256"), ("address[]",), 2_000),
    Method("validatorCount", (), ("uint256",), 1_000),
    Method("getActiveValidators", (), ("address[]", "uint256[]"), 2_000),
    Method("getDelegation", ("address", "address"), ("uint256", "uint256"), 2_000),
    Method("getDelegations", ("address", "uint256", "uint256"), ("address[]", "uint256[]", "uint256[]"), 2_000),
    Method("getUnbondings", ("address", "address"), ("uint256[]", "uint256[]", "uint256[]"), 2_000),
    Method(
        "getRedelegations",
        ("address",),
        ("address[]", "address[]", "uint256[]", "uint256[]", "uint256[]"),
        2_000,
    ),
    Method("totalBonded", (), ("uint256",), 1_000),
    Method("totalUnbonding", (), ("uint256",), 1_000),
    Method("params", (), PARAMS_VIEW, 1_000),
    Method("claimRewards", ("address",), ("uint256",), 20_000, True),
    Method("restakeRewards", ("address",), ("uint256",), 30_000, True),
    Method("withdrawCommission", (), ("uint256",), 20_000, True),
    Method("pendingRewards", ("address", "address"), ("uint256",), 2_000),
    Method("pendingCommission", ("address",), ("uint256",), 2_000),
    Method("setAutoRestake", ("address", "bool"), (), 20_000, True),
    Method("getAutoRestake", ("address", "address"), ("bool",), 2_000),
    # selector, offset and length words, then the evidence padded to 32 bytes
    Method("submitEvidence", ("bytes",), (), SUBMIT_EVIDENCE_GAS, True,
           max_calldata=4 + 64 + -(-MAX_EVIDENCE_BYTES // 32) * 32),
)

METHODS: dict[bytes, Method] = {m.selector: m for m in _METHODS}
UNKNOWN_SELECTOR_GAS = 1_000  # charged for calldata naming no method


@dataclass(frozen=True)
class Event:
    name: str
    indexed: tuple[str, ...]  # types of the indexed arguments, in order (topics 1..)
    data: tuple[str, ...]  # types of the others, ABI-encoded as the log's data

    @property
    def signature(self) -> str:
        # In the Solidity declaration the indexed arguments come first for every event here.
        return f"{self.name}({','.join(self.indexed + self.data)})"

    @property
    def topic0(self) -> int:
        return int.from_bytes(keccak(self.signature.encode()), "big")


VALIDATOR_CREATED = Event(
    "ValidatorCreated", ("address",), ("bytes32", "string", "uint256", "uint16", "uint16", "uint16")
)
VALIDATOR_EDITED = Event("ValidatorEdited", ("address",), ("string", "uint16"))


class Infraction(IntEnum):
    """Why a validator was jailed or slashed (the ``reason`` of ``Jailed`` and ``Slashed``)."""

    LOW_SELF_DELEGATION = 0  # its operator's own stake fell under min_self_delegation
    DOUBLE_SIGN = 1  # two conflicting votes: tombstoned, jailed forever
    DOWNTIME = 2  # too few blocks signed over the signing window


JAILED_FOREVER = 2**64 - 1  # the ``until`` of a tombstoned validator's ``Jailed``

JAILED = Event("Jailed", ("address",), ("uint8", "uint64"))  # reason (Infraction), jailed until (unix s)
UNJAILED = Event("Unjailed", ("address",), ())
SLASHED = Event("Slashed", ("address",), ("uint8", "uint256", "uint64"))  # reason, wei burned, infraction height
EVIDENCE_APPLIED = Event("EvidenceApplied", ("address",), ("bytes32", "uint64"))  # evidence hash, infraction height
DELEGATED = Event("Delegated", ("address", "address"), ("uint256", "uint256"))
UNDELEGATED = Event("Undelegated", ("address", "address"), ("uint256", "uint256", "uint256"))
REDELEGATED = Event("Redelegated", ("address", "address", "address"), ("uint256", "uint256"))
UNBONDING_CANCELLED = Event("UnbondingCancelled", ("address", "address"), ("uint256", "uint256"))
REWARDS_CLAIMED = Event("RewardsClaimed", ("address", "address"), ("uint256",))
REWARDS_RESTAKED = Event("RewardsRestaked", ("address", "address"), ("uint256",))
COMMISSION_WITHDRAWN = Event("CommissionWithdrawn", ("address",), ("uint256",))
AUTO_RESTAKE_SET = Event("AutoRestakeSet", ("address", "address"), ("bool",))
EVENTS = (
    VALIDATOR_CREATED, VALIDATOR_EDITED, JAILED, UNJAILED, SLASHED, EVIDENCE_APPLIED,
    DELEGATED, UNDELEGATED, REDELEGATED, UNBONDING_CANCELLED,
    REWARDS_CLAIMED, REWARDS_RESTAKED, COMMISSION_WITHDRAWN, AUTO_RESTAKE_SET,
)


def event_log(event: Event, indexed: tuple, data: tuple) -> tuple[tuple[int, ...], bytes]:
    """(topics, data) of one log of ``event``."""
    topics = (event.topic0,) + tuple(
        int.from_bytes(encode([t], [v]), "big") for t, v in zip(event.indexed, indexed)
    )
    return topics, encode(list(event.data), list(data))


def revert_data(reason: str) -> bytes:
    """ABI ``Error(string)`` with ``reason`` cut to ``MAX_REASON_BYTES``."""
    raw = reason.encode()[:MAX_REASON_BYTES].decode("utf-8", "ignore")
    return ERROR_SELECTOR + encode(["string"], [raw])


def shipped_abi() -> list[dict]:
    """The ABI JSON shipped in the package (``staking/interfaces/IStaking.json``), for clients."""
    text = (resources.files("staking") / "interfaces" / "IStaking.json").read_text(encoding="utf-8")
    return json.loads(text)["abi"]

"""The RWA contracts from the command line, without click: ABIs, calldata, views, refusals, attestations.

Everything is read from the shipped artifacts (``execution/contracts/rwa/*.json``),
so the CLI and the contracts cannot disagree on a signature. A refusal is the
contract's custom error decoded by name with its arguments
(``ReceiverNotVerified(holder=0x…)``), never raw hex. Token amounts are exact:
base units, or a decimal number of whole tokens with the unit ``tokens``
(``2.5tokens`` with 18 decimals is 2.5 * 10**18 units), or any unit of the
other commands (``1plume`` is 10**18 units).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from importlib.resources import files
from typing import Any

from eth_abi import decode, encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from plume_node.cli._units import AmountError, parse_amount

ARTIFACTS = files("execution.contracts.rwa")  # the artifacts ship in this package
RWA_CONTRACTS = (
    "AssetToken", "UsageRightsToken", "MilestoneVault", "RevenueShareVault", "EscrowVault",
    "AssetTokenFactory", "UsageRightsFactory", "MilestoneVaultFactory", "RevenueShareVaultFactory",
    "EscrowVaultFactory",
)
# execution/contracts/rwa/predeploy.py's FACTORY_ADDRESSES, as checksummed strings (a test keeps them equal)
FACTORIES: dict[str, str] = {
    "AssetTokenFactory": "0x0000000000000000000000000000000000002000",
    "UsageRightsFactory": "0x0000000000000000000000000000000000002001",
    "MilestoneVaultFactory": "0x0000000000000000000000000000000000002002",
    "RevenueShareVaultFactory": "0x0000000000000000000000000000000000002003",
    "EscrowVaultFactory": "0x0000000000000000000000000000000000002004",
}
PRODUCT_OF = {"AssetTokenFactory": "AssetToken", "UsageRightsFactory": "UsageRightsToken",
              "MilestoneVaultFactory": "MilestoneVault", "RevenueShareVaultFactory": "RevenueShareVault",
              "EscrowVaultFactory": "EscrowVault"}
ERROR_STRING = keccak(b"Error(string)")[:4]
PANIC = keccak(b"Panic(uint256)")[:4]
MAX_REASON_CHARS = 200  # an error text built from chain data is cut here
ATTESTATION_DOMAIN = ("PlumeMilestoneVault", "1")  # EIP-712 name and version (docs/tokenization.md)
_TOKENS = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)\s*tokens?\s*$", re.IGNORECASE)


def abi_type(entry: dict) -> str:
    kind = entry["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in entry["components"]) + ")" + kind[len("tuple"):]
    return kind


@functools.cache
def abi(contract: str) -> tuple[dict, ...]:
    artifact = json.loads(ARTIFACTS.joinpath(f"{contract}.json").read_text(encoding="utf-8"))
    return tuple(artifact["abi"])


@dataclass(frozen=True)
class Function:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    output_names: tuple[str, ...]

    @property
    def selector(self) -> bytes:
        return keccak(f"{self.name}({','.join(self.inputs)})".encode())[:4]

    def calldata(self, *args: Any) -> bytes:
        return self.selector + encode(list(self.inputs), list(args))

    def result(self, raw: bytes) -> Any:
        values = decode(list(self.outputs), raw)
        return values[0] if len(values) == 1 else values


def function(contract: str, name: str) -> Function:
    for entry in abi(contract):
        if entry["type"] == "function" and entry["name"] == name:
            return Function(name, tuple(abi_type(i) for i in entry["inputs"]),
                            tuple(abi_type(o) for o in entry["outputs"]), tuple(o["name"] for o in entry["outputs"]))
    raise KeyError(f"{contract} has no function {name}")


@functools.cache
def known_errors() -> dict[bytes, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Every custom error of the RWA artifacts by selector: (name, argument types, argument names)."""
    errors = {}
    for contract in RWA_CONTRACTS:
        for entry in abi(contract):
            if entry["type"] == "error":
                types = tuple(abi_type(i) for i in entry["inputs"])
                errors[keccak(f"{entry['name']}({','.join(types)})".encode())[:4]] = (
                    entry["name"], types, tuple(i["name"] for i in entry["inputs"]))
    return errors


def _shown(value: Any) -> str:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return str(value)


def decode_revert(data: bytes) -> str | None:
    """``Name(arg=value, ...)`` for a known custom error, the reason of Error(string), or None."""
    selector, body = data[:4], data[4:]
    try:
        if selector == ERROR_STRING:
            return str(decode(["string"], body)[0])[:MAX_REASON_CHARS]
        if selector == PANIC:
            return f"Panic(code={decode(['uint256'], body)[0]:#x})"
        if selector in known_errors():
            name, types, names = known_errors()[selector]
            values = decode(list(types), body)
            return (name + "(" + ", ".join(f"{n}={_shown(v)}" for n, v in zip(names, values)) + ")")[:MAX_REASON_CHARS]
    except Exception:  # eth_abi raises several types on malformed data: say so below
        return None
    return None


def refusal(data: Any, message: str) -> str:
    """What to tell the user about a reverted call: the decoded error, else the node's message."""
    if isinstance(data, str) and data.startswith("0x"):
        try:
            raw = bytes.fromhex(data[2:])
        except ValueError:
            raw = b""
        decoded = decode_revert(raw) if raw else None
        if decoded is not None:
            return decoded
        if raw:
            return f"an unknown error (selector 0x{raw[:4].hex()})"
    return message[:MAX_REASON_CHARS]


def event_logs(logs: tuple[dict[str, Any], ...], contract: str, name: str, address: str | None = None) -> list[dict]:
    """The ``name`` events (decoded, indexed and data arguments by name) among ``logs``."""
    entry = next(e for e in abi(contract) if e["type"] == "event" and e["name"] == name)
    signature = f"{name}({','.join(abi_type(i) for i in entry['inputs'])})"
    topic0 = "0x" + keccak(signature.encode()).hex()
    found = []
    for log in logs:
        topics = log.get("topics") or []
        if not topics or topics[0] != topic0 or (address and str(log.get("address", "")).lower() != address.lower()):
            continue
        indexed = [i for i in entry["inputs"] if i["indexed"]]
        plain = [i for i in entry["inputs"] if not i["indexed"]]
        try:
            values = {i["name"]: decode([abi_type(i)], bytes.fromhex(t[2:]))[0] for i, t in zip(indexed, topics[1:])}
            values.update(zip((i["name"] for i in plain),
                              decode([abi_type(i) for i in plain], bytes.fromhex(log["data"][2:]))))
        except Exception:  # a log of another shape under the same topic: not this event
            continue
        found.append({"address": to_checksum_address(log["address"]), **values})
    return found


def parse_token_amount(text: str, decimals: int) -> int:
    """Base units in ``text``: ``2.5tokens`` (whole tokens of ``decimals``), else as `parse_amount`."""
    match = _TOKENS.match(text)
    if match is None:
        return parse_amount(text)
    with localcontext() as ctx:
        ctx.prec = 200
        try:
            value = Decimal(match.group(1).replace("_", "")) * (Decimal(10) ** decimals)
        except InvalidOperation:
            raise AmountError(f"invalid amount {text!r}") from None
    if value != value.to_integral_value():
        raise AmountError(f"invalid amount {text!r}: finer than the token's {decimals} decimals")
    if value >= 2**256:
        raise AmountError(f"invalid amount {text!r}: larger than 2**256 units")
    return int(value)


def format_units(amount: int, decimals: int) -> str:
    """``amount`` base units as whole tokens, exact: 2500000000000000000 -> "2.5"."""
    whole, frac = divmod(amount, 10**decimals)
    return str(whole) if frac == 0 else f"{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"


def parse_evidence(text: str) -> bytes:
    """32 bytes of evidence: ``0x`` and 64 hex digits, or any other text, hashed with keccak-256."""
    if re.fullmatch(r"0x[0-9a-fA-F]{64}", text):
        return bytes.fromhex(text[2:])
    return keccak(text.encode())


def sign_attestation(account: LocalAccount, vault: str, chain_id: int, milestone: int, evidence: bytes) -> bytes:
    """The verifier's EIP-712 signature (r || s || v) of ``MilestoneAttestation(milestone, evidence)``."""
    name, version = ATTESTATION_DOMAIN
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
            ],
            "MilestoneAttestation": [{"name": "milestone", "type": "uint256"}, {"name": "evidence", "type": "bytes32"}],
        },
        "primaryType": "MilestoneAttestation",
        "domain": {"name": name, "version": version, "chainId": chain_id, "verifyingContract": vault},
        "message": {"milestone": milestone, "evidence": evidence},
    }
    return bytes(Account.sign_message(encode_typed_data(full_message=typed), account.key).signature)

"""`genesis.json`: what every node of one chain must start from.

Chain id, the first block's time and gas limit, the EIP-1559 base fee and its
floor, the funded accounts, the governed parameters (sections ``staking``,
``slashing``, ``gov`` and ``execution``, see ``staking/params.py``), and the genesis validators (Ed25519 consensus key,
voting power, fee address). Each genesis validator is bonded in the staking
contract at genesis: its fee address is its operator account, and its
self-delegation, ``power * staking.power_reduction`` wei, is minted into the
contract (it adds to the total supply). Large amounts are decimal strings so
no JSON parser rounds them. `GenesisDoc.hash()` identifies the chain: it is stored in
the data directory (a node refuses data from another genesis) and exchanged
with peers (a node refuses peers of another chain).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_utils import is_hex_address, to_canonical_address, to_checksum_address

from consensus.crypto import address_of
from plume_node import jsonlimits

from plume_node.errors import UserError
from staking.genesis import GenesisValidator as StakedValidator
from plume_node.genesis_permissions import PermissionsGenesisError, parse_permissions, permissions_to_json
from staking.params import ExecutionParams, GovParams, ParamError, SlashingParams, StakingParams
from staking.permissions.genesis import PermissionsGenesis
from staking.permissions.roles import LIST_NAMES, PermList, Role

GWEI = 10**9
PLUME = 10**18
DEFAULT_CHAIN_ID = 1337
MAX_SAFE_JSON_INT = 2**53 - 1  # above this, a JS (or a double-based) JSON parser rounds
MAX_SAFE_CHAIN_ID = MAX_SAFE_JSON_INT  # wallets keep chain ids in JS numbers


class GenesisError(UserError):
    """A genesis.json that is missing, malformed, or not this node's."""


@dataclass(frozen=True)
class GenesisValidator:
    name: str
    pub_key: bytes  # 32-byte Ed25519 consensus key
    power: int
    fee_address: bytes  # 20 bytes

    @property
    def address(self) -> bytes:
        return address_of(self.pub_key)


@dataclass(frozen=True)
class GenesisDoc:
    chain_id: int
    genesis_time: int  # unix seconds, the timestamp of block 0
    gas_limit: int = 30_000_000
    base_fee_per_gas: int = GWEI
    min_base_fee_per_gas: int = GWEI
    alloc: dict[bytes, int] = field(default_factory=dict)  # address -> balance in wei
    validators: tuple[GenesisValidator, ...] = ()
    staking: StakingParams = field(default_factory=StakingParams)
    slashing: SlashingParams = field(default_factory=SlashingParams)
    gov: GovParams = field(default_factory=GovParams)
    execution: ExecutionParams = field(default_factory=ExecutionParams)
    permissions: PermissionsGenesis = field(default_factory=PermissionsGenesis)

    def hash(self) -> bytes:
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).digest()

    def to_json(self) -> dict[str, Any]:
        doc = self._to_json()
        # absent by default: the file (and this hash of it) is as before; the genesis state is not (0x…1003)
        if not self.permissions.is_default():
            doc["permissions"] = permissions_to_json(self.permissions)
        return doc

    def _to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "genesis_time": self.genesis_time,
            "gas_limit": self.gas_limit,
            "base_fee_per_gas": str(self.base_fee_per_gas),
            "min_base_fee_per_gas": str(self.min_base_fee_per_gas),
            "alloc": {
                to_checksum_address(addr): {"balance": str(balance)}
                for addr, balance in sorted(self.alloc.items())
            },
            "validators": [
                {
                    "name": v.name,
                    "pub_key": v.pub_key.hex(),
                    "power": v.power,
                    "fee_address": to_checksum_address(v.fee_address),
                }
                for v in self.validators
            ],
            "staking": {name: _json_int(value) for name, value in self.staking.to_mapping().items()},
            "slashing": {name: _json_int(value) for name, value in self.slashing.to_mapping().items()},
            "gov": {name: _json_int(value) for name, value in self.gov.to_mapping().items()},
            "execution": {name: _json_int(value) for name, value in self.execution.to_mapping().items()},
        }

    def with_account(self, address: bytes, balance: int) -> "GenesisDoc":
        alloc = dict(self.alloc)
        alloc[address] = alloc.get(address, 0) + balance
        return replace(self, alloc=alloc)

    def with_validator(self, validator: GenesisValidator) -> "GenesisDoc":
        for v in self.validators:
            if v.pub_key == validator.pub_key:
                raise GenesisError(f"validator key {validator.pub_key.hex()} is already in the genesis ({v.name})")
            if v.fee_address == validator.fee_address:
                raise GenesisError(
                    f"fee address {to_checksum_address(validator.fee_address)} already operates {v.name}; "
                    "each genesis validator needs its own (it is the validator's operator account)"
                )
        return replace(self, validators=self.validators + (validator,))

    def execution_state(self):  # -> execution.genesis.GenesisState
        from execution.genesis import GenesisAccount, GenesisState

        return GenesisState(
            chain_id=self.chain_id,
            timestamp=self.genesis_time,
            gas_limit=self.gas_limit,
            base_fee_per_gas=self.base_fee_per_gas,
            min_base_fee_per_gas=self.min_base_fee_per_gas,
            alloc={addr: GenesisAccount(balance=bal) for addr, bal in self.alloc.items()},
            staking=self.staking,
            slashing=self.slashing,
            gov=self.gov,
            execution=self.execution,
            permissions=self.permissions,
            validators=tuple(
                StakedValidator(
                    operator=v.fee_address,
                    consensus_pubkey=v.pub_key,
                    tokens=v.power * self.staking.power_reduction,
                    moniker=v.name,
                )
                for v in self.validators
            ),
        )


def new_genesis(chain_id: int) -> GenesisDoc:
    return GenesisDoc(chain_id=chain_id, genesis_time=int(time.time()))


def parse_genesis(data: Any, source: str = "genesis.json") -> GenesisDoc:
    """Validate a decoded genesis document; every problem names its field."""
    if not isinstance(data, dict):
        raise GenesisError(f"{source}: expected a JSON object at the top level")
    known = {"chain_id", "genesis_time", "gas_limit", "base_fee_per_gas", "min_base_fee_per_gas", "alloc", "validators", "staking", "slashing", "gov", "execution", "permissions"}
    unknown = set(data) - known
    if unknown:
        raise GenesisError(f"{source}: unknown field(s) {', '.join(sorted(unknown))}; is this a Plume genesis?")
    for required in ("chain_id", "genesis_time", "validators"):
        if required not in data:
            raise GenesisError(f"{source}: missing field {required!r}; is this a Plume genesis?")
    chain_id = _int(data["chain_id"], f"{source}: chain_id", minimum=1)
    if chain_id > MAX_SAFE_CHAIN_ID:
        raise GenesisError(f"{source}: chain_id {chain_id} is above 2^53-1, which wallets cannot represent")
    doc = GenesisDoc(
        chain_id=chain_id,
        genesis_time=_int(data["genesis_time"], f"{source}: genesis_time", minimum=0),
        gas_limit=_int(data.get("gas_limit", 30_000_000), f"{source}: gas_limit", minimum=5000),
        base_fee_per_gas=_int(data.get("base_fee_per_gas", GWEI), f"{source}: base_fee_per_gas", minimum=0),
        min_base_fee_per_gas=_int(data.get("min_base_fee_per_gas", GWEI), f"{source}: min_base_fee_per_gas", minimum=0),
        alloc=_alloc(data.get("alloc", {}), source),
        validators=tuple(_validator(v, f"{source}: validators[{i}]") for i, v in enumerate(_list(data["validators"], f"{source}: validators"))),
        staking=_params(data.get("staking", {}), source, "staking", StakingParams),
        slashing=_params(data.get("slashing", {}), source, "slashing", SlashingParams),
        gov=_params(data.get("gov", {}), source, "gov", GovParams),
        execution=_params(data.get("execution", {}), source, "execution", ExecutionParams),
        permissions=_permissions(data.get("permissions", {}), source),
    )
    if doc.base_fee_per_gas < doc.min_base_fee_per_gas:
        raise GenesisError(f"{source}: base_fee_per_gas is below min_base_fee_per_gas")
    check_validators_fit(doc, source)
    check_permissions_reachable(doc, source)
    return doc


def check_permissions_reachable(doc: GenesisDoc, source: str = "genesis") -> None:
    """Refuse a chain frozen from block 0: a list on that nobody holds a role on, or the transact
    list on while a genesis validator's operator may not transact (it could not even vote)."""
    perms = doc.permissions
    for which, name in LIST_NAMES.items():
        if perms.list_on(which) and not any(PermList(w) == which and r >= Role.ENABLED for w, _, r in perms.roles):
            raise GenesisError(f"{source}: permissions.{name} is on but nobody holds a role on the {name} list")
    if perms.transact:
        allowed = {account for w, account, r in perms.roles if PermList(w) == PermList.TRANSACT and r >= Role.ENABLED}
        for v in doc.validators:
            if v.fee_address not in allowed:
                raise GenesisError(
                    f"{source}: permissions.transact is on but validator {v.name or v.pub_key.hex()}'s operator "
                    f"{to_checksum_address(v.fee_address)} has no transact role (add it to permissions.enabled.transact)"
                )


def check_validators_fit(doc: GenesisDoc, source: str = "genesis") -> None:
    """The genesis validators must be distinct and bondable under the staking parameters."""
    keys = [v.pub_key for v in doc.validators]
    if len(set(keys)) != len(keys):
        raise GenesisError(f"{source}: the same validator key appears twice")
    operators = [v.fee_address for v in doc.validators]
    if len(set(operators)) != len(operators):
        raise GenesisError(f"{source}: two validators share a fee_address (it is their operator account)")
    params = doc.staking
    if len(doc.validators) > params.max_validators:
        raise GenesisError(f"{source}: {len(doc.validators)} validators, staking.max_validators is {params.max_validators}")
    for v in doc.validators:
        if v.power * params.power_reduction < params.min_self_delegation:
            raise GenesisError(
                f"{source}: validator {v.name or v.pub_key.hex()} has power {v.power}: "
                f"power * staking.power_reduction is below staking.min_self_delegation"
            )


def _params(value: Any, source: str, section: str, params: Any) -> Any:
    """A parameter section (`staking`, `slashing`): integers by name, checked by `params`."""
    if not isinstance(value, dict):
        raise GenesisError(f"{source}: {section} must be an object of parameter -> integer")
    values = {key: _int(v, f"{source}: {section}.{key}", minimum=0) for key, v in value.items()}
    try:
        return params.from_mapping(values)
    except ParamError as exc:
        raise GenesisError(f"{source}: {exc}") from None


def _permissions(value: Any, source: str) -> PermissionsGenesis:
    try:
        return parse_permissions(value, f"{source}: permissions")
    except PermissionsGenesisError as exc:
        raise GenesisError(str(exc)) from None


def _json_int(value: int) -> int | str:
    """Integers a JSON parser may round (above 2^53) as decimal strings."""
    return value if value <= MAX_SAFE_JSON_INT else str(value)


def load_genesis(path: Path) -> GenesisDoc:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise GenesisError(f"{path} is missing; run `plume-node init` or copy the chain's genesis.json there") from None
    except OSError as exc:
        raise GenesisError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = jsonlimits.loads(text)
    except ValueError as exc:
        raise GenesisError(f"{path} is not valid JSON: {exc}") from None
    return parse_genesis(data, str(path))


def dump_genesis(doc: GenesisDoc) -> bytes:
    return (json.dumps(doc.to_json(), indent=2) + "\n").encode()


def parse_address(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not is_hex_address(value):
        raise GenesisError(f"{what} must be a 0x-prefixed 20-byte hex address, got {value!r}")
    return to_canonical_address(value)


def _int(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise GenesisError(f"{what} must be an integer >= {minimum} (decimal string for large values), got {value!r}")
    return value


def _list(value: Any, what: str) -> list:
    if not isinstance(value, list):
        raise GenesisError(f"{what} must be a list")
    return value


def _alloc(value: Any, source: str) -> dict[bytes, int]:
    if not isinstance(value, dict):
        raise GenesisError(f"{source}: alloc must be an object of address -> {{\"balance\": \"WEI\"}}")
    alloc: dict[bytes, int] = {}
    for key, account in value.items():
        addr = parse_address(key, f"{source}: alloc key")
        if not isinstance(account, dict) or set(account) - {"balance"}:
            raise GenesisError(f"{source}: alloc[{key}] must be {{\"balance\": \"WEI\"}}")
        if addr in alloc:
            raise GenesisError(f"{source}: alloc lists {key} twice")
        alloc[addr] = _int(account.get("balance", 0), f"{source}: alloc[{key}].balance", minimum=0)
    return alloc


def _validator(value: Any, what: str) -> GenesisValidator:
    if not isinstance(value, dict):
        raise GenesisError(f"{what} must be an object with name, pub_key, power, fee_address")
    pub_key = value.get("pub_key")
    try:
        raw = bytes.fromhex(pub_key) if isinstance(pub_key, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise GenesisError(f"{what}.pub_key must be a 32-byte Ed25519 public key in hex, got {pub_key!r}")
    name = value.get("name", "")
    if not isinstance(name, str):
        raise GenesisError(f"{what}.name must be a string")
    return GenesisValidator(
        name=name,
        pub_key=raw,
        power=_int(value.get("power"), f"{what}.power", minimum=1),
        fee_address=parse_address(value.get("fee_address"), f"{what}.fee_address"),
    )

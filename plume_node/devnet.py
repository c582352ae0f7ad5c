"""Local devnets: N validators and M full nodes on this machine, one shared genesis.

    DIR/devnet.json     what `start` and `status` read: chain id, genesis hash, every node
    DIR/accounts.json   funded dev accounts with their private keys (0600, TEST KEYS ONLY)
    DIR/password.txt    the operator keystore password of every node (0600)
    DIR/run/PID.json    one per running `devnet start`/`up`: what `devnet stop` signals
    DIR/nodeI/          a node home (plume_node.home), validators first, then full nodes

`init_devnet` builds the homes with `init_home`, then replaces each home's
single-validator genesis with one document naming every validator. Node i
listens for peers on base_port + 2i and serves JSON-RPC on base_port + 2i + 1,
on 127.0.0.1 only, and dials every other node (`p2p.persistent_peers`).

`Supervisor` runs the nodes of a devnet as child processes of `devnet start`:
one process group each, output appended to HOME/node.log. It never restarts
a node (a crash must stay visible) and stops them all on SIGINT/SIGTERM
(which `devnet stop` sends it). Dev accounts derive from a BIP-39 mnemonic
(default the well-known test one), so every devnet has the same ones.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from eth_account import Account

from plume_node import jsonlimits
from plume_node.errors import BadOption, UserError
from plume_node.config import Config, ConfigError, ConsensusConfig, dump_config, load_config, set_dotted
from plume_node.files import write_atomic, write_private_file
from plume_node.genesis import (
    DEFAULT_CHAIN_ID,
    PLUME,
    GenesisDoc,
    GenesisError,
    GenesisValidator,
    dump_genesis,
    new_genesis,
    parse_address,
    parse_genesis,
)
from plume_node.home import Home
from staking.permissions.genesis import PermissionsGenesis
from staking.permissions.roles import LIST_NAMES, PermList, Role
from staking.params import DEVNET_GOV, DEVNET_STAKING, ExecutionParams, GovParams, ParamError, SlashingParams, StakingParams
from plume_node.init import DEFAULT_POWER, OPERATOR_FUNDS, init_home

DEVNET_FILE = "devnet.json"
ACCOUNTS_FILE = "accounts.json"
PASSWORD_FILE = "password.txt"
HOST = "127.0.0.1"
DEFAULT_BASE_PORT = 26600
DEFAULT_BLOCK_TIME_MS = 500
DEFAULT_ACCOUNTS = 10
# The well-known test mnemonic (anvil's, hardhat's): the same dev accounts on every run.
DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
DERIVATION_PATH = "m/44'/60'/0'/0/{index}"
MNEMONIC_WORDS = (12, 15, 18, 21, 24)
DEV_ACCOUNT_FUNDS = 1_000_000 * PLUME
ACCOUNTS_WARNING = "TEST KEYS ONLY: anyone who reads this file controls these accounts"
GENESIS_KEYS = ("chain_id", "gas_limit", "base_fee_per_gas", "min_base_fee_per_gas")
# Settings devnet init writes per node; one --set value for all nodes would
# give them one port or one identity, or hide them from `start` and `status`.
MANAGED_KEYS = {
    "moniker": "each node is named after its directory",
    "fee_address": "each node's fee address is its own operator account",
    "p2p.listen_addr": "ports come from --base-port",
    "rpc.listen_addr": "ports come from --base-port",
    "p2p.persistent_peers": "every node dials all the others",
    "rpc.enabled": "devnet start and status talk to every node over JSON-RPC",
}
_NODE_DIR = re.compile(r"^node\d+$")
PERMISSION_LISTS = tuple(LIST_NAMES.values())  # `--set permissions.transact=true` ...


class DevnetError(UserError):
    """A devnet that cannot be created, found or started; the message says why."""


# ---------------------------------------------------------------- the layout


@dataclass(frozen=True)
class NodeSpec:
    name: str
    role: str  # "validator" or "full"
    home: Path
    node_id: str
    validator_address: str | None  # None for a full node: its key is in no validator set
    operator_address: str
    p2p_port: int
    rpc_port: int

    @property
    def p2p_addr(self) -> str:
        return f"{HOST}:{self.p2p_port}"

    @property
    def rpc_url(self) -> str:
        return f"http://{HOST}:{self.rpc_port}"

    @property
    def peer_address(self) -> str:
        return f"{self.node_id}@{self.p2p_addr}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "home": str(self.home),
            "role": self.role,
            "node_id": self.node_id,
            "validator_address": self.validator_address,
            "operator_address": self.operator_address,
            "p2p_addr": self.p2p_addr,
            "rpc_url": self.rpc_url,
        }


@dataclass(frozen=True)
class Devnet:
    dir: Path
    chain_id: int
    genesis_hash: str
    nodes: tuple[NodeSpec, ...]

    @property
    def validators(self) -> list[NodeSpec]:
        return [n for n in self.nodes if n.role == "validator"]

    @property
    def accounts_path(self) -> Path:
        return self.dir / ACCOUNTS_FILE

    @property
    def password_path(self) -> Path:
        return self.dir / PASSWORD_FILE

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "genesis_hash": self.genesis_hash,
            "accounts_file": str(self.accounts_path),
            "password_file": str(self.password_path),
            "nodes": [n.to_json() for n in self.nodes],
        }

    def select(self, spec: str | None) -> list[NodeSpec]:
        """The nodes named by `--nodes 0,2` (indices or names); all of them for None."""
        if not spec:
            return list(self.nodes)
        chosen: list[NodeSpec] = []
        for item in (part.strip() for part in spec.split(",")):
            name = f"node{item}" if item.isdigit() else item
            match = [n for n in self.nodes if n.name == name]
            if not match:
                names = ", ".join(n.name for n in self.nodes)
                raise BadOption(f"no node {item!r} in this devnet (it has {names})", "--nodes")
            if match[0] not in chosen:
                chosen.append(match[0])
        return chosen


def has_devnet(directory: Path) -> bool:
    return (directory / DEVNET_FILE).exists()


def load_devnet(directory: Path) -> Devnet:
    path = directory / DEVNET_FILE
    if not path.exists():
        raise DevnetError(f"{directory} holds no devnet; create one with `plume-node devnet init --dir {directory}`")
    try:
        data = jsonlimits.loads(path.read_text())
        nodes = tuple(
            NodeSpec(
                name=n["name"],
                role=n["role"],
                # The homes sit in DIR: resolving them there keeps a moved or
                # copied devnet directory usable.
                home=directory / n["name"],
                node_id=n["node_id"],
                validator_address=n["validator_address"],
                operator_address=n["operator_address"],
                p2p_port=int(n["p2p_addr"].rpartition(":")[2]),
                rpc_port=int(n["rpc_url"].rpartition(":")[2]),
            )
            for n in data["nodes"]
        )
        return Devnet(dir=directory, chain_id=int(data["chain_id"]), genesis_hash=data["genesis_hash"], nodes=nodes)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DevnetError(f"{path} is unreadable or not a devnet description ({exc!r}); recreate it with `devnet init --force`") from None


def read_dev_accounts(devnet: Devnet) -> dict[str, Any]:
    """accounts.json: {"balance_wei", "mnemonic", "derivation_path", "accounts": [{"address", "private_key"}]}."""
    try:
        data = jsonlimits.loads(devnet.accounts_path.read_text())
        accounts = [{"address": str(a["address"]), "private_key": str(a["private_key"])} for a in data["accounts"]]
        return {
            "balance_wei": str(int(data["balance_wei"])),
            "mnemonic": data.get("mnemonic"),  # None in a devnet created before accounts came from one
            "derivation_path": data.get("derivation_path"),
            "accounts": accounts,
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DevnetError(f"{devnet.accounts_path} is unreadable ({type(exc).__name__}); recreate the devnet with --force") from None


def node_ports(base_port: int, index: int) -> tuple[int, int]:
    """(p2p, rpc) ports of node `index`."""
    return base_port + 2 * index, base_port + 2 * index + 1


# ---------------------------------------------------------------- --set


@dataclass(frozen=True)
class Overrides:
    genesis: dict[str, int]
    config: tuple[tuple[str, str], ...]
    staking: dict[str, int] = dataclasses.field(default_factory=dict)
    slashing: dict[str, int] = dataclasses.field(default_factory=dict)
    gov: dict[str, int] = dataclasses.field(default_factory=dict)
    execution: dict[str, int] = dataclasses.field(default_factory=dict)
    permissions: dict[str, Any] = dataclasses.field(default_factory=dict)  # `--set permissions.*`


# governed sections besides staking/slashing: `--set gov.KEY=N`, `--set execution.KEY=N`
_GOVERNED_SECTIONS = {"gov": GovParams, "execution": ExecutionParams}


def parse_overrides(items: Iterable[str]) -> Overrides:
    """Split `--set KEY=VALUE` items into genesis fields and config.toml settings.

    Only the syntax and the key's existence are checked here; values are
    checked by applying them (`devnet_config`, `_apply_genesis_overrides`).
    """
    genesis: dict[str, int] = {}
    staking: dict[str, int] = {}
    slashing: dict[str, int] = {}
    governed: dict[str, dict[str, int]] = {}
    config: list[tuple[str, str]] = []
    permissions: dict[str, Any] = {}
    probe = Config()
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadOption(f"{item!r} is not KEY=VALUE", "--set")
        if key.startswith("permissions."):
            name, parsed = devnet_permission_setting(key, value.strip())
            permissions[name] = parsed
            continue
        if key.startswith("genesis."):
            field = key.removeprefix("genesis.")
            if field not in GENESIS_KEYS:
                raise BadOption(
                    f"unknown genesis key {key!r}; known: {', '.join('genesis.' + k for k in GENESIS_KEYS)}",
                    "--set",
                )
            if not value.strip().isdigit():
                raise BadOption(f"{key} must be a non-negative integer, got {value!r}", "--set")
            genesis[field] = int(value)
            continue
        if key.startswith("staking."):
            staking[key.removeprefix("staking.")] = _param_value(key, value, StakingParams)
            continue
        if key.startswith("slashing."):
            slashing[key.removeprefix("slashing.")] = _param_value(key, value, SlashingParams)
            continue
        if key.partition(".")[0] in _GOVERNED_SECTIONS:
            section, _, name = key.partition(".")
            governed.setdefault(section, {})[name] = _param_value(key, value, _GOVERNED_SECTIONS[section])
            continue
        if key in MANAGED_KEYS:
            raise BadOption(f"{key} is set per node by devnet init: {MANAGED_KEYS[key]}", "--set")
        parts = key.split(".")
        known = dataclasses.asdict(probe)
        section = known if len(parts) == 1 else known.get(parts[0])
        if len(parts) > 2 or not isinstance(section, dict) or parts[-1] not in section or isinstance(section[parts[-1]], dict):
            raise BadOption(
                f"unknown key {key!r}: use genesis.{{{','.join(GENESIS_KEYS)}}}, staking.KEY, slashing.KEY, gov.KEY, "
                "execution.KEY or a config.toml setting "
                "such as consensus.create_empty_blocks or mempool.max_txs (docs/operator.md lists them)",
                "--set",
            )
        config.append((key, value))
    if "admin" in permissions and not any(permissions.get(name) for name in PERMISSION_LISTS):
        raise BadOption(
            "permissions.admin names the lists' admin, but no list is on: add --set permissions.<list>=true "
            f"({', '.join(PERMISSION_LISTS)})",
            "--set",
        )
    return Overrides(
        genesis=genesis, config=tuple(config), staking=staking, slashing=slashing,
        gov=governed.get("gov", {}), execution=governed.get("execution", {}), permissions=permissions,
    )


def devnet_permission_setting(key: str, value: str) -> tuple[str, Any]:
    """`--set permissions.<list>=true|false` or `--set permissions.admin=0xADDR`."""
    name = key.removeprefix("permissions.")
    if name == "admin":
        try:
            return name, parse_address(value, key)
        except GenesisError as exc:
            raise BadOption(exc.message, "--set") from None
    if name not in PERMISSION_LISTS:
        raise BadOption(f"unknown key {key!r}; known: permissions.{{{','.join(PERMISSION_LISTS)}}}, permissions.admin", "--set")
    if value.lower() not in ("true", "false", "1", "0"):
        raise BadOption(f"{key} must be true or false, got {value[:40]!r}", "--set")
    return name, value.lower() in ("true", "1")


def devnet_permissions(settings: dict[str, Any], dev_account0: bytes, operators: Sequence[bytes]) -> PermissionsGenesis:
    """The devnet's lists: those `--set` on; the admin (dev account 0 unless `permissions.admin`)
    is admin on every list and each validator's operator enabled on every list, so operators can
    still unjail and edit; the other dev accounts hold no role."""
    switches = {name: bool(settings.get(name, False)) for name in PERMISSION_LISTS}
    if not any(switches.values()):
        return PermissionsGenesis()
    admin = settings.get("admin", dev_account0)
    roles = [(which, admin, Role.ADMIN) for which in PermList]
    roles += [(which, op, Role.ENABLED) for which in PermList for op in operators if op != admin]
    return PermissionsGenesis(**switches, roles=tuple(roles))


def _param_value(key: str, value: str, params: type) -> int:
    """`--set staking.KEY=N` or `slashing.KEY=N`: a known parameter and a non-negative integer."""
    section, _, field = key.partition(".")
    if field not in params.__dataclass_fields__:
        known = ", ".join(f"{section}.{k}" for k in params.__dataclass_fields__)
        raise BadOption(f"unknown {section} key {key!r}; known: {known}", "--set")
    if not value.strip().isdigit():
        raise BadOption(f"{key} must be a non-negative integer, got {value!r}", "--set")
    return int(value)


def devnet_slashing(overrides: dict[str, int]) -> SlashingParams:
    try:
        return SlashingParams.from_mapping(overrides)
    except ParamError as exc:
        raise BadOption(str(exc), "--set") from None


def devnet_governed(section: type, overrides: dict[str, int], defaults: dict[str, int] | None = None) -> Any:
    """A governed section (GovParams, ExecutionParams): its devnet defaults, then `--set`."""
    try:
        return section.from_mapping({**(defaults or {}), **overrides})
    except ParamError as exc:
        raise BadOption(str(exc), "--set") from None


def devnet_staking(overrides: dict[str, int]) -> StakingParams:
    """The devnet's staking parameters: short unbonding and epochs (DEVNET_STAKING), then `--set`."""
    try:
        return StakingParams.from_mapping({**DEVNET_STAKING, **overrides})
    except ParamError as exc:
        raise BadOption(str(exc), "--set") from None


def devnet_config(block_time_ms: int, settings: Sequence[tuple[str, str]]) -> Config:
    """The config every devnet node shares before its own ports and peers are filled in."""
    config = Config(
        consensus=ConsensusConfig(
            block_time_ms=block_time_ms,
            # Loopback latency is sub-millisecond: short timeouts make a round
            # with an absent proposer cost seconds, not a quarter minute.
            timeout_propose_ms=1500,
            timeout_propose_delta_ms=500,
            timeout_prevote_ms=500,
            timeout_prevote_delta_ms=250,
            timeout_precommit_ms=500,
            timeout_precommit_delta_ms=250,
        )
    )
    for key, value in settings:
        try:
            config = set_dotted(config, key, value)
        except ConfigError as exc:
            raise BadOption(f"{key}={value}: {exc.message}", "--set") from None
    return config


def _apply_genesis_overrides(doc: GenesisDoc, fields: dict[str, int]) -> GenesisDoc:
    doc = dataclasses.replace(doc, **fields)
    try:
        # parse_genesis holds every range rule (chain id, gas limit, base fee >= floor).
        parse_genesis(doc.to_json(), "genesis")
    except GenesisError as exc:
        raise BadOption(exc.message, "--set") from None
    return doc


# ---------------------------------------------------------------- init


@dataclass(frozen=True)
class DevnetParams:
    validators: int
    full_nodes: int = 0
    base_port: int = DEFAULT_BASE_PORT
    block_time_ms: int = DEFAULT_BLOCK_TIME_MS
    chain_id: int = DEFAULT_CHAIN_ID
    accounts: int = DEFAULT_ACCOUNTS
    overrides: Overrides = Overrides({}, ())
    mnemonic: str = DEFAULT_MNEMONIC


def init_devnet(directory: Path, params: DevnetParams, *, force: bool = False) -> Devnet:
    """Create the homes, the shared genesis, accounts.json and devnet.json under `directory`.

    Every argument is checked before anything is written, so a bad `--set`
    leaves the directory as it was.
    """
    if params.validators < 1:
        raise BadOption("a devnet needs at least one validator", "--validators")
    count = params.validators + params.full_nodes
    last_port = node_ports(params.base_port, count - 1)[1]
    if last_port > 65535:
        raise BadOption(
            f"{count} nodes from base port {params.base_port} need ports up to {last_port}; choose a lower one",
            "--base-port",
        )
    base_config = devnet_config(params.block_time_ms, params.overrides.config)
    genesis = _apply_genesis_overrides(new_genesis(params.chain_id), params.overrides.genesis)
    genesis = dataclasses.replace(
        genesis,
        staking=devnet_staking(params.overrides.staking),
        slashing=devnet_slashing(params.overrides.slashing),
        gov=devnet_governed(GovParams, params.overrides.gov, DEVNET_GOV),
        execution=devnet_governed(ExecutionParams, params.overrides.execution),
    )
    _check_validators_bondable(genesis.staking, params.validators)
    accounts = dev_accounts(params.mnemonic, params.accounts)
    _prepare_dir(directory, force)

    password = secrets.token_urlsafe(24)
    write_private_file(directory / PASSWORD_FILE, (password + "\n").encode())
    results = []
    for i in range(count):
        p2p_port, rpc_port = node_ports(params.base_port, i)
        config = base_config.replace(
            p2p=dataclasses.replace(base_config.p2p, listen_addr=f"{HOST}:{p2p_port}"),
            rpc=dataclasses.replace(base_config.rpc, listen_addr=f"{HOST}:{rpc_port}"),
        )
        home = Home.at(directory / f"node{i}")
        results.append(init_home(home, chain_id=genesis.chain_id, moniker=f"node{i}", password=password, config=config))

    nodes = tuple(
        NodeSpec(
            name=f"node{i}",
            role="validator" if i < params.validators else "full",
            home=r.home,
            node_id=r.node_id,
            validator_address=r.validator_address if i < params.validators else None,
            operator_address=r.operator_address,
            p2p_port=node_ports(params.base_port, i)[0],
            rpc_port=node_ports(params.base_port, i)[1],
        )
        for i, r in enumerate(results)
    )
    for node, result in zip(nodes, results):
        if node.role != "validator":
            continue  # a full node follows the chain; it never votes
        fee_address = bytes.fromhex(result.operator_address[2:])
        genesis = genesis.with_account(fee_address, OPERATOR_FUNDS).with_validator(
            GenesisValidator(
                name=node.name,
                pub_key=bytes.fromhex(result.validator_pub_key),
                power=DEFAULT_POWER,
                fee_address=fee_address,
            )
        )
    for account in accounts:
        genesis = genesis.with_account(bytes.fromhex(account.address[2:]), DEV_ACCOUNT_FUNDS)
    genesis = dataclasses.replace(genesis, permissions=devnet_permissions(
        params.overrides.permissions,
        bytes.fromhex(accounts[0].address[2:]) if accounts else b"\x00" * 20,
        [v.fee_address for v in genesis.validators],
    ))

    genesis_bytes = dump_genesis(genesis)
    for node in nodes:
        home = Home(node.home)
        write_atomic(home.genesis_path, genesis_bytes)
        config = load_config(home.config_path)  # as init_home wrote it (moniker, fee address)
        peers = [other.peer_address for other in nodes if other is not node]
        config = config.replace(p2p=dataclasses.replace(config.p2p, persistent_peers=peers))
        write_atomic(home.config_path, dump_config(config).encode())

    write_private_file(
        directory / ACCOUNTS_FILE,
        (
            json.dumps(
                {
                    "warning": ACCOUNTS_WARNING,
                    "chain_id": genesis.chain_id,
                    "balance_wei": str(DEV_ACCOUNT_FUNDS),
                    "mnemonic": params.mnemonic,
                    "derivation_path": DERIVATION_PATH.format(index=""),
                    "accounts": [
                        {"address": a.address, "private_key": "0x" + bytes(a.key).hex()} for a in accounts
                    ],
                },
                indent=2,
            )
            + "\n"
        ).encode(),
    )
    devnet = Devnet(dir=directory, chain_id=genesis.chain_id, genesis_hash="0x" + genesis.hash().hex(), nodes=nodes)
    # Written last: its presence means the devnet is complete.
    write_atomic(directory / DEVNET_FILE, (json.dumps(devnet.to_json(), indent=2) + "\n").encode())
    return devnet


def dev_accounts(mnemonic: str, count: int) -> list[Any]:
    """The first `count` accounts of the BIP-39 `mnemonic` on the paths m/44'/60'/0'/0/i, as anvil derives them."""
    from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
    from eth_utils import ValidationError

    words = mnemonic.split()
    # The phrase is never echoed: it may be someone's real secret.
    if len(words) not in MNEMONIC_WORDS:
        raise BadOption(f"a BIP-39 mnemonic has 12, 15, 18, 21 or 24 words, not {len(words)}", "--mnemonic")
    try:
        seed = seed_from_mnemonic(" ".join(words), passphrase="")  # once: the PBKDF2 stretch is the slow part
    except (ValidationError, ValueError):
        raise BadOption("not a valid BIP-39 mnemonic (unknown word or wrong checksum)", "--mnemonic") from None
    return [Account.from_key(key_from_seed(seed, DERIVATION_PATH.format(index=i))) for i in range(count)]


def _check_validators_bondable(staking: StakingParams, validators: int) -> None:
    """Before anything is written: the devnet's validators must fit the staking parameters."""
    if validators > staking.max_validators:
        raise BadOption(f"{validators} validators, but staking.max_validators is {staking.max_validators}", "--set")
    if DEFAULT_POWER * staking.power_reduction < staking.min_self_delegation:
        raise BadOption(
            f"each devnet validator is bonded with {DEFAULT_POWER} * staking.power_reduction wei, "
            "below staking.min_self_delegation",
            "--set",
        )


def _prepare_dir(directory: Path, force: bool) -> None:
    """Refuse a directory holding a devnet (or part of one) unless `force`; with it, remove only what a devnet writes."""
    if directory.exists() and not directory.is_dir():
        raise DevnetError(f"{directory} exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    ours = [p for p in directory.iterdir() if p.name in (DEVNET_FILE, ACCOUNTS_FILE, PASSWORD_FILE) or _NODE_DIR.match(p.name)]
    if not ours:
        return
    if not force:
        if has_devnet(directory):
            raise DevnetError(
                f"{directory} already holds a devnet; pass --force to replace it (this deletes its keys, "
                f"accounts and chain data), or `plume-node devnet start --dir {directory}` to run it"
            )
        raise DevnetError(
            f"{directory} holds part of a devnet ({', '.join(sorted(p.name for p in ours))}) but no {DEVNET_FILE}, "
            "as an interrupted init leaves it; pass --force to replace it"
        )
    for path in ours:
        if path.is_dir() and any(path.iterdir()) and not Home(path).initialized():
            raise DevnetError(f"{path} is not a node home; move it away before replacing the devnet in {directory}")
    if has_devnet(directory):
        running = [n.name for n in load_devnet(directory).nodes if not port_free(n.rpc_port)]
        if running:
            raise DevnetError(
                f"{', '.join(running)} of the devnet in {directory} seem to be running (their RPC ports are "
                "taken); stop the devnet before replacing it"
            )
    for path in ours:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


# ---------------------------------------------------------------- ports and RPC


def port_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on host:port (a port in TIME_WAIT counts as free, as the node sets SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def rpc_answers(url: str, timeout: float = 1.0) -> bool:
    from plume_node.cli._rpc_client import RpcClient, RpcClientError  # not at import: plume_node.cli imports us

    try:
        RpcClient(url, timeout=timeout).call("eth_blockNumber")
    except RpcClientError:
        return False
    return True


def node_status(node: NodeSpec, timeout: float = 2.0) -> dict[str, Any]:
    """One node's view from its RPC: height, consensus round and step, peers; state "down" when it does not answer.

    `height` is the last committed block; `consensus_height` the one being
    decided. State "foreign": something else answers on this node's port.
    """
    from plume_node.cli._rpc_client import RpcClient, RpcClientError  # not at import: plume_node.cli imports us

    client = RpcClient(node.rpc_url, timeout=timeout)
    status: dict[str, Any] = {"name": node.name, "role": node.role, "rpc_url": node.rpc_url, "state": "down"}
    try:
        status["height"] = _number(client.call("eth_blockNumber"))
    except RpcClientError:
        return status
    except (TypeError, ValueError):
        status["state"] = "foreign"  # it speaks JSON-RPC, but not as an Ethereum node would
        return status
    status["state"] = "up"
    status.update(peers=None, latest_block_hash=None, consensus_height=None, round=None, step=None)
    try:
        info = client.call("plume_nodeInfo")
        status["peers"] = _number(info["peers"])
        status["latest_block_hash"] = info.get("latestBlockHash")
        node_id = info.get("nodeId", info.get("node_id"))
        if node_id is not None and node_id != node.node_id:
            # Another node (of another devnet?) listens on this node's port.
            status["state"] = "foreign"
    except (RpcClientError, KeyError, TypeError, ValueError, AttributeError):
        try:
            status["peers"] = _number(client.call("net_peerCount"))
        except (RpcClientError, TypeError, ValueError):
            pass
    try:
        consensus = client.call("plume_consensusState")
        status.update(
            consensus_height=_number(consensus["height"]),
            round=_number(consensus["round"]),
            step=str(consensus["step"]),
        )
    except (RpcClientError, KeyError, TypeError, ValueError):
        pass
    return status


def _number(value: Any) -> int:
    """An RPC number: a QUANTITY ("0x1f") or a plain JSON integer."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.startswith("0x"):
        return int(value, 16)
    raise ValueError(f"not an RPC number: {value!r}")


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


# ---------------------------------------------------------------- supervisor


STOP_GRACE_S = 10.0
POLL_S = 0.2


@dataclass
class Running:
    node: NodeSpec
    process: subprocess.Popen
    reported: bool = False


class Supervisor:
    """Runs some nodes of a devnet as child processes, waits for their RPC, watches them, stops them.

    Signals only set flags (`request_stop`); every loop here polls them, so a
    signal never interrupts a half-done spawn and leaves an untracked child.
    """

    def __init__(self, devnet: Devnet, nodes: Sequence[NodeSpec], echo: Callable[[str], None] = click.echo) -> None:
        self.devnet = devnet
        self.nodes = list(nodes)
        self.echo = echo
        self.running: list[Running] = []
        self.stop_requested: int | None = None  # the signal number
        self.kill_now = False

    def request_stop(self, signum: int, frame: Any = None) -> None:
        if self.stop_requested is None:
            self.stop_requested = signum
        else:
            self.kill_now = True  # a second Ctrl-C: do not wait out the grace period

    def check_ports(self) -> None:
        for node in self.nodes:
            if not port_free(node.rpc_port):
                if rpc_answers(node.rpc_url):
                    raise DevnetError(
                        f"{node.name} already runs (its RPC {node.rpc_url} answers); "
                        f"see `plume-node devnet status --dir {self.devnet.dir}`"
                    )
                raise DevnetError(
                    f"port {node.rpc_port} ({node.name}'s RPC) is in use by another program; free it or "
                    "recreate the devnet with `devnet init --force --base-port P`"
                )
            if not port_free(node.p2p_port):
                raise DevnetError(
                    f"port {node.p2p_port} ({node.name}'s p2p) is in use by another program; free it or "
                    "recreate the devnet with `devnet init --force --base-port P`"
                )

    def launch(self) -> None:
        for node in self.nodes:
            if self.stop_requested is not None:
                return
            home = Home(node.home)
            with home.log_path.open("ab") as log:
                log.write(f"\n=== devnet start {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
                log.flush()
                try:
                    process = self._spawn(node, log)
                except OSError as exc:
                    raise DevnetError(f"cannot start {node.name}: {exc}") from None
            self.running.append(Running(node, process))
            self.echo(f"  {node.name:<7} {node.role:<9} pid {process.pid:<7} log {home.log_path}")

    @staticmethod
    def _spawn(node: NodeSpec, log: Any) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "plume_node.cli", "start", "--home", str(node.home)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own group: a Ctrl-C on the terminal reaches only the
            # supervisor, which then stops every node in order.
            process_group=0,
            preexec_fn=_parent_death_signal(),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def wait_ready(self, timeout: float) -> bool:
        """True when every node answers eth_blockNumber; False if a stop was requested. Raises on failure."""
        deadline = time.monotonic() + timeout
        pending = list(self.running)
        while pending:
            if self.stop_requested is not None:
                return False
            for run in list(pending):
                code = run.process.poll()
                if code is not None:
                    run.reported = True
                    raise DevnetError(
                        f"{run.node.name} exited with {_describe_exit(code)} before its RPC answered; "
                        f"last lines of {Home(run.node.home).log_path}:\n{log_tail(Home(run.node.home).log_path)}"
                    )
                if rpc_answers(run.node.rpc_url, timeout=1.0):
                    pending.remove(run)
            if pending and time.monotonic() > deadline:
                run = pending[0]
                raise DevnetError(
                    f"{run.node.name} did not answer on {run.node.rpc_url} within {timeout:g}s; "
                    f"last lines of {Home(run.node.home).log_path}:\n{log_tail(Home(run.node.home).log_path)}"
                )
            if pending:
                time.sleep(POLL_S)
        return True

    def watch(self) -> int:
        """Report nodes that exit (and restart nothing) until a stop is requested; the exit code for the CLI."""
        while self.stop_requested is None:
            for run in self.running:
                code = run.process.poll()
                if code is not None and not run.reported:
                    run.reported = True
                    log_path = Home(run.node.home).log_path
                    self.echo(
                        f"{run.node.name} (pid {run.process.pid}) exited with {_describe_exit(code)}; "
                        f"it is not restarted. Log: {log_path}"
                    )
            if all(run.reported for run in self.running):
                self.echo("every node has exited; devnet start stops")
                return 1
            time.sleep(POLL_S)
        return 0

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """SIGTERM every node's process group, wait up to `grace` seconds, then SIGKILL what is left."""
        alive = [run for run in self.running if run.process.poll() is None]
        if not alive:
            return
        self._say(f"stopping {len(alive)} node(s) (Ctrl-C again to kill them at once)")
        for run in alive:
            _signal_group(run.process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and not self.kill_now:
            if all(run.process.poll() is not None for run in alive):
                break
            time.sleep(0.1)
        for run in alive:
            # Only a node still running: a reaped pid may already name another process.
            if run.process.poll() is None:
                self._say(f"{run.node.name} is still running: killing it")
                _signal_group(run.process, signal.SIGKILL)
                run.process.wait()
        self._say("all nodes stopped")

    def _say(self, line: str) -> None:
        """Print while stopping: a closed terminal (the SIGHUP case) must not keep the nodes running."""
        try:
            self.echo(line)
        except OSError:
            pass


# ---------------------------------------------------------------- devnet stop
#
# `devnet start` and `up` run in the foreground; each records itself in
# DIR/run/PID.json while it runs, so `devnet stop` (another terminal, a script)
# can ask it to stop as Ctrl-C would: SIGTERM, after which it stops its nodes
# in order and reports. The record holds the process's start time, so a pid
# the system has since given to another program is never signalled.

RUN_DIR = "run"
STOP_TIMEOUT_S = 30.0
_MAX_RECORD_BYTES = 4096


@dataclass(frozen=True)
class SupervisorRecord:
    path: Path
    pid: int
    started: str | None  # the kernel's start time of the process (Linux), None elsewhere
    nodes: tuple[str, ...]


def _process_start(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks); None without /proc; "" for a zombie or no process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "" if Path("/proc/self/stat").exists() else None
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return "" if fields[0] in ("Z", "X") else fields[19]


def _alive(record: SupervisorRecord) -> bool:
    start = _process_start(record.pid)
    if start is None:  # no /proc: the pid alone
        try:
            os.kill(record.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return start != "" and start == record.started


def record_supervisor(devnet: Devnet, nodes: Sequence[NodeSpec]) -> Path:
    pid = os.getpid()
    run_dir = devnet.dir / RUN_DIR
    run_dir.mkdir(exist_ok=True)
    path = run_dir / f"{pid}.json"
    record = {"pid": pid, "started": _process_start(pid), "nodes": [n.name for n in nodes]}
    write_atomic(path, json.dumps(record).encode())
    return path


def running_supervisors(devnet: Devnet) -> list[SupervisorRecord]:
    """The `devnet start`/`up` processes running this devnet; stale records are removed."""
    records = []
    run_dir = devnet.dir / RUN_DIR
    for path in sorted(run_dir.glob("*.json")) if run_dir.is_dir() else []:
        try:
            if path.stat().st_size > _MAX_RECORD_BYTES:
                raise ValueError("oversized")
            data = jsonlimits.loads(path.read_text())
            record = SupervisorRecord(path, int(data["pid"]), data["started"], tuple(str(n) for n in data["nodes"]))
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if _alive(record):
            records.append(record)
        else:
            path.unlink(missing_ok=True)  # its process died without cleaning up (SIGKILL)
    return records


@dataclass(frozen=True)
class StopOutcome:
    stopped: tuple[int, ...]  # pids of the `devnet start`/`up` processes that stopped
    still_running: tuple[int, ...]  # pids still stopping when the timeout ran out

    def to_json(self) -> dict[str, Any]:
        return {"stopped": list(self.stopped), "still_running": list(self.still_running)}


def stop_devnet(devnet: Devnet, timeout: float = STOP_TIMEOUT_S, echo: Callable[[str], None] = click.echo) -> StopOutcome:
    """SIGTERM every running `devnet start`/`up` of `devnet` and wait until they have stopped their nodes."""
    records = running_supervisors(devnet)
    if not records:
        echo(f"no `devnet start` or `devnet up` is running the devnet in {devnet.dir}")
        return StopOutcome((), ())
    for record in records:
        echo(f"stopping pid {record.pid} (nodes {', '.join(record.nodes)})")
        try:
            os.kill(record.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while any(_alive(r) and r.path.exists() for r in records) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    left = tuple(r.pid for r in records if _alive(r) and r.path.exists())
    if left:
        echo(f"still stopping after {timeout:g}s: pid {', '.join(map(str, left))}; run `devnet stop` again, or kill them")
    else:
        echo("devnet stopped")
    return StopOutcome(tuple(r.pid for r in records if r.pid not in left), left)


def run_supervisor(
    devnet: Devnet,
    nodes: Sequence[NodeSpec],
    *,
    timeout: float,
    echo: Callable[[str], None] = click.echo,
    on_ready: Callable[[], None] | None = None,
) -> int:
    """`devnet start`: launch, wait for RPC, print the URLs, watch until a signal; always stop the nodes.

    `on_ready` prints anything more once every node answers (`devnet up`'s hints).
    """
    sup = Supervisor(devnet, nodes, echo)
    sup.check_ports()
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, sup.request_stop) for s in handled}
    record: Path | None = None
    try:
        record = record_supervisor(devnet, sup.nodes)
        echo(f"starting {len(sup.nodes)} node(s) of the devnet in {devnet.dir} (chain id {devnet.chain_id})")
        sup.launch()
        if not sup.wait_ready(timeout):
            return 0
        echo(f"devnet ready: {len(sup.nodes)} node(s) answer JSON-RPC")
        for run in sup.running:
            echo(f"  {run.node.name:<7} {run.node.role:<9} {run.node.rpc_url}")
        if on_ready is not None:
            on_ready()
        echo("Ctrl-C stops them all")
        return sup.watch()
    finally:
        sup.stop()
        if record is not None:
            record.unlink(missing_ok=True)
        for s, handler in previous.items():
            signal.signal(s, handler)


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass  # already gone (and reaped, or a zombie the wait below reaps)
    except PermissionError:
        process.send_signal(signum)


def _parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook (Linux) that has the kernel SIGTERM the node if the supervisor dies, even by SIGKILL.

    Resolved in the parent so the child, between fork and exec, only makes one
    system call.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))

    return hook

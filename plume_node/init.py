"""Creating a node home: keys, operator account, config and a single-validator genesis.

Used by `plume-node init` and by the devnet tooling, which builds several homes
and then rewrites their genesis to share one.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path


from plume_node.errors import UserError
from plume_node.config import Config, dump_config
from plume_node.files import write_atomic, write_private_file
from plume_node.genesis import PLUME, GenesisDoc, GenesisValidator, dump_genesis, new_genesis
from plume_node.home import Home
from plume_node.keystore import Keystore
from plume_node.node_keys import generate_key_file

OPERATOR_KEY = "operator"
DEFAULT_POWER = 100
OPERATOR_FUNDS = 1_000_000 * PLUME


@dataclass(frozen=True)
class InitResult:
    home: Path
    chain_id: int
    moniker: str
    operator_address: str
    node_id: str
    validator_address: str
    validator_pub_key: str
    password_file: Path | None  # set when init generated the operator password itself
    genesis_hash: str = ""  # 0x-hex
    validator_in_genesis: bool = True  # False when the home joins an existing chain as a full node
    persistent_peers: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "home": str(self.home),
            "chain_id": self.chain_id,
            "moniker": self.moniker,
            "operator_address": self.operator_address,
            "node_id": self.node_id,
            "validator_address": self.validator_address,
            "validator_pub_key": self.validator_pub_key,
            "password_file": str(self.password_file) if self.password_file else None,
            "genesis_hash": self.genesis_hash,
            "validator_in_genesis": self.validator_in_genesis,
            "persistent_peers": list(self.persistent_peers),
        }


def init_home(
    home: Home,
    *,
    chain_id: int,
    moniker: str,
    password: str | None,
    force: bool = False,
    config: Config | None = None,
    genesis: GenesisDoc | None = None,
    peers: Sequence[str] = (),
) -> InitResult:
    """Create keys, operator account, config.toml and genesis.json under `home`.

    `password=None` generates a random operator password and stores it beside
    the keystore (0600), for unattended set-ups; the caller says so to the user.
    `genesis`: join that existing chain (written as is, `chain_id` ignored):
    the node starts as a full node, its own validator key in no set. `peers`
    become `p2p.persistent_peers`.
    """
    refuse_existing(home, force)
    if home.initialized():
        _wipe(home)
    home.root.mkdir(parents=True, exist_ok=True)

    validator_key = generate_key_file(home.validator_key_path, "validator")
    node_key = generate_key_file(home.node_key_path, "node")
    password_file = None
    if password is None:
        password = secrets.token_urlsafe(24)
        home.keystore_dir.mkdir(parents=True, exist_ok=True)
        password_file = home.keystore_dir / f"{OPERATOR_KEY}.password"
        write_private_file(password_file, password.encode())
    operator = Keystore(home.root).new(OPERATOR_KEY, password)

    config = (config or Config()).replace(moniker=moniker, fee_address=operator.address)
    if peers:
        config = config.replace(p2p=replace(config.p2p, persistent_peers=list(peers)))
    write_atomic(home.config_path, dump_config(config).encode())

    joining = genesis is not None
    if genesis is None:
        fee_address = bytes.fromhex(operator.address[2:])
        genesis = new_genesis(chain_id).with_account(fee_address, OPERATOR_FUNDS).with_validator(
            GenesisValidator(name=moniker, pub_key=validator_key.public_key, power=DEFAULT_POWER, fee_address=fee_address)
        )
    write_atomic(home.genesis_path, dump_genesis(genesis))
    return InitResult(
        home=home.root,
        chain_id=genesis.chain_id,
        moniker=moniker,
        operator_address=operator.address,
        node_id=node_key.address.hex(),
        validator_address=validator_key.address.hex(),
        validator_pub_key=validator_key.public_key.hex(),
        password_file=password_file,
        genesis_hash="0x" + genesis.hash().hex(),
        validator_in_genesis=not joining,
        persistent_peers=tuple(config.p2p.persistent_peers),
    )


def refuse_existing(home: Home, force: bool) -> None:
    """Refuse a directory that already holds a home, unless `force` (checked before any slow work)."""
    if home.initialized() and not force:
        raise UserError(
            f"{home.root} already holds a Plume home; pass --force to replace it "
            "(this deletes its keys, accounts and chain data)"
        )


def _wipe(home: Home) -> None:
    for path in (home.config_path, home.genesis_path, home.log_path):
        path.unlink(missing_ok=True)
    for directory in (home.keys_dir, home.keystore_dir, home.data_dir):
        shutil.rmtree(directory, ignore_errors=True)

"""The layout of a node's home directory.

    HOME/config.toml                 local settings (plume_node.config)
    HOME/genesis.json                the chain's genesis (plume_node.genesis)
    HOME/keys/validator_key.json     Ed25519 consensus key (0600)
    HOME/keys/node_key.json          Ed25519 p2p identity key (0600)
    HOME/keystore/NAME.json          secp256k1 accounts, keystore v3 (0600)
    HOME/data/                       the LevelDB: chain, state, consensus records
    HOME/node.log                    the log, when started by `devnet start`
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def at(cls, path: str | Path) -> "Home":
        return cls(Path(path).expanduser().resolve())

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    @property
    def genesis_path(self) -> Path:
        return self.root / "genesis.json"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def validator_key_path(self) -> Path:
        return self.keys_dir / "validator_key.json"

    @property
    def node_key_path(self) -> Path:
        return self.keys_dir / "node_key.json"

    @property
    def keystore_dir(self) -> Path:
        return self.root / "keystore"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "node.log"

    def initialized(self) -> bool:
        return self.config_path.exists() or self.genesis_path.exists() or self.keys_dir.exists()

    def started(self) -> bool:
        """True once the node has opened its data directory (the genesis is then fixed)."""
        return self.data_dir.exists() and any(self.data_dir.iterdir())

"""Genesis: the parameters and allocations a chain starts from, and block 0 built from them.

``GenesisState`` is what the node's genesis JSON parses into (plume_node/genesis.py).
``build_genesis(genesis, db)`` writes the genesis state into ``db`` and returns the
genesis header; ``genesis_header(genesis)`` computes the same header in memory.
The genesis hash is a pure function of the ``GenesisState``.

Chain parameters that no header field carries (chain id, base-fee floor) are
committed through the genesis sidecar: block 0 has no parent commit, so its
sidecar's ``last_commit`` holds ``msgpack([b"plume/genesis", chain_id,
min_base_fee_per_gas])`` and the header's ``extra_data`` (its keccak) binds
them into the genesis hash. Two nodes with different parameters therefore
never share a genesis hash.

Genesis also creates the system accounts: the staking contract with its
parameters and the genesis validators bonded (``staking/genesis.py``), and the
reward pool with the supply counters (``staking.fees``): total supply starts
as the sum of allocations plus the genesis validators' stake. And it places
the real-world-asset factories at ``0x…2000``-``0x…2004``
(``execution/contracts/rwa/predeploy.py``, docs/tokenization.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from eth.abc import BlockHeaderAPI, DatabaseAPI
from eth.constants import GENESIS_PARENT_HASH
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague.blocks import PragueBlockHeader

import msgpack

from execution.contracts.rwa.predeploy import PREDEPLOYED_ADDRESSES, write_genesis_factories
from execution.sidecar import Sidecar
from execution.vm import DEFAULT_MIN_BASE_FEE, FIXED_HEADER_FIELDS
from staking.addresses import SYSTEM_ADDRESSES
from staking.fees import REWARD_POOL_ADDRESS, init_genesis_accounting
from staking.genesis import GenesisValidator, genesis_stake, init_genesis_staking
from staking.governance.genesis import init_genesis_governance
from staking.permissions.genesis import PermissionsGenesis, init_genesis_permissions
from staking.params import ExecutionParams, GovParams, SlashingParams, StakingParams

DEFAULT_GAS_LIMIT = 30_000_000
MAX_UINT256 = 2**256 - 1


class GenesisError(ValueError):
    """An invalid genesis definition; the message names the field."""


@dataclass(frozen=True)
class GenesisAccount:
    balance: int
    nonce: int = 0
    code: bytes = b""
    storage: Mapping[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("balance", "nonce"):
            v = getattr(self, name)
            if type(v) is not int or not 0 <= v <= MAX_UINT256:
                raise GenesisError(f"account {name} must be an int in [0, 2**256), got {v!r}")
        if type(self.code) is not bytes:
            raise GenesisError("account code must be bytes")
        for k, v in self.storage.items():
            if type(k) is not int or type(v) is not int or not (
                0 <= k <= MAX_UINT256 and 0 <= v <= MAX_UINT256
            ):
                raise GenesisError(f"storage slot/value must be uint256 ints, got {k!r}: {v!r}")


@dataclass(frozen=True)
class GenesisState:
    chain_id: int
    timestamp: int
    gas_limit: int = DEFAULT_GAS_LIMIT
    base_fee_per_gas: int = DEFAULT_MIN_BASE_FEE
    min_base_fee_per_gas: int = DEFAULT_MIN_BASE_FEE
    alloc: Mapping[bytes, GenesisAccount] = field(default_factory=dict)
    staking: StakingParams = field(default_factory=StakingParams)
    slashing: SlashingParams = field(default_factory=SlashingParams)
    validators: tuple[GenesisValidator, ...] = ()  # bonded in the staking contract at genesis
    gov: GovParams = field(default_factory=GovParams)
    execution: ExecutionParams = field(default_factory=ExecutionParams)
    permissions: PermissionsGenesis = field(default_factory=PermissionsGenesis)  # all lists off by default

    def __post_init__(self) -> None:
        for name in ("chain_id", "timestamp", "gas_limit", "base_fee_per_gas", "min_base_fee_per_gas"):
            v = getattr(self, name)
            if type(v) is not int or v < 0:
                raise GenesisError(f"genesis {name} must be a non-negative int, got {v!r}")
        if not 1 <= self.chain_id <= MAX_UINT256:
            raise GenesisError("genesis chain_id must be >= 1")
        if self.gas_limit < 21_000:
            raise GenesisError(f"genesis gas_limit {self.gas_limit} is below one transfer (21000)")
        if self.min_base_fee_per_gas < 1:
            raise GenesisError("genesis min_base_fee_per_gas must be at least 1 wei")
        if self.base_fee_per_gas < self.min_base_fee_per_gas:
            raise GenesisError(
                f"genesis base_fee_per_gas {self.base_fee_per_gas} is below "
                f"min_base_fee_per_gas {self.min_base_fee_per_gas}"
            )
        for addr, acct in self.alloc.items():
            if type(addr) is not bytes or len(addr) != 20:
                raise GenesisError(f"alloc keys must be 20-byte addresses, got {addr!r}")
            if addr in SYSTEM_ADDRESSES or addr in PREDEPLOYED_ADDRESSES:
                raise GenesisError(
                    f"alloc must not include system address 0x{addr.hex()}; "
                    "it is created by the protocol (a system account or a predeployed factory)"
                )
            if not isinstance(acct, GenesisAccount):
                raise GenesisError(f"alloc[0x{addr.hex()}] must be a GenesisAccount")

    @property
    def total_supply(self) -> int:
        """The allocations plus the genesis validators' stake (minted into the staking contract)."""
        return sum(a.balance for a in self.alloc.values()) + genesis_stake(self.validators)


def write_genesis_state(genesis: GenesisState, db: DatabaseAPI) -> bytes:
    """Write the genesis state trie into ``db``; return its state root."""
    adb = AccountDB(db)
    # sorted: the root does not depend on order, but the writes then do not either
    for addr in sorted(genesis.alloc):
        acct = genesis.alloc[addr]
        adb.set_balance(addr, acct.balance)
        if acct.nonce:
            adb.set_nonce(addr, acct.nonce)
        if acct.code:
            adb.set_code(addr, acct.code)
        for slot in sorted(acct.storage):
            if acct.storage[slot]:
                adb.set_storage(addr, slot, acct.storage[slot])
    init_genesis_staking(adb, genesis.staking, genesis.validators, genesis.timestamp, genesis.slashing)
    init_genesis_governance(adb, genesis.gov, genesis.execution)
    init_genesis_permissions(adb, genesis.permissions)
    init_genesis_accounting(adb, genesis.total_supply)
    write_genesis_factories(adb)
    adb.persist()
    return adb.state_root


def genesis_sidecar(genesis: GenesisState) -> Sidecar:
    """Block 0's sidecar: commits the chain parameters no header field carries."""
    params = msgpack.packb(
        [b"plume/genesis", genesis.chain_id, genesis.min_base_fee_per_gas], use_bin_type=True
    )
    return Sidecar(round=0, last_commit=params, evidence=())


def make_genesis_header(genesis: GenesisState, state_root: bytes) -> BlockHeaderAPI:
    return PragueBlockHeader(
        difficulty=FIXED_HEADER_FIELDS["difficulty"],
        block_number=0,
        gas_limit=genesis.gas_limit,
        timestamp=genesis.timestamp,
        coinbase=b"\x00" * 20,
        parent_hash=GENESIS_PARENT_HASH,
        state_root=state_root,
        gas_used=0,
        extra_data=genesis_sidecar(genesis).hash,
        mix_hash=FIXED_HEADER_FIELDS["mix_hash"],
        nonce=FIXED_HEADER_FIELDS["nonce"],
        base_fee_per_gas=genesis.base_fee_per_gas,
        withdrawals_root=FIXED_HEADER_FIELDS["withdrawals_root"],
        blob_gas_used=0,
        excess_blob_gas=0,
        parent_beacon_block_root=FIXED_HEADER_FIELDS["parent_beacon_block_root"],
        requests_hash=FIXED_HEADER_FIELDS["requests_hash"],
    )


def build_genesis(genesis: GenesisState, db: DatabaseAPI) -> BlockHeaderAPI:
    """Write the genesis state into ``db`` and return the genesis header."""
    return make_genesis_header(genesis, write_genesis_state(genesis, db))


def genesis_header(genesis: GenesisState) -> BlockHeaderAPI:
    """The genesis header, computed in memory (for the genesis hash)."""
    return build_genesis(genesis, AtomicDB())


def genesis_hash(genesis: GenesisState) -> bytes:
    return genesis_header(genesis).hash


__all__ = [
    "REWARD_POOL_ADDRESS",
    "GenesisAccount",
    "GenesisError",
    "GenesisState",
    "build_genesis",
    "genesis_sidecar",
    "genesis_hash",
    "genesis_header",
]

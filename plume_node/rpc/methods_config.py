"""What the node runs: eth_config (EIP-7910), eth_capabilities, eth_baseFee,
eth_blobBaseFee, eth_getHeaderByNumber / eth_getHeaderByHash.

Plume runs one fork from genesis (py-evm's Prague with Plume's rules, see
docs/execution.md), so eth_config's `current` is that fork, active from the
genesis time, and `next` / `last` are null (EIP-7910: no fork scheduled).
The precompiles are read from the VM, so a system contract registered as a
precompile (the staking contract at 0x…1000, governance at 0x…1001 once it
is one) is listed as soon as the VM has it.

Plume has no blobs: blob transactions are refused, every header carries
excess blob gas 0 and blob gas used 0. eth_blobBaseFee answers what EIP-4844's
formula gives for that header, the minimum `0x1` (as geth computes it from
the header), rather than -32601: fee estimators (viem, ethers) call it and
a number lets them go on; a blob transaction is still refused by the mempool.
The blob schedule reports max 0 and target 0.
"""

from __future__ import annotations

import zlib
from typing import Any

from staking.addresses import GOVERNANCE_ADDRESS, PERMISSIONS_ADDRESS, REWARD_POOL_ADDRESS, STAKING_ADDRESS

from plume_node.rpc import params as p
from plume_node.rpc.chainview import ChainView, resolve_block_number
from plume_node.rpc.dispatch import MethodTable, Param
from plume_node.rpc.encode import addr, header_fields, q

table = MethodTable()

# EIP-4844's MIN_BASE_FEE_PER_BLOB_GAS: the blob base fee at excess blob gas 0.
MIN_BLOB_BASE_FEE = 1
# Prague's BLOB_BASE_FEE_UPDATE_FRACTION (no effect without blobs; reported as the fork defines it).
BLOB_BASE_FEE_UPDATE_FRACTION = 5_007_716

# EIP-7910 names of the precompiles, by address.
PRECOMPILE_NAMES = {
    1: "ECREC", 2: "SHA256", 3: "RIPEMD160", 4: "ID", 5: "MODEXP", 6: "BN254_ADD", 7: "BN254_MUL",
    8: "BN254_PAIRING", 9: "BLAKE2F", 0x0A: "KZG_POINT_EVALUATION", 0x0B: "BLS12_G1ADD", 0x0C: "BLS12_G1MSM",
    0x0D: "BLS12_G2ADD", 0x0E: "BLS12_G2MSM", 0x0F: "BLS12_PAIRING_CHECK", 0x10: "BLS12_MAP_FP_TO_G1",
    0x11: "BLS12_MAP_FP2_TO_G2",
    int.from_bytes(STAKING_ADDRESS, "big"): "PLUME_STAKING",
    int.from_bytes(GOVERNANCE_ADDRESS, "big"): "PLUME_GOVERNANCE",
    int.from_bytes(PERMISSIONS_ADDRESS, "big"): "PLUME_PERMISSIONS",
}
# Plume's system accounts: present from genesis with code (staking/addresses.py).
SYSTEM_CONTRACTS = {
    "PLUME_STAKING": STAKING_ADDRESS,
    "PLUME_GOVERNANCE": GOVERNANCE_ADDRESS,
    "PLUME_REWARD_POOL": REWARD_POOL_ADDRESS,
    "PLUME_PERMISSIONS": PERMISSIONS_ADDRESS,
}


def _precompiles(vm_class: Any) -> dict[str, str]:
    found = sorted(vm_class.get_state_class().computation_class.get_precompiles())
    return {
        PRECOMPILE_NAMES.get(int.from_bytes(a, "big"), "PRECOMPILE_0x" + a.hex()): addr(a).lower() for a in found
    }


def fork_id(genesis_hash: bytes) -> str:
    """EIP-6122/EIP-2124 FORK_HASH: CRC32 of the genesis hash (no fork after genesis)."""
    return "0x" + zlib.crc32(genesis_hash).to_bytes(4, "big").hex()


@table.register("eth_config")
def eth_config(backend: Any) -> dict[str, Any]:
    genesis = ChainView(backend.chain).header_by_number(0)
    current = {
        "activationTime": genesis.timestamp,
        "blobSchedule": {"baseFeeUpdateFraction": BLOB_BASE_FEE_UPDATE_FRACTION, "max": 0, "target": 0},
        "chainId": q(backend.chain_id),
        "forkId": fork_id(genesis.hash),
        "precompiles": _precompiles(backend.chain.vm_class),
        "systemContracts": {name: addr(a).lower() for name, a in SYSTEM_CONTRACTS.items()},
    }
    return {"current": current, "next": None, "last": None}


@table.register("eth_capabilities")
def eth_capabilities(backend: Any) -> dict[str, Any]:
    # An archive node: every block, transaction, receipt, log and state since genesis.
    head = ChainView(backend.chain).head()
    kept = {"disabled": False, "oldestBlock": q(0)}
    resources = ("state", "tx", "logs", "receipts", "blocks", "stateproofs")
    return {"head": {"number": q(head.block_number), "hash": "0x" + head.hash.hex()}, **{r: dict(kept) for r in resources}}


@table.register("eth_baseFee")
def eth_base_fee(backend: Any) -> str:
    return q(ChainView(backend.chain).next_base_fee())


@table.register("eth_blobBaseFee")
def eth_blob_base_fee(backend: Any) -> str:
    return q(MIN_BLOB_BASE_FEE)


@table.register("eth_getHeaderByNumber", Param("block", lambda v, n: p.block_ref(v, n, allow_hash=False)))
def eth_get_header_by_number(backend: Any, ref: p.BlockRef) -> dict[str, Any] | None:
    if ref.tag == "pending":
        return None  # the spec: no header for pending
    view = ChainView(backend.chain)
    header = view.header_by_number(resolve_block_number(view, ref))
    return None if header is None else header_fields(header)


@table.register("eth_getHeaderByHash", Param("blockHash", p.hash32))
def eth_get_header_by_hash(backend: Any, block_hash: bytes) -> dict[str, Any] | None:
    view = ChainView(backend.chain)
    number = view.header_number_by_hash(block_hash)
    return None if number is None else header_fields(view.header_by_number(number))

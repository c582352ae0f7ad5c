"""The RWA factories, predeployed in every Plume genesis at the fixed addresses of docs/tokenization.md.

``write_genesis_factories(adb)`` places each factory's runtime code (read from
its shipped artifact, beside this module) at its address; ``execution.genesis``
calls it for every chain, like the system accounts, so the factories are part
of the chain's rules and of its genesis hash. The factories have no
constructor arguments and no immutables, so the runtime code is the whole
deployment; the nonce is 1, as EIP-161 gives a contract created by a
transaction, so the first contract a factory creates is at
``keccak(rlp([factory, 1]))`` as on any chain.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from eth.db.account import AccountDB

ARTIFACTS = Path(__file__).resolve().parent
PREDEPLOY_NONCE = 1  # EIP-161: a created contract starts at nonce 1

# docs/tokenization.md, "Factories and the registry": one address per family
FACTORY_ADDRESSES: dict[str, bytes] = {
    "AssetTokenFactory": bytes.fromhex("0000000000000000000000000000000000002000"),
    "UsageRightsFactory": bytes.fromhex("0000000000000000000000000000000000002001"),
    "MilestoneVaultFactory": bytes.fromhex("0000000000000000000000000000000000002002"),
    "RevenueShareVaultFactory": bytes.fromhex("0000000000000000000000000000000000002003"),
    "EscrowVaultFactory": bytes.fromhex("0000000000000000000000000000000000002004"),
}
PREDEPLOYED_ADDRESSES = frozenset(FACTORY_ADDRESSES.values())


@functools.cache
def runtime_code(contract: str) -> bytes:
    """The deployed code of ``contract``'s artifact (it must have no immutables)."""
    artifact = json.loads((ARTIFACTS / f"{contract}.json").read_text(encoding="utf-8"))
    if artifact["immutableReferences"]:
        raise ValueError(f"{contract} has immutables: its runtime code alone is not a deployment")
    return bytes.fromhex(artifact["deployedBytecode"][2:])


def write_genesis_factories(adb: AccountDB) -> None:
    """Place every RWA factory at its fixed address (code, nonce 1, no balance, no storage)."""
    for name, address in sorted(FACTORY_ADDRESSES.items(), key=lambda item: item[1]):
        adb.set_nonce(address, PREDEPLOY_NONCE)
        adb.set_code(address, runtime_code(name))

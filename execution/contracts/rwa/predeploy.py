"""The RWA factories as genesis accounts, at the fixed addresses of docs/tokenization.md.

``factory_accounts()`` returns ``{address: GenesisAccount}`` with each
factory's runtime code read from its shipped artifact (beside this module).
The factories have no constructor arguments and no immutables, so the runtime
code is the whole deployment; the nonce is 1, as EIP-161 gives a contract
created by a transaction, so the first contract a factory creates is at
``keccak(rlp([factory, 1]))`` as on any chain. Nothing places these accounts
in a genesis yet: that is the next phase's choice (genesis.json or a
protocol rule), and its tests use this function.
"""

from __future__ import annotations

import json
from pathlib import Path

from execution.genesis import GenesisAccount

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


def runtime_code(contract: str) -> bytes:
    """The deployed code of ``contract``'s artifact (it must have no immutables)."""
    artifact = json.loads((ARTIFACTS / f"{contract}.json").read_text(encoding="utf-8"))
    if artifact["immutableReferences"]:
        raise ValueError(f"{contract} has immutables: its runtime code alone is not a deployment")
    return bytes.fromhex(artifact["deployedBytecode"][2:])


def factory_accounts() -> dict[bytes, GenesisAccount]:
    """Every RWA factory as a genesis account at its fixed address."""
    return {
        address: GenesisAccount(balance=0, nonce=PREDEPLOY_NONCE, code=runtime_code(name))
        for name, address in FACTORY_ADDRESSES.items()
    }

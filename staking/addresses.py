"""The protocol's system accounts: fixed addresses, and the code each carries from genesis.

Each system account gets nonce 1 and non-empty code at genesis, so EIP-161
never clears it (an "empty" account touched by a transaction is deleted) and
``eth_getCode`` shows a contract. The staking contract's code is never run:
the Plume fork registers it as a precompile, which py-evm calls before it
would look at the code. ``0xfe`` (INVALID) is there only to be non-empty;
if it ever ran, it would fail.
"""

from __future__ import annotations

STAKING_ADDRESS = bytes.fromhex("0000000000000000000000000000000000001000")
GOVERNANCE_ADDRESS = bytes.fromhex("0000000000000000000000000000000000001001")
REWARD_POOL_ADDRESS = bytes.fromhex("0000000000000000000000000000000000001002")
PERMISSIONS_ADDRESS = bytes.fromhex("0000000000000000000000000000000000001003")
SYSTEM_ADDRESSES = (STAKING_ADDRESS, GOVERNANCE_ADDRESS, REWARD_POOL_ADDRESS, PERMISSIONS_ADDRESS)

SYSTEM_CONTRACT_CODE = b"\xfe"

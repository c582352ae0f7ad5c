"""Calling the governance contract at 0x…1001 over JSON-RPC, as a dapp would: signed transactions and views.

``submit`` returns the transaction hash at once (several proposals or votes
can share a block); ``receipt`` waits for one; ``send`` does both.
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_abi import decode, encode
from eth_account import Account
from eth_utils import to_checksum_address

from rpcclient import rpc
from staking.addresses import GOVERNANCE_ADDRESS
from staking.governance import abi as gov_abi
from staking.governance.params_registry import encode_value
from waiting import wait_until

GOVERNANCE = to_checksum_address(GOVERNANCE_ADDRESS)
_BY_NAME = {m.name: m for m in gov_abi.METHODS.values()}
YES, ABSTAIN, NO, VETO = 1, 2, 3, 4


def calldata(name: str, *args) -> str:
    method = _BY_NAME[name]
    return "0x" + (method.selector + encode(list(method.inputs), list(args))).hex()


def change(key: str, value: int) -> tuple[str, bytes]:
    return (key, encode_value(key, value))


def view(url: str, name: str, *args, block: str = "latest"):
    out = rpc(url, "eth_call", {"to": GOVERNANCE, "data": calldata(name, *args)}, block)
    return decode(list(_BY_NAME[name].outputs), bytes.fromhex(out[2:]))


def submit(url: str, chain_id: int, private_key: str, name: str, *args, value: int = 0, gas: int = 3_000_000,
           nonce: int | None = None) -> str:
    """Sign and submit a governance call; its hash. Without ``nonce``, the sender's next one as the
    node counts it (pass nonces to send several from one sender at once)."""
    sender = Account.from_key(private_key)
    if nonce is None:
        nonce = int(rpc(url, "eth_getTransactionCount", sender.address, "pending"), 16)
    base_fee = int(rpc(url, "eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    tx = {
        "type": 2, "chainId": chain_id, "nonce": nonce, "to": GOVERNANCE, "value": value, "gas": gas,
        "data": calldata(name, *args), "maxFeePerGas": 2 * base_fee + 10**9, "maxPriorityFeePerGas": 10**9,
    }
    signed = Account.sign_transaction(tx, private_key)
    return rpc(url, "eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())


def receipt(url: str, tx_hash: str, what: str = "a governance call") -> dict:
    return wait_until(lambda: rpc(url, "eth_getTransactionReceipt", tx_hash), 90, f"receipt of {what}")


def send(url: str, chain_id: int, private_key: str, name: str, *args, value: int = 0) -> dict:
    """Submit a governance call and wait for its receipt."""
    return receipt(url, submit(url, chain_id, private_key, name, *args, value=value), name)


def operator_key(home: Path, password_file: Path) -> str:
    """The private key of a node home's `operator` keystore key (a devnet validator's operator)."""
    keyfile = json.loads((home / "keystore" / "operator.json").read_text())
    password = password_file.read_text().strip()
    return "0x" + bytes(Account.decrypt(keyfile, password)).hex()

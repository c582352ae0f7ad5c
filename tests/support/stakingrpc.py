"""Calling the staking contract at 0x…1000 over JSON-RPC, as a dapp would: eth_call and signed transactions."""

from __future__ import annotations

from eth_abi import decode, encode
from eth_account import Account
from eth_utils import to_checksum_address

from rpcclient import rpc
from staking import abi
from staking.addresses import STAKING_ADDRESS
from waiting import wait_until

STAKING = to_checksum_address(STAKING_ADDRESS)
_BY_NAME = {m.name: m for m in abi.METHODS.values()}


def calldata(name: str, *args) -> str:
    method = _BY_NAME[name]
    return "0x" + (method.selector + encode(list(method.inputs), list(args))).hex()


def view(url: str, name: str, *args, block: str = "latest"):
    """The decoded outputs of a view method."""
    out = rpc(url, "eth_call", {"to": STAKING, "data": calldata(name, *args)}, block)
    return decode(list(_BY_NAME[name].outputs), bytes.fromhex(out[2:]))


def send(url: str, chain_id: int, private_key: str, name: str, *args, value: int = 0, gas: int = 1_500_000) -> dict:
    """Sign and submit a call to the staking contract; wait for and return its receipt."""
    sender = Account.from_key(private_key)
    nonce = int(rpc(url, "eth_getTransactionCount", sender.address, "pending"), 16)
    base_fee = int(rpc(url, "eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    tx = {
        "type": 2, "chainId": chain_id, "nonce": nonce, "to": STAKING, "value": value, "gas": gas,
        "data": calldata(name, *args), "maxFeePerGas": 2 * base_fee + 10**9, "maxPriorityFeePerGas": 10**9,
    }
    signed = Account.sign_transaction(tx, private_key)
    tx_hash = rpc(url, "eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())
    return wait_until(lambda: rpc(url, "eth_getTransactionReceipt", tx_hash), 60, f"receipt of {name}")

"""Shared helpers for the execution tests: deterministic keys, genesis, signed transactions."""

from __future__ import annotations

import functools
from pathlib import Path

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from execution.chain import PlumeChain
from execution.genesis import GenesisAccount, GenesisState
from execution.sidecar import Sidecar
from execution.transactions import decode_transaction
from plume_node.storage import open_database
from staking.params import StakingParams

CHAIN_ID = 4242
GWEI = 10**9
ETHER = 10**18
KEYS = [keccak(b"plume-exec-test-%d" % i) for i in range(6)]
ADDRS = [bytes.fromhex(Account.from_key(k).address[2:]) for k in KEYS]
COINBASE = bytes.fromhex("00000000000000000000000000000000000c0b01")
SINK = bytes.fromhex("5151515151515151515151515151515151515151")
# A contract that burns exactly 7 gas: seven JUMPDESTs then STOP. Calling it costs
# 21007 gas: an odd number, so base_fee * gas_used can be odd.
ODD_GAS_CONTRACT = bytes.fromhex("00000000000000000000000000000000000000dd")
ODD_GAS_CODE = b"\x5b" * 7 + b"\x00"


def make_genesis(
    *,
    gas_limit: int = 30_000_000,
    base_fee: int = GWEI,
    min_base_fee: int = GWEI,
    timestamp: int = 1_700_000_000,
    balance: int = 1000 * ETHER,
    block_reward: int = 0,
) -> GenesisState:
    """Six funded accounts and the odd-gas contract. No staking issuance by default
    (``block_reward`` 0), so the fee tests see the fee split alone."""
    alloc = {a: GenesisAccount(balance=balance) for a in ADDRS}
    alloc[ODD_GAS_CONTRACT] = GenesisAccount(balance=0, code=ODD_GAS_CODE)
    return GenesisState(
        chain_id=CHAIN_ID,
        timestamp=timestamp,
        gas_limit=gas_limit,
        base_fee_per_gas=base_fee,
        min_base_fee_per_gas=min_base_fee,
        alloc=alloc,
        staking=StakingParams(block_reward=block_reward),
    )


@functools.lru_cache(maxsize=None)
def signed_raw(
    who: int,
    nonce: int,
    *,
    to: bytes = SINK,
    value: int = 1,
    gas: int = 21_000,
    max_fee: int = 100 * GWEI,
    tip: int = GWEI,
    chain_id: int = CHAIN_ID,
    kind: int = 2,
    data: bytes = b"",
) -> bytes:
    fields: dict = dict(nonce=nonce, gas=gas, value=value, chainId=chain_id, data=data)
    if to:  # to=b"" creates a contract
        fields["to"] = to_checksum_address(to)
    if kind == 2:
        fields.update(type=2, maxFeePerGas=max_fee, maxPriorityFeePerGas=tip)
    elif kind == 1:
        fields.update(type=1, gasPrice=max_fee, accessList=[])
    else:
        fields.update(gasPrice=max_fee)
    return bytes(Account.sign_transaction(fields, KEYS[who]).raw_transaction)


def transfer(who: int, nonce: int, **kw):
    return decode_transaction(signed_raw(who, nonce, **kw))


def sidecar(round: int = 0, last_commit: bytes = b"cert") -> Sidecar:
    return Sidecar(round=round, last_commit=last_commit, evidence=())


def open_chain(path: Path, genesis: GenesisState | None = None, create: bool = True):
    db = open_database(path, create=create)
    return db, PlumeChain(db, genesis or make_genesis())


def build_and_commit(chain: PlumeChain, txs, *, timestamp: int | None = None, extra=None):
    ts = chain.head.timestamp + 1 if timestamp is None else timestamp
    result = chain.build_block(txs, timestamp=ts, coinbase=COINBASE, sidecar=sidecar())
    chain.commit(result.block, extra)
    return result


class HeadState:
    """The head's accounts as the pool reads them."""

    def __init__(self, chain: PlumeChain) -> None:
        self._view = chain.state_at()

    def get_nonce(self, address: bytes) -> int:
        return self._view.nonce(address)

    def get_balance(self, address: bytes) -> int:
        return self._view.balance(address)

    def get_storage(self, address: bytes, slot: int) -> int:
        return self._view.storage(address, slot)


def deep_list(levels: int) -> bytes:
    """[[[...]]] nested `levels` deep, built bottom-up (rlp.encode would recurse)."""
    encoded = b"\xc0"
    for _ in range(levels - 1):
        n = len(encoded)
        if n < 56:
            encoded = bytes([0xC0 + n]) + encoded
        else:
            size = n.to_bytes((n.bit_length() + 7) // 8, "big")
            encoded = bytes([0xF7 + len(size)]) + size + encoded
    return encoded

"""plume_supply on a real `plume-node start`: its fields satisfy the supply identities at
every height, and agree with what the node says elsewhere (balances, the staking views,
the genesis document), while transfers, staking calls, claims and withdrawals flow.

The node is the one-validator home of `tests/fixtures/e2e_node.py` with its default
nonzero block reward, so every block issues, allocates and pays commission.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from eth_account import Account

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from e2e_node import CHAIN_ID, start_node  # noqa: E402
from rpcclient import rpc  # noqa: E402
from stakingrpc import send, view  # noqa: E402
from supplyrpc import checked_supply  # noqa: E402
from waiting import wait_until  # noqa: E402

from staking.addresses import REWARD_POOL_ADDRESS, STAKING_ADDRESS  # noqa: E402

pytestmark = pytest.mark.slow
PLUME = 10**18
STAKING = "0x" + STAKING_ADDRESS.hex()
POOL = "0x" + REWARD_POOL_ADDRESS.hex()


def genesis_supply(home: Path) -> tuple[int, list[str]]:
    """(the genesis supply, the allocated accounts) from the home's genesis.json itself."""
    genesis = json.loads((home / "genesis.json").read_text())
    alloc = genesis["alloc"]
    stake = sum(int(v["power"]) for v in genesis["validators"]) * int(genesis["staking"]["power_reduction"])
    return sum(int(a["balance"]) for a in alloc.values()) + stake, list(alloc)


def check_identities(url: str, height: int, expected_genesis: int, accounts: set[str]) -> dict[str, int]:
    """Every identity from plume_supply's own fields at ``height``, and against other reads."""
    block = hex(height)
    s = checked_supply(url, block)
    assert s["blockNumber"] == height
    assert s["genesisSupply"] == expected_genesis
    # the same numbers read another way
    balance = lambda a: int(rpc(url, "eth_getBalance", a, block), 16)  # noqa: E731
    assert s["stakingBalance"] == balance(STAKING)
    assert s["rewardPool"] == balance(POOL)
    assert s["bonded"] == view(url, "totalBonded", block=block)[0]
    assert s["unbonding"] == view(url, "totalUnbonding", block=block)[0]
    assert sum(balance(a) for a in accounts | {STAKING, POOL}) == s["totalSupply"]
    return s


def test_plume_supply_adds_up_on_a_running_node(tmp_path) -> None:
    node = start_node(tmp_path, staking={"unbonding_period": 4, "epoch_length": 5})
    try:
        url = node.rpc_url
        expected_genesis, allocated = genesis_supply(node.home)
        operator = node.operator()
        key = operator.key.hex()
        friend = Account.from_key(b"\x42" * 32)
        receipts = [
            send_transfer(url, key, friend.address, 30 * PLUME),
            send(url, CHAIN_ID, friend.key.hex(), "delegate", operator.address, value=5 * PLUME),
            send(url, CHAIN_ID, friend.key.hex(), "undelegate", operator.address, 2 * PLUME),
            send(url, CHAIN_ID, friend.key.hex(), "claimRewards", operator.address),
            send(url, CHAIN_ID, key, "withdrawCommission"),
        ]
        assert all(r["status"] == "0x1" for r in receipts), receipts
        # past the unbonding period: the entry matures and pays the friend
        last = int(receipts[-1]["blockNumber"], 16)
        wait_until(lambda: view(url, "totalUnbonding")[0] == 0, 60, "the unbonding entry to mature")
        head = int(rpc(url, "eth_blockNumber"), 16)
        miners = {rpc(url, "eth_getBlockByNumber", hex(h), False)["miner"].lower() for h in range(1, head + 1)}
        accounts = {a.lower() for a in allocated} | {friend.address.lower()} | miners
        seen = [check_identities(url, h, expected_genesis, accounts) for h in range(0, head + 1)]
        final = seen[-1]
        # the flows above really moved the counters the identities are about
        assert final["totalIssued"] > 0 and final["burnedByBaseFee"] > 0
        assert final["unbonding"] == 0 and any(s["unbonding"] == 2 * PLUME for s in seen[: last + 1])
        assert final["undistributedRewards"] + final["unwithdrawnCommission"] > 0
    finally:
        node.stop()


def send_transfer(url: str, private_key: str, to: str, value: int) -> dict:
    """A plain value transfer with a base fee and a tip; its receipt."""
    sender = Account.from_key(private_key)
    nonce = int(rpc(url, "eth_getTransactionCount", sender.address, "pending"), 16)
    base_fee = int(rpc(url, "eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    tx = {"type": 2, "chainId": CHAIN_ID, "nonce": nonce, "to": to, "value": value, "gas": 21_000,
          "maxFeePerGas": 2 * base_fee + 10**9, "maxPriorityFeePerGas": 10**9}
    tx_hash = rpc(url, "eth_sendRawTransaction", "0x" + Account.sign_transaction(tx, private_key).raw_transaction.hex())
    return wait_until(lambda: rpc(url, "eth_getTransactionReceipt", tx_hash), 60, "the transfer's receipt")

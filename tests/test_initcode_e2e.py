"""End to end: the transaction that used to crash every validator (defect 2).

A contract creation with initcode one byte over the EIP-3860 limit passed the
mempool, and py-evm raised out of block building: the proposer's consensus
driver died, on every validator holding the transaction, again after each
restart. Here a real `plume-node start` process gets it by
`eth_sendRawTransaction` and must refuse it with a JSON-RPC error naming the
limit, answer `eth_call` of the same initcode with a clear error (no internal
error), and keep committing blocks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from rpcclient import RpcError, rpc
from waiting import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from e2e_node import CHAIN_ID, RunningNode, start_node  # noqa: E402

pytestmark = pytest.mark.slow
GWEI = 10**9
MAX_INITCODE = 49_152
LIMIT_TEXT = "the EIP-3860 limit is 49152 bytes"


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> RunningNode:
    running = start_node(tmp_path_factory.mktemp("initcode-e2e"))
    yield running
    running.stop()


def block_number(node: RunningNode) -> int:
    return int(rpc(node.rpc_url, "eth_blockNumber"), 16)


def test_oversized_initcode_is_refused_with_the_limit_and_the_node_keeps_committing(node):
    operator = node.operator()
    initcode = b"\x00" * (MAX_INITCODE + 1)
    signed = operator.sign_transaction({
        "type": 2, "chainId": CHAIN_ID, "nonce": 0, "gas": 1_000_000, "value": 0, "data": initcode,
        "maxFeePerGas": 50 * GWEI, "maxPriorityFeePerGas": GWEI,
    })
    with pytest.raises(RpcError) as info:
        rpc(node.rpc_url, "eth_sendRawTransaction", "0x" + bytes(signed.raw_transaction).hex(), timeout=30)
    assert info.value.code == -32000, info.value.error
    assert info.value.error["message"] == (
        f"initcode too large: the contract creation carries {MAX_INITCODE + 1} bytes of initcode, {LIMIT_TEXT}"
    )
    assert info.value.error.get("data") == "initcode_too_large"

    call = {"from": operator.address, "data": "0x" + initcode.hex(), "gas": hex(1_000_000)}
    with pytest.raises(RpcError) as info:
        rpc(node.rpc_url, "eth_call", call, "latest", timeout=30)
    assert info.value.code != -32603, f"an internal error: {info.value.error}"
    assert LIMIT_TEXT in info.value.error["message"]

    start = block_number(node)
    wait_until(lambda: block_number(node) >= start + 3, 60, f"blocks past {start}")
    assert node.process.poll() is None, node.log()
    assert rpc(node.rpc_url, "eth_getTransactionCount", operator.address, "pending") == "0x0"

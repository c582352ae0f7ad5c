"""The read API JSON-RPC uses: blocks, headers, receipts, transaction lookup, sidecars,
state views, eth_call and eth_estimateGas."""

from __future__ import annotations

import pytest
from eth.db.atomic import AtomicDB

from execution.chain import PlumeChain
from execution.errors import CallError, NotFound
from execution.genesis import GenesisAccount, GenesisState
from plume_exec_helpers import (
    ADDRS,
    COINBASE,
    ETHER,
    ODD_GAS_CONTRACT,
    SINK,
    build_and_commit,
    make_genesis,
    sidecar,
    transfer,
)

# Runtime code: if calldata is empty, revert with the 32-byte word 0x2a;
# otherwise return calldata[0:32] + 1 and store it at slot 0.
#   CALLDATASIZE ISZERO PUSH1 0x17 JUMPI
#   PUSH1 0 CALLDATALOAD PUSH1 1 ADD DUP1 PUSH1 0 SSTORE PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
#   JUMPDEST PUSH1 0x2a PUSH1 0 MSTORE PUSH1 32 PUSH1 0 REVERT
CONTRACT = bytes.fromhex("00000000000000000000000000000000000000cc")
CODE = bytes.fromhex("36156017576000356001018060005560005260206000f35b602a60005260206000fd")


@pytest.fixture
def chain() -> PlumeChain:
    g = make_genesis()
    alloc = dict(g.alloc)
    alloc[CONTRACT] = GenesisAccount(balance=0, code=CODE, storage={0: 7})
    return PlumeChain(AtomicDB(), GenesisState(**{**g.__dict__, "alloc": alloc}))


def test_code_layout_sanity() -> None:
    assert CODE[0x17] == 0x5B  # the JUMPDEST the JUMPI targets


def test_blocks_headers_receipts_and_lookup(chain: PlumeChain) -> None:
    r1 = build_and_commit(chain, [transfer(0, 0), transfer(1, 0, kind=0)])
    r2 = build_and_commit(chain, [transfer(0, 1, to=ODD_GAS_CONTRACT, gas=30_000)])
    assert chain.get_header(1).hash == r1.block.hash
    assert chain.get_header().hash == r2.block.hash == chain.head.hash
    assert chain.get_block(1).hash == r1.block.hash
    assert chain.get_block_by_hash(r2.block.hash).number == 2
    blk = chain.get_block(1)
    assert [t.hash for t in blk.transactions] == [t.hash for t in r1.included]
    assert chain.get_sidecar(1) == sidecar()
    receipts = chain.get_receipts(1)
    assert [rc.gas_used for rc in receipts] == [21000, 42000]  # cumulative
    assert all(rc.state_root == b"\x01" for rc in receipts)
    tx = r1.included[1]
    assert chain.get_transaction_location(tx.hash) == (1, 1)
    got, number, index = chain.get_transaction(tx.hash)
    assert got.hash == tx.hash and (number, index) == (1, 1)
    receipt, number, index = chain.get_receipt(r2.included[0].hash)
    assert receipt.gas_used == 21007 and (number, index) == (2, 0)


def test_not_found(chain: PlumeChain) -> None:
    with pytest.raises(NotFound, match="#5"):
        chain.get_header(5)
    with pytest.raises(NotFound):
        chain.get_block_by_hash(b"\x01" * 32)
    with pytest.raises(NotFound, match="no committed transaction"):
        chain.get_transaction_location(b"\x02" * 32)
    # a built but uncommitted block is not visible
    blk = chain.build_block([transfer(0, 0)], timestamp=0, coinbase=COINBASE, sidecar=sidecar()).block
    with pytest.raises(NotFound):
        chain.get_block_by_hash(blk.hash)
    with pytest.raises(NotFound):
        chain.get_transaction_location(blk.transactions[0].hash)


def test_state_views_at_heights(chain: PlumeChain) -> None:
    build_and_commit(chain, [transfer(0, 0, value=ETHER)])
    build_and_commit(chain, [transfer(0, 1, value=ETHER)])
    assert [chain.state_at(n).balance(SINK) for n in range(3)] == [0, ETHER, 2 * ETHER]
    assert chain.state_at(1).nonce(ADDRS[0]) == 1
    assert chain.state_at().code(CONTRACT) == CODE
    assert chain.state_at().storage(CONTRACT, 0) == 7
    assert chain.state_at().block_number == 2


def test_the_head_header_from_memory_is_the_stored_canonical_one(chain: PlumeChain) -> None:
    for _ in range(2):
        build_and_commit(chain, [transfer(0, chain.head.block_number)])
        stored = chain.chaindb.get_canonical_block_header_by_number(chain.head.block_number)
        assert chain.get_header() == chain.get_header(chain.head.block_number) == stored
        assert chain.get_header(chain.head.block_number - 1).hash == stored.parent_hash
    assert chain.state_at().state_root == stored.state_root


def test_call_returns_output_and_never_writes(chain: PlumeChain) -> None:
    head = chain.head.hash
    out = chain.call({"from": ADDRS[0], "to": CONTRACT, "data": (41).to_bytes(32, "big")})
    assert int.from_bytes(out, "big") == 42
    assert chain.state_at().storage(CONTRACT, 0) == 7  # the SSTORE was thrown away
    assert chain.head.hash == head
    # from the zero address, no funds needed without a gas price
    assert chain.call({"to": CONTRACT, "data": (1).to_bytes(32, "big")})[-1] == 2


def test_call_revert_carries_data(chain: PlumeChain) -> None:
    with pytest.raises(CallError, match="reverted") as info:
        chain.call({"from": ADDRS[0], "to": CONTRACT})
    assert int.from_bytes(info.value.revert_data, "big") == 0x2A


def test_call_at_older_block(chain: PlumeChain) -> None:
    build_and_commit(chain, [transfer(0, 0, to=CONTRACT, gas=100_000, data=(99).to_bytes(32, "big"))])
    assert chain.state_at().storage(CONTRACT, 0) == 100
    # a contract reading its slot would see 7 at block 0 and 100 at block 1
    assert chain.state_at(0).storage(CONTRACT, 0) == 7


def test_call_with_unaffordable_gas_price_fails(chain: PlumeChain) -> None:
    poor = b"\x77" * 20
    with pytest.raises(CallError, match=r"^insufficient funds for gas \* price \+ value: address 0x7777.* has 0, needs 1$"):
        chain.call({"from": poor, "to": SINK, "value": 1})
    with pytest.raises(CallError, match="unknown call fields"):
        chain.call({"frm": poor})


def test_estimate_gas(chain: PlumeChain) -> None:
    assert chain.estimate_gas({"from": ADDRS[0], "to": SINK, "value": 1}) == 21000
    assert chain.estimate_gas({"from": ADDRS[0], "to": ODD_GAS_CONTRACT}) == 21007
    est = chain.estimate_gas({"from": ADDRS[0], "to": CONTRACT, "data": (5).to_bytes(32, "big")})
    # the estimate is enough, and one gas less is not (two sibling blocks on the same state)
    data = (5).to_bytes(32, "big")
    statuses = []
    for r, gas in enumerate((est, est - 1)):
        blk = chain.build_block([transfer(0, 0, to=CONTRACT, gas=gas, data=data)], timestamp=0,
                                coinbase=COINBASE, sidecar=sidecar(round=r)).block
        statuses.append(chain.cache.get(blk.hash).receipts[0].state_root)
    assert statuses == [b"\x01", b""]
    with pytest.raises(CallError, match="reverted"):
        chain.estimate_gas({"from": ADDRS[0], "to": CONTRACT})


"""The 50/50 base-fee split (with the odd-wei rule), supply conservation, and base-fee evolution."""

from __future__ import annotations

import pytest
from eth.db.atomic import AtomicDB
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.chain import PlumeChain
from plume_exec_helpers import ADDRS, COINBASE, GWEI, ODD_GAS_CONTRACT, SINK, make_genesis, sidecar, transfer
from staking import fees


@given(base_fee=st.integers(0, 10**15), gas_used=st.integers(0, 10**8))
def test_split_is_exact_and_odd_wei_burns(base_fee: int, gas_used: int) -> None:
    s = fees.split_base_fee(base_fee, gas_used)
    assert s.total == base_fee * gas_used
    assert s.burned + s.to_pool == s.total
    assert s.to_pool == s.total // 2
    assert s.burned - s.to_pool == s.total % 2  # the odd wei, if any, is burned


def test_odd_total_burns_the_extra_wei() -> None:
    s = fees.split_base_fee(3, 7)  # 21 wei
    assert (s.burned, s.to_pool) == (11, 10)
    with pytest.raises(ValueError):
        fees.split_base_fee(-1, 1)


def _all_balances(state) -> int:
    return sum(state.balance(a) for a in (*ADDRS, SINK, COINBASE, ODD_GAS_CONTRACT, fees.REWARD_POOL_ADDRESS))


@settings(max_examples=25, deadline=None)
@given(
    min_fee=st.integers(1, 50 * GWEI),
    extra_fee=st.integers(0, 10 * GWEI),
    plan=st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.integers(0, 3 * GWEI)), max_size=6),
    blocks=st.integers(1, 2),
)
def test_block_fee_split_through_the_chain(min_fee: int, extra_fee: int, plan, blocks: int) -> None:
    """Over real blocks: burned grows by ceil(half), the pool by floor(half), supply is conserved."""
    genesis = make_genesis(base_fee=min_fee + extra_fee, min_base_fee=min_fee)
    chain = PlumeChain(AtomicDB(), genesis)
    nonces = [0] * len(ADDRS)
    for _ in range(blocks):
        before = chain.state_at()
        txs = []
        for who, odd, tip in plan:
            # calls to the odd-gas contract use 21007 gas, making totals odd
            to = ODD_GAS_CONTRACT if odd else SINK
            txs.append(transfer(who, nonces[who], to=to, gas=30_000, tip=tip, max_fee=200 * GWEI))
            nonces[who] += 1
        result = chain.build_block(txs, timestamp=chain.head.timestamp, coinbase=COINBASE, sidecar=sidecar())
        assert len(result.included) == len(txs), result.rejected
        chain.commit(result.block)
        after = chain.state_at()
        h = chain.head
        total = h.base_fee_per_gas * h.gas_used
        assert after.total_burned() - before.total_burned() == total - total // 2
        assert after.reward_pool_balance() - before.reward_pool_balance() == total // 2
        assert before.total_supply() - after.total_supply() == total - total // 2
        # conservation: every wei is in an account or counted as burned
        assert _all_balances(after) == after.total_supply()
        assert after.total_supply() + after.total_burned() == genesis.total_supply


def test_odd_gas_block_really_has_odd_total() -> None:
    chain = PlumeChain(AtomicDB(), make_genesis(base_fee=3 * GWEI + 1, min_base_fee=3 * GWEI + 1))
    result = chain.build_block([transfer(0, 0, to=ODD_GAS_CONTRACT, gas=30_000)], timestamp=0,
                               coinbase=COINBASE, sidecar=sidecar())
    chain.commit(result.block)
    h = chain.head
    assert h.gas_used == 21_007 and (h.base_fee_per_gas * h.gas_used) % 2 == 1
    state = chain.state_at()
    assert state.total_burned() == state.reward_pool_balance() + 1


def test_base_fee_rises_after_full_blocks_falls_after_empty_and_floors() -> None:
    floor = 10 * GWEI
    chain = PlumeChain(AtomicDB(), make_genesis(gas_limit=100_000, base_fee=floor, min_base_fee=floor))
    fees_seen = [chain.head.base_fee_per_gas]
    nonce = 0
    for _ in range(3):  # 4 transfers = 84000 gas > target 50000: "full"
        txs = [transfer(0, nonce + i, max_fee=1000 * GWEI) for i in range(4)]
        nonce += 4
        chain.commit(chain.build_block(txs, timestamp=0, coinbase=COINBASE, sidecar=sidecar()).block)
        fees_seen.append(chain.head.base_fee_per_gas)
    assert fees_seen[1] == floor  # block 1's fee comes from genesis, which used no gas
    assert fees_seen[1] < fees_seen[2] < fees_seen[3]
    # the EIP-1559 step: +1/8 * (used - target) / target
    assert fees_seen[2] == fees_seen[1] + fees_seen[1] * (84_000 - 50_000) // 50_000 // 8
    assert chain.next_base_fee() > fees_seen[3]
    peak = chain.next_base_fee()
    for _ in range(40):
        chain.commit(chain.build_block([], timestamp=0, coinbase=COINBASE, sidecar=sidecar()).block)
    lows = chain.head.base_fee_per_gas
    assert lows == floor < peak  # fell, and stopped at the floor
    chain.commit(chain.build_block([], timestamp=0, coinbase=COINBASE, sidecar=sidecar()).block)
    assert chain.head.base_fee_per_gas == floor


def test_empty_block_leaves_counters_alone(mem_chain: PlumeChain) -> None:
    before = mem_chain.state_at()
    mem_chain.commit(mem_chain.build_block([], timestamp=0, coinbase=COINBASE, sidecar=sidecar()).block)
    after = mem_chain.state_at()
    assert after.total_burned() == before.total_burned() == 0
    assert after.total_supply() == before.total_supply()


def test_zero_value_transfer_to_pool_keeps_counters(mem_chain: PlumeChain) -> None:
    """The pool is created non-empty (nonce 1) so touching it never deletes it (EIP-161)."""
    txs = [transfer(0, 0, to=fees.REWARD_POOL_ADDRESS, value=0)]
    mem_chain.commit(mem_chain.build_block(txs, timestamp=0, coinbase=COINBASE, sidecar=sidecar()).block)
    state = mem_chain.state_at()
    assert state.total_supply() > 0 and state.total_burned() > 0

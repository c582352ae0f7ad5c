"""The unbonding and redelegation queues: maturity timing, order, per-block bound."""

from __future__ import annotations

import pytest

from staking import queues
from staking.addresses import STAKING_ADDRESS
from staking.params import StakingParams
from staking.store import Store
from staking_harness import ADDRS, PLUME, StakingChain, calldata
from test_staking_delegation import DictState

D = 5


@pytest.fixture
def sc() -> StakingChain:
    return StakingChain()


def test_unbonding_pays_exactly_at_the_first_block_whose_time_reaches_completion(sc: StakingChain) -> None:
    assert sc.send(D, "delegate", ADDRS[1], value=10 * PLUME).ok
    out = sc.send(D, "undelegate", ADDRS[1], 4 * PLUME)
    assert out.ok
    completion = sc.chain.head.timestamp + 60
    assert sc.view("getUnbondings", ADDRS[D], ADDRS[1]) == ([sc.chain.height], [completion], [4 * PLUME])
    balance = sc.balance(ADDRS[D])
    sc.advance(1, dt=59)  # one second short: nothing paid
    assert sc.chain.head.timestamp == completion - 1
    assert sc.balance(ADDRS[D]) == balance
    assert sc.view("totalUnbonding") == (4 * PLUME,)
    sc.advance(1, dt=0)  # more blocks at the same time: still nothing
    assert sc.balance(ADDRS[D]) == balance
    sc.advance(1, dt=1)  # time == completionTime: paid at the end of this block
    assert sc.balance(ADDRS[D]) == balance + 4 * PLUME
    assert sc.view("getUnbondings", ADDRS[D], ADDRS[1]) == ([], [], [])
    assert sc.view("totalUnbonding") == (0,)
    assert sc.balance(STAKING_ADDRESS) == sc.view("totalBonded")[0]


def test_a_late_block_pays_everything_due(sc: StakingChain) -> None:
    assert sc.send(D, "delegate", ADDRS[1], value=10 * PLUME).ok
    assert sc.send(D, "undelegate", ADDRS[1], PLUME).ok
    assert sc.send(D, "undelegate", ADDRS[1], 2 * PLUME, dt=5).ok
    balance = sc.balance(ADDRS[D])
    sc.advance(1, dt=3600)
    assert sc.balance(ADDRS[D]) == balance + 3 * PLUME


def test_redelegation_matures_exactly_at_completion(sc: StakingChain) -> None:
    assert sc.send(D, "delegate", ADDRS[1], value=10 * PLUME).ok
    assert sc.send(D, "redelegate", ADDRS[1], ADDRS[2], PLUME).ok
    completion = sc.chain.head.timestamp + 60
    sc.advance(1, dt=59)
    assert sc.view("getRedelegations", ADDRS[D])[3] == [completion]
    sc.advance(1, dt=1)
    assert sc.view("getRedelegations", ADDRS[D]) == ([], [], [], [], [])


def test_a_shortened_period_takes_another_lane_and_completes_on_time(monkeypatch) -> None:
    monkeypatch.setattr(queues, "MAX_QUEUE_LANES", 2)
    store = Store(DictState(), STAKING_ADDRESS)
    store.set("param.unbonding_period", 100)
    store.set("param.max_entries", 7)
    a, b = ADDRS[1], ADDRS[2]
    assert queues.add_unbonding(store, a, b, 5, 1, now=1000) == 1100  # lane 0
    store.set("param.unbonding_period", 10)  # as governance may do
    assert queues.add_unbonding(store, b, a, 5, 2, now=1001) == 1011  # lane 1: not behind the 1100 entry
    assert queues.add_unbonding(store, b, a, 5, 3, now=1002) == 1012  # lane 1 again (best fit)
    store.set("param.unbonding_period", 1)
    assert queues.add_unbonding(store, b, a, 5, 4, now=1003) == 1012  # every lane ends later: behind lane 1
    store.set("param.unbonding_period", 200)
    assert queues.add_unbonding(store, b, a, 5, 5, now=1004) == 1204  # best fit: lane 0, which ends last
    assert sorted(queues.recent_entries(store, "ubd", 2, 100)) == [2, 3, 4, 5]  # slashing sees every lane
    assert list(queues.recent_entries(store, "ubd", 1, 2)) == [5, 1]  # at most ``limit`` looked at
    paid = []
    queues.mature(None, store, "ubd", 1012, lambda state, st, entry: paid.append(entry))
    assert sorted(paid) == [2, 3, 4]
    assert queues.add_redelegation(store, a, a, b, 5, 1, now=1000) == 1200
    store.set("param.unbonding_period", 1)
    assert queues.add_redelegation(store, a, a, b, 5, 1, now=1005) == 1006


def test_completion_times_in_a_chain_follow_block_time(sc: StakingChain) -> None:
    assert sc.send(D, "delegate", ADDRS[1], value=10 * PLUME).ok
    times = []
    for dt in (1, 0, 7, 0, 2):
        assert sc.send(D, "undelegate", ADDRS[1], PLUME, dt=dt).ok
        times.append(sc.chain.head.timestamp + 60)
    assert sc.view("getUnbondings", ADDRS[D], ADDRS[1])[1] == times
    assert times == sorted(times)


def _undelegations(sc: StakingChain, n: int) -> list[int]:
    """``n`` undelegations of 1 PLUME in one block, from D and 6 to validators 1..3; the senders."""
    senders = [(D, 6)[i % 2] for i in range(n)]
    txs = [sc.tx(who, calldata("delegate", ADDRS[1]), value=10 * PLUME) for who in (D, 6)]
    sc.block(txs)
    sc.block([sc.tx(who, calldata("undelegate", ADDRS[1], PLUME)) for who in senders])
    return senders


def test_at_most_max_matured_per_block_and_the_rest_next_block(monkeypatch) -> None:
    monkeypatch.setattr(queues, "MAX_MATURED_PER_BLOCK", 2)
    sc = StakingChain(StakingParams(unbonding_period=60, epoch_length=1000, max_entries=7))
    _undelegations(sc, 5)
    assert sc.view("totalUnbonding") == (5 * PLUME,)
    paid = []
    start = sc.balance(ADDRS[D]) + sc.balance(ADDRS[6])
    for dt in (60, 0, 0, 0):
        sc.advance(1, dt=dt)
        paid.append(sc.balance(ADDRS[D]) + sc.balance(ADDRS[6]) - start)
    assert paid == [2 * PLUME, 4 * PLUME, 5 * PLUME, 5 * PLUME]
    assert sc.view("totalUnbonding") == (0,)


def test_redelegation_queue_spills_over_too(monkeypatch) -> None:
    monkeypatch.setattr(queues, "MAX_MATURED_PER_BLOCK", 2)
    sc = StakingChain(StakingParams(unbonding_period=60, epoch_length=1000, max_entries=7))
    assert sc.send(D, "delegate", ADDRS[1], value=10 * PLUME).ok
    sc.block([sc.tx(D, calldata("redelegate", ADDRS[1], ADDRS[2], 1)) for _ in range(5)])
    left = []
    for dt in (60, 0, 0):
        sc.advance(1, dt=dt)
        left.append(len(sc.view("getRedelegations", ADDRS[D])[0]))
    assert left == [3, 1, 0]


def test_entries_complete_in_queue_order_across_delegators(monkeypatch) -> None:
    monkeypatch.setattr(queues, "MAX_MATURED_PER_BLOCK", 1)
    sc = StakingChain(StakingParams(unbonding_period=60, epoch_length=1000))
    senders = _undelegations(sc, 2)
    assert senders == [D, 6]
    start = {w: sc.balance(ADDRS[w]) for w in (D, 6)}
    sc.advance(1, dt=60)
    assert (sc.balance(ADDRS[D]) - start[D], sc.balance(ADDRS[6]) - start[6]) == (PLUME, 0)


def test_the_real_per_block_bound() -> None:
    """MAX_MATURED_PER_BLOCK + 1 entries due in one block: all but one paid there, the last one next block."""
    limit = queues.MAX_MATURED_PER_BLOCK
    sc = StakingChain(StakingParams(unbonding_period=60, epoch_length=10_000, max_entries=100,
                                    max_validator_share_bps=10_000))
    senders = [4, 5, 6]
    sc.block([sc.tx(w, calldata("delegate", ADDRS[1]), value=200 * PLUME) for w in senders])
    txs = [sc.tx(senders[i % 3], calldata("undelegate", ADDRS[1], PLUME)) for i in range(limit + 1)]
    for start in range(0, len(txs), 75):  # 75 undelegations fit in a block
        sc.block(txs[start:start + 75], dt=0)
    assert sc.view("totalUnbonding") == ((limit + 1) * PLUME,)
    sc.advance(1, dt=60)
    assert sc.view("totalUnbonding") == (PLUME,)
    sc.advance(1, dt=0)
    assert sc.view("totalUnbonding") == (0,)
    assert sc.balance(STAKING_ADDRESS) == sc.view("totalBonded")[0]

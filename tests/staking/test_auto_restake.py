"""Auto-restake: opted-in delegations compound after every epoch end, at most
AUTO_RESTAKE_PER_BLOCK pairs per block, each pair once per round; opting out, emptying a
delegation and the stake cap; the books still balance."""

from __future__ import annotations

import pytest
from eth.db.atomic import AtomicDB

from execution.chain import PlumeChain
from staking import autorestake, views
from staking.addresses import REWARD_POOL_ADDRESS, STAKING_ADDRESS
from staking.delegation import add_delegation
from staking.end_of_block import (
    END_OF_BLOCK_HOOKS,
    CommitSigner,
    ConsensusFacts,
    process_auto_restake,
)
from staking import rewards
from staking.params import StakingParams
from staking.store import Store
from staking_harness import ADDRS, COINBASE, PLUME, StakingChain, consensus_key

REWARD = 4 * PLUME
EPOCH = 10
PER_BLOCK = autorestake.AUTO_RESTAKE_PER_BLOCK
WITHOUT_AUTO_RESTAKE = tuple(h for h in END_OF_BLOCK_HOOKS if h is not process_auto_restake)


def signed_chain(*, params: StakingParams | None = None, hooks=END_OF_BLOCK_HOOKS) -> StakingChain:
    """Four genesis validators of 100 PLUME, all signing every block's last_commit with power 100."""
    params = params or StakingParams(unbonding_period=60, epoch_length=EPOCH, block_reward=REWARD)
    c = StakingChain(params, rewards=True)
    facts = ConsensusFacts(tuple(CommitSigner(bytes([i]) * 20, consensus_key(i), 100) for i in range(4)))
    c.chain = PlumeChain(AtomicDB(), c.chain.genesis, read_sidecar=lambda sidecar: facts, end_block_hooks=hooks)
    return c


def accounts(c: StakingChain):
    return c.chain.state_at().accounts


def tokens(c: StakingChain, delegator: bytes, validator: bytes) -> int:
    return c.view("getDelegation", delegator, validator)[1]


def assert_books_balance(c: StakingChain, extra: tuple[bytes, ...] = ()) -> None:
    view = c.chain.state_at()
    state = view.accounts
    assert state.get_balance(STAKING_ADDRESS) == (
        views.total_bonded(state) + views.total_unbonding(state) + views.outstanding_rewards(state)
    )
    everyone = {*ADDRS, STAKING_ADDRESS, REWARD_POOL_ADDRESS, COINBASE, *extra}
    assert sum(state.get_balance(a) for a in everyone) == view.total_supply()
    assert view.total_supply() == c.chain.genesis.total_supply + view.total_issued() - view.total_burned()


def to_block_before_epoch_end(c: StakingChain) -> None:
    while (c.chain.height + 1) % EPOCH:
        c.block()


# -- the method and the view -------------------------------------------------------------


def test_set_and_get_auto_restake_with_its_event():
    c = signed_chain()
    assert c.send(5, "delegate", ADDRS[1], value=10 * PLUME).ok
    assert c.view("getAutoRestake", ADDRS[5], ADDRS[1]) == (False,)
    on = c.send(5, "setAutoRestake", ADDRS[1], True)
    assert on.ok and len(on.logs) == 1
    assert c.view("getAutoRestake", ADDRS[5], ADDRS[1]) == (True,)
    again = c.send(5, "setAutoRestake", ADDRS[1], True)  # already on: nothing changes, no log
    assert again.ok and not again.logs
    off = c.send(5, "setAutoRestake", ADDRS[1], False)
    assert off.ok and len(off.logs) == 1
    assert c.view("getAutoRestake", ADDRS[5], ADDRS[1]) == (False,)
    assert views.auto_restake_pair_count(accounts(c)) == 0


def test_opting_in_needs_a_delegation_and_a_validator():
    c = StakingChain()  # no rewards: a refused call must leave the staking storage as it was
    c.refused(6, "setAutoRestake", ADDRS[1], True, reason="no delegation")
    c.refused(6, "setAutoRestake", ADDRS[7], True, reason="no validator")


def test_the_list_is_bounded(monkeypatch):
    monkeypatch.setattr(autorestake, "MAX_AUTO_RESTAKE_PAIRS", 2)
    c = StakingChain()
    for who in (5, 6):
        assert c.send(who, "delegate", ADDRS[2], value=PLUME).ok
        assert c.send(who, "setAutoRestake", ADDRS[2], True).ok
    assert c.send(7, "delegate", ADDRS[2], value=PLUME).ok
    c.refused(7, "setAutoRestake", ADDRS[2], True, reason="the auto-restake list is full (at most 2 pairs)")


def test_a_delegation_emptied_leaves_the_list():
    c = signed_chain()
    assert c.send(5, "delegate", ADDRS[1], value=10 * PLUME).ok
    assert c.send(5, "setAutoRestake", ADDRS[1], True).ok
    assert c.send(5, "undelegate", ADDRS[1], 4 * PLUME).ok
    assert c.view("getAutoRestake", ADDRS[5], ADDRS[1]) == (True,)  # still holds shares
    assert c.send(5, "redelegate", ADDRS[1], ADDRS[2], 6 * PLUME).ok
    assert c.view("getAutoRestake", ADDRS[5], ADDRS[1]) == (False,)
    assert views.auto_restake_pair_count(accounts(c)) == 0
    assert c.send(5, "delegate", ADDRS[1], value=PLUME).ok  # a new delegation starts opted out
    assert c.view("getAutoRestake", ADDRS[5], ADDRS[1]) == (False,)


# -- compounding at the epoch end ---------------------------------------------------------


def _twins(params: StakingParams | None = None) -> tuple[StakingChain, StakingChain]:
    """The same transactions on two chains, one without the auto-restake hook (it shows what was pending)."""
    return signed_chain(params=params), signed_chain(params=params, hooks=WITHOUT_AUTO_RESTAKE)


def test_the_epoch_end_compounds_exactly_the_pending_rewards():
    with_hook, without = _twins()
    for c in (with_hook, without):
        assert c.send(5, "delegate", ADDRS[1], value=20 * PLUME).ok
        assert c.send(5, "setAutoRestake", ADDRS[1], True).ok
        to_block_before_epoch_end(c)
    before = tokens(with_hook, ADDRS[5], ADDRS[1])
    for c in (with_hook, without):
        c.block()  # the epoch end: rewards allocated, then compounded
    pending = views.pending_rewards(accounts(without), ADDRS[5], ADDRS[1])
    assert pending > 0
    assert tokens(with_hook, ADDRS[5], ADDRS[1]) == before + pending
    assert views.pending_rewards(accounts(with_hook), ADDRS[5], ADDRS[1]) == 0
    # the operator did not opt in: its rewards stay pending
    assert views.pending_rewards(accounts(with_hook), ADDRS[1], ADDRS[1]) > 0
    with_hook.block()  # not an epoch end: the pair earns and nothing compounds
    assert tokens(with_hook, ADDRS[5], ADDRS[1]) == before + pending
    assert views.pending_rewards(accounts(with_hook), ADDRS[5], ADDRS[1]) > 0
    assert_books_balance(with_hook)


def test_opted_out_is_not_compounded():
    c = signed_chain()
    assert c.send(5, "delegate", ADDRS[1], value=20 * PLUME).ok
    assert c.send(5, "setAutoRestake", ADDRS[1], True).ok
    assert c.send(5, "setAutoRestake", ADDRS[1], False).ok
    start = tokens(c, ADDRS[5], ADDRS[1])
    to_block_before_epoch_end(c)
    c.block()
    assert tokens(c, ADDRS[5], ADDRS[1]) == start
    assert views.pending_rewards(accounts(c), ADDRS[5], ADDRS[1]) > 0


def test_over_the_stake_cap_the_rewards_are_paid_instead():
    # 2,600 bps: validator 1 at 105.4 of 405.4 PLUME sits just under the cap; any restake breaks it
    params = StakingParams(unbonding_period=60, epoch_length=EPOCH, block_reward=REWARD, max_validator_share_bps=2_600)
    with_hook, without = _twins(params)
    for c in (with_hook, without):
        assert c.send(5, "delegate", ADDRS[1], value=54 * PLUME // 10).ok
        assert c.send(5, "setAutoRestake", ADDRS[1], True).ok
        to_block_before_epoch_end(c)
    before, balance = tokens(with_hook, ADDRS[5], ADDRS[1]), with_hook.balance(ADDRS[5])
    for c in (with_hook, without):
        c.block()
    pending = views.pending_rewards(accounts(without), ADDRS[5], ADDRS[1])
    assert pending > 0
    assert tokens(with_hook, ADDRS[5], ADDRS[1]) == before
    assert with_hook.balance(ADDRS[5]) == balance + pending
    assert views.pending_rewards(accounts(with_hook), ADDRS[5], ADDRS[1]) == 0
    assert_books_balance(with_hook)


# -- many pairs: the bound per block and one compounding per round ------------------------

SYNTHETIC = [bytes.fromhex("5a") + i.to_bytes(19, "big") for i in range(1, 2 * PER_BLOCK + 3)]  # 130 delegators
FUNDER = 7  # pays their delegations, so the supply still adds up


def _seed(removals: dict[int, list[int]]):
    """A hook (run first) that, at height 1, gives every synthetic delegator 1 PLUME with a validator
    and opts it in; at a height in ``removals``, opts those synthetic delegators out."""

    def seed(state, ctx) -> None:
        store = Store(state, STAKING_ADDRESS)
        if ctx.height == 1:
            for i, delegator in enumerate(SYNTHETIC):
                validator = ADDRS[i % 4]
                state.delta_balance(ADDRS[FUNDER], -PLUME)
                state.delta_balance(STAKING_ADDRESS, PLUME)
                add_delegation(store, delegator, validator, PLUME)
                rewards.restart(store, delegator, validator)
                assert autorestake.enable(store, delegator, validator)
        for i in removals.get(ctx.height, ()):
            assert autorestake.disable(store, SYNTHETIC[i], ADDRS[i % 4])

    return seed


def _starts(c: StakingChain) -> list[int]:
    """Each synthetic pair's rewards period start: it moves on exactly when the pair is settled."""
    store = Store(accounts(c), STAKING_ADDRESS)
    return [store.get("rewards.start", d, ADDRS[i % 4]) for i, d in enumerate(SYNTHETIC)]


def _processed_per_block(c: StakingChain, blocks: int) -> dict[int, list[int]]:
    """Run ``blocks`` blocks; the heights at which each synthetic pair was compounded."""
    heights: dict[int, list[int]] = {i: [] for i in range(len(SYNTHETIC))}
    last = _starts(c)
    for _ in range(blocks):
        c.block()
        now = _starts(c)
        moved = [i for i in range(len(SYNTHETIC)) if now[i] != last[i]]
        assert len(moved) <= PER_BLOCK
        for i in moved:
            heights[i].append(c.chain.height)
        last = now
    return heights


@pytest.mark.parametrize("removed", [[], [3, 70, 129]])
def test_each_pair_compounds_once_per_epoch_at_most_64_per_block(removed):
    # removals in the round's second block: one processed already (3), one next (70), the last one (129)
    c = signed_chain(params=StakingParams(unbonding_period=60, epoch_length=EPOCH, block_reward=REWARD,
                                          max_validator_share_bps=10_000),
                     hooks=(_seed({EPOCH + 1: removed}), *END_OF_BLOCK_HOOKS))
    c.block()
    assert views.auto_restake_pair_count(accounts(c)) == len(SYNTHETIC)
    compounded = _processed_per_block(c, 3 * EPOCH + 4)  # to height 35
    rounds = (-(-len(SYNTHETIC) // PER_BLOCK))  # 3 blocks: 64, 64, 2
    for i, heights in compounded.items():
        if i in removed:  # opted out in the round's second block: only pair 3 was done, at the epoch end
            assert heights == ([EPOCH] if i < PER_BLOCK else []), (i, heights)
            continue
        assert len(heights) == 3, (i, heights)  # once after each of the epoch ends 10, 20 and 30
        for h, epoch_end in zip(heights, (EPOCH, 2 * EPOCH, 3 * EPOCH)):
            assert epoch_end <= h < epoch_end + rounds, (i, heights)
    assert views.auto_restake_pair_count(accounts(c)) == len(SYNTHETIC) - len(removed)
    assert_books_balance(c, extra=tuple(SYNTHETIC))


def test_a_round_longer_than_an_epoch_is_followed_by_the_next():
    # epoch of 2 blocks, 130 pairs: a round takes 3 blocks, rounds run back to back, never overlapping
    c = signed_chain(params=StakingParams(unbonding_period=60, epoch_length=2, block_reward=REWARD,
                                          max_validator_share_bps=10_000),
                     hooks=(_seed({}), *END_OF_BLOCK_HOOKS))
    c.block()
    heights = _processed_per_block(c, 12)  # heights 2 .. 13
    # rounds over heights 2-4, 5-7, 8-10, 11-13: each one queued by an epoch end during the one before
    for i, done in heights.items():
        assert len(done) == 4, (i, done)
        assert [h - done[0] for h in done] == [0, 3, 6, 9], (i, done)
    assert_books_balance(c, extra=tuple(SYNTHETIC))


def test_a_place_on_the_list_costs_one_unit_of_power_worth_of_stake():
    # the list is shared by the whole chain: 1-wei delegations must not fill it
    c = signed_chain()
    assert c.send(5, "delegate", ADDRS[1], value=PLUME - 1).ok
    out = c.send(5, "setAutoRestake", ADDRS[1], True)
    assert not out.ok and "at least" in out.reason
    assert c.send(5, "delegate", ADDRS[1], value=1).ok
    assert c.send(5, "setAutoRestake", ADDRS[1], True).ok
    assert c.view("getAutoRestake", ADDRS[5], ADDRS[1]) == (True,)
    # undelegating under the minimum takes the pair off the list
    assert c.send(5, "undelegate", ADDRS[1], 1).ok
    assert c.view("getAutoRestake", ADDRS[5], ADDRS[1]) == (False,)

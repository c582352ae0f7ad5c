"""Issue 10's first "done when", on four signing validators with transactions in every block:
pending rewards grow block by block; a claim moves exactly the pending amount; restake and
auto-restake grow the delegation; a 10% validator earns 10% of its share plus its own
stake's part, to the wei, by docs/staking.md's formulas (computed here from the block
headers alone)."""

from __future__ import annotations

from eth.db.atomic import AtomicDB

from execution.chain import PlumeChain
from staking import views
from staking.addresses import STAKING_ADDRESS
from staking.end_of_block import CommitSigner, ConsensusFacts
from staking.params import StakingParams
from staking.rewards import PRECISION
from staking_harness import ADDRS, PLUME, TIP, StakingChain, consensus_key

REWARD = 4 * PLUME
EPOCH = 20
POWER = 100  # each of the four signers
SELF = 100 * PLUME  # each genesis validator's self-delegation; commission 10%
COMMISSION_BPS = 1_000
V1 = ADDRS[1]
DELEGATOR, SENDER = 5, 6


def four_signers() -> StakingChain:
    c = StakingChain(StakingParams(unbonding_period=60, epoch_length=EPOCH, block_reward=REWARD), rewards=True)
    facts = ConsensusFacts(tuple(CommitSigner(bytes([i]) * 20, consensus_key(i), POWER) for i in range(4)))
    c.chain = PlumeChain(AtomicDB(), c.chain.genesis, read_sidecar=lambda sidecar: facts)
    return c


def transfer(c: StakingChain):
    """A plain transfer, so every block carries fees into the reward pool."""
    return c.tx(SENDER, b"", value=1, to=ADDRS[7], gas=21_000)


def pending(c: StakingChain, who: int, height: int | None = None) -> int:
    return views.pending_rewards(c.state(height), ADDRS[who], V1)


def stake(c: StakingChain, who: int, height: int | None = None) -> int:
    return next(d.tokens for d in views.delegations(c.state(height), ADDRS[who]) if d.validator == V1)


def validator_shares(c: StakingChain, heights: range) -> list[int]:
    """Each block's part for one of four equal signers, by the doc: the pool (what the last block
    left, half the block's base fee, block_reward) times 100 // 400; the remainder stays."""
    left, parts = 0, []
    for h in range(1, heights.stop):
        header = c.chain.get_header(h)
        pool = left + header.base_fee_per_gas * header.gas_used // 2 + REWARD
        part = pool * POWER // (4 * POWER)
        left = pool - 4 * part
        if h in heights:
            parts.append(part)
    return parts


def test_pending_grows_every_block_and_a_10pct_validator_earns_by_the_formula():
    c = four_signers()
    delegated = 25 * PLUME
    c.block([c.tx(DELEGATOR, b"", value=0, to=ADDRS[7], gas=21_000)])  # height 1: fees only, no change at V1
    first = c.chain.height + 1
    out = c.send(DELEGATOR, "delegate", V1, value=delegated)  # ends V1's period; one period from here on
    assert out.ok
    growth = [pending(c, DELEGATOR)]
    for _ in range(6):
        c.block([transfer(c)])
        growth.append(pending(c, DELEGATOR))
    assert all(a < b for a, b in zip(growth, growth[1:])), growth

    parts = validator_shares(c, range(1, c.chain.height + 1))
    commission = sum(p * COMMISSION_BPS // 10_000 for p in parts)
    assert all(p * COMMISSION_BPS // 10_000 == p // 10 for p in parts)  # 10% of its share, each block
    state = c.state()
    assert views.pending_commission(state, V1) == commission
    # F1: the operator's self-delegation started at genesis (ratio 0) and the delegator's when it
    # delegated (ratio of blocks 1 .. first-1, over 100 PLUME); since then one period over 125 PLUME
    before = sum(p - p // 10 for p in parts[: first - 1])
    since = sum(p - p // 10 for p in parts[first - 1:])
    ratio_before = before * PRECISION // SELF
    ratio_now = ratio_before + since * PRECISION // (SELF + delegated)
    assert views.pending_rewards(state, V1, V1) == SELF * ratio_now // PRECISION
    assert views.pending_rewards(state, ADDRS[DELEGATOR], V1) == delegated * (ratio_now - ratio_before) // PRECISION
    # what the validator's operator earns: the commission on everything plus its stake's part
    assert views.pending_commission(state, V1) + views.pending_rewards(state, V1, V1) == (
        commission + SELF * ratio_now // PRECISION
    )


def test_claim_restake_and_auto_restake_move_exactly_what_is_pending():
    c = four_signers()
    assert c.send(DELEGATOR, "delegate", V1, value=25 * PLUME).ok
    for _ in range(3):
        c.block([transfer(c)])

    # claim: rewards come at the end of a block, after its transactions: it pays what was pending before
    owed, balance = pending(c, DELEGATOR), c.balance(ADDRS[DELEGATOR])
    out = c.send(DELEGATOR, "claimRewards", V1)
    assert out.ok and owed > 0
    price = c.chain.head.base_fee_per_gas + TIP
    assert c.balance(ADDRS[DELEGATOR]) == balance + owed - out.gas_used * price

    # restake: the same amount into the delegation, nothing to the balance
    c.block([transfer(c)])
    owed, before, balance = pending(c, DELEGATOR), stake(c, DELEGATOR), c.balance(ADDRS[DELEGATOR])
    out = c.send(DELEGATOR, "restakeRewards", V1)
    assert out.ok and owed > 0
    assert stake(c, DELEGATOR) == before + owed
    assert c.balance(ADDRS[DELEGATOR]) == balance - out.gas_used * (c.chain.head.base_fee_per_gas + TIP)

    # auto-restake: at the epoch end the delegation grows with no transaction from the delegator
    assert c.send(DELEGATOR, "setAutoRestake", V1, True).ok
    while (c.chain.height + 1) % EPOCH:
        c.block([transfer(c)])
    before, balance = stake(c, DELEGATOR), c.balance(ADDRS[DELEGATOR])
    c.block([transfer(c)])
    assert stake(c, DELEGATOR) > before
    assert pending(c, DELEGATOR) == 0 and c.balance(ADDRS[DELEGATOR]) == balance
    state = c.state()
    assert state.get_balance(STAKING_ADDRESS) == (
        views.total_bonded(state) + views.total_unbonding(state) + views.outstanding_rewards(state)
    )

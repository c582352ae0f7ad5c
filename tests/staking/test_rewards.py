"""Rewards: the block's income shared among the signers by power, commission first, F1 for
delegators; claim, restake and commission withdrawal move exactly what is pending."""

from __future__ import annotations

from eth.db.atomic import AtomicDB

from execution.chain import PlumeChain
from staking import views
from staking.addresses import REWARD_POOL_ADDRESS, STAKING_ADDRESS
from staking.end_of_block import CommitSigner, ConsensusFacts
from staking.params import StakingParams
from staking.store import Store
from staking.supply import read_supply
from staking_harness import ADDRS, COINBASE, GWEI, PLUME, StakingChain, consensus_key

TIP = GWEI  # the harness's priority fee
REWARD = 4 * PLUME  # per block: a quarter to each of 4 equal signers
COMMISSION_BPS = 1_000  # the genesis validators' rate


def chain_signed_by(signers: list[int], powers: list[int] | None = None, absent: list[int] = ()) -> StakingChain:
    """Four genesis validators (100 PLUME each); every block's last_commit is signed by ``signers``,
    and the parent's set's other members named ``absent`` (the node's ``last_commit_absent``)."""
    c = StakingChain(StakingParams(unbonding_period=60, epoch_length=1000, block_reward=REWARD), rewards=True)
    powers = powers or [100] * 4
    member = [CommitSigner(bytes([i]) * 20, consensus_key(i), powers[i]) for i in range(4)]
    facts = ConsensusFacts(tuple(member[i] for i in signers), (), tuple(member[i] for i in absent))
    c.chain = PlumeChain(AtomicDB(), c.chain.genesis, read_sidecar=lambda sidecar: facts)
    return c


def accounts(c: StakingChain):
    return c.chain.state_at().accounts


def test_each_block_shares_the_reward_by_power_commission_first():
    c = chain_signed_by([0, 1, 2], powers=[100, 100, 200, 100])
    c.advance(3)
    state = accounts(c)
    total_power = 400  # of the signers
    for i, power in ((0, 100), (1, 100), (2, 200)):
        part = REWARD * power // total_power
        assert views.pending_commission(state, ADDRS[i]) == 3 * (part * COMMISSION_BPS // 10_000)
        # the operator is its validator's only delegator: it earns the rest
        assert views.pending_rewards(state, ADDRS[i], ADDRS[i]) == 3 * (part - part * COMMISSION_BPS // 10_000)
    assert views.pending_commission(state, ADDRS[3]) == 0  # did not sign
    assert views.outstanding_rewards(state) == 3 * REWARD
    assert state.get_balance(STAKING_ADDRESS) == views.total_bonded(state) + views.outstanding_rewards(state)


def test_leaving_a_precommit_out_pays_nobody_the_absent_part_burns():
    """Four equal validators: a proposer that leaves one precommit out of last_commit does not
    raise the others' shares from 1/4 to 1/3; the absent validator's quarter is burned."""
    c = chain_signed_by([0, 1, 2], absent=[3])
    c.advance(3)
    state = accounts(c)
    part = REWARD // 4  # of the whole set's power, not of the signers'
    for i in (0, 1, 2):
        assert views.pending_commission(state, ADDRS[i]) == 3 * (part * COMMISSION_BPS // 10_000)
    assert views.pending_commission(state, ADDRS[3]) == 0
    supply = read_supply(c.state())
    assert dict(supply.burned_by_cause)["AbsentSigners"] == 3 * part
    assert supply.reward_pool == 0 and views.outstanding_rewards(state) == 3 * 3 * part
    assert c.chain.genesis.total_supply + supply.total_issued - supply.total_burned == supply.total_supply


def test_delegators_share_by_stake_and_claim_exactly_what_is_pending():
    c = chain_signed_by([0, 1, 2, 3])
    assert c.send(5, "delegate", ADDRS[1], value=25 * PLUME).ok  # a fifth of validator 1's stake
    start = accounts(c)
    mine_before, before = (views.pending_rewards(start, a, ADDRS[1]) for a in (ADDRS[5], ADDRS[1]))
    c.advance(4)
    state = accounts(c)
    pending = views.pending_rewards(state, ADDRS[5], ADDRS[1])
    mine = pending - mine_before  # over the same 4 empty blocks
    operators = views.pending_rewards(state, ADDRS[1], ADDRS[1]) - before
    per_block = (REWARD // 4) * (10_000 - COMMISSION_BPS) // 10_000  # no fees: empty blocks
    assert 4 * per_block // 5 - 1 <= mine <= 4 * per_block // 5
    assert 4 * per_block * 4 // 5 - 1 <= operators <= 4 * per_block * 4 // 5
    before = c.balance(ADDRS[5])
    out = c.send(5, "claimRewards", ADDRS[1])
    assert out.ok
    gas_price = c.chain.head.base_fee_per_gas + TIP
    # rewards are allocated at the end of a block, after its transactions: the claim
    # paid exactly what was pending when its block began
    assert c.balance(ADDRS[5]) - before == pending - out.gas_used * gas_price
    # its own block's share (that block also carried the claim's fee)
    assert views.pending_rewards(accounts(c), ADDRS[5], ADDRS[1]) >= per_block // 5 - 1


def _rewards_slots(c: StakingChain) -> tuple:
    store = Store(accounts(c), STAKING_ADDRESS)
    return tuple(store.get(name, ADDRS[1]) for name in ("rewards.period", "rewards.current", "rewards.commission"))


def test_claiming_nothing_returns_zero_and_changes_nothing():
    c = chain_signed_by([])  # nobody signs: nothing is allocated
    assert c.view("pendingRewards", ADDRS[6], ADDRS[1]) == (0,)
    before = _rewards_slots(c)
    out = c.send(6, "claimRewards", ADDRS[1])
    assert out.ok and not out.logs
    assert _rewards_slots(c) == before


def test_restake_adds_the_pending_rewards_to_the_delegation():
    c = chain_signed_by([0, 1, 2, 3])
    c.advance(3)
    pending = views.pending_rewards(accounts(c), ADDRS[2], ADDRS[2])
    _, tokens = c.view("getDelegation", ADDRS[2], ADDRS[2])
    balance = c.balance(ADDRS[2])
    out = c.send(2, "restakeRewards", ADDRS[2])
    assert out.ok
    assert c.view("getDelegation", ADDRS[2], ADDRS[2])[1] == tokens + pending
    assert c.balance(ADDRS[2]) == balance - out.gas_used * (c.chain.head.base_fee_per_gas + TIP)
    state = accounts(c)
    assert state.get_balance(STAKING_ADDRESS) == views.total_bonded(state) + views.outstanding_rewards(state)


def test_withdraw_commission_pays_the_operator_exactly_its_commission():
    c = chain_signed_by([0, 1, 2, 3])
    c.advance(2)
    commission = views.pending_commission(accounts(c), ADDRS[0])
    assert commission == 2 * ((REWARD // 4) * COMMISSION_BPS // 10_000)
    balance = c.balance(ADDRS[0])
    out = c.send(0, "withdrawCommission")
    assert out.ok
    assert c.balance(ADDRS[0]) == balance + commission - out.gas_used * (c.chain.head.base_fee_per_gas + TIP)
    # this block's (which also shared the withdrawal's fee)
    assert views.pending_commission(accounts(c), ADDRS[0]) >= (REWARD // 4) * COMMISSION_BPS // 10_000


def test_supply_adds_up_with_issuance():
    c = chain_signed_by([0, 1, 3])
    assert c.send(5, "delegate", ADDRS[3], value=7 * PLUME).ok
    c.advance(2)
    assert c.send(5, "undelegate", ADDRS[3], 3 * PLUME).ok
    view = c.chain.state_at()
    state = view.accounts
    everyone = [*ADDRS, STAKING_ADDRESS, REWARD_POOL_ADDRESS, COINBASE]
    assert sum(state.get_balance(a) for a in everyone) == view.total_supply()
    assert view.total_supply() == c.chain.genesis.total_supply + view.total_issued() - view.total_burned()
    assert view.total_issued() == REWARD * c.chain.height
    assert state.get_balance(STAKING_ADDRESS) == (
        views.total_bonded(state) + views.total_unbonding(state) + views.outstanding_rewards(state)
    )


def test_an_emptied_validators_delegator_part_is_its_operators_commission():
    # the review's case: a validator with no tokens keeps signing until the set changes
    c = chain_signed_by([0, 1, 2, 3])
    assert c.send(3, "undelegate", ADDRS[3], 100 * PLUME).ok  # jailed, no tokens left, still signing
    c.advance(2)
    owed = views.pending_commission(accounts(c), ADDRS[3])
    # its undelegation's block and two more, each its whole quarter (the first with a fee share):
    # commission and the delegators' part, nobody else to share it
    assert 3 * (REWARD // 4) <= owed < 3 * (REWARD // 4) + PLUME // 100
    balance = c.balance(ADDRS[3])
    out = c.send(3, "withdrawCommission")
    assert out.ok
    assert c.balance(ADDRS[3]) == balance + owed - out.gas_used * (c.chain.head.base_fee_per_gas + TIP)

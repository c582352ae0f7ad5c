"""Double-sign slashing: evidence in a block slashes the stake the validator had when it signed,
unbonding entries made since included, burns it, jails and tombstones the validator, and takes
it out of the active set at once; F1 keeps its delegators' rewards exact across the slash."""

from __future__ import annotations

from eth.db.atomic import AtomicDB

from execution.chain import PlumeChain
from staking import abi, views
from staking.addresses import REWARD_POOL_ADDRESS, STAKING_ADDRESS
from staking.end_of_block import CommitSigner, ConsensusFacts, Misbehaviour
from staking.params import SlashingParams, StakingParams
from staking_harness import ADDRS, COINBASE, PLUME, StakingChain, consensus_key, decoded_logs


class Evidence:
    """A chain whose blocks carry whatever evidence the test puts up for the next block."""

    def __init__(self, slashing: SlashingParams = SlashingParams(), signers=(0, 1, 2, 3), reward: int = 0):
        c = StakingChain(StakingParams(unbonding_period=60, epoch_length=1000, block_reward=reward), rewards=True)
        self.c = c
        self.pending: tuple[Misbehaviour, ...] = ()
        self.signers = tuple(CommitSigner(bytes([i]) * 20, consensus_key(i), 100) for i in signers)
        genesis = c.chain.genesis.__class__(**{**c.chain.genesis.__dict__, "slashing": slashing})
        c.chain = PlumeChain(AtomicDB(), genesis, read_sidecar=self.facts)

    def facts(self, sidecar) -> ConsensusFacts:
        return ConsensusFacts(self.signers, self.pending)

    def double_sign(self, who: int, height: int, power: int) -> None:
        """The next block carries evidence that validator ``who`` double-signed at ``height``."""
        self.pending = (Misbehaviour(bytes([who]) * 20, height, consensus_key(who), power),)
        self.c.block()
        self.pending = ()

    def state(self):
        return self.c.chain.state_at().accounts


def books_balance(e: Evidence) -> None:
    view = e.c.chain.state_at()
    state = view.accounts
    everyone = [*ADDRS, STAKING_ADDRESS, REWARD_POOL_ADDRESS, COINBASE]
    assert sum(state.get_balance(a) for a in everyone) == view.total_supply()
    assert view.total_supply() == e.c.chain.genesis.total_supply + view.total_issued() - view.total_burned()
    assert state.get_balance(STAKING_ADDRESS) == (
        views.total_bonded(state) + views.total_unbonding(state) + views.outstanding_rewards(state)
    )


def test_double_sign_slashes_the_fraction_burns_it_jails_tombstones_and_drops_it_at_once():
    e = Evidence()
    c = e.c
    assert c.send(5, "delegate", ADDRS[1], value=20 * PLUME).ok  # 120 PLUME at validator 1
    infraction = c.chain.height
    burned_before = c.chain.state_at().total_burned()
    e.double_sign(1, infraction, power=120)
    state = e.state()
    info = views.validator(state, ADDRS[1], 0)
    assert info.tokens == 114 * PLUME and info.jailed and info.tombstoned  # 5% of 120 burned
    assert c.view("getDelegation", ADDRS[5], ADDRS[1])[1] == 19 * PLUME  # every share lost 5%
    assert c.view("getDelegation", ADDRS[1], ADDRS[1])[1] == 95 * PLUME
    view = c.chain.state_at()
    assert view.total_burned() - burned_before == 6 * PLUME == view.total_slashed()
    # out of the active set at the end of the same block: consensus drops it two heights later
    assert views.active_set_chosen_at(state) == c.chain.height
    assert ADDRS[1] not in [v.operator for v in views.active_set(state)]
    books_balance(e)


def test_evidence_applies_once_and_the_key_never_validates_again():
    e = Evidence()
    c = e.c
    e.double_sign(2, c.chain.height, power=100)
    tokens = views.validator(e.state(), ADDRS[2], 0).tokens
    e.double_sign(2, c.chain.height, power=100)  # the same validator again: nothing more
    assert views.validator(e.state(), ADDRS[2], 0).tokens == tokens == 95 * PLUME
    out = c.send(2, "unjail")
    assert not out.ok and "tombstoned" in out.reason
    out = c.send(6, "createValidator", consensus_key(2), "again", 0, 1000, 100, value=PLUME)
    assert not out.ok and "tombstoned" in out.reason


def test_unbonding_entries_made_since_the_infraction_are_slashed_older_ones_are_not():
    e = Evidence()
    c = e.c
    assert c.send(5, "delegate", ADDRS[3], value=20 * PLUME).ok
    assert c.send(6, "delegate", ADDRS[3], value=20 * PLUME).ok
    assert c.send(5, "undelegate", ADDRS[3], 10 * PLUME).ok  # before the infraction
    infraction = c.chain.height + 1
    assert c.send(6, "undelegate", ADDRS[3], 10 * PLUME).ok  # at the infraction height
    e.double_sign(3, infraction, power=130)  # its power then: 140 - 10
    (_,), (_,), (older,) = c.view("getUnbondings", ADDRS[5], ADDRS[3])
    (_,), (_,), (newer,) = c.view("getUnbondings", ADDRS[6], ADDRS[3])
    assert older == 10 * PLUME and newer == 95 * PLUME // 10
    # 5% of 130 is 6.5: 0.5 from the new entry, 6 from the validator's 120 tokens
    assert views.validator(e.state(), ADDRS[3], 0).tokens == 114 * PLUME
    assert c.chain.state_at().total_slashed() == 65 * PLUME // 10
    books_balance(e)


def test_evidence_older_than_max_evidence_age_slashes_nobody():
    e = Evidence(SlashingParams(max_evidence_age=3))
    c = e.c
    c.advance(5)
    e.double_sign(1, c.chain.height - 4, power=100)
    info = views.validator(e.state(), ADDRS[1], 0)
    assert info.tokens == 100 * PLUME and not info.jailed and not info.tombstoned


def test_rewards_stay_exact_across_a_slash():
    e = Evidence(reward=4 * PLUME)
    c = e.c
    assert c.send(5, "delegate", ADDRS[1], value=25 * PLUME).ok
    c.advance(3)
    e.double_sign(1, c.chain.height, power=125)
    c.advance(3)  # still signing (in consensus two more heights): rewarded on its smaller stake
    state = e.state()
    owed = sum(views.pending_rewards(state, d, v) for d in ADDRS for v in ADDRS[:4])
    owed += sum(views.pending_commission(state, v) for v in ADDRS[:4])
    assert owed <= views.outstanding_rewards(state)  # the contract can pay everything it owes
    for who in (1, 5):
        pending = views.pending_rewards(e.state(), ADDRS[who], ADDRS[1])
        assert c.send(who, "claimRewards", ADDRS[1]).ok and pending > 0
    books_balance(e)


def test_evidence_against_a_key_registered_again_since_slashes_nobody():
    e = Evidence()
    c = e.c
    assert c.send(5, "createValidator", consensus_key(5), "later", 0, 1000, 100, value=PLUME).ok
    e.double_sign(5, c.chain.height - 1, power=1)  # an infraction from before its registration
    info = views.validator(e.state(), ADDRS[5], 0)
    assert info.tokens == PLUME and not info.tombstoned


def test_a_slash_that_jails_a_redelegations_destination_logs_its_jailing():
    """Operator 2 moved 1 PLUME of its own stake from validator 1 to itself and kept only the
    minimum: validator 1's slash cuts that redelegation, jailing validator 2, and says so."""
    e = Evidence()
    c = e.c
    infraction = c.chain.height + 1
    assert c.send(2, "delegate", ADDRS[1], value=PLUME).ok
    assert c.send(2, "redelegate", ADDRS[1], ADDRS[2], PLUME).ok
    assert c.send(2, "undelegate", ADDRS[2], 100 * PLUME).ok  # 1 PLUME left: exactly the minimum
    assert not views.validator(e.state(), ADDRS[2], 0).jailed
    e.double_sign(1, infraction, power=100)
    assert views.validator(e.state(), ADDRS[2], 0).jailed
    events = [(name, values) for name, values in decoded_logs(c.chain.get_system_logs_by_hash(c.chain.head.hash))]
    assert ("Jailed", (ADDRS[2], abi.Infraction.LOW_SELF_DELEGATION, 0)) in events
    assert [name for name, _ in events] == ["Jailed", "EvidenceApplied", "Slashed", "Jailed"]
    books_balance(e)

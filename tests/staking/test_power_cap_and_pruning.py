"""No validator holds more than the cap of the active set's power, whatever the bonded total
says; validators nobody delegates to leave the registry and free their keys."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from staking.active_set import cap_powers
from staking import views
from staking.params import BPS, StakingParams
from staking_harness import ADDRS, PLUME, StakingChain, consensus_key


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 10**12), min_size=1, max_size=40), st.integers(1, BPS))
def test_capped_powers_respect_the_cap_and_only_ever_shrink(powers, cap):
    capped = cap_powers(powers, cap)
    assert len(capped) == len(powers)
    assert all(1 <= c <= p for c, p in zip(capped, powers))
    if len(powers) * cap < BPS:
        assert capped == powers  # no split can respect it: left alone
    else:
        assert max(capped) * BPS <= cap * sum(capped)
        if max(powers) * BPS <= cap * sum(powers):
            assert capped == powers  # already fine: untouched
    # the order by power is kept
    order = sorted(range(len(powers)), key=lambda i: -powers[i])
    assert [capped[i] for i in order] == sorted(capped, reverse=True)


def test_stake_parked_in_jailed_validators_buys_no_more_than_the_cap_of_the_votes():
    # the review's attack: inflate total bonded with jailed validators' stake, then fill one
    c = StakingChain(StakingParams(unbonding_period=60, epoch_length=5))
    for who in (4, 5, 6):
        assert c.send(who, "createValidator", consensus_key(who), f"v{who}", 0, 1000, 100, value=PLUME).ok
    for _ in range(10):  # the whale (7) pushes 4 and 5 up in steps under the delegation cap
        for target in (4, 5):
            out = c.send(7, "delegate", ADDRS[target], value=50 * PLUME)
            if not out.ok:
                break
    for who in (4, 5):
        assert c.send(who, "undelegate", ADDRS[who], PLUME).ok  # under the minimum: jailed
    bonded = c.view("totalBonded")[0]
    while c.send(7, "delegate", ADDRS[6], value=25 * PLUME).ok and c.view("getValidator", ADDRS[6])[2] < bonded:
        pass
    c.advance(5)
    operators, powers = c.view("getActiveValidators")
    assert max(powers) * BPS <= StakingParams().max_validator_share_bps * sum(powers), (operators, powers)


def test_an_emptied_validator_leaves_the_registry_and_its_key_is_free_again():
    c = StakingChain(StakingParams(unbonding_period=10, epoch_length=5))
    assert c.send(5, "createValidator", consensus_key(5), "squatter", 0, 1000, 100, value=PLUME).ok
    count = c.view("validatorCount")[0]
    assert c.send(5, "undelegate", ADDRS[5], PLUME).ok
    c.advance(5, dt=1)  # an epoch end while its unbonding entry is queued: it stays
    assert c.view("validatorCount")[0] == count
    c.advance(15, dt=1)  # the entry matured, then an epoch ended
    assert c.view("validatorCount")[0] == count - 1
    assert ADDRS[5] not in [bytes.fromhex(a[2:]) for a in c.view("getValidators", 0, 100)[0]]
    # its key and its operator can register again
    assert c.send(6, "createValidator", consensus_key(5), "reuse", 0, 1000, 100, value=PLUME).ok
    assert c.send(5, "createValidator", consensus_key(7), "back", 0, 1000, 100, value=PLUME).ok


def test_a_validator_is_not_removed_while_it_is_still_in_consensus():
    # with 1-block epochs a validator that left the set at E still decides E+1 and is
    # rewarded for it at the end of E+2: its key must stay its own until then (review finding)
    c = StakingChain(StakingParams(unbonding_period=1, epoch_length=1))
    assert c.send(5, "createValidator", consensus_key(5), "brief", 0, 1000, 100, value=PLUME).ok
    c.advance(2)
    assert ADDRS[5] in [bytes.fromhex(a[2:]) for a in c.view("getActiveValidators")[0]]
    assert c.send(5, "undelegate", ADDRS[5], PLUME).ok  # empty and jailed: out at this block's end
    left = c.chain.height
    c.advance(5, dt=2)  # its unbonding entry matures; removal waits for left + 3 as well
    for height in range(left, c.chain.height + 1):
        present = views.validator(c.chain.state_at(height).accounts, ADDRS[5], 0) is not None
        assert present == (height <= left + 2), (height, left)

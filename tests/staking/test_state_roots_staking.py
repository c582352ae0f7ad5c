"""Plume blocks with staking work (calls, rewards, epochs, unbonding maturity, the fee
split, end-of-block hooks) have the same state root under the per-block state work
(``PlumeAccountDB``) as under py-evm's own ``AccountDB``: every block the harness
builds and commits is validated and committed again by a second chain whose VM
state uses py-evm's ``AccountDB``, and validation compares the state root."""

from __future__ import annotations

from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execution.block import PlumeBlock
from execution.chain import PlumeChain
from execution.state_db import PlumeAccountDB
from staking.params import StakingParams
from staking_harness import ADDRS, PLUME, StakingChain


def reference_chain(genesis) -> PlumeChain:
    """A chain like the harness's, whose VM state uses py-evm's AccountDB."""
    chain = PlumeChain(AtomicDB(), genesis)
    state_class = chain.vm_class.get_state_class()
    assert state_class.account_db_class is PlumeAccountDB  # the node's, replaced below
    plain_state = state_class.configure(__name__="PlainAccountDBState", account_db_class=AccountDB)
    chain.vm_class = chain.vm_class.configure(__name__="PlainAccountDBVM", _state_class=plain_state)
    return chain


def follow_with_pyevm_account_db(sc: StakingChain) -> PlumeChain:
    """Validate (state root included) and commit each of ``sc``'s blocks on a reference chain."""
    reference = reference_chain(sc.genesis)
    assert reference.head.state_root == sc.chain.head.state_root

    def replay(harness: StakingChain) -> None:
        block = PlumeBlock.decode(harness.chain.get_block(harness.chain.height).encode())
        reference.validate_block(block)  # raises InvalidBlock on any root mismatch
        reference.commit(block)

    sc.observers.append(replay)
    return reference


# (who, action, amount in PLUME)
steps = st.lists(
    st.tuples(st.integers(4, 7), st.sampled_from(["delegate", "undelegate", "claim", "transfer", "wait"]),
              st.integers(1, 5)),
    min_size=3, max_size=14,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_staking_blocks_have_pyevm_state_roots(plan) -> None:
    sc = StakingChain(StakingParams(unbonding_period=3, epoch_length=3), rewards=True)
    reference = follow_with_pyevm_account_db(sc)
    for who, action, amount in plan:
        operator = ADDRS[amount % 4]
        if action == "delegate":
            sc.send(who, "delegate", operator, value=amount * PLUME)
        elif action == "undelegate":
            sc.send(who, "undelegate", operator, amount * PLUME // 2)  # may revert: also a state change
        elif action == "claim":
            sc.send(who, "claimRewards", operator)
        elif action == "transfer":
            sc.block([sc.tx(who, b"", value=amount, to=ADDRS[(who + amount) % 8]),
                      sc.tx(who, b"", value=0, to=bytes([0xE0 + amount]) * 20)])  # an empty account touched
        else:
            sc.advance(amount, dt=2)  # epochs end, unbonding entries mature
    assert reference.head.hash == sc.chain.head.hash

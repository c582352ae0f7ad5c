"""Governance helpers on top of ``StakingChain``: proposals, votes, periods, and changes encoded as the ABI wants."""

from __future__ import annotations

from eth_abi import encode

from staking.governance.params_registry import encode_value
from staking.governance.proposals import Status
from staking.params import GovParams
from staking_harness import PLUME, StakingChain

VOTING_PERIOD = 10  # seconds of block time
DEPOSIT_PERIOD = 20
MIN_DEPOSIT = 10 * PLUME
GOV = GovParams(min_deposit=MIN_DEPOSIT, max_deposit_period=DEPOSIT_PERIOD, voting_period=VOTING_PERIOD)
YES, ABSTAIN, NO, VETO = 1, 2, 3, 4


def change(key: str, value: int) -> tuple[str, bytes]:
    """One (key, ABI-encoded value) change in the key's type."""
    return (key, encode_value(key, value))


def uint(value: int) -> bytes:
    return encode(["uint256"], [value])


def propose(sc: StakingChain, who: int, changes=(), *, deposit: int = MIN_DEPOSIT, title: str = "t") -> int:
    """Submit a proposal (deposit ``deposit``); returns its id."""
    outcome = sc.gov_send(who, "submitProposal", title, "d", list(changes), value=deposit)
    assert outcome.ok, outcome.reason
    return sc.gov_view("proposalCount")[0]


def vote(sc: StakingChain, who: int, proposal_id: int, option: int) -> None:
    outcome = sc.gov_send(who, "vote", proposal_id, option, dt=0)
    assert outcome.ok, outcome.reason


def status(sc: StakingChain, proposal_id: int) -> Status:
    return Status(sc.gov_view("getProposal", proposal_id)[3])


def outcome_of(sc: StakingChain, proposal_id: int) -> int:
    return sc.gov_view("getProposal", proposal_id)[4]


def end_voting(sc: StakingChain, proposal_id: int) -> None:
    """Blocks until the proposal's voting period is over and it is closed."""
    end = sc.gov_view("getProposal", proposal_id)[8]
    while sc.chain.head.timestamp < end:
        sc.block(dt=1)
    while status(sc, proposal_id) in (Status.DEPOSIT_PERIOD, Status.VOTING_PERIOD):
        sc.block(dt=1)

"""A proposal in the governance contract's storage: its record, changes, deposits and votes.

Slots (keyed by proposal id; docs/governance.md lists them): ``proposal.count``;
``proposal.status``, ``proposal.outcome``, ``proposal.proposer``,
``proposal.title``, ``proposal.description`` (strings), ``proposal.submit_time``,
``proposal.deposit_end``, ``proposal.voting_start``, ``proposal.voting_end``,
``proposal.total_deposit``, ``proposal.tally`` (id, option: the final tally);
the changes ``proposal.change.count``, ``proposal.change.key`` (id, i; string),
``proposal.change.value`` (id, i); the deposits ``deposit.amount`` (id,
depositor), the list ``deposit.depositors`` (id) and ``deposit.held`` (wei of
deposits not yet returned or burned, all proposals); the votes
``vote.weights`` (id, voter; the four options' weights packed 16 bits each),
the list ``vote.voters`` (id) of voters holding a slot and ``vote.listed`` (id,
voter) set for them (a counted validator's operator votes without a slot: the
tally reads its vote in its pass over the active set); the queue
``deposit.queue`` of proposals in submission order (those in their deposit
period; ones that left it are skipped when reached); the list ``voting`` of
proposals in their voting period.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from staking.governance.tally import VoteOption, Weights
from staking.store import Fifo, IdList, Store

MAX_TITLE_BYTES = 140
MAX_DESCRIPTION_BYTES = 4_096
MAX_CHANGES = 16  # parameter changes in one proposal
MAX_VOTING_PROPOSALS = 64  # proposals in their voting period at once (deposit-period ones are not capped)
MAX_DEPOSITORS = 64  # distinct depositors of one proposal (each refund is a balance write)
MAX_DELEGATOR_VOTERS = 256  # listed voters of one proposal (validators of the counted set need no slot)
MIN_VOTER_POWER_BPS = 10  # of the bonded stake a listed voter's counted stake must be worth (0.1%)
WEIGHT_BITS = 16


class Status(IntEnum):
    DEPOSIT_PERIOD = 1
    VOTING_PERIOD = 2
    PASSED = 3
    REJECTED = 4
    DROPPED = 5  # min_deposit not reached within max_deposit_period


@dataclass(frozen=True)
class Proposal:
    id: int
    proposer: bytes
    title: str
    description: str
    status: Status
    outcome: int  # tally.Outcome once closed after voting
    submit_time: int
    deposit_end: int
    voting_start: int  # 0 until the voting period starts
    voting_end: int
    total_deposit: int
    changes: tuple[tuple[str, int], ...]


def voting_list(store: Store) -> IdList:
    return IdList(store, "voting")


def deposit_queue(store: Store) -> Fifo:
    return Fifo(store, "deposit.queue")


def voters(store: Store, proposal_id: int) -> IdList:
    return IdList(store, "vote.voters", proposal_id)


def depositors(store: Store, proposal_id: int) -> IdList:
    return IdList(store, "deposit.depositors", proposal_id)


def count(store: Store) -> int:
    return store.get("proposal.count")


def status(store: Store, proposal_id: int) -> int:
    return store.get("proposal.status", proposal_id)


def changes(store: Store, proposal_id: int) -> list[tuple[str, int]]:
    return [
        (store.get_string("proposal.change.key", proposal_id, i), store.get("proposal.change.value", proposal_id, i))
        for i in range(store.get("proposal.change.count", proposal_id))
    ]


def create(store: Store, proposer: bytes, title: str, description: str, changes_: list[tuple[str, int]],
           now: int, deposit_period: int) -> int:
    proposal_id = count(store) + 1
    store.set("proposal.count", proposal_id)
    store.set("proposal.status", proposal_id, Status.DEPOSIT_PERIOD)
    store.set_address("proposal.proposer", proposal_id, proposer)
    store.set_string("proposal.title", proposal_id, title)
    store.set_string("proposal.description", proposal_id, description)
    store.set("proposal.submit_time", proposal_id, now)
    store.set("proposal.deposit_end", proposal_id, now + deposit_period)
    store.set("proposal.change.count", proposal_id, len(changes_))
    for i, (key, value) in enumerate(changes_):
        store.set_string("proposal.change.key", proposal_id, i, key)
        store.set("proposal.change.value", proposal_id, i, value)
    deposit_queue(store).push(proposal_id)
    return proposal_id


def load(store: Store, proposal_id: int) -> Proposal:
    get = store.get
    return Proposal(
        id=proposal_id,
        proposer=store.get_address("proposal.proposer", proposal_id),
        title=store.get_string("proposal.title", proposal_id),
        description=store.get_string("proposal.description", proposal_id),
        status=Status(get("proposal.status", proposal_id)),
        outcome=get("proposal.outcome", proposal_id),
        submit_time=get("proposal.submit_time", proposal_id),
        deposit_end=get("proposal.deposit_end", proposal_id),
        voting_start=get("proposal.voting_start", proposal_id),
        voting_end=get("proposal.voting_end", proposal_id),
        total_deposit=get("proposal.total_deposit", proposal_id),
        changes=tuple(changes(store, proposal_id)),
    )


def pack_weights(weights: Weights) -> int:
    return sum(bps << (WEIGHT_BITS * (option - 1)) for option, bps in weights.items())


def unpack_weights(packed: int) -> dict[int, int]:
    mask = (1 << WEIGHT_BITS) - 1
    out = {o: (packed >> (WEIGHT_BITS * (o - 1))) & mask for o in VoteOption}
    return {o: w for o, w in out.items() if w}


def deposits_held(store: Store) -> int:
    """Wei of deposits of proposals not yet settled (``deposit.held``): the contract's balance less stray wei."""
    return store.get("deposit.held")


def votes(store: Store, proposal_id: int, operators: Iterable[bytes]) -> dict[bytes, dict[int, int]]:
    """voter -> weights of every vote on the proposal: the listed voters (at most
    MAX_DELEGATOR_VOTERS) and those of ``operators`` (the counted validators) that voted."""
    out = {}
    for item in voters(store, proposal_id).items():
        voter = item.to_bytes(20, "big")
        out[voter] = unpack_weights(store.get("vote.weights", proposal_id, voter))
    for operator in operators:
        if operator not in out:
            weights = unpack_weights(store.get("vote.weights", proposal_id, operator))
            if weights:
                out[operator] = weights
    return out

"""Read-only views of the governance contract for the node (RPC, CLI), without gas.

Each takes ``state``: anything with ``get_storage(address, slot)`` (and
``get_balance``). A proposal in its voting period comes with its live tally
(today's bonded stake, as the end of the period would count it); a closed
one with its final tally.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staking.addresses import GOVERNANCE_ADDRESS, STAKING_ADDRESS
from staking.governance import params_registry, proposals, rules
from staking.governance.proposals import Proposal, Status
from staking.governance.tally import TallyResult, counted_validators
from staking.params import GovParams
from staking.store import Store


@dataclass(frozen=True)
class ProposalView:
    proposal: Proposal
    tally: TallyResult  # live during voting (with ``bonded``), final once closed, zeros before
    voters: int


def params(state: Any) -> GovParams:
    return rules.gov_params(state)


def governed_values(state: Any) -> dict[str, int]:
    """Every governable parameter's current value, by key (``staking.unbonding_period`` ...)."""
    out = {}
    for section in params_registry.SECTIONS.values():
        for name, value in params_registry.read_section(state, section).to_mapping().items():
            out[f"{section.name}.{name}"] = value
    return {key: value for key, value in out.items() if key not in params_registry.NOT_GOVERNABLE}


def proposal_count(state: Any) -> int:
    return proposals.count(Store(state, GOVERNANCE_ADDRESS))


def proposal(state: Any, proposal_id: int) -> ProposalView | None:
    store = Store(state, GOVERNANCE_ADDRESS)
    if not 1 <= proposal_id <= proposals.count(store):
        return None
    loaded = proposals.load(store, proposal_id)
    staking = Store(state, STAKING_ADDRESS)
    if loaded.status == Status.VOTING_PERIOD:
        result = rules.current_tally(state, store, staking, proposal_id)
    else:
        final = rules.final_tally(store, proposal_id)
        bonded = sum(v.tokens for v in counted_validators(staking).values())
        result = TallyResult(*final.as_tuple(), bonded=bonded)
    return ProposalView(loaded, result, len(proposals.votes(store, proposal_id, counted_validators(staking))))


def proposal_page(state: Any, offset: int, limit: int) -> list[Proposal]:
    """Proposals ``offset + 1 .. offset + limit`` (ids start at 1), without tallies."""
    store = Store(state, GOVERNANCE_ADDRESS)
    last = min(proposals.count(store), offset + limit)
    return [proposals.load(store, i) for i in range(offset + 1, last + 1)]


def vote_of(state: Any, proposal_id: int, voter: bytes) -> dict[int, int]:
    return proposals.unpack_weights(Store(state, GOVERNANCE_ADDRESS).get("vote.weights", proposal_id, voter))


def vote_power(state: Any, proposal_id: int, voter: bytes) -> int:
    """Wei of bonded stake ``voter``'s vote counts for in the tally at this state (0 without a vote)."""
    return rules.current_power(Store(state, GOVERNANCE_ADDRESS), Store(state, STAKING_ADDRESS), proposal_id, voter)


def deposits_held(state: Any) -> int:
    """Wei of deposits of proposals not yet settled (a counter: stray wei sent to 0x…1001 is not one)."""
    return proposals.deposits_held(Store(state, GOVERNANCE_ADDRESS))

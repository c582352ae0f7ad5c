"""plume_* governance methods: the governance contract's state (0x…1001) at a block, without gas.

`plume_getProposal` gives one proposal with its tally: live during the
voting period (the stake as it is at the block, as the end of the period
will count it), final once closed. `plume_getProposals` pages through all of
them (oldest first). `plume_govParams` the governance parameters. Amounts
and times are QUANTITY; addresses checksummed; parameter values decimal
strings keyed as in genesis.json.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from typing import Any

from staking.governance import views as gov_views
from staking.governance.proposals import Proposal, Status
from staking.governance.tally import Outcome, VoteOption

from plume_node.rpc import params as p
from plume_node.rpc.chainview import BlockState, ChainView
from plume_node.rpc.dispatch import MethodTable, Param
from plume_node.rpc.encode import addr, q
from plume_node.rpc.methods_staking import MAX_PAGE, count, page_limit
from plume_node.rpc.workers import OffThread, ReadContext

table = MethodTable()
_LATEST = p.BlockRef(tag="latest")

STATUS_NAMES = {s: s.name.lower() for s in Status}
OUTCOME_NAMES = {o: o.name.lower() for o in Outcome}
OPTION_NAMES = {o: o.name.lower() for o in VoteOption}


def _block_param() -> Param:
    return Param("block", p.block_ref, _LATEST)


def _at(ctx: ReadContext, ref: p.BlockRef) -> BlockState:
    return ChainView(ctx.chain, ctx.budget).block_state_at(ref)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def proposal_json(proposal: Proposal) -> dict[str, Any]:
    closed = proposal.status in (Status.PASSED, Status.REJECTED)
    return {
        "id": q(proposal.id),
        "proposer": addr(proposal.proposer),
        "title": proposal.title,
        "description": proposal.description,
        "status": STATUS_NAMES[proposal.status],
        "outcome": OUTCOME_NAMES.get(proposal.outcome) if closed and proposal.outcome != Outcome.NONE else None,
        "submitTime": q(proposal.submit_time),
        "depositEnd": q(proposal.deposit_end),
        "votingStart": q(proposal.voting_start),
        "votingEnd": q(proposal.voting_end),
        "totalDeposit": q(proposal.total_deposit),
        "changes": [{"key": key, "value": str(value)} for key, value in proposal.changes],
    }


class _ProposalCache:
    """Answers of ``plume_getProposal`` by (block hash, id): a live tally reads thousands of slots,
    and the answer at one block never changes. At most ``MAX_CACHED_PROPOSALS`` entries, oldest out."""

    def __init__(self, limit: int) -> None:
        self.limit, self.entries, self.lock = limit, OrderedDict(), threading.Lock()

    def get(self, key: tuple[bytes, int]) -> dict[str, Any] | None:
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
            return None

    def put(self, key: tuple[bytes, int], answer: dict[str, Any]) -> None:
        with self.lock:
            self.entries[key] = answer
            while len(self.entries) > self.limit:
                self.entries.popitem(last=False)


MAX_CACHED_PROPOSALS = 256  # plume_getProposal answers kept (a few kB each)
_cache = _ProposalCache(MAX_CACHED_PROPOSALS)


def _proposal(ctx: ReadContext, proposal_id: int, ref: p.BlockRef) -> dict[str, Any] | None:
    at = _at(ctx, ref)
    header = ChainView(ctx.chain, ctx.budget).header_by_number(at.number)
    key = (header.hash, proposal_id)
    cached = _cache.get(key)
    if cached is None:
        cached = _proposal_at(at, proposal_id)
        if cached is not None:
            _cache.put(key, cached)
    return copy.deepcopy(cached)


def _proposal_at(at: BlockState, proposal_id: int) -> dict[str, Any] | None:
    view = gov_views.proposal(at.state, proposal_id)
    if view is None:
        return None
    tally = view.tally
    return {
        "blockNumber": q(at.number),
        **proposal_json(view.proposal),
        "tally": {
            "live": view.proposal.status == Status.VOTING_PERIOD,
            **{name: q(value) for name, value in zip(("yes", "abstain", "no", "veto"), tally.as_tuple())},
            "bonded": q(tally.bonded),
            "voters": q(view.voters),
        },
    }


@table.register("plume_getProposal", Param("id", count), _block_param())
def plume_get_proposal(backend: Any, proposal_id: int, ref: p.BlockRef) -> OffThread:
    """One proposal with its tally (live during voting, final once closed), or null."""
    return OffThread(lambda ctx: _proposal(ctx, proposal_id, ref))


def _vote(ctx: ReadContext, proposal_id: int, voter: bytes, ref: p.BlockRef) -> dict[str, Any]:
    at = _at(ctx, ref)
    weights = gov_views.vote_of(at.state, proposal_id, voter)
    return {
        "blockNumber": q(at.number),
        "options": [OPTION_NAMES[VoteOption(o)] for o in weights],
        "weightsBps": [q(w) for w in weights.values()],
        "power": q(gov_views.vote_power(at.state, proposal_id, voter) if weights else 0),
    }


@table.register("plume_getVote", Param("id", count), Param("voter", p.address), _block_param())
def plume_get_vote(backend: Any, proposal_id: int, voter: bytes, ref: p.BlockRef) -> OffThread:
    """One voter's vote on a proposal and the bonded stake the tally counts it for at the block."""
    return OffThread(lambda ctx: _vote(ctx, proposal_id, voter, ref))


def _proposals(ctx: ReadContext, offset: int, limit: int, ref: p.BlockRef) -> dict[str, Any]:
    at = _at(ctx, ref)
    return {
        "blockNumber": q(at.number),
        "total": q(gov_views.proposal_count(at.state)),
        "offset": q(offset),
        "proposals": [proposal_json(prop) for prop in gov_views.proposal_page(at.state, offset, limit)],
    }


@table.register(
    "plume_getProposals",
    Param("offset", count, 0),
    Param("limit", page_limit, MAX_PAGE),
    _block_param(),
)
def plume_get_proposals(backend: Any, offset: int, limit: int, ref: p.BlockRef) -> OffThread:
    """Proposals oldest first (ids from 1), a page at a time, without tallies."""
    return OffThread(lambda ctx: _proposals(ctx, offset, limit, ref))


def _gov_params(ctx: ReadContext, ref: p.BlockRef) -> dict[str, Any]:
    at = _at(ctx, ref)
    values = gov_views.params(at.state).to_mapping()
    return {
        "blockNumber": q(at.number),
        **{_camel(k): q(v) for k, v in values.items()},
        # every governable parameter by its genesis.json key, as a decimal string
        "governable": {key: str(value) for key, value in gov_views.governed_values(at.state).items()},
    }


@table.register("plume_govParams", _block_param())
def plume_gov_params(backend: Any, ref: p.BlockRef) -> OffThread:
    """The governance parameters as the contract's storage holds them at the block, and the
    current value of every parameter a proposal may change (`governable`)."""
    return OffThread(lambda ctx: _gov_params(ctx, ref))

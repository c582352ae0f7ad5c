"""The governance contract's methods: one handler per ABI method (see staking/methods.py for the shape).

Every refusal raises ``StakingRevert`` with a reason; the call frame's writes,
value transfer included, are then undone.
"""

from __future__ import annotations

from typing import Any, Callable

from staking.addresses import STAKING_ADDRESS
from staking.delegation import delegations_of
from staking.errors import StakingRevert
from staking.governance import abi as gov_abi
from staking.governance import params_registry, proposals, rules
from staking.governance.proposals import MAX_CHANGES, MAX_DEPOSITORS, Status
from staking.governance.tally import VoteOption, is_counted, voter_power
from staking.params import BPS, GovParams

MAX_PAGE = 100  # proposals getProposals returns at most
MIN_INITIAL_DEPOSIT_BPS = 1_000  # of min_deposit, sent with submitProposal (spam costs a tenth of a deposit)


def _check_text(what: str, text: str, limit: int) -> None:
    if len(text.encode()) > limit:
        raise StakingRevert(f"{what} is {len(text.encode())} bytes; at most {limit}")


def _decoded_changes(call: Any, raw_changes: tuple) -> list[tuple[str, int]]:
    """Each (key, ABI value) decoded and checked; all applied in order to today's values must fit."""
    if len(raw_changes) > MAX_CHANGES:
        raise StakingRevert(f"{len(raw_changes)} changes; a proposal holds at most {MAX_CHANGES}")
    out: list[tuple[str, int]] = []
    for key, raw in raw_changes:
        _check_text("a parameter key", key, params_registry.MAX_KEY_BYTES)
        value = params_registry.decode_value(key, raw)
        if any(key == seen for seen, _ in out):
            raise StakingRevert(f"{key} is changed twice in one proposal")
        out.append((key, value))
    params_registry.apply_changes(call.state, out, call.charge_gas)  # raises on the first change out of bounds
    return out


def _add_deposit(call: Any, proposal_id: int, params: GovParams) -> None:
    """Record ``call.value`` from the sender; start the voting period when min_deposit is reached."""
    store = call.store
    held = store.get("deposit.amount", proposal_id, call.sender)
    if held == 0:
        first = -(-params.min_deposit // MAX_DEPOSITORS)
        if call.value < first:
            raise StakingRevert(f"a first deposit must be at least {first} wei (gov.min_deposit / {MAX_DEPOSITORS})")
        listed = proposals.depositors(store, proposal_id)
        if len(listed) >= MAX_DEPOSITORS:
            raise StakingRevert(f"proposal {proposal_id} has {MAX_DEPOSITORS} depositors already; add to an existing deposit")
        listed.append(int.from_bytes(call.sender, "big"))
    store.set("deposit.amount", proposal_id, call.sender, held + call.value)
    total = store.add("proposal.total_deposit", proposal_id, call.value)
    store.add("deposit.held", call.value)
    call.emit(gov_abi.DEPOSIT_ADDED, (proposal_id, call.sender), (call.value, total))
    if proposals.status(store, proposal_id) == Status.DEPOSIT_PERIOD and total >= params.min_deposit:
        end = rules.start_voting(store, proposal_id, call.now, params.voting_period)
        call.emit(gov_abi.VOTING_STARTED, (proposal_id,), (end,))


def submit_proposal(call: Any, title: str, description: str, raw_changes: tuple) -> tuple:
    _check_text("the title", title, proposals.MAX_TITLE_BYTES)
    _check_text("the description", description, proposals.MAX_DESCRIPTION_BYTES)
    if not title.strip():
        raise StakingRevert("a proposal needs a title")
    changes = _decoded_changes(call, raw_changes)
    params = rules.gov_params(call.state, call.charge_gas)
    minimum = max(1, params.min_deposit * MIN_INITIAL_DEPOSIT_BPS // BPS)
    if call.value < minimum:
        raise StakingRevert(f"initial deposit {call.value} wei is below {minimum} wei (a tenth of gov.min_deposit)")
    proposal_id = proposals.create(call.store, call.sender, title, description, changes, call.now, params.max_deposit_period)
    call.emit(gov_abi.PROPOSAL_SUBMITTED, (proposal_id, call.sender), (title, len(changes)))
    _add_deposit(call, proposal_id, params)
    return (proposal_id,)


def _require_proposal(call: Any, proposal_id: int) -> int:
    if not 1 <= proposal_id <= proposals.count(call.store):
        raise StakingRevert(f"no proposal {proposal_id}")
    return proposals.status(call.store, proposal_id)


def deposit(call: Any, proposal_id: int) -> tuple:
    status = _require_proposal(call, proposal_id)
    if call.value == 0:
        raise StakingRevert("a deposit must be more than 0 wei")
    end_slot = "proposal.deposit_end" if status == Status.DEPOSIT_PERIOD else "proposal.voting_end"
    if status not in (Status.DEPOSIT_PERIOD, Status.VOTING_PERIOD) or call.now >= call.store.get(end_slot, proposal_id):
        raise StakingRevert(f"proposal {proposal_id} is closed: it takes no deposit")
    _add_deposit(call, proposal_id, rules.gov_params(call.state, call.charge_gas))
    return ()


def _check_weights(options: tuple, weights: tuple) -> dict[int, int]:
    if len(options) != len(weights) or not options:
        raise StakingRevert("options and weights must be non-empty lists of the same length")
    out: dict[int, int] = {}
    for option, weight in zip(options, weights):
        if option not in tuple(VoteOption):
            raise StakingRevert(f"vote option {option} is not 1 (yes), 2 (abstain), 3 (no) or 4 (no with veto)")
        if option in out or weight == 0:
            raise StakingRevert("each option may appear once, with a weight above 0")
        out[option] = weight
    if sum(out.values()) != BPS:
        raise StakingRevert(f"weights sum to {sum(out.values())} bps; they must sum to {BPS} (100%)")
    return out


def _take_voter_slot(call: Any, proposal_id: int, staking: Any) -> None:
    """A voter that operates no counted validator takes one of the proposal's MAX_DELEGATOR_VOTERS
    slots, if its counted stake is worth at least MIN_VOTER_POWER_BPS of the bonded stake (so
    filling every slot takes at least a quarter of the bonded stake, and dust cannot)."""
    minimum = staking.get("total_bonded") * proposals.MIN_VOTER_POWER_BPS // BPS
    power = voter_power(staking, call.sender)
    if power == 0 or power < minimum:
        raise StakingRevert(
            f"the sender's counted stake is {power} wei; a delegator's vote needs at least {minimum} wei "
            f"({proposals.MIN_VOTER_POWER_BPS} bps of the bonded stake)"
        )
    listed = proposals.voters(call.store, proposal_id)
    if len(listed) >= proposals.MAX_DELEGATOR_VOTERS:
        raise StakingRevert(f"proposal {proposal_id} has {proposals.MAX_DELEGATOR_VOTERS} delegator voters already")
    listed.append(int.from_bytes(call.sender, "big"))
    call.store.set("vote.listed", proposal_id, call.sender, 1)


def _cast(call: Any, proposal_id: int, weights: dict[int, int]) -> None:
    store = call.store
    status = _require_proposal(call, proposal_id)
    if status != Status.VOTING_PERIOD or call.now >= store.get("proposal.voting_end", proposal_id):
        raise StakingRevert(f"proposal {proposal_id} is not in its voting period")
    staking = call.store_of(STAKING_ADDRESS)
    if len(delegations_of(staking, call.sender)) == 0:
        raise StakingRevert("the sender has no bonded stake and no delegation: it cannot vote")
    if not is_counted(staking, call.sender) and not store.get("vote.listed", proposal_id, call.sender):
        _take_voter_slot(call, proposal_id, staking)
    store.set("vote.weights", proposal_id, call.sender, proposals.pack_weights(weights))
    call.emit(gov_abi.VOTED, (proposal_id, call.sender), (list(weights), list(weights.values())))


def vote(call: Any, proposal_id: int, option: int) -> tuple:
    _cast(call, proposal_id, _check_weights((option,), (BPS,)))
    return ()


def vote_weighted(call: Any, proposal_id: int, options: tuple, weights: tuple) -> tuple:
    if len(options) > len(VoteOption):
        raise StakingRevert(f"at most {len(VoteOption)} options")
    _cast(call, proposal_id, _check_weights(tuple(options), tuple(weights)))
    return ()


# -- views ------------------------------------------------------------------------


def get_proposal(call: Any, proposal_id: int) -> tuple:
    _require_proposal(call, proposal_id)
    p = proposals.load(call.store, proposal_id)
    return (
        p.proposer, p.title, p.description, p.status, p.outcome, p.submit_time, p.deposit_end,
        p.voting_start, p.voting_end, p.total_deposit,
        [k for k, _ in p.changes], [params_registry.encode_value(k, v) for k, v in p.changes],
    )


def get_proposals(call: Any, offset: int, limit: int) -> tuple:
    if limit > MAX_PAGE:
        raise StakingRevert(f"limit {limit} is above the page size {MAX_PAGE}")
    total = proposals.count(call.store)
    ids = list(range(offset + 1, min(total, offset + limit) + 1)) if offset < total else []
    return (ids, [proposals.status(call.store, i) for i in ids], [call.store.get_string("proposal.title", i) for i in ids])


def proposal_count(call: Any) -> tuple:
    return (proposals.count(call.store),)


def get_vote(call: Any, proposal_id: int, voter: bytes) -> tuple:
    """The vote and the stake the live tally counts it for (a pass over the active set: gas per read)."""
    weights = proposals.unpack_weights(call.store.get("vote.weights", proposal_id, voter))
    power = rules.current_power(call.store, call.store_of(STAKING_ADDRESS), proposal_id, voter) if weights else 0
    return (list(weights), list(weights.values()), power)


def get_deposit(call: Any, proposal_id: int, depositor: bytes) -> tuple:
    return (call.store.get("deposit.amount", proposal_id, depositor),)


def tally_view(call: Any, proposal_id: int) -> tuple:
    """The final tally of a closed proposal; the live tally (today's stake) during voting; zeros before."""
    status = _require_proposal(call, proposal_id)
    if status == Status.VOTING_PERIOD:
        return rules.current_tally(call.state, call.store, call.store_of(STAKING_ADDRESS), proposal_id).as_tuple()
    return rules.final_tally(call.store, proposal_id).as_tuple()


def params_view(call: Any) -> tuple:
    return tuple(rules.gov_params(call.state, call.charge_gas).to_mapping().values())


HANDLERS: dict[str, Callable[..., tuple]] = {
    "submitProposal": submit_proposal,
    "deposit": deposit,
    "vote": vote,
    "voteWeighted": vote_weighted,
    "getProposal": get_proposal,
    "getProposals": get_proposals,
    "proposalCount": proposal_count,
    "getVote": get_vote,
    "getDeposit": get_deposit,
    "tally": tally_view,
    "params": params_view,
}
assert set(HANDLERS) == {m.name for m in gov_abi.METHODS.values()}, "every ABI method needs a handler"

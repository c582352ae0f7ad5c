"""The governance contract's ABI as the precompile uses it: methods and events.

The shipped ABI JSON (``staking/interfaces/IGovernance.json``, compiled from
docs/IGovernance.sol) must agree with ``METHODS`` and ``EVENTS``; a test holds them together.
"""

from __future__ import annotations

import json
from importlib import resources

from staking.abi import Event, Method

CHANGES = "(string,bytes)[]"
PROPOSAL_VIEW = (
    "address", "string", "string", "uint8", "uint8", "uint64", "uint64", "uint64", "uint64", "uint256",
    "string[]", "bytes[]",
)
TALLY_VIEW = ("uint256",) * 4
GOV_PARAMS_VIEW = ("uint256",) * 6

_METHODS = (
    Method("submitProposal", ("string", "string", CHANGES), ("uint256",), 50_000, True, True),
    Method("deposit", ("uint256",), (), 20_000, True, True),
    Method("vote", ("uint256", "uint8"), (), 20_000, True),
    Method("voteWeighted", ("uint256", "uint8[]", "uint16[]"), (), 20_000, True),
    Method("getProposal", ("uint256",), PROPOSAL_VIEW, 2_000),
    Method("getProposals", ("uint256", "uint256"), ("uint256[]", "uint8[]", "string[]"), 2_000),
    Method("proposalCount", (), ("uint256",), 1_000),
    Method("getVote", ("uint256", "address"), ("uint8[]", "uint16[]", "uint256"), 2_000),
    Method("getDeposit", ("uint256", "address"), ("uint256",), 2_000),
    Method("tally", ("uint256",), TALLY_VIEW, 2_000),
    Method("params", (), GOV_PARAMS_VIEW, 1_000),
)
METHODS: dict[bytes, Method] = {m.selector: m for m in _METHODS}

PROPOSAL_SUBMITTED = Event("ProposalSubmitted", ("uint256", "address"), ("string", "uint256"))  # title, changes
DEPOSIT_ADDED = Event("DepositAdded", ("uint256", "address"), ("uint256", "uint256"))  # amount, total
VOTING_STARTED = Event("VotingStarted", ("uint256",), ("uint64",))  # voting end (unix s)
VOTED = Event("Voted", ("uint256", "address"), ("uint8[]", "uint16[]"))
PROPOSAL_PASSED = Event("ProposalPassed", ("uint256",), TALLY_VIEW)
PROPOSAL_REJECTED = Event("ProposalRejected", ("uint256",), ("uint8",) + TALLY_VIEW)  # reason: tally.Outcome
PROPOSAL_DROPPED = Event("ProposalDropped", ("uint256",), ("uint256",))  # deposit burned
PARAM_CHANGED = Event("ParamChanged", ("uint256",), ("string", "uint256"))  # key, new value
DEPOSITS_RETURNED = Event("DepositsReturned", ("uint256",), ("uint256",))
DEPOSITS_BURNED = Event("DepositsBurned", ("uint256",), ("uint256",))
EVENTS = (
    PROPOSAL_SUBMITTED, DEPOSIT_ADDED, VOTING_STARTED, VOTED, PROPOSAL_PASSED, PROPOSAL_REJECTED,
    PROPOSAL_DROPPED, PARAM_CHANGED, DEPOSITS_RETURNED, DEPOSITS_BURNED,
)


def shipped_abi() -> list[dict]:
    """The ABI JSON shipped in the package (``staking/interfaces/IGovernance.json``), for clients."""
    text = (resources.files("staking") / "interfaces" / "IGovernance.json").read_text(encoding="utf-8")
    return json.loads(text)["abi"]

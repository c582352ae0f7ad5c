"""plume_ governance methods over a real chain: proposals, their live tally, the governed parameters, supply.

Proposals and votes are real transactions to 0x…1001 in blocks the harness
commits; every answer is read back from py-evm storage.
"""

from __future__ import annotations

from eth_abi import encode
from eth_utils import to_checksum_address

from rpc_harness import ACCOUNTS, PLUME, sign_transfer
from staking.addresses import GOVERNANCE_ADDRESS
from staking.governance.abi import METHODS as GOV_METHODS
from staking.params import GovParams, StakingParams
from test_staking import Staker, committed_ok, create

ALICE, BOB = ACCOUNTS[:2]
GOV = "0x" + GOVERNANCE_ADDRESS.hex()
GAS = 3_000_000


def gov_calldata(name: str, *args) -> bytes:
    method = next(m for m in GOV_METHODS.values() if m.name == name)
    return method.selector + encode(list(method.inputs), list(args))


class Governor(Staker):
    async def gov(self, name: str, *args, value: int = 0) -> str:
        raw = sign_transfer(self.account, GOV, value, self.nonce, gas=GAS, data=gov_calldata(name, *args))
        self.nonce += 1
        return await self.client.call("eth_sendRawTransaction", "0x" + raw.hex())


async def test_gov_params_and_every_governable_value(client, backend):
    result = await client.call("plume_govParams")
    defaults = GovParams()
    assert result["minDeposit"] == hex(defaults.min_deposit)
    assert result["quorumBps"] == hex(3_340) and result["thresholdBps"] == hex(5_000)
    assert result["vetoThresholdBps"] == hex(3_340)
    governable = result["governable"]
    assert governable["execution.base_fee_burn_bps"] == "5000"
    assert governable["staking.unbonding_period"] == str(21 * 24 * 3600)
    assert governable["gov.voting_period"] == str(defaults.voting_period)
    assert any(key.startswith("slashing.") for key in governable)
    assert "staking.power_reduction" not in governable  # a constant of the chain


async def test_a_proposal_its_live_tally_and_pages(client, backend):
    alice, bob = Governor(client, ALICE), Governor(client, BOB)
    await committed_ok(client, backend, await create(client, alice, 1, "alice", 10 * PLUME))
    while backend.chain.height % StakingParams().epoch_length:
        backend.produce_block()  # the epoch end puts alice's validator in the active set: her vote counts
    change = ("staking.unbonding_period", encode(["uint256"], [600]))
    submitted = await bob.gov("submitProposal", "shorter unbonding", "ten minutes", [change], value=10 * PLUME)
    await committed_ok(client, backend, submitted)
    await committed_ok(client, backend, await alice.gov("vote", 1, 1))
    proposal = await client.call("plume_getProposal", 1)
    assert proposal["proposer"] == to_checksum_address(BOB.address)
    assert (proposal["title"], proposal["description"]) == ("shorter unbonding", "ten minutes")
    assert proposal["status"] == "voting_period" and proposal["outcome"] is None
    assert proposal["changes"] == [{"key": "staking.unbonding_period", "value": "600"}]
    assert proposal["totalDeposit"] == hex(10 * PLUME)
    tally = proposal["tally"]
    assert tally["live"] is True and tally["voters"] == "0x1" and tally["yes"] == hex(10 * PLUME)
    vote = await client.call("plume_getVote", 1, ALICE.address)
    assert (vote["options"], vote["weightsBps"], vote["power"]) == (["yes"], [hex(10_000)], hex(10 * PLUME))
    assert (await client.call("plume_getVote", 1, BOB.address))["power"] == "0x0"  # no vote
    assert await client.call("plume_getProposal", 2) is None
    page = await client.call("plume_getProposals", 0, 10)
    assert page["total"] == "0x1" and [p["id"] for p in page["proposals"]] == ["0x1"]
    assert (await client.call("plume_getProposals", 1, 10))["proposals"] == []
    supply = await client.call("plume_supply")
    assert supply["governanceDeposits"] == hex(10 * PLUME) and supply["burnedByGovernance"] == "0x0"


async def test_bad_params_are_refused(client, backend):
    for method, params, text in (
        ("plume_getProposal", ["0x1", "0x99"], "beyond the head"),
        ("plume_getProposal", [-1], "negative"),
        ("plume_getProposals", [0, 101], "at most 100"),
        ("plume_govParams", [{"blockHash": "0x12"}], "expected 32 bytes"),
    ):
        error = await client.error(method, *params)
        assert text in error["message"], (method, error)




async def test_a_proposal_at_one_block_is_computed_once(client, backend, monkeypatch):
    from staking.governance import views as gov_views
    bob = Governor(client, BOB)
    await committed_ok(client, backend, await bob.gov("submitProposal", "t", "d", [], value=10 * PLUME))
    computed = []
    real = gov_views.proposal

    def counting(state, proposal_id):
        computed.append(proposal_id)
        return real(state, proposal_id)

    monkeypatch.setattr(gov_views, "proposal", counting)
    first = await client.call("plume_getProposal", 1)
    assert await client.call("plume_getProposal", 1) == first
    assert computed == [1]  # the live tally's thousands of reads, once per (block, proposal)
    backend.produce_block()
    await client.call("plume_getProposal", 1)
    assert computed == [1, 1]  # a new block: computed again

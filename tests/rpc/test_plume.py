"""plume_* methods: supply and burn accounting, consensus state, commit certificates."""

from __future__ import annotations

from consensus.messages import CommitCertificate
from consensus.validators import Validator, ValidatorSet

from rpc_harness import ACCOUNTS, CHAIN_ID, PLUME, sign_transfer

from staking.params import StakingParams

ALICE, BOB, CAROL = ACCOUNTS[0], ACCOUNTS[1], ACCOUNTS[2]


async def test_supply_burn_grows_by_half_the_base_fee_of_each_tx(client, backend):
    start = await client.call("plume_supply")
    assert start == {
        "blockNumber": "0x0",
        "genesisSupply": hex(4 * 1000 * PLUME),
        "totalSupply": hex(4 * 1000 * PLUME),
        "totalBurned": "0x0",
        "burnedByBaseFee": "0x0",
        "rewardPool": "0x0",
        "stakingBalance": "0x0",
        "bonded": "0x0",
        "unbonding": "0x0",
        "totalIssued": "0x0",
        "burnedBySlashing": "0x0",
        "undistributedRewards": "0x0",
        "unwithdrawnCommission": "0x0",
        "rewardsOutstanding": "0x0",
        "burnedByGovernance": "0x0",
        "burnedBySelfDestruct": "0x0",
        "burnedByAbsentSigners": "0x0",
        "governanceDeposits": "0x0",
    }
    await client.call("eth_sendRawTransaction", "0x" + sign_transfer(ALICE, BOB.address, 1, 0).hex())
    await client.call("eth_sendRawTransaction", "0x" + sign_transfer(CAROL, BOB.address, 1, 0).hex())
    block = backend.produce_block()
    fee = block.header.base_fee_per_gas * block.header.gas_used
    after = await client.call("plume_supply")
    issued = StakingParams().block_reward  # this chain has no validators: the pool keeps it
    assert int(after["totalBurned"], 16) == fee - fee // 2
    assert int(after["burnedByBaseFee"], 16) == fee - fee // 2
    assert int(after["totalIssued"], 16) == issued
    assert int(after["rewardPool"], 16) == fee // 2 + issued
    assert int(after["totalSupply"], 16) == 4 * 1000 * PLUME - (fee - fee // 2) + issued
    # and at an older block, the old numbers
    assert await client.call("plume_supply", "0x0") == start


async def test_node_info(client, backend):
    backend.peers = 2
    info = await client.call("plume_nodeInfo")
    assert info["nodeId"] == "ab" * 20 and info["moniker"] == "test-node" and info["uptimeSeconds"] == 5
    assert info["chainId"] == hex(CHAIN_ID) and info["height"] == "0x0"
    assert info["version"] == "plume-node/v0.1.0/python"
    assert info["peers"] == 2 and info["syncing"] is False


async def test_peers_lists_bans_with_their_reasons(client, backend):
    backend.bans = [{"key": "id:" + "cd" * 20, "seconds_left": 42, "reason": "consensus message rejected: bad signature"}]
    result = await client.call("plume_peers")
    assert result == {
        "peers": [],
        "bans": [{"key": "id:" + "cd" * 20, "secondsLeft": "0x2a", "reason": "consensus message rejected: bad signature"}],
        "bansTotal": "0x1",
    }


async def test_consensus_state_passes_through(client, backend):
    state = await client.call("plume_consensusState")
    assert state["height"] == "0x1" and state["step"] == "propose"
    assert len(state["validators"]) == 3 and state["proposer"] == state["validators"][0]["address"]
    assert state["round"] == "0x0"
    assert {tuple(sorted(v)) for v in state["validators"]} == {("address", "power", "pubKey")}
    assert all(v["power"] == "0xa" for v in state["validators"])


async def test_block_commit_is_decoded_and_verifies(client, backend):
    assert await client.call("plume_getBlockCommit", "0x1") is None
    block = backend.produce_block()
    commit = await client.call("plume_getBlockCommit", "0x1")
    assert commit["height"] == "0x1" and commit["round"] == "0x0"
    assert commit["blockHash"] == "0x" + block.hash.hex()
    assert len(commit["signatures"]) == 3
    assert commit == await client.call("plume_getBlockCommit", "latest")
    assert commit == await client.call("plume_getBlockCommit", 1)
    # rebuilt from the JSON, the certificate verifies against the validator set
    stored = CommitCertificate.decode(backend.certificates[1])
    assert [s["signature"] for s in commit["signatures"]] == ["0x" + v.signature.hex() for v in stored.precommits]
    vset = ValidatorSet.new([Validator.from_pub_key(k.public_key.raw, 10) for k in backend.validator_keys])
    stored.verify(vset, str(CHAIN_ID))


async def test_corrupt_certificate_is_a_server_error(client, backend):
    backend.produce_block()
    backend.certificates[1] = b"\x93garbage"
    error = await client.error("plume_getBlockCommit", "0x1")
    assert error["code"] == -32000 and "corrupt" in error["message"]

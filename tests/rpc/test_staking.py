"""plume_ staking methods over a real chain: validators, delegations, unbondings, params, supply.

The state comes from real staking-contract calls (signed transactions to
0x…1000 in blocks the harness commits), so every answer is read back from
py-evm storage. Validators are filtered by the operators created here: a
genesis may bond validators of its own.
"""

from __future__ import annotations

from consensus.crypto import PrivateKey as EdPrivateKey
from consensus.crypto import address_of
from eth_abi import encode
from eth_utils import to_checksum_address

from rpc_harness import ACCOUNTS, PLUME, sign_transfer
from staking.abi import METHODS
from staking.addresses import STAKING_ADDRESS
from staking.params import StakingParams

ALICE, BOB, CAROL, DAVE = ACCOUNTS
STAKING = "0x" + STAKING_ADDRESS.hex()
DAY = 24 * 3600
GAS = 2_000_000


def calldata(name: str, *args) -> bytes:
    method = next(m for m in METHODS.values() if m.name == name)
    return method.selector + encode(list(method.inputs), list(args))


def consensus_key(seed: int) -> bytes:
    return EdPrivateKey.from_seed(bytes([seed]) * 32).public_key.raw


class Staker:
    """Sends staking calls from one account, tracking its nonce."""

    def __init__(self, client, account) -> None:
        self.client, self.account, self.nonce = client, account, 0
        self.address = account.address

    async def send(self, name: str, *args, value: int = 0) -> str:
        raw = sign_transfer(self.account, STAKING, value, self.nonce, gas=GAS, data=calldata(name, *args))
        self.nonce += 1
        return await self.client.call("eth_sendRawTransaction", "0x" + raw.hex())


async def committed_ok(client, backend, *tx_hashes: str) -> int:
    block = backend.produce_block()
    for tx_hash in tx_hashes:
        receipt = await client.call("eth_getTransactionReceipt", tx_hash)
        assert receipt is not None and receipt["status"] == "0x1", receipt
    return block.number


async def create(client, staker: Staker, seed: int, moniker: str, stake: int) -> str:
    return await staker.send("createValidator", consensus_key(seed), moniker, 500, 2_000, 100, value=stake)


async def test_staking_params_are_the_genesis_ones(client, backend):
    result = await client.call("plume_stakingParams")
    defaults = StakingParams()
    assert result == {
        "blockNumber": "0x0",
        "unbondingPeriod": hex(defaults.unbonding_period),
        "maxValidators": hex(defaults.max_validators),
        "epochLength": hex(defaults.epoch_length),
        "minSelfDelegation": hex(defaults.min_self_delegation),
        "maxEntries": hex(defaults.max_entries),
        "powerReduction": hex(defaults.power_reduction),
        "maxValidatorShareBps": hex(defaults.max_validator_share_bps),
        "blockReward": hex(defaults.block_reward),
    }
    assert await client.call("plume_stakingParams", "earliest") == result
    error = await client.error("plume_stakingParams", "0x5")
    assert error["code"] == -32000 and "beyond the head" in error["message"]


async def test_a_validator_and_its_delegator(client, backend):
    alice, bob = Staker(client, ALICE), Staker(client, BOB)
    hashes = [await create(client, alice, 1, "alice-node", 10 * PLUME)]
    hashes.append(await bob.send("delegate", alice.address, value=5 * PLUME))
    height = await committed_ok(client, backend, *hashes)

    v = await client.call("plume_getValidator", alice.address)
    assert v == {
        "operator": to_checksum_address(alice.address),
        "consensusPubkey": "0x" + consensus_key(1).hex(),
        "consensusAddress": "0x" + address_of(consensus_key(1)).hex(),
        "moniker": "alice-node",
        "tokens": hex(15 * PLUME),
        "shares": hex(15 * PLUME),
        "commissionBps": hex(500),
        "maxCommissionBps": hex(2_000),
        "maxChangeBps": hex(100),
        "jailed": False,
        "tombstoned": False,
        "jailedUntil": "0x0",
        "missedBlocks": "0x0",
        "status": "unbonded",  # no epoch has ended since it registered
        "statusCode": "0x0",
        "power": "0x0",
    }
    assert await client.call("plume_getValidator", alice.address, hex(height - 1)) is None
    assert await client.call("plume_getValidator", "0x" + "77" * 20) is None

    listed = await client.call("plume_getValidators")
    assert listed["blockNumber"] == hex(height) and listed["offset"] == "0x0"
    assert [x for x in listed["validators"] if x["operator"] == v["operator"]] == [v]
    assert int(listed["total"], 16) == len(listed["validators"])

    delegations = await client.call("plume_getDelegations", bob.address)
    assert delegations == {
        "blockNumber": hex(height),
        "delegator": to_checksum_address(bob.address),
        "total": "0x1",
        "offset": "0x0",
        "delegations": [{"validator": v["operator"], "shares": hex(5 * PLUME), "tokens": hex(5 * PLUME)}],
    }
    supply = await client.call("plume_supply")
    before = await client.call("plume_supply", hex(height - 1))
    assert int(supply["bonded"], 16) - int(before["bonded"], 16) == 15 * PLUME
    assert supply["unbonding"] == before["unbonding"]


async def test_unbondings_and_redelegations_mature(client, backend):
    alice, bob, carol = Staker(client, ALICE), Staker(client, BOB), Staker(client, CAROL)
    hashes = [await create(client, alice, 1, "a", 10 * PLUME), await create(client, carol, 2, "c", 10 * PLUME)]
    hashes.append(await bob.send("delegate", alice.address, value=5 * PLUME))
    await committed_ok(client, backend, *hashes)
    undelegated = await bob.send("undelegate", alice.address, PLUME)
    moved = await bob.send("redelegate", alice.address, carol.address, 2 * PLUME)
    height = await committed_ok(client, backend, undelegated, moved)
    when = (await client.call("eth_getBlockByNumber", hex(height), False))["timestamp"]
    completion = hex(int(when, 16) + StakingParams().unbonding_period)

    # the last shares of alice go too: the entries must still be found without the delegation
    emptied = await bob.send("undelegate", alice.address, 2 * PLUME)
    last = await committed_ok(client, backend, emptied)
    result = await client.call("plume_getUnbondings", bob.address)
    assert result["blockNumber"] == hex(last) and result["total"] == "0x2" and result["offset"] == "0x0"
    first = {"validator": to_checksum_address(alice.address), "creationHeight": hex(height),
             "completionTime": completion, "amount": hex(PLUME)}
    assert result["unbondings"][0] == first
    assert result["unbondings"][1]["creationHeight"] == hex(last)
    assert result["unbondings"][1]["amount"] == hex(2 * PLUME)
    assert result["redelegations"] == [
        {"src": to_checksum_address(alice.address), "dst": to_checksum_address(carol.address),
         "creationHeight": hex(height), "completionTime": completion, "amount": hex(2 * PLUME)}
    ]
    delegations = await client.call("plume_getDelegations", bob.address)
    assert [d["validator"] for d in delegations["delegations"]] == [to_checksum_address(carol.address)]
    assert (await client.call("plume_supply"))["unbonding"] == hex(3 * PLUME)

    # past the unbonding period: paid out, both queues empty
    balance = int(await client.call("eth_getBalance", bob.address), 16)
    backend.produce_block(timestamp=int(completion, 16) + DAY)
    result = await client.call("plume_getUnbondings", bob.address)
    assert result["total"] == "0x0" and result["unbondings"] == [] and result["redelegations"] == []
    assert int(await client.call("eth_getBalance", bob.address), 16) == balance + 3 * PLUME
    assert (await client.call("plume_supply"))["unbonding"] == "0x0"


async def test_pages(client, backend):
    stakers = [Staker(client, a) for a in (ALICE, BOB, CAROL)]
    hashes = [await create(client, s, 10 + i, f"v{i}", 10 * PLUME) for i, s in enumerate(stakers)]
    await committed_ok(client, backend, *hashes)
    dave = Staker(client, DAVE)
    hashes = [await dave.send("delegate", s.address, value=PLUME) for s in stakers[:2]]
    await committed_ok(client, backend, *hashes)
    # three entries with the first validator, two with the second
    hashes = [await dave.send("undelegate", stakers[0].address, 10**17) for _ in range(3)]
    hashes += [await dave.send("undelegate", stakers[1].address, 10**17) for _ in range(2)]
    await committed_ok(client, backend, *hashes)

    everyone = await client.call("plume_getValidators")
    ours = [v["operator"] for v in everyone["validators"]]
    index = ours.index(to_checksum_address(stakers[1].address))
    page = await client.call("plume_getValidators", index, 1)
    assert page["offset"] == hex(index) and [v["operator"] for v in page["validators"]] == [ours[index]]
    assert page["total"] == everyone["total"]
    assert (await client.call("plume_getValidators", "0x100000", "0x64"))["validators"] == []
    assert (await client.call("plume_getValidators", 0, 0))["validators"] == []

    all_entries = (await client.call("plume_getUnbondings", dave.address))["unbondings"]
    assert [e["validator"] for e in all_entries] == [ours[index - 1]] * 3 + [ours[index]] * 2
    page = await client.call("plume_getUnbondings", dave.address, 2, 2)
    assert page["total"] == "0x5" and page["unbondings"] == all_entries[2:4]
    assert (await client.call("plume_getUnbondings", dave.address, 4, 100))["unbondings"] == all_entries[4:]
    page = await client.call("plume_getDelegations", dave.address, 1, 1)
    assert page["total"] == "0x2" and len(page["delegations"]) == 1


async def test_bad_params_are_refused_with_the_reason(client, backend):
    cases = [
        ("plume_getValidators", [0, 101], "at most 100 per page"),
        ("plume_getValidators", [-1], "must not be negative"),
        ("plume_getValidators", ["0x"], "has no digits"),
        ("plume_getValidators", [True], "expected a hex quantity"),
        ("plume_getValidators", ["0x" + "f" * 65], "larger than 256 bits"),
        ("plume_getValidators", [0, 1, "nope"], "neither a block number"),
        ("plume_getValidator", [], "missing value for required argument 0 (operator)"),
        ("plume_getValidator", ["0x1234"], "expected 20 bytes"),
        ("plume_getDelegations", [12], "expected 0x-prefixed hex data"),
        ("plume_getDelegations", [ALICE.address, 0, "0x65"], "at most 100 per page"),
        ("plume_getUnbondings", [ALICE.address, 0, 1000], "at most 100 per page"),
        ("plume_getUnbondings", [ALICE.address, 0, 1, "latest", 5], "too many arguments"),
        ("plume_stakingParams", [{"blockHash": "0x12"}], "expected 32 bytes"),
    ]
    for method, params, reason in cases:
        error = await client.error(method, *params)
        assert error["code"] == -32602 and reason in error["message"], (method, params, error)
    error = await client.error("plume_getUnbondings", ALICE.address, 0, 1, "0x99")
    assert error["code"] == -32000 and "beyond the head" in error["message"]


def _signers(*seeds: int):
    """Consensus facts naming the validators of ``seeds`` as the signers of every block's parent."""
    from staking.end_of_block import CommitSigner, ConsensusFacts

    facts = ConsensusFacts(tuple(CommitSigner(address_of(consensus_key(s)), consensus_key(s), 10) for s in seeds))
    return lambda sidecar: facts


async def test_rewards_of_a_delegator_and_an_operator(client, backend):
    alice, bob, carol = Staker(client, ALICE), Staker(client, BOB), Staker(client, CAROL)
    hashes = [await create(client, alice, 1, "a", 10 * PLUME), await create(client, carol, 2, "c", 10 * PLUME)]
    hashes += [await bob.send("delegate", alice.address, value=5 * PLUME),
               await bob.send("delegate", carol.address, value=PLUME)]
    await committed_ok(client, backend, *hashes)
    await committed_ok(client, backend, await bob.send("setAutoRestake", carol.address, True))
    backend.chain.read_sidecar = _signers(1, 2)  # from now on both validators sign every block
    backend.produce_block()
    height = backend.produce_block().number

    result = await client.call("plume_getRewards", bob.address)
    assert result["blockNumber"] == hex(height) and result["delegator"] == to_checksum_address(bob.address)
    assert result["commission"] is None  # bob operates no validator
    by_validator = {r["validator"]: r for r in result["rewards"]}
    assert set(by_validator) == {to_checksum_address(alice.address), to_checksum_address(carol.address)}
    assert by_validator[to_checksum_address(carol.address)]["autoRestake"] is True
    assert by_validator[to_checksum_address(alice.address)]["autoRestake"] is False
    pending = [int(r["pending"], 16) for r in result["rewards"]]
    assert all(pending) and result["total"] == hex(sum(pending))
    for r in result["rewards"]:  # each as the contract's own view says
        out = await client.call("eth_call", {"to": STAKING, "data": "0x" + calldata(
            "pendingRewards", bob.address, r["validator"]).hex()})
        assert int(out, 16) == int(r["pending"], 16)

    operator = await client.call("plume_getRewards", alice.address)
    assert operator["rewards"][0]["validator"] == to_checksum_address(alice.address)  # its self-delegation
    assert int(operator["commission"], 16) > 0
    earlier = await client.call("plume_getRewards", bob.address, hex(height - 2))
    assert earlier["total"] == "0x0"  # nobody had signed yet
    nobody = await client.call("plume_getRewards", DAVE.address)
    assert nobody["rewards"] == [] and nobody["total"] == "0x0" and nobody["commission"] is None
    error = await client.error("plume_getRewards", "0x1234")
    assert error["code"] == -32602 and "expected 20 bytes" in error["message"]

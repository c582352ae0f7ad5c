"""The validator operator's path through the command line, against a real `plume-node start`.

Two more homes are `plume-node init`-ed only for their consensus keys and
keystores; their operators are funded with `tx send` and register with
`tx staking create-validator --home`. Every change is checked through the
node's JSON-RPC, not through the CLI's own output. Validators are looked up
by the operators made here: a genesis may bond validators of its own. Their
stake stays small (a few PLUME against the genesis validator's 100 units of
power): once consensus follows the contract's active set, validators without
a running node must hold well under 1/3 of the power or the chain halts.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from e2e_node import CHAIN_ID, RunningNode, fails, ok, start_node  # noqa: E402
from rpcclient import rpc  # noqa: E402
from waiting import wait_until  # noqa: E402

pytestmark = pytest.mark.slow
PLUME = 10**18
NOBODY = "0x" + "11" * 20
EPOCH = 10  # blocks: an epoch end (auto-restake) comes within seconds


@dataclass(frozen=True)
class Operator:
    home: Path
    address: str  # its keystore's `operator` account
    consensus_key: str  # 0x-hex Ed25519 public key
    consensus_address: str


@dataclass(frozen=True)
class StakingNet:
    node: RunningNode
    first: Operator
    second: Operator
    spare: str  # a funded account of the node's keystore (key "spare") that operates no validator

    def signed(self, home: Path) -> tuple[str, ...]:
        return ("--home", str(home), "--password-file", str(self.node.password_file), "--rpc", self.node.rpc_url)

    def rpc(self, method: str, *params):
        return rpc(self.node.rpc_url, method, *params)

    def pending_nonce(self, address: str) -> int:
        return int(self.rpc("eth_getTransactionCount", address, "pending"), 16)


def new_operator(node: RunningNode, home: Path) -> Operator:
    ok("init", "--home", str(home), "--chain-id", str(CHAIN_ID), "--password-file", str(node.password_file))
    key = json.loads(ok("keys", "consensus-key", "--home", str(home), "--json"))
    address = json.loads(ok("keys", "show", "operator", "--home", str(home), "--json"))["address"]
    ok("tx", "send", "--from", "operator", "--home", str(node.home), "--password-file", str(node.password_file),
       "--to", address, "--value", "50plume", "--rpc", node.rpc_url)
    return Operator(home, address, key["publicKey"], key["address"])


@pytest.fixture(scope="module")
def net(tmp_path_factory) -> StakingNet:
    tmp = tmp_path_factory.mktemp("cli-staking")
    # The validators these tests register have keys no process runs: they miss every
    # block, and the downtime rule would jail them mid-module; it is tested elsewhere.
    node = start_node(tmp, staking={"epoch_length": EPOCH}, slashing={"min_signed_per_window_bps": 0})
    try:
        first, second = new_operator(node, tmp / "first"), new_operator(node, tmp / "second")
        spare = json.loads(ok("keys", "new", "spare", "--home", str(node.home), "--password-file",
                              str(node.password_file), "--json"))["address"]
        ok("tx", "send", "--from", "operator", "--home", str(node.home), "--password-file", str(node.password_file),
           "--to", spare, "--value", "20plume", "--rpc", node.rpc_url)
        staking_net = StakingNet(node, first, second, spare)
        for operator, moniker in ((first, "first"), (second, "second")):
            ok("tx", "staking", "create-validator", "--amount", "2plume", "--commission", "5%",
               "--max-commission", "20%", "--max-change", "100bps", "--moniker", moniker,
               *staking_net.signed(operator.home))
        yield staking_net
    finally:
        node.stop()


def test_consensus_key_is_the_homes_validator_key(net):
    stored = json.loads((net.first.home / "keys" / "validator_key.json").read_text())
    assert net.first.consensus_key == "0x" + stored["public_key"]
    assert net.first.consensus_address == "0x" + stored["address"]
    assert ok("keys", "consensus-key", "--home", str(net.first.home)).strip() == net.first.consensus_key
    assert "run `plume-node init`" in fails("keys", "consensus-key", "--home", str(net.first.home / "nothing"))


def test_create_validator_registers_the_operator_with_its_key(net):
    v = net.rpc("plume_getValidator", net.first.address)
    assert v["operator"] == net.first.address and v["moniker"] == "first"
    assert v["consensusPubkey"] == net.first.consensus_key and v["consensusAddress"] == net.first.consensus_address
    assert (v["commissionBps"], v["maxCommissionBps"], v["maxChangeBps"]) == ("0x1f4", "0x7d0", "0x64")
    assert int(v["shares"], 16) == 2 * PLUME and not v["jailed"]

    rpc_url = net.node.rpc_url
    listed = json.loads(ok("query", "validators", "--rpc", rpc_url, "--json"))
    ours = {x["operator"]: x for x in listed["validators"] if x["operator"] in (net.first.address, net.second.address)}
    assert ours[net.second.address]["moniker"] == "second" and ours[net.second.address]["commissionBps"] == 500
    assert listed["total"] == len(listed["validators"])
    text = ok("query", "validators", "--rpc", rpc_url)
    assert any(line.startswith(net.second.address) and "second" in line and "5%" in line for line in text.splitlines())
    detail = json.loads(ok("query", "validator", net.second.address, "--rpc", rpc_url, "--json"))
    assert detail["consensusPubkey"] == net.second.consensus_key and detail["maxChangeBps"] == 100
    assert detail["missedBlocks"] >= 0 and detail["jailedUntil"] == 0 and detail["tombstoned"] is False
    shown = ok("query", "validator", net.second.address, "--rpc", rpc_url)
    assert "commission     5% (max 20%, change at most 1% a day)" in shown
    assert re.search(r"missed blocks  \d+ in the current signing window", shown), shown
    assert "no validator is operated by" in fails("query", "validator", NOBODY, "--rpc", rpc_url)

    # the same key cannot be registered twice: refused with the contract's reason, nothing sent
    before = net.pending_nonce(net.spare)
    message = fails("tx", "staking", "create-validator", "--amount", "2plume", "--commission", "5%",
                    "--max-commission", "20%", "--max-change", "1%", "--moniker", "copy", "--from", "spare",
                    "--consensus-pubkey", net.first.consensus_key, *net.signed(net.node.home))
    assert "is already used by another validator" in message and "nothing was sent" in message
    assert net.pending_nonce(net.spare) == before


def test_delegate_undelegate_cancel_and_redelegate(net):
    me = net.node.operator().address
    first, second = net.first.address, net.second.address
    signed = net.signed(net.node.home)

    ok("tx", "staking", "delegate", first, "3plume", *signed)
    assert _tokens(net, me) == {first: 3 * PLUME}

    out = json.loads(ok("tx", "staking", "undelegate", first, "1plume", *signed, "--json"))
    assert out["status"] == "success" and out["method"] == "undelegate"
    height, completes = out["creationHeight"], out["completionTime"]
    block_time = int(net.rpc("eth_getBlockByNumber", hex(height), False)["timestamp"], 16)
    params = net.rpc("plume_stakingParams")
    assert out["blockNumber"] == height and completes == block_time + int(params["unbondingPeriod"], 16)
    entries = net.rpc("plume_getUnbondings", me)["unbondings"]
    assert entries == [{"validator": first, "creationHeight": hex(height), "completionTime": hex(completes),
                        "amount": hex(PLUME)}]

    text = ok("tx", "staking", "cancel-unbonding", first, str(height), "0.4plume", *signed)
    assert "status    success" in text
    assert net.rpc("plume_getUnbondings", me)["unbondings"][0]["amount"] == hex(6 * PLUME // 10)
    assert _tokens(net, me) == {first: 24 * PLUME // 10}

    out = json.loads(ok("tx", "staking", "redelegate", first, second, "1plume", *signed, "--json"))
    assert out["status"] == "success" and out["completionTime"] >= completes
    assert _tokens(net, me) == {first: 14 * PLUME // 10, second: PLUME}
    moved = net.rpc("plume_getUnbondings", me)["redelegations"]
    assert [(r["src"], r["dst"], r["amount"]) for r in moved] == [(first, second, hex(PLUME))]

    rpc_url = net.node.rpc_url
    listed = json.loads(ok("query", "delegations", me, "--rpc", rpc_url, "--json"))
    ours = {d["validator"]: d["tokens"] for d in listed["delegations"] if d["validator"] in (first, second)}
    assert ours == {first: str(14 * PLUME // 10), second: str(PLUME)}
    assert any(line.startswith(second) and "1 PLUME" in line
               for line in ok("query", "delegations", me, "--rpc", rpc_url).splitlines())
    pending = json.loads(ok("query", "unbondings", me, "--rpc", rpc_url, "--json"))
    assert pending["unbondings"][0]["amount"] == str(6 * PLUME // 10)
    assert pending["unbondings"][0]["creationHeight"] == height
    assert pending["redelegations"][0]["amount"] == str(PLUME)
    text = ok("query", "unbondings", me, "--rpc", rpc_url)
    assert "0.6 PLUME" in text and "redelegations" in text

    supply = json.loads(ok("query", "supply", "--rpc", rpc_url, "--json"))
    assert int(supply["unbonding"]) >= 6 * PLUME // 10 and int(supply["bonded"]) >= 4 * PLUME + 24 * PLUME // 10


def _tokens(net: StakingNet, delegator: str) -> dict[str, int]:
    ours = (net.first.address, net.second.address)
    listed = net.rpc("plume_getDelegations", delegator)["delegations"]
    return {d["validator"]: int(d["tokens"], 16) for d in listed if d["validator"] in ours}


def test_edit_validator_keeps_what_is_not_given(net):
    ok("tx", "staking", "edit-validator", "--moniker", "first-renamed", *net.signed(net.first.home))
    v = net.rpc("plume_getValidator", net.first.address)
    assert v["moniker"] == "first-renamed" and v["commissionBps"] == "0x1f4"
    # a rate change within 24 h of the last one (creation counts) is refused before anything is sent
    before = net.pending_nonce(net.first.address)
    message = fails("tx", "staking", "edit-validator", "--commission", "6%", *net.signed(net.first.home))
    assert "refuses editValidator: commission was changed less than 24 h ago" in message
    assert net.pending_nonce(net.first.address) == before
    assert net.rpc("plume_getValidator", net.first.address)["moniker"] == "first-renamed"
    assert "nothing to change" in fails("tx", "staking", "edit-validator", *net.signed(net.first.home), code=2)
    assert f"{net.spare} operates no validator" in fails("tx", "staking", "edit-validator", "--commission", "1%",
                                                        "--from", "spare", *net.signed(net.node.home))


def test_a_refused_call_prints_the_reason_and_sends_nothing(net):
    spare = ("--from", "spare", *net.signed(net.node.home))
    before, balance = net.pending_nonce(net.spare), net.rpc("eth_getBalance", net.spare)
    message = fails("tx", "staking", "delegate", NOBODY, "1plume", *spare)
    assert message == (f"Error: the staking contract refuses delegate: no validator with operator {NOBODY} "
                       f"(nothing was sent)")
    message = fails("tx", "staking", "undelegate", net.second.address, "1plume", *spare)
    assert "refuses undelegate: no delegation from" in message
    message = fails("tx", "staking", "delegate", net.second.address, "1000plume", *spare)
    # the node's wording, with the numbers (no py-evm sentence)
    assert f"insufficient funds for gas * price + value: address {net.spare.lower()} has " in message
    assert net.pending_nonce(net.spare) == before and net.rpc("eth_getBalance", net.spare) == balance
    before = net.pending_nonce(net.first.address)
    assert "refuses unjail: the validator is not jailed" in fails("tx", "staking", "unjail", *net.signed(net.first.home))
    assert net.pending_nonce(net.first.address) == before


def test_rates_must_say_their_unit(net):
    base = ("tx", "staking", "create-validator", "--amount", "2plume", "--max-commission", "20%",
            "--max-change", "1%", "--moniker", "x", *net.signed(net.node.home))
    assert "a bare number is ambiguous" in fails(*base, "--commission", "5", code=2)
    assert "fraction of a basis point" in fails(*base, "--commission", "5.001%", code=2)
    assert "above 100%" in fails(*base, "--commission", "100.01%", code=2)


def test_a_validator_under_its_minimum_is_jailed_and_unjails(net):
    signed = net.signed(net.second.home)
    minimum = int(net.rpc("plume_stakingParams")["minSelfDelegation"], 16)
    own = int(net.rpc("plume_getDelegations", net.second.address)["delegations"][0]["tokens"], 16)
    below = own - minimum + 1  # leaves one wei under the minimum
    ok("tx", "staking", "undelegate", net.second.address, str(below), *signed)
    assert net.rpc("plume_getValidator", net.second.address)["jailed"] is True
    assert "jailed" in ok("query", "validator", net.second.address, "--rpc", net.node.rpc_url)
    message = fails("tx", "staking", "unjail", *signed)
    assert "refuses unjail: self-delegation" in message and "is below the minimum" in message
    ok("tx", "staking", "delegate", net.second.address, str(below), *signed)
    text = ok("tx", "staking", "unjail", *signed)
    assert "status    success" in text
    assert net.rpc("plume_getValidator", net.second.address)["jailed"] is False


def _rewards(net: StakingNet, address: str, height: int) -> dict[str, dict]:
    result = net.rpc("plume_getRewards", address, hex(height))
    return {r["validator"]: r for r in result["rewards"]}


def _pending(net: StakingNet, delegator: str, validator: str, height: int) -> int:
    return int(_rewards(net, delegator, height)[validator]["pending"], 16)


def _stake(net: StakingNet, delegator: str, validator: str, height: int) -> int:
    listed = net.rpc("plume_getDelegations", delegator, 0, 100, hex(height))["delegations"]
    return next(int(d["tokens"], 16) for d in listed if d["validator"] == validator)


def _height(net: StakingNet) -> int:
    return int(net.rpc("eth_blockNumber"), 16)


def _balance(net: StakingNet, address: str, height: int) -> int:
    return int(net.rpc("eth_getBalance", address, hex(height)), 16)


def test_rewards_claim_restake_auto_restake_and_commission(net):
    # the genesis validator is operated by the node's own key, and it is the one that signs
    me = net.node.operator().address
    assert net.rpc("plume_getValidator", me) is not None
    spare = ("--from", "spare", *net.signed(net.node.home))
    start = json.loads(ok("tx", "staking", "delegate", me, "5plume", *spare, "--json"))["blockNumber"]

    # pending rewards grow block by block
    wait_until(lambda: _height(net) >= start + 3, 60, "three more blocks")
    growth = [_pending(net, net.spare, me, h) for h in range(start, start + 4)]
    assert all(a < b for a, b in zip(growth, growth[1:])), growth

    # claim moves exactly what was pending when its block began (rewards come at the block's end)
    out = json.loads(ok("tx", "staking", "claim", me, *spare, "--json"))
    n, amount = out["blockNumber"], int(out["amount"])
    assert out["status"] == "success" and amount == _pending(net, net.spare, me, n - 1) > 0
    fee = out["gasUsed"] * int(out["effectiveGasPrice"])
    assert _balance(net, net.spare, n) - _balance(net, net.spare, n - 1) == amount - fee

    # restake adds it to the delegation instead
    out = json.loads(ok("tx", "staking", "restake", me, *spare, "--json"))
    n, amount = out["blockNumber"], int(out["amount"])
    assert amount == _pending(net, net.spare, me, n - 1) > 0
    assert _stake(net, net.spare, me, n) == _stake(net, net.spare, me, n - 1) + amount

    # auto-restake: after the next epoch end the delegation grew with no transaction from spare
    assert "compound into the delegation" in ok("tx", "staking", "auto-restake", me, "on", *spare)
    shown = json.loads(ok("query", "rewards", net.spare, "--rpc", net.node.rpc_url, "--json"))
    assert [r["autoRestake"] for r in shown["rewards"] if r["validator"] == me] == [True]
    assert shown["commission"] is None and int(shown["total"]) >= int(
        next(r["pending"] for r in shown["rewards"] if r["validator"] == me))
    nonce = net.pending_nonce(net.spare)
    epoch_end = (_height(net) // EPOCH + 1) * EPOCH
    wait_until(lambda: _height(net) >= epoch_end, 60, f"the epoch end at height {epoch_end}")
    assert _stake(net, net.spare, me, epoch_end) > _stake(net, net.spare, me, epoch_end - 1)
    assert _pending(net, net.spare, me, epoch_end) == 0  # compounded after the block's rewards
    assert net.pending_nonce(net.spare) == nonce
    ok("tx", "staking", "auto-restake", me, "off", *spare)
    assert "off" in ok("query", "rewards", net.spare, "--rpc", net.node.rpc_url).splitlines()[2]

    # the operator's commission: exactly what had accumulated
    out = json.loads(ok("tx", "staking", "withdraw-commission", *net.signed(net.node.home), "--json"))
    n = out["blockNumber"]
    before = int(net.rpc("plume_getRewards", me, hex(n - 1))["commission"], 16)
    assert int(out["amount"]) == before > 0
    text = ok("query", "rewards", me, "--rpc", net.node.rpc_url)
    assert "pending commission" in text and "total pending rewards" in text

    # refusals print the contract's reason and send nothing
    before = net.pending_nonce(net.spare)
    assert "refuses setAutoRestake: no delegation from" in fails("tx", "staking", "auto-restake", net.first.address,
                                                                  "on", *spare)
    assert "refuses withdrawCommission: no validator with operator" in fails("tx", "staking", "withdraw-commission",
                                                                            *spare)
    assert net.pending_nonce(net.spare) == before
    assert "'maybe' is not one of 'on', 'off'" in fails("tx", "staking", "auto-restake", me, "maybe", *spare, code=2)

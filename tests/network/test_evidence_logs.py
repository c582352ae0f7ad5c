"""Double-sign events on a real 4-validator devnet: `debug double-sign` (evidence carried in a
sidecar) logs EvidenceApplied, Slashed and Jailed as end-of-block logs that eth_getLogs serves;
a transaction calling `submitEvidence` with valid evidence slashes and logs in its receipt; each
bad input reverts with its reason and slashes nobody; a node that joins later and block-syncs
from height 1 serves the same logs."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from eth_abi import decode
from eth_utils import keccak, to_checksum_address
from web3 import Web3

import stakingrpc
from netharness import Net
from rpcclient import RpcError, rpc
from waiting import wait_until

from consensus.crypto import PrivateKey
from consensus.messages import PREVOTE, DuplicateVoteEvidence, Vote
from plume_node.config import load_config
from plume_node.home import Home
from plume_node.node_keys import load_key_file
from staking import abi

pytestmark = pytest.mark.slow
STAKING = stakingrpc.STAKING
TOPIC = {e.name: "0x%064x" % e.topic0 for e in abi.EVENTS}


def validator_key(home) -> PrivateKey:
    return PrivateKey.from_seed(load_key_file(Home(home).validator_key_path).private_bytes)


def evidence(key: PrivateKey, chain_id: str, height: int, tags=(b"a", b"b"), signer: PrivateKey | None = None) -> bytes:
    votes = []
    for tag in tags:
        vote = Vote(PREVOTE, height, 0, hashlib.sha256(tag).digest(), key.address)
        votes.append(vote.with_signature((signer or key).sign(vote.sign_bytes(chain_id))))
    return DuplicateVoteEvidence.from_votes(*votes).encode()


def revert_reason(url: str, sender: str, data: bytes) -> str:
    """What eth_call of submitEvidence(data) reverts with (it must revert)."""
    try:
        rpc(url, "eth_call", {"from": sender, "to": STAKING, "data": stakingrpc.calldata("submitEvidence", data)})
    except RpcError as exc:
        raw = bytes.fromhex(exc.error["data"][2:])
        assert raw[:4] == abi.ERROR_SELECTOR, exc.error
        return decode(["string"], raw[4:])[0]
    raise AssertionError("submitEvidence did not revert")


def staking_logs(url: str, **flt) -> list[dict]:
    return rpc(url, "eth_getLogs", {"address": STAKING, **flt})


def test_double_sign_logs_by_sidecar_and_by_transaction_and_on_a_synced_node(tmp_path):
    net = Net.create(tmp_path / "net", 4, full_nodes=1, settings=("staking.epoch_length=5",))
    try:
        net.start(range(4))  # the full node starts later: it block-syncs
        net.wait_height(range(4), 2)
        url, chain_id = net.nodes[0].rpc_url, str(net.chain_id)
        operators = [to_checksum_address(load_config(n.home / "config.toml").fee_address) for n in net.nodes[:4]]
        sender = net.accounts[1]

        # 1. debug double-sign against validator 3: the evidence goes in a sidecar
        done = subprocess.run([sys.executable, "-m", "plume_node.cli", "debug", "double-sign", "--home",
                               str(net.nodes[3].home), "--rpc", url, "--yes-slash-me", "--json"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        digest = json.loads(done.stdout)["evidence"]
        applied = wait_until(lambda: staking_logs(url, fromBlock="0x0", topics=[TOPIC["EvidenceApplied"]]), 60,
                             "EvidenceApplied in eth_getLogs")
        block_hash, height = applied[0]["blockHash"], int(applied[0]["blockNumber"], 16)
        in_block = staking_logs(url, blockHash=block_hash)[-3:]
        assert [entry["topics"][0] for entry in in_block] == [TOPIC["EvidenceApplied"], TOPIC["Slashed"], TOPIC["Jailed"]]
        assert {entry["topics"][1][-40:] for entry in in_block} == {operators[3][2:].lower()}
        assert in_block[0]["data"][:66] == digest  # evidenceHash, then the infraction height
        block = rpc(url, "eth_getBlockByNumber", hex(height), False)
        derived = "0x" + keccak(b"plume-end-of-block" + height.to_bytes(8, "big") + bytes.fromhex(block_hash[2:])).hex()
        assert all(entry["transactionHash"] == derived for entry in in_block)
        assert all(entry["transactionIndex"] == hex(len(block["transactions"])) for entry in in_block)

        # 2. submitEvidence by transaction: every bad input reverts with its reason and slashes nobody
        key2, key3 = validator_key(net.nodes[2].home), validator_key(net.nodes[3].home)
        h = net.nodes[0].height()
        stranger = PrivateKey.from_seed(b"\x11" * 32)
        bad = [
            (b"\x00garbage", "malformed evidence"),
            (evidence(key2, chain_id, h, tags=(b"a", b"a")), "malformed evidence"),  # two votes, one block
            (evidence(key2, "9999", h), "bad signature"),  # another chain id
            (evidence(key2, chain_id, h, signer=stranger), "bad signature"),
            (evidence(stranger, chain_id, h), "validator not in the set of the evidence height"),
            (evidence(key2, chain_id, h + 1000), "evidence height is not a past height"),
            (bytes.fromhex(digest[2:]) * 20, "over the 580-byte bound"),
            (evidence(key3, chain_id, 2), "evidence already applied"),  # validator 3: slashed once, by the sidecar
        ]
        for data, reason in bad:
            assert reason in revert_reason(url, sender["address"], data)
            receipt = stakingrpc.send(url, net.chain_id, sender["private_key"], "submitEvidence", data)
            assert receipt["status"] == "0x0" and receipt["logs"] == [], reason
        assert not rpc(url, "plume_getValidator", operators[2])["tombstoned"]

        # valid evidence against validator 2: slashed in the transaction, logged in its receipt
        good = evidence(key2, chain_id, net.nodes[0].height())
        receipt = stakingrpc.send(url, net.chain_id, sender["private_key"], "submitEvidence", good)
        assert receipt["status"] == "0x1", receipt
        assert [entry["topics"][0] for entry in receipt["logs"]] == [TOPIC["EvidenceApplied"], TOPIC["Slashed"], TOPIC["Jailed"]]
        assert receipt["logs"][0]["data"][:66] == "0x" + keccak(good).hex()
        assert rpc(url, "plume_getValidator", operators[2])["tombstoned"]
        last = int(receipt["blockNumber"], 16)

        # web3.py decodes both kinds with the shipped ABI: by sidecar (end-of-block) and by transaction
        contract = Web3(Web3.HTTPProvider(url)).eth.contract(address=STAKING, abi=abi.shipped_abi())
        found = contract.events.EvidenceApplied().get_logs(from_block=0, to_block=last)
        assert [(e.args.operator, "0x" + e.args.evidenceHash.hex()) for e in found] == [
            (operators[3], digest), (operators[2], "0x" + keccak(good).hex())]
        assert found[0].transactionHash.to_0x_hex() == derived

        # 3. the chain goes on with 0 and 1; a node syncing from height 1 serves the same logs
        net.wait_height(range(2), last + 8)
        net.start([4])
        net.wait_height([4], last + 8, timeout=120)
        everything = {"fromBlock": "0x0", "toBlock": hex(last + 8)}
        assert staking_logs(net.nodes[4].rpc_url, **everything) == staking_logs(url, **everything)
        assert rpc(net.nodes[4].rpc_url, "eth_getBlockByNumber", hex(height), False)["logsBloom"] == block["logsBloom"]
    finally:
        net.stop_all()

"""The application decodes a proposal's block with its pool's transactions, safely.

Two real nodes (not running) from the same home: the proposer builds block 1,
the other validates and commits it through `apply_synced_block`, with its own
pool holding a transaction of the same sender and nonce as the block's, or
the block's very bytes.
"""

from __future__ import annotations

import shutil

import pytest
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from node_helpers import CHAIN_ID, PASSWORD, fast_config, make_home

from consensus.actions import BlockVerdict
from consensus.messages import PRECOMMIT, CommitCertificate, Vote
from plume_node.app import SyncedBlock
from plume_node.home import Home
from plume_node.keystore import Keystore
from plume_node.node import Node

GWEI = 10**9
RECEIVER = bytes.fromhex("5eed" * 10)


@pytest.fixture
def two_nodes(tmp_path):
    """(proposer, validator): the same home (keys, genesis), separate databases."""
    home = make_home(tmp_path / "proposer")
    shutil.copytree(home.root, tmp_path / "validator")
    other = Home.at(tmp_path / "validator")
    proposer = Node.open(home, fast_config(home))
    validator = Node.open(other, fast_config(other))
    yield proposer, validator
    proposer.close()
    validator.close()


def _transfer(node: Node, value: int) -> bytes:
    account: Account = Keystore(node.home.root).unlock("operator", PASSWORD)
    signed = account.sign_transaction({
        "type": 2, "chainId": CHAIN_ID, "nonce": 0, "to": to_checksum_address(RECEIVER), "value": value,
        "gas": 21000, "maxFeePerGas": 10 * GWEI, "maxPriorityFeePerGas": GWEI, "data": b"",
    })
    return bytes(signed.raw_transaction)


def _proposal(proposer: Node, raw: bytes) -> tuple[bytes, bytes, bytes]:
    """(block hash, block bytes, certificate bytes) of block 1 carrying `raw`."""
    proposer.submit_transaction(raw)
    block_hash, payload = proposer.app.propose_block(1, 0)
    precommit = proposer.signer.sign(Vote(PRECOMMIT, 1, 0, block_hash, proposer.validator_address))
    return block_hash, payload, CommitCertificate(1, 0, block_hash, (precommit,)).encode()


def test_a_block_tx_with_a_pooled_twins_sender_and_nonce_executes_as_the_block_says(two_nodes) -> None:
    proposer, validator = two_nodes
    in_block, pooled = _transfer(proposer, value=2), _transfer(proposer, value=1)
    block_hash, payload, cert = _proposal(proposer, in_block)
    validator.submit_transaction(pooled)
    assert keccak(pooled) in validator.mempool
    assert validator.app.apply_synced_block(1, payload, cert) == (SyncedBlock.COMMITTED, "")
    assert validator.app.chain.state_at().balance(RECEIVER) == 2  # the block's version ran
    assert validator.app.chain.get_block(1).tx_hashes == (keccak(in_block),)
    assert keccak(pooled) not in validator.mempool  # its nonce is used: dropped at recheck


def test_a_pooled_txs_bytes_altered_in_a_block_are_a_payload_mismatch(two_nodes) -> None:
    proposer, validator = two_nodes
    raw = _transfer(proposer, value=1)
    altered = _transfer(proposer, value=3)  # same length, valid, another hash
    block_hash, payload, _cert = _proposal(proposer, raw)
    validator.submit_transaction(raw)
    tampered = payload.replace(raw, altered)
    assert tampered != payload
    verdict, reason = validator.app.validate_block(1, block_hash, tampered)
    assert verdict is BlockVerdict.PAYLOAD_MISMATCH, reason
    assert validator.app.validate_block(1, block_hash, payload) == (BlockVerdict.VALID, "")


def test_the_application_decodes_with_its_pools_objects(two_nodes, monkeypatch) -> None:
    proposer, validator = two_nodes
    raw = _transfer(proposer, value=1)
    block_hash, payload, _cert = _proposal(proposer, raw)
    validator.submit_transaction(raw)
    answers = []
    lookup = validator.mempool.known_tx

    def spy(tx_hash, tx_bytes):
        answers.append(lookup(tx_hash, tx_bytes))
        return answers[-1]

    monkeypatch.setattr(validator.mempool, "known_tx", spy)
    assert validator.app.validate_block(1, block_hash, payload) == (BlockVerdict.VALID, "")
    assert answers == [validator.mempool.get(keccak(raw))] and answers[0] is not None

"""The application's typed verdict on a proposal's block bytes.

Real application (LevelDB, py-evm) of a real node, not running. Bytes that
are not the block the hash names — junk, another block, or the block's
header with a body it does not commit to — are PAYLOAD_MISMATCH (their sender
is provably at fault); a block that is itself bad at this height is INVALID.
"""

from __future__ import annotations

from eth.vm.forks.prague.blocks import PragueBlock
from eth_account import Account
from eth_utils import to_checksum_address

from consensus.actions import BlockVerdict
from consensus.messages import PRECOMMIT, CommitCertificate, Vote
from execution.block import PlumeBlock
from node_helpers import CHAIN_ID, PASSWORD
from plume_node.app import MAX_FUTURE_DRIFT_S, SyncedBlock
from plume_node.keystore import Keystore
from plume_node.node import Node

GWEI = 10**9


def _with_a_transfer(node: Node) -> tuple[bytes, bytes]:
    account: Account = Keystore(node.home.root).unlock("operator", PASSWORD)
    signed = account.sign_transaction({
        "type": 2, "chainId": CHAIN_ID, "nonce": 0, "to": to_checksum_address("0x" + "5eed" * 10), "value": 1,
        "gas": 21000, "maxFeePerGas": 10 * GWEI, "maxPriorityFeePerGas": GWEI, "data": b"",
    })
    node.submit_transaction(bytes(signed.raw_transaction))
    block_hash, payload = node.app.propose_block(1, 0)
    assert len(PlumeBlock.decode(payload).transactions) == 1
    return block_hash, payload


def test_bytes_that_are_not_the_named_block_are_a_payload_mismatch(node):
    block_hash, payload = _with_a_transfer(node)
    assert node.app.validate_block(1, block_hash, payload) == (BlockVerdict.VALID, "")
    _, other_round = node.app.propose_block(1, 1)  # a real block, another hash
    block = PlumeBlock.decode(payload)
    body_swapped = PlumeBlock(  # the genuine header, a body it does not commit to
        PragueBlock(block.header, transactions=[], uncles=[], withdrawals=[]), block.sidecar
    ).encode()
    for junk in (b"\x00junk", other_round, body_swapped, payload + b"\x00"):
        verdict, reason = node.app.validate_block(1, block_hash, junk)
        assert verdict is BlockVerdict.PAYLOAD_MISMATCH, reason
    assert "transactions are not those the header commits to" in node.app.validate_block(1, block_hash, body_swapped)[1]


def test_a_bad_block_with_matching_bytes_is_invalid_not_a_mismatch(node, monkeypatch):
    block_hash, payload = _with_a_transfer(node)
    verdict, reason = node.app.validate_block(2, block_hash, payload)  # the block is for height 1
    assert verdict is BlockVerdict.INVALID and "is not height 2" in reason
    timestamp = PlumeBlock.decode(payload).header.timestamp
    monkeypatch.setattr(node.app, "clock", lambda: timestamp - MAX_FUTURE_DRIFT_S - 10)  # our clock lags
    verdict, reason = node.app.validate_block(1, block_hash, payload)
    assert verdict is BlockVerdict.INVALID and "too far in the future" in reason


def test_a_certified_block_we_judge_invalid_is_refused_not_blamed_on_whoever_served_it(node, monkeypatch):
    # Block sync bans the server of BAD_DATA; a block carrying a valid +2/3
    # certificate that fails only our own checks (our clock lags its
    # timestamp) is REFUSED: every honest peer would serve the same block.
    block_hash, payload = _with_a_transfer(node)
    precommit = node.signer.sign(Vote(PRECOMMIT, 1, 0, block_hash, node.validator_address))
    certified = CommitCertificate(1, 0, block_hash, (precommit,)).encode()
    unsigned = CommitCertificate(1, 0, block_hash, ()).encode()
    _, other_block = node.app.propose_block(1, 1)
    timestamp = PlumeBlock.decode(payload).header.timestamp
    monkeypatch.setattr(node.app, "clock", lambda: timestamp - MAX_FUTURE_DRIFT_S - 10)  # our clock lags
    outcome, reason = node.app.apply_synced_block(1, payload, certified)
    assert outcome is SyncedBlock.REFUSED and "too far in the future" in reason
    for served, cert in ((payload, unsigned), (other_block, certified), (b"\x00junk", certified), (payload, b"junk")):
        assert node.app.apply_synced_block(1, served, cert)[0] is SyncedBlock.BAD_DATA
    assert node.app.committed_height() == 0
    monkeypatch.setattr(node.app, "clock", lambda: timestamp)  # the clock is right again
    assert node.app.apply_synced_block(1, payload, certified) == (SyncedBlock.COMMITTED, "")
    assert node.app.committed_height() == 1

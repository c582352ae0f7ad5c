"""A chain of certified blocks written straight into a node home, through the node's own code path.

`prepare_chain` opens the home as the node does (`Node.open`), builds each
block with `PlumeChain.build_block` (half plain transfers from the dev
accounts, half ERC-20 token transfers: the contract of
tests/fixtures/erc20.json, deployed in block 1) and commits it with
`Application.commit` and a commit certificate signed by the home's own
validator key, each block's sidecar carrying its parent's certificate: what a
lone validator running for that long would have left, in a fraction of the
time. A fresh node then syncs it through its normal block sync, verifying
every certificate. Used by scripts/bench_sync.py and the block sync tests.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import rlp
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_keys import keys
from eth_utils import keccak

from consensus.crypto import PrivateKey
from consensus.messages import PRECOMMIT, CommitCertificate, Vote
from execution.sidecar import Sidecar
from execution.transactions import decode_transaction
from plume_node.config import load_config
from plume_node.home import Home
from plume_node.node import Node
from plume_node.node_keys import load_key_file

GWEI = 10**9
TOKEN_SUPPLY = 10**30
TRANSFER_SELECTOR = keccak(b"transfer(address,uint256)")[:4]
ERC20 = Path(__file__).resolve().parents[1] / "fixtures" / "erc20.json"


class Signer:
    """Signs EIP-1559 transactions for the dev accounts, keeping their nonces."""

    def __init__(self, accounts: list[dict], chain_id: int) -> None:
        self.keys = [keys.PrivateKey(bytes.fromhex(a["private_key"][2:])) for a in accounts]
        self.addresses = [k.public_key.to_canonical_address() for k in self.keys]
        self.nonces = [0] * len(self.keys)
        self.chain_id = chain_id

    def sign(self, index: int, to: bytes | None, data: bytes = b"", value: int = 0, gas: int = 21_000) -> bytes:
        unsigned = PragueTransactionBuilder.new_unsigned_dynamic_fee_transaction(
            chain_id=self.chain_id, nonce=self.nonces[index], max_priority_fee_per_gas=GWEI,
            max_fee_per_gas=1_000 * GWEI, gas=gas, to=to or b"", value=value, data=data, access_list=[],
        )
        self.nonces[index] += 1
        return unsigned.as_signed_transaction(self.keys[index]).encode()


def block_transactions(signer: Signer, number: int, count: int, token: bytes) -> list[bytes]:
    """Half plain transfers (round-robin over accounts 1..), half token transfers from account 0."""
    raws = []
    for i in range(count):
        recipient = keccak(b"sync-recipient-%d-%d" % (number, i))[:20]
        if i % 2:
            amount = (number * 1000 + i).to_bytes(32, "big")
            data = TRANSFER_SELECTOR + recipient.rjust(32, b"\0") + amount
            raws.append(signer.sign(0, token, data=data, gas=100_000))
        else:
            sender = 1 + (number * count + i) % (len(signer.keys) - 1)
            raws.append(signer.sign(sender, recipient, value=1_000 + i))
    return raws


def certify(key: PrivateKey, chain_id: str, height: int, block_hash: bytes) -> CommitCertificate:
    vote = Vote(PRECOMMIT, height, 0, block_hash, key.address)
    return CommitCertificate(height, 0, block_hash, (vote.with_signature(key.sign(vote.sign_bytes(chain_id))),))


def prepare_chain(
    home: Path, accounts: list[dict], blocks: int, per_block: int, progress=None, record: list | None = None
) -> int:
    """Commit `blocks` certified blocks into the (stopped) validator's home, on
    top of what it holds; returns the transactions in them. `accounts`: the
    devnet's accounts.json entries (at least two; the first deploys the token).
    `progress(n)` is called every 500 blocks; each block's raw transactions are
    appended to `record` (a list) when one is given."""
    node = Node.open(Home(home), load_config(Home(home).config_path))
    try:
        app = node.app
        key = PrivateKey.from_seed(load_key_file(Home(home).validator_key_path).private_bytes)
        signer = Signer(accounts, node.chain_id)
        bytecode = bytes.fromhex(json.loads(ERC20.read_text())["bytecode"].removeprefix("0x"))
        token = keccak(rlp.encode([signer.addresses[0], 0]))[12:]
        txs_total = 0
        certificate = b""
        for number in range(1, blocks + 1):
            if number == 1:
                raws = [signer.sign(0, None, data=bytecode + TOKEN_SUPPLY.to_bytes(32, "big"), gas=3_000_000)]
            else:
                raws = block_transactions(signer, number, per_block, token)
            head = app.chain.head
            result = app.chain.build_block(
                [decode_transaction(r) for r in raws], timestamp=max(int(time.time()), head.timestamp),
                coinbase=node.app.fee_address, sidecar=Sidecar(round=0, last_commit=certificate, evidence=()),
            )
            if result.rejected or result.failed or len(result.included) != len(raws):
                raise SystemExit(f"block {number}: not every transaction went in: {result.rejected[:2]} {result.failed[:2]}")
            block = result.block
            cert = certify(key, app.chain_id, number, block.hash)
            app.commit(number, block.hash, block.encode(), cert)
            certificate = cert.encode()
            txs_total += len(raws)
            if record is not None:
                record.append(raws)
            if progress is not None and number % 500 == 0:
                progress(number)
        return txs_total
    finally:
        node.close()

"""A real RPC backend for tests: PlumeChain on a temp LevelDB + a real Mempool.

Blocks are built from the mempool and committed by calling the chain directly
(what the node's consensus driver does once a block is decided), with a real
Ed25519-signed commit certificate stored per height. Nothing here is a mock of
the chain: every RPC answer comes from py-evm state and LevelDB.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from consensus.crypto import PrivateKey as EdPrivateKey
from consensus.messages import PRECOMMIT, CommitCertificate, Vote
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from execution.chain import PlumeChain
from execution.genesis import GenesisAccount, GenesisState
from execution.mempool import Mempool
from execution.sidecar import Sidecar
from plume_node.events import ChainEvents
from plume_node.rpc.chainview import AccountReader
from plume_node.storage import PREFIX_CHAIN, LevelDB, open_database
from rpcclient import post

CHAIN_ID = 7357
GWEI = 10**9
PLUME = 10**18
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# Deterministic funded accounts (secp256k1), so failures are reproducible.
ACCOUNTS: list[LocalAccount] = [Account.from_key(bytes([i + 1]) * 32) for i in range(4)]
COINBASE = bytes.fromhex("c0ffee" + "00" * 17)


def erc20_artifact() -> dict[str, Any]:
    return json.loads((FIXTURES / "erc20.json").read_text())


@dataclass
class TestBackend:
    """Implements plume_node.rpc.backend.RpcBackend over a real chain."""

    chain: PlumeChain
    mempool: Mempool
    db: LevelDB
    chain_id: int = CHAIN_ID
    validator_keys: list[EdPrivateKey] = field(default_factory=list)
    certificates: dict[int, bytes] = field(default_factory=dict)
    sync_status: dict[str, int] | None = None
    peers: int = 0
    bans: list[dict[str, Any]] = field(default_factory=list)
    submitted: list[bytes] = field(default_factory=list)
    events: ChainEvents = field(default_factory=ChainEvents)
    observer: bool = False
    compliance_enabled: bool = True  # plume_subscribe is served (the tests publish on `events`)

    # ---- RpcBackend
    def submit_transaction(self, raw: bytes) -> bytes:
        result = self.mempool.add_raw(
            raw, AccountReader(self.chain.state_at(None)), self.chain.next_base_fee(), time.time()
        )
        self.submitted.append(result.tx_hash)
        self.events.pending(result.tx_hash)
        return result.tx_hash

    # node_info / consensus_state answer in the node's own shape (snake_case,
    # ints); the RPC layer formats them.
    def node_info(self) -> dict[str, Any]:
        return {"node_id": "ab" * 20, "moniker": "test-node", "uptime_s": 5}

    def genesis_document(self) -> tuple[dict[str, Any], bytes]:
        from plume_node.genesis import GenesisDoc

        doc = GenesisDoc(chain_id=self.chain_id, genesis_time=0)
        return doc.to_json(), doc.hash()

    def consensus_state(self) -> dict[str, Any]:
        height = self.chain.height + 1
        validators = [
            {"address": "0x" + k.address.hex(), "power": 10, "pub_key": "0x" + k.public_key.raw.hex()}
            for k in self.validator_keys
        ]
        return {
            "height": height,
            "round": 0,
            "step": "propose",
            "validators": validators,
            "proposer": validators[0]["address"] if validators else None,
        }

    def commit_certificate(self, height: int) -> bytes | None:
        return self.certificates.get(height)

    def syncing(self) -> dict[str, int] | None:
        return self.sync_status

    def peer_count(self) -> int:
        return self.peers

    def peer_status(self) -> dict[str, Any]:
        return {"peers": [], "bans": list(self.bans), "bans_total": len(self.bans)}

    # ---- test helpers
    def produce_block(self, *, timestamp: int | None = None) -> Any:
        """Build a block from the mempool, commit it with a signed certificate."""
        base_fee = self.chain.next_base_fee()
        txs = self.mempool.select(self.chain.head.gas_limit, base_fee)
        built = self.chain.build_block(
            txs,
            timestamp=int(time.time()) if timestamp is None else timestamp,
            coinbase=COINBASE,
            sidecar=Sidecar(round=0, last_commit=self.certificates.get(self.chain.height, b"")),
        )
        block = built.block
        self.chain.commit(block)
        self.certificates[block.number] = self._certificate(block.number, block.hash).encode()
        self.mempool.remove([tx.hash for tx in built.included])
        self.mempool.recheck(AccountReader(self.chain.state_at(None)), self.chain.next_base_fee(), time.time())
        self.events.committed(block.number)
        return block

    def _certificate(self, height: int, block_hash: bytes) -> CommitCertificate:
        votes = []
        for key in sorted(self.validator_keys, key=lambda k: k.address):
            unsigned = Vote(type=PRECOMMIT, height=height, round=0, block_hash=block_hash,
                            validator=key.address, signature=b"")
            votes.append(unsigned.with_signature(key.sign(unsigned.sign_bytes(str(self.chain_id)))))
        return CommitCertificate(height=height, round=0, block_hash=block_hash, precommits=tuple(votes))

    def close(self) -> None:
        self.db.close()


def make_backend(tmp_path: Path) -> TestBackend:
    genesis = GenesisState(
        chain_id=CHAIN_ID,
        timestamp=1_700_000_000,
        alloc={bytes.fromhex(a.address[2:]): GenesisAccount(balance=1_000 * PLUME) for a in ACCOUNTS},
    )
    db = open_database(tmp_path / "data", create=True)
    chain = PlumeChain(db.prefixed(PREFIX_CHAIN), genesis)
    backend = TestBackend(chain=chain, mempool=Mempool(CHAIN_ID), db=db)
    backend.validator_keys = [EdPrivateKey.from_seed(bytes([0x40 + i]) * 32) for i in range(3)]
    return backend


def sign_transfer(
    account: LocalAccount,
    to: str,
    value: int,
    nonce: int,
    *,
    chain_id: int = CHAIN_ID,
    max_fee: int = 10 * GWEI,
    tip: int = GWEI,
    gas: int = 21_000,
    data: bytes = b"",
) -> bytes:
    tx = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "to": to_checksum_address(to) if to else None,
        "value": value,
        "gas": gas,
        "maxFeePerGas": max_fee,
        "maxPriorityFeePerGas": tip,
        "data": data,
    }
    if not to:
        del tx["to"]
    return bytes(account.sign_transaction(tx).raw_transaction)


class Client:
    """Plain-HTTP JSON-RPC calls (run in a worker thread: the server shares the loop)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def post_sync(self, body: bytes, headers: dict[str, str] | None = None, method: str = "POST") -> tuple[int, dict[str, str], bytes]:
        return post(self.url, body, headers=headers, method=method)

    async def post(self, body: bytes, headers: dict[str, str] | None = None, method: str = "POST") -> tuple[int, dict[str, str], bytes]:
        return await trio.to_thread.run_sync(self.post_sync, body, headers, method)

    async def raw(self, payload: Any) -> Any:
        status, _, body = await self.post(json.dumps(payload).encode())
        assert status == 200, (status, body)
        return json.loads(body)

    async def call(self, method: str, *params: Any) -> Any:
        answer = await self.raw({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        assert "error" not in answer, answer
        return answer["result"]

    async def error(self, method: str, *params: Any) -> dict[str, Any]:
        answer = await self.raw({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        assert "error" in answer, answer
        return answer["error"]

"""The node: one object holding every service of a running Plume node.

`Node.open` loads and checks everything that can be wrong before any task
starts (genesis, keys, the data directory's identity); `Node.run` runs the
services in one nursery: the consensus driver, and when configured the
JSON-RPC server and the p2p network. The Python API a test or an embedding
program uses (`submit_transaction`, `app.chain`...) is the same one the RPC
server calls.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from pathlib import Path

import trio

from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from consensus.crypto import PrivateKey, address_of
from consensus.engine import ConsensusEngine
from consensus.errors import ConsensusError
from consensus.messages import DuplicateVoteEvidence
from consensus.signer import Signer
from consensus.timeouts import TimeoutConfig
from execution.errors import ExecutionError
from execution.mempool import Mempool, MempoolConfig
from plume_node import __version__
from plume_node.errors import UserError
from plume_node.app import Application
from plume_node.config import Config, parse_host_port
from plume_node.consensus_driver import ConsensusDriver
from plume_node.events import ChainEvents
from plume_node.files import write_atomic
from plume_node.genesis import GenesisDoc, load_genesis
from plume_node.home import Home
from plume_node.metrics import CONTENT_TYPE, NodeMetrics, health_body
from plume_node.node_keys import Ed25519KeyFile, load_key_file
from plume_node.signer_store import LevelDBSignStore
from plume_node.stage_cpu import Stage, StageClock
from execution.db import StorageError as AnyStorageError  # LevelDB's errors and a closed batch's
from plume_node.storage import PREFIX_NODE, LevelDB, StorageError, open_database
from staking import views as staking_views

_GENESIS_DOC_KEY = b"genesis-doc-hash"
_GENESIS_STAMP = "GENESIS_HASH"  # a file in the data directory, beside storage's marker

log = logging.getLogger("plume.node")
# Bans listed by plume_peers: enough to see who is banned and why, while a
# batch of such calls cannot make the node build megabytes of answers.
MAX_LISTED_BANS = 256


class EvidenceRefused(ValueError):
    """Evidence submitted to the node that it will not keep; the message says why."""


class Node:
    def __init__(
        self,
        home: Home,
        config: Config,
        genesis: GenesisDoc,
        db: LevelDB,
        validator_key: Ed25519KeyFile,
        node_key: Ed25519KeyFile,
        compliance_policy=None,  # HOME/compliance.toml loaded by `open` (else loaded here)
    ) -> None:
        self.home = home
        self.config = config
        self.genesis = genesis
        self.db = db
        self.chain_id = genesis.chain_id
        self.node_key = node_key
        self.node_id = self.node_key.address.hex()
        fee_address = bytes.fromhex(config.fee_address[2:]) if config.fee_address else b"\x00" * 20
        m = config.mempool
        self.mempool = Mempool(
            genesis.chain_id,
            MempoolConfig(
                max_txs=m.max_txs,
                max_bytes=m.max_bytes,
                max_tx_bytes=m.max_tx_bytes,
                price_bump_percent=m.price_bump_percent,
                max_per_sender=m.max_per_sender,
                max_nonce_gap=m.max_nonce_gap,
                ttl_seconds=m.ttl_seconds,
                block_gas_limit=genesis.gas_limit,
            ),
        )
        self.app = Application(db, genesis, self.mempool, fee_address)
        key = PrivateKey.from_seed(validator_key.private_bytes)
        self.validator_address = key.address
        # An observer (docs/compliance.md) can never sign: no signer and no address for the
        # engine, whatever set its key joins later (the check in `open` sees one height only).
        self.observer = config.compliance.observer  # also: the RPC server refuses submitting/signing methods
        self.signer = None if self.observer else Signer(key, LevelDBSignStore(db), self.app.chain_id)
        # Commits and admitted transactions, for the RPC server's subscriptions.
        self.events = ChainEvents()
        self.stage_clock = StageClock()  # CPU by stage, for plume_cpu_seconds_total
        c = config.consensus
        self.engine = ConsensusEngine(
            chain_id=self.app.chain_id,
            address=None if self.observer else key.address,
            timeouts=TimeoutConfig(
                propose_ms=c.timeout_propose_ms,
                propose_delta_ms=c.timeout_propose_delta_ms,
                prevote_ms=c.timeout_prevote_ms,
                prevote_delta_ms=c.timeout_prevote_delta_ms,
                precommit_ms=c.timeout_precommit_ms,
                precommit_delta_ms=c.timeout_precommit_delta_ms,
            ),
        )
        self.driver = ConsensusDriver(
            self.engine,
            self.app,
            self.signer,
            block_time_ms=c.block_time_ms,
            create_empty_blocks=c.create_empty_blocks,
            commit_grace_ms=c.commit_grace_ms,
            min_block_interval_ms=c.min_block_interval_ms,
            on_commit=self.events.committed,
            stage_clock=self.stage_clock,
        )
        self.started_at = time.time()
        from plume_node.rpc.methods import build_method_table

        self.metrics = NodeMetrics(self, build_method_table().methods)
        self.events.listen(on_commit=self.metrics.on_commit)
        self.compliance = self._open_compliance(home, config, compliance_policy)
        self.rpc_port: int | None = None
        self.metrics_port: int | None = None
        self.p2p_port: int | None = None
        self.network = None  # NodeNetwork, once running

    @property
    def compliance_enabled(self) -> bool:
        return self.compliance is not None

    def _open_compliance(self, home: Home, config: Config, policy):
        """The compliance service when this node has a compliance.toml or is an observer
        (docs/compliance.md); a bad policy file raises PolicyError, a UserError."""
        from plume_node.compliance.service import ComplianceService, policy_path

        if not (self.observer or policy_path(home.root).exists()):
            return None
        service = ComplianceService.for_home(home.root, config, self.app.chain, self.events, policy)
        self.mempool.screen = service.screen
        service.mempool = self.mempool
        self.events.listen(on_commit=service.committed)
        return service

    @classmethod
    def open(cls, home: Home, config: Config) -> "Node":
        genesis = load_genesis(home.genesis_path)
        # Keys before the data directory: a missing or corrupt key file must
        # stop the node before LevelDB creates or rewrites anything there.
        validator_key = load_key_file(home.validator_key_path)
        node_key = load_key_file(home.node_key_path)
        from plume_node.compliance.service import load_home_policy

        compliance_policy = load_home_policy(home.root)  # a bad file stops the start here, too
        first_start = not home.started()
        _check_genesis_stamp(home.data_dir, genesis)
        try:
            db = open_database(home.data_dir, create=first_start)
        except AnyStorageError as exc:
            raise UserError(str(exc)) from None
        try:
            _check_genesis_doc(db, genesis)
            _write_genesis_stamp(home.data_dir, genesis)
            node = cls(home, config, genesis, db, validator_key, node_key, compliance_policy)
            if node.observer and node.is_validator():
                raise UserError(
                    "an observer must not be a validator: this node's validator key is in the current set; "
                    "start the observer from its own home (a full node)"
                )
        except (AnyStorageError, ExecutionError) as exc:
            db.close()
            raise UserError(str(exc)) from None
        except BaseException:
            db.close()
            raise
        log.info(
            "node %s (%s) chain %d at height %d, %s",
            node.node_id[:12],
            config.moniker,
            genesis.chain_id,
            node.app.committed_height(),
            node.role(),
        )
        return node

    def is_validator(self) -> bool:
        """Whether this node's validator key is in the set of the next height."""
        height = self.app.committed_height() + 1
        return self.app.validator_set(height).get(self.validator_address) is not None

    def role(self) -> str:
        """Validator in the set of the next height, or full node (for the start-up line)."""
        height = self.app.committed_height() + 1
        member = self.app.validator_set(height).get(self.validator_address)
        if member is None:
            return f"full node (validator key {self.validator_address.hex()} is not in the set of height {height})"
        return f"validator {self.validator_address.hex()} in the current set (power {member.power})"

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.stage_clock.run)  # counts CPU by stage while the node runs
            await self._start_network(nursery)
            if self.config.rpc.enabled:
                await self._start_rpc(nursery)
            if self.config.metrics.listen_addr:
                await self._start_metrics(nursery)
            if self.compliance is not None:
                await nursery.start(self.compliance.run)
            await nursery.start(self.stage_clock.tagged(Stage.CONSENSUS, self.driver.run))
            task_status.started()

    async def _start_network(self, nursery: trio.Nursery) -> None:
        from plume_node.network import NodeNetwork

        network = NodeNetwork.create(self)
        try:
            self.p2p_port = await nursery.start(network.run)
        except* OSError as group:
            exc = _first_leaf(group)
            raise UserError(
                f"cannot listen for peers on {self.config.p2p.listen_addr}: {exc.strerror or exc}; "
                "stop whatever uses that port or pass --p2p-addr HOST:PORT"
            ) from None
        self.network = network
        self.driver.network = network

    async def _start_rpc(self, nursery: trio.Nursery) -> None:
        from plume_node.rpc.server import serve_rpc
        from plume_node.rpc.websocket import WsLimits
        from plume_node.rpc.workers import ExecutionLimits

        rpc = self.config.rpc
        host, port = parse_host_port(rpc.listen_addr, "rpc.listen_addr")
        try:
            self.rpc_port = await nursery.start(
                partial(
                    self.stage_clock.tagged(Stage.RPC, serve_rpc),
                    self,
                    host,
                    port,
                    cors_origins=tuple(rpc.cors_origins),
                    max_body_bytes=rpc.max_body_bytes,
                    max_batch=rpc.max_batch,
                    limits=ExecutionLimits(
                        gas_cap=rpc.gas_cap,
                        batch_gas_cap=rpc.batch_gas_cap,
                        timeout_s=rpc.evm_timeout_ms / 1000,
                        max_concurrent=rpc.max_concurrent_executions,
                    ),
                    body_timeout_s=rpc.body_timeout_ms / 1000,
                    max_concurrent_requests=rpc.max_concurrent_requests,
                    gets=self.http_gets(),
                    on_request=self.metrics.on_rpc_request,
                    ws_limits=WsLimits(
                        max_connections=rpc.max_ws_connections,
                        max_subscriptions=rpc.max_ws_subscriptions,
                        send_queue=rpc.ws_send_queue,
                        send_queue_bytes=rpc.ws_send_queue_bytes,
                    ),
                    send_timeout_s=rpc.send_timeout_ms / 1000,
                    stage_clock=self.stage_clock,
                )
            )
        except* OSError as group:
            exc = _first_leaf(group)
            raise UserError(
                f"cannot serve JSON-RPC on {rpc.listen_addr}: {exc.strerror or exc}; "
                "stop whatever uses that port or pass --rpc-addr HOST:PORT"
            ) from None
        log.info("JSON-RPC on http://%s:%d", host, self.rpc_port)

    def http_gets(self) -> dict:
        """GET /metrics and GET /health (docs/operator.md, "Metrics" and "Health")."""
        def health() -> tuple[int, bytes, bytes]:
            status, body = health_body(self)
            return status, b"application/json", body

        return {"/metrics": lambda: (200, CONTENT_TYPE, self.metrics.render()), "/health": health}

    async def _start_metrics(self, nursery: trio.Nursery) -> None:
        from plume_node.rpc.server import serve_gets

        addr = self.config.metrics.listen_addr
        host, port = parse_host_port(addr, "metrics.listen_addr")
        try:
            self.metrics_port = await nursery.start(partial(serve_gets, self.http_gets(), host, port))
        except* OSError as group:
            exc = _first_leaf(group)
            raise UserError(
                f"cannot serve metrics on {addr}: {exc.strerror or exc}; stop whatever uses that port "
                "or change metrics.listen_addr"
            ) from None
        log.info("metrics on http://%s:%d/metrics", host, self.metrics_port)

    def close(self) -> None:
        self.db.close()

    # ---- the node's Python API (also what JSON-RPC calls: rpc.backend.RpcBackend)

    @property
    def chain(self):
        return self.app.chain

    def node_info(self) -> dict:
        return {
            "node_id": self.node_id,
            "moniker": self.config.moniker,
            "validator_address": "0x" + self.validator_address.hex(),
            "listen_addr": self.config.p2p.listen_addr,
            "peer_list": self.peers(),
            "rpc_addr": self.config.rpc.listen_addr,
            "uptime_s": int(time.time() - self.started_at),
            "genesis_hash": "0x" + self.genesis.hash().hex(),
        }

    def genesis_document(self) -> tuple[dict, bytes]:
        return self.genesis.to_json(), self.genesis.hash()

    def consensus_state(self) -> dict:
        engine = self.engine
        if engine.height is None:  # before the first height starts
            height, round, step = self.app.committed_height() + 1, 0, "new_height"
            proposer = self.app.validator_set(height).proposer_address
        else:
            height, round, step = engine.height, engine.round, engine.step.name.lower()
            proposer = engine.proposer_for(round)
        return {
            "height": height,
            "round": round,
            "step": step,
            "validators": [
                {"address": "0x" + v.address.hex(), "power": v.power, "pub_key": "0x" + v.pub_key.hex()}
                for v in self.app.validator_set(height).validators
            ],
            "proposer": "0x" + proposer.hex(),
            "next_validators": self._next_validators(),
        }

    def validator_set(self, height: int) -> dict | None:
        if not 1 <= height <= self.app.committed_height() + 1:
            return None
        vset = self.app.validator_set(height)
        return {
            "height": height,
            "validators": [
                {"address": "0x" + v.address.hex(), "power": v.power, "pub_key": "0x" + v.pub_key.hex(),
                 "priority": vset.priority_of(v.address)}
                for v in vset.validators
            ],
            "proposer": "0x" + vset.proposer_address.hex(),
            "total_power": vset.total_power,
        }

    def _next_validators(self) -> dict:
        """The active set the staking contract chose last, and the height consensus uses it from."""
        state = self.chain.state_at().accounts
        chosen_at = staking_views.active_set_chosen_at(state)
        return {
            "chosen_at": chosen_at,
            "from_height": chosen_at + 2 if chosen_at else 1,
            "validators": [
                {
                    "address": "0x" + address_of(v.consensus_pubkey).hex(),
                    "operator": to_checksum_address(v.operator),
                    "power": v.power,
                    "pub_key": "0x" + v.consensus_pubkey.hex(),
                }
                for v in staking_views.active_set(state)
            ],
        }

    def commit_certificate(self, height: int) -> bytes | None:
        cert = self.app.commit_certificate(height)
        return cert.encode() if cert is not None else None

    def syncing(self) -> dict | None:
        return self.network.syncing() if self.network is not None else None

    def peer_count(self) -> int:
        return len(self.network.service.peers()) if self.network is not None else 0

    def submit_evidence(self, encoded: bytes) -> bytes:
        """Double-sign evidence from outside (``plume_submitEvidence``): decoded, verified
        against the validator set of its height, then kept for the next proposal and
        gossiped, exactly as evidence from a peer. Returns its keccak hash. Raises
        ``EvidenceRefused`` with the reason."""
        try:
            evidence = DuplicateVoteEvidence.decode(encoded)
            evidence.verify(self.app.validator_set(evidence.height), self.app.chain_id)
        except LookupError:
            raise EvidenceRefused("the evidence is for a height this node has no validator set for yet") from None
        except ConsensusError as exc:
            raise EvidenceRefused(f"invalid evidence: {exc}") from None
        self.app.add_evidence(evidence)
        if self.network is not None:
            self.network.broadcast_evidence(evidence)
        return keccak(evidence.encode())

    def peer_status(self) -> dict:
        """Connected peers, and the MAX_LISTED_BANS active bans with the most time
        left (the ban list may hold thousands; one answer stays small)."""
        bans = self.network.service.bans() if self.network is not None else {}
        newest = sorted(bans.items(), key=lambda item: (-item[1][0], item[0]))[:MAX_LISTED_BANS]
        return {
            "peers": self.peers(),
            "bans": [{"key": key, "seconds_left": int(left), "reason": reason} for key, (left, reason) in newest],
            "bans_total": len(bans),
        }

    def peers(self) -> list[dict]:
        if self.network is None:
            return []
        return [
            {"node_id": p.node_id, "address": p.address, "direction": p.direction, "height": p.height}
            for p in self.network.service.peers()
        ]

    def submit_transaction(self, raw: bytes) -> bytes:
        """The one admission path of a signed raw transaction, from JSON-RPC or
        from a peer (`NodeNetwork`, which notes first that the peer has it):
        add it to the mempool, tell the driver and the subscribers, queue it
        for batched gossip.

        Returns its hash, or raises `MempoolError` with the precise reason
        (and nothing is relayed).
        """
        tx_hash = self.accept_transaction(raw)
        if self.network is not None:
            self.network.relay_transaction(tx_hash, raw)
        return tx_hash

    def accept_transaction(self, raw: bytes) -> bytes:
        """Add a signed raw transaction to the mempool, without relaying it."""
        result = self.mempool.add_raw(raw, self.app.account_state(), self.app.chain.next_base_fee(), time.time())
        self.driver.notify_transactions()
        self.events.pending(result.tx_hash)
        return result.tx_hash

    def version(self) -> str:
        return f"plume-node/v{__version__}/python"


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    """The first plain exception inside (nested) exception groups."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def _check_genesis_stamp(data_dir: Path, genesis: GenesisDoc) -> None:
    """Refuse another genesis's data directory before LevelDB opens it.

    Merely opening a LevelDB rewrites its CURRENT, MANIFEST and LOG files, so
    the in-database record (`_check_genesis_doc`) alone cannot refuse "without
    touching anything". The same hash is kept in a small file beside the
    storage marker; a directory without it falls back to the database record.
    """
    try:
        stored = (data_dir / _GENESIS_STAMP).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise UserError(f"cannot read {data_dir / _GENESIS_STAMP}: {exc.strerror or exc}") from None
    if stored != genesis.hash().hex():
        raise UserError(_different_genesis(data_dir, stored, genesis))


def _write_genesis_stamp(data_dir: Path, genesis: GenesisDoc) -> None:
    if not (data_dir / _GENESIS_STAMP).exists():
        write_atomic(data_dir / _GENESIS_STAMP, (genesis.hash().hex() + "\n").encode())


def _different_genesis(path, stored_hex: str, genesis: GenesisDoc) -> str:
    return (
        f"the data directory {path} was created from a different genesis.json "
        f"(hash {stored_hex}, this one {genesis.hash().hex()}); use the genesis it was "
        "created with, or a new data directory"
    )


def _check_genesis_doc(db: LevelDB, genesis: GenesisDoc) -> None:
    """Tie the data directory to the whole genesis document, validators included.

    The execution chain checks block 0 (the allocations); this catches a
    genesis that differs only in its validators or parameters.
    """
    meta = db.prefixed(PREFIX_NODE)
    stored = meta.get(_GENESIS_DOC_KEY)
    if stored is None:
        meta[_GENESIS_DOC_KEY] = genesis.hash()
    elif stored != genesis.hash():
        raise StorageError(_different_genesis(db.path, stored.hex(), genesis))

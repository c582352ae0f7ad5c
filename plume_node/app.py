"""The application interface the consensus engine's driver calls (DESIGN.md, Consensus).

`propose_block`, `validate_block`, `commit`, `validator_set`: the only door
between consensus and execution. Consensus sees a block as opaque bytes with a
32-byte hash; this module turns them into `execution.PlumeBlock`s, checks the
consensus parts of a block that execution cannot (the parent's commit
certificate in the sidecar, the evidence), and writes one height's everything
in one LevelDB batch: the execution result (state, block, receipts, indexes,
cached from validation, never re-executed), the commit certificate, and the
validator set of the next height.

The validator set follows stake: when the end of block E chose a new active
set in the staking contract (at every epoch end), it decides consensus from
height E+2 (CometBFT's ``ValidatorUpdateDelay``): committing E+1 reads the
state of E and stores set(E+2) = set(E+1) with the changes, advanced once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from enum import Enum

import msgpack
from eth.constants import BLANK_ROOT_HASH, EMPTY_UNCLE_HASH
from eth_hash.auto import keccak

from consensus.actions import BlockVerdict
from consensus.errors import ConsensusError
from consensus.messages import CommitCertificate, DuplicateVoteEvidence, Proposal
from consensus.validators import Validator, ValidatorSet
from execution.block import PlumeBlock
from execution.chain import PlumeChain
from execution.errors import ExecutionError, describe
from execution.sidecar import Sidecar
from plume_node.evidence import ChainEvidenceVerifier
from plume_node.genesis import GenesisDoc
from plume_node.storage import PREFIX_CERT, PREFIX_NODE, LevelDB, PrefixedDB
from staking import views as staking_views
from staking.active_set import ActiveValidator
from staking.end_of_block import CommitSigner, ConsensusFacts, Misbehaviour

log = logging.getLogger("plume.app")

MAX_FUTURE_DRIFT_S = 30  # a proposer's clock may run ahead of ours by this much
MAX_EVIDENCE_PER_BLOCK = 16
_VSET_KEY = b"vset/"
_OWN_PROPOSAL_KEY = b"own-proposal"


def _height_key(prefix: bytes, height: int) -> bytes:
    return prefix + height.to_bytes(8, "big")


def set_changes(current: ValidatorSet, chosen: tuple[ActiveValidator, ...]) -> list[Validator]:
    """The updates that turn ``current`` into the staking contract's ``chosen`` active set
    (power 0 removes; unchanged validators are left out, so their priorities carry on)."""
    wanted = {v.address: v for v in (Validator.from_pub_key(a.consensus_pubkey, a.power) for a in chosen)}
    removed = [Validator(v.address, v.pub_key, 0) for v in current.validators if v.address not in wanted]
    changed = [v for address, v in sorted(wanted.items()) if current.power_of(address) != v.power]
    return removed + changed


def _misbehaviour(evidence: DuplicateVoteEvidence, validator_set_of: Callable[[int], ValidatorSet]) -> Misbehaviour:
    """The evidence as staking reads it: the validator's key and power in the set of its height."""
    validator = validator_set_of(evidence.height).get(evidence.validator)
    if validator is None:  # validate_block verified it against that set: cannot happen in a valid block
        return Misbehaviour(validator=evidence.validator, height=evidence.height)
    return Misbehaviour(evidence.validator, evidence.height, validator.pub_key, validator.power,
                        keccak(evidence.encode()))  # as plume_submitEvidence answers


def consensus_facts(sidecar: Sidecar, validator_set_of: Callable[[int], ValidatorSet]) -> ConsensusFacts:
    """A sidecar's consensus content as the plain values the end-of-block hooks read:
    each signer of ``last_commit`` with its key and power in the set that decided
    the certified height (``validator_set_of(height)``), the set's other members
    (absent from the certificate: the downtime rule counts them), and the evidence.

    Execution calls this on every block it builds or validates (so also when
    syncing). Decoding only: ``validate_block`` verifies the certificate and
    the evidence before execution runs; a sidecar that does not decode makes
    the block invalid (``ConsensusError`` out of execution).
    """
    signers: tuple[CommitSigner, ...] = ()
    absent: tuple[CommitSigner, ...] = ()
    if sidecar.last_commit:  # empty only at height 1
        cert = CommitCertificate.decode(sidecar.last_commit)
        vset = validator_set_of(cert.height)
        known = (vset.get(address) for address in cert.signers())
        signers = tuple(CommitSigner(v.address, v.pub_key, v.power) for v in known if v is not None)
        signed = {s.address for s in signers}
        absent = tuple(CommitSigner(v.address, v.pub_key, v.power) for v in vset.validators if v.address not in signed)
    evidence = tuple(_misbehaviour(ev, validator_set_of) for ev in map(DuplicateVoteEvidence.decode, sidecar.evidence))
    return ConsensusFacts(last_commit_signers=signers, evidence=evidence, last_commit_absent=absent)


class SyncedBlock(Enum):
    """What `Application.apply_synced_block` made of a block fetched by block sync."""

    COMMITTED = "committed"
    # Not a validly certified block: an undecodable block or certificate, a
    # certificate for another block, one without +2/3 of the validator set,
    # or bytes that are not the certified block. Whoever served it made it up.
    BAD_DATA = "bad data"
    # Certified by +2/3 of the validator set, yet invalid by our own judgement
    # (our clock behind the block's timestamp, an error in our own checks):
    # not provably the server's fault, so it is not punished for it.
    REFUSED = "refused"


class Application:
    def __init__(
        self,
        db: LevelDB,
        genesis: GenesisDoc,
        mempool,
        fee_address: bytes,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.genesis = genesis
        self.chain_id = str(genesis.chain_id)  # the consensus sign-bytes domain
        self.mempool = mempool
        self.fee_address = fee_address
        self.clock = clock
        self._vsets_lock = threading.Lock()  # RPC workers verify evidence (eth_call) off the node's thread
        self.chain = PlumeChain(
            db, genesis.execution_state(), read_sidecar=partial(consensus_facts, validator_set_of=self.validator_set),
            evidence_verifier=ChainEvidenceVerifier(self.validator_set, self.validator_set_size, self.chain_id),
        )
        self._certs = db.prefixed(PREFIX_CERT)
        self._node = db.prefixed(PREFIX_NODE)
        self._pending_evidence: dict[bytes, DuplicateVoteEvidence] = {}
        self._vsets: dict[int, ValidatorSet] = {}
        self._built: tuple[bytes, bytes] | None = None  # (hash, bytes) of the last block proposed
        self._head_accounts: HeadAccounts | None = None
        self._decoded: dict[bytes, PlumeBlock] = {}  # payload -> block, this height's
        # transactions in the heights this process committed (a metric; sync progress reads it)
        self.committed_transactions = 0

    # ---- reads ----------------------------------------------------------------

    def committed_height(self) -> int:
        return self.chain.head.block_number

    def commit_certificate(self, height: int) -> CommitCertificate | None:
        data = self._certs.get(_height_key(b"", height))
        return CommitCertificate.decode(data) if data is not None else None

    def validator_set(self, height: int) -> ValidatorSet:
        """The validator set (with proposer priorities) that decides `height`.

        Height 1's comes from genesis; each commit stores the next height's
        (priorities advanced once, CometBFT's rule) in the same batch.
        """
        with self._vsets_lock:
            cached = self._vsets.get(height)
        if cached is not None:
            return cached
        vset = self._load_validator_set(height)
        with self._vsets_lock:
            # Keep the newest 64 heights: an old height read once (evidence) does
            # not push a recent one out, and is not kept only to be evicted.
            if len(self._vsets) < 64 or height > min(self._vsets):
                self._vsets[height] = vset
                if len(self._vsets) > 64:
                    self._vsets.pop(min(self._vsets))
        return vset

    def validator_set_size(self, height: int) -> int:
        """The byte length of the stored validator set of ``height`` (canonical, so the same on
        every node), read without decoding it. Raises LookupError if there is none."""
        if height <= 1:
            return len(self._load_validator_set(height).encode())
        data = self._node.get(_height_key(_VSET_KEY, height))
        if data is None:
            raise LookupError(f"no validator set stored for height {height}")
        return len(data)

    def _load_validator_set(self, height: int) -> ValidatorSet:
        if height <= 1:
            vset = ValidatorSet.new(
                [Validator.from_pub_key(v.pub_key, v.power) for v in self.genesis.validators]
            )
        else:
            data = self._node.get(_height_key(_VSET_KEY, height))
            if data is None:
                raise LookupError(f"no validator set stored for height {height}")
            vset = ValidatorSet.decode(data)
        return vset

    def next_validator_set(self, height: int) -> ValidatorSet:
        """The set of height+1, derived when height is committed: height's set with
        the active set chosen at the end of height-1 (if one was) applied, advanced once."""
        current = self.validator_set(height)
        changes = self.set_changes_chosen_at(height - 1, current)
        if changes:
            current = current.with_changes(changes)
            log.info("validator set changes from height %d: %d updates, %d validators",
                     height + 1, len(changes), len(current))
        return current.advance(1)

    def set_changes_chosen_at(self, height: int, current: ValidatorSet) -> list[Validator]:
        """The updates to ``current`` if the end of ``height`` chose a new active set, else []."""
        if height < 1:  # genesis's set is height 1's, built from the same validators
            return []
        state = self.chain.state_at(height).accounts
        if staking_views.active_set_chosen_at(state) != height:
            return []
        return set_changes(current, staking_views.active_set(state))

    def account_state(self) -> "HeadAccounts":
        """The committed head's accounts, as the mempool reads them (cached until the head moves)."""
        head = self.chain.head.hash
        if self._head_accounts is None or self._head_accounts.head != head:
            self._head_accounts = HeadAccounts(head, self.chain.state_at())
        return self._head_accounts

    def has_pending_transactions(self) -> bool:
        return len(self.mempool) > 0

    def has_includable_transactions(self) -> bool:
        """Whether the next block would carry a pooled transaction (one at its
        sender's nonce that pays the next base fee): what lets the next height
        start before the block time (docs/consensus.md, "Block interval")."""
        return self.mempool.has_executable(self.chain.next_base_fee())

    # ---- the application interface -------------------------------------------

    def propose_block(self, height: int, round: int) -> tuple[bytes, bytes]:
        head = self.chain.head
        if height != head.block_number + 1:
            raise RuntimeError(f"asked to propose height {height} on top of head {head.block_number}")
        last_commit = b""
        if height > 1:
            cert = self.commit_certificate(height - 1)
            last_commit = cert.encode() if cert is not None else b""
        evidence = tuple(ev.encode() for ev in list(self._pending_evidence.values())[:MAX_EVIDENCE_PER_BLOCK])
        sidecar = Sidecar(round=round, last_commit=last_commit, evidence=evidence)
        base_fee = self.chain.next_base_fee()
        txs = self.mempool.select(head.gas_limit, base_fee)
        timestamp = max(int(self.clock()), head.timestamp)
        block = self._build(txs, timestamp, sidecar)
        self._remember_block(block)
        self._built = (block.hash, block.encode())
        return self._built

    def _build(self, txs: list, timestamp: int, sidecar: Sidecar) -> PlumeBlock:
        """Build on the head; drop from the pool every tx the build refused or that blew up.

        A transaction that raises while executing is left out by the chain. If
        the build still raises (the end-of-block step, say, choking on what
        the transactions did), an empty block is built instead: the chain goes
        on, and the pool's transactions wait (or expire) rather than stall it.
        """
        build = self.chain.build_block
        try:
            result = build(txs, timestamp=timestamp, coinbase=self.fee_address, sidecar=sidecar)
        except Exception as exc:
            if not txs:
                raise
            log.error("building a block with %d txs raised %s; proposing an empty block",
                      len(txs), describe(exc), exc_info=True)
            result = build([], timestamp=timestamp, coinbase=self.fee_address, sidecar=sidecar)
        if result.rejected:
            self.mempool.remove([tx.hash for tx, _reason in result.rejected])
            for tx, reason in result.rejected:
                log.info("dropped tx %s from the pool: %s", tx.hash.hex(), reason)
        if result.failed:  # and refused if gossip brings them back
            self.mempool.drop_failed([(tx.hash, reason) for tx, reason in result.failed])
            for tx, reason in result.failed:
                log.warning("dropped tx %s from the pool: %s", tx.hash.hex(), reason)
        return result.block

    def validate_block(
        self, height: int, block_hash: bytes, payload: bytes, *, known_last_commit: bytes | None = None
    ) -> tuple[BlockVerdict, str]:
        """Judge `payload` as the block `block_hash` names at `height`: the
        verdict, and the reason when it is not VALID.

        PAYLOAD_MISMATCH: the bytes are not that block (undecodable, another
        hash, a body the header does not commit to); honest nodes relay only
        bytes that validated, so whoever delivered these made them up.
        INVALID: the block itself is bad for `height` (not provably any
        relayer's fault: a timestamp too far ahead of our clock is one).
        Never raises: a bug met while checking (ours or py-evm's) makes the
        block INVALID, with the exception as the reason.
        `known_last_commit`: the stored (verified) certificate of height-1;
        a sidecar carrying exactly these bytes is not verified again.
        """
        try:
            return self._validate_block(height, block_hash, payload, known_last_commit)
        except Exception as exc:
            log.error("validating block %s raised %s", block_hash.hex()[:12], describe(exc), exc_info=True)
            return BlockVerdict.INVALID, f"validation failed: {describe(exc)}"

    def _validate_block(
        self, height: int, block_hash: bytes, payload: bytes, known_last_commit: bytes | None = None
    ) -> tuple[BlockVerdict, str]:
        block, mismatch = self._block_named(block_hash, payload)
        if block is None:
            return BlockVerdict.PAYLOAD_MISMATCH, mismatch
        if block.number != height:
            return BlockVerdict.INVALID, f"block number {block.number} is not height {height}"
        reason = self._check_consensus_sidecar(block, known_last_commit)
        if reason is not None:
            return BlockVerdict.INVALID, reason
        try:
            self.chain.validate_block(block, max_timestamp=int(self.clock()) + MAX_FUTURE_DRIFT_S)
        except ExecutionError as exc:
            return BlockVerdict.INVALID, str(exc)
        return BlockVerdict.VALID, ""

    def _block_named(self, block_hash: bytes, payload: bytes) -> tuple[PlumeBlock | None, str]:
        """(the block, "") if `payload` is exactly the block `block_hash`
        names, else (None, why not). The hash commits to the header, the header
        to the sidecar (checked by decoding), the transactions and the empty
        uncle and withdrawal lists; decoding refuses non-canonical bytes, so
        only one byte string passes for a hash."""
        try:
            block = self._decode(payload)
        except ExecutionError as exc:
            return None, f"undecodable block: {exc}"
        if block.hash != block_hash:
            return None, f"block hashes to {block.hash.hex()}, proposal names {block_hash.hex()}"
        header = block.header
        if block.transactions_trie[0] != header.transaction_root:  # validation reuses the trie
            return None, "the transactions are not those the header commits to"
        if block.block.uncles and header.uncles_hash == EMPTY_UNCLE_HASH:
            return None, "the block carries uncles its header does not commit to"
        if getattr(block.block, "withdrawals", ()) and header.withdrawals_root == BLANK_ROOT_HASH:
            return None, "the block carries withdrawals its header does not commit to"
        return block, ""

    def _check_consensus_sidecar(self, block: PlumeBlock, known_last_commit: bytes | None = None) -> str | None:
        height = block.number
        sidecar = block.sidecar
        if height == 1:
            if sidecar.last_commit:
                return "block 1 must carry no last_commit"
        else:
            try:
                cert = CommitCertificate.decode(sidecar.last_commit)
                if sidecar.last_commit != known_last_commit:  # the same bytes were verified when stored
                    cert.verify(self.validator_set(height - 1), self.chain_id)
            except ConsensusError as exc:
                return f"bad last_commit: {exc}"
            if cert.height != height - 1 or cert.block_hash != block.header.parent_hash:
                return "last_commit does not certify the parent block"
        for item in sidecar.evidence:
            try:
                evidence = DuplicateVoteEvidence.decode(item)
                evidence.verify(self.validator_set(evidence.height), self.chain_id)
            except (ConsensusError, LookupError) as exc:
                return f"bad evidence: {exc}"
        return None

    def commit(self, height: int, block_hash: bytes, payload: bytes, certificate: CommitCertificate) -> None:
        """Persist the height in one synced batch, then recheck the mempool."""
        block = self._decode(payload)
        next_set = self.next_validator_set(height)
        with self.chain.commit_batch(block) as batch:
            PrefixedDB(batch, PREFIX_CERT)[_height_key(b"", height)] = certificate.encode()
            PrefixedDB(batch, PREFIX_NODE)[_height_key(_VSET_KEY, height + 1)] = next_set.encode()
        with self._vsets_lock:
            self._vsets[height + 1] = next_set
        self._decoded.clear()  # every block held was for this height
        self.committed_transactions += len(block.transactions)
        for item in block.sidecar.evidence:  # canonical encodings: the pool's keys
            self._pending_evidence.pop(item, None)
        removed = self.mempool.recheck(self.account_state(), self.chain.next_base_fee(), self.clock())
        mined = set(block.tx_hashes)
        included = sum(1 for r in removed if r.tx_hash in mined)
        evicted = len(removed) - included  # stale (replaced elsewhere), expired or unaffordable
        log.info(
            "committed height=%d txs=%d gas=%d round=%d hash=%s%s%s",
            height,
            len(block.transactions),
            block.header.gas_used,
            block.sidecar.round,
            block_hash.hex()[:16],
            f" included={included}" if included else "",
            f" evicted={evicted}" if evicted else "",
        )

    def record_late_precommits(self, certificate: CommitCertificate) -> bool:
        """Keep `certificate` instead of the stored one of its height if it
        certifies the same block with more precommits (those that arrived after
        the commit). The engine verified every precommit in it. Not synced: a
        crash just leaves the first certificate, which is as valid."""
        key = _height_key(b"", certificate.height)
        stored = self.commit_certificate(certificate.height)
        if stored is None or (stored.round, stored.block_hash) != (certificate.round, certificate.block_hash):
            return False
        if len(certificate.precommits) <= len(stored.precommits):
            return False
        self._certs[key] = certificate.encode()
        return True

    # ---- block sync -------------------------------------------------------------

    def committed_block(self, height: int) -> tuple[bytes, bytes] | None:
        """(block bytes, certificate bytes) of a committed height, for a syncing peer."""
        if not 1 <= height <= self.committed_height():
            return None
        cert = self._certs.get(_height_key(b"", height))
        if cert is None:
            return None
        return self.chain.get_block(height).encode(), cert

    def apply_synced_block(self, height: int, payload: bytes, certificate: bytes) -> tuple[SyncedBlock, str]:
        """Check a block fetched from a peer against its certificate and commit it.

        The certificate must carry +2/3 of the power of the validator set this
        chain itself defines for `height`; only then is the block executed.
        Returns the outcome and, unless COMMITTED, why (see `SyncedBlock`).
        """
        try:
            cert = CommitCertificate.decode(certificate)
            block = self._decode(payload)
        except (ConsensusError, ExecutionError) as exc:
            return SyncedBlock.BAD_DATA, f"undecodable synced block or certificate: {exc}"
        if cert.height != height or cert.block_hash != block.hash:
            return SyncedBlock.BAD_DATA, (
                f"certificate is for height {cert.height} block {cert.block_hash.hex()[:12]}, not this block"
            )
        try:
            cert.verify(self.validator_set(height), self.chain_id)
        except ConsensusError as exc:
            return SyncedBlock.BAD_DATA, f"bad commit certificate for height {height}: {exc}"
        parent_certificate = self._certs.get(_height_key(b"", height - 1)) if height > 1 else None
        verdict, reason = self.validate_block(height, block.hash, payload, known_last_commit=parent_certificate)
        if verdict is BlockVerdict.PAYLOAD_MISMATCH:
            return SyncedBlock.BAD_DATA, reason
        if verdict is not BlockVerdict.VALID:
            return SyncedBlock.REFUSED, reason
        self.commit(height, block.hash, payload, cert)
        return SyncedBlock.COMMITTED, ""

    def durable_run(self) -> AbstractContextManager[None]:
        """Commits inside (a run of synced blocks) are written unsynced, then
        made durable by one synced write when it ends (see `LevelDB.durable_run`)."""
        return self.db.durable_run()

    def save_own_proposal(self, proposal: Proposal) -> None:
        """Keep the proposal the guard just signed, with its block, durably (synced).

        Called before the proposal leaves the node. After a crash in the middle
        of the height the guard refuses to sign a different proposal or vote at
        the steps it already signed; handing this one back to the engine
        (`own_proposal`) makes it derive the same votes again, which the guard
        re-issues, so a restarted lone validator can finish the height.
        """
        if self._built is not None and self._built[0] == proposal.block_hash:
            self._node[_OWN_PROPOSAL_KEY] = msgpack.packb([proposal.encode(), self._built[1]])

    def own_proposal(self, height: int) -> tuple[Proposal, bytes] | None:
        """The last proposal this node signed, with its block, if it is for `height`."""
        data = self._node.get(_OWN_PROPOSAL_KEY)
        if data is None:
            return None
        encoded, block = msgpack.unpackb(data)
        proposal = Proposal.decode(encoded)
        return (proposal, block) if proposal.height == height else None

    def _decode(self, payload: bytes) -> PlumeBlock:
        """Decode a block payload once per height: validation and commit share it.

        Transactions the pool holds with the very same bytes are not decoded
        again: the block gets the pool's objects, senders already recovered.
        """
        block = self._decoded.get(payload)
        if block is None:
            block = PlumeBlock.decode(payload, known_tx=self.mempool.known_tx)
            self._remember_block(block)
        return block

    def _remember_block(self, block: PlumeBlock) -> None:
        # Bounded: a Byzantine proposer may send many blocks in one height.
        if len(self._decoded) >= 8:
            self._decoded.pop(next(iter(self._decoded)))
        self._decoded[block.encode()] = block

    def add_evidence(self, evidence: DuplicateVoteEvidence) -> None:
        self._pending_evidence.setdefault(evidence.encode(), evidence)


class HeadAccounts:
    """The head's `execution.reads.StateView` as the mempool's `AccountState`, memoized.

    Every admitted transaction asks for its sender's nonce and balance; one
    head's answers never change, so each account is read from the trie once.
    """

    def __init__(self, head: bytes, view) -> None:
        self.head = head
        self._view = view
        self._nonces: dict[bytes, int] = {}
        self._balances: dict[bytes, int] = {}
        self._storage: dict[tuple[bytes, int], int] = {}

    def get_nonce(self, address: bytes) -> int:
        if address not in self._nonces:
            self._nonces[address] = self._view.nonce(address)
        return self._nonces[address]

    def get_balance(self, address: bytes) -> int:
        if address not in self._balances:
            self._balances[address] = self._view.balance(address)
        return self._balances[address]

    def get_storage(self, address: bytes, slot: int) -> int:
        # the permission lists' roles (a list's on/off slot is asked for every sender)
        key = (address, slot)
        if key not in self._storage:
            self._storage[key] = self._view.storage(address, slot)
        return self._storage[key]

"""``PlumeChain``: builds, validates and commits Plume blocks over one database.

The node drives it through three calls (the application interface):

* ``build_block(txs, timestamp=, coinbase=, sidecar=) -> BuildResult``
* ``validate_block(block) -> None`` (raises ``InvalidBlock(reason)``)
* ``commit(block, extra=...)`` / ``with commit_batch(block) as batch: ...``

Both build and validate execute on top of the committed head and put the
result in the execution cache (``execution/cache.py``); commit writes the
cached result and never re-executes. Everything one height changes (state
trie nodes, header, transactions, receipts, indexes, canonical head, sidecar,
and whatever the node adds, e.g. the commit certificate) goes into ONE
LevelDB WriteBatch.

Data layout (see docs/execution.md): py-evm's ``ChainDB`` schema under
``PREFIX_CHAIN``; sidecars by block hash under ``PREFIX_EXEC``; chain identity
under ``PREFIX_META``.

Reads for JSON-RPC live in ``execution/reads.py`` (mixed in here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eth.abc import (
    AtomicDatabaseAPI,
    BlockHeaderAPI,
    DatabaseAPI,
    ReceiptAPI,
    SignedTransactionAPI,
)
from eth.consensus.context import ConsensusContext
from eth.constants import BLANK_ROOT_HASH, GENESIS_PARENT_HASH
from eth.exceptions import CanonicalHeadNotFound, HeaderNotFound
from eth.vm.chain_context import ChainContext
from eth.vm.forks.prague.blocks import PragueBlock, PragueBlockHeader
from eth_utils import ValidationError

from execution.block import PlumeBlock
from execution.cache import DEFAULT_CACHE_SIZE, ExecutionCache, ExecutionResult
from execution.chaindb import PlumeChainDB as ChainDB
from execution.db import (
    META_CHAIN_ID,
    META_GENESIS_HASH,
    PREFIX_CHAIN,
    PREFIX_EXEC,
    PREFIX_META,
    Overlay,
    PrefixedDB,
    StorageError,
    sidecar_key,
)
from execution.errors import GenesisMismatch, InvalidBlock, describe, truncate
from execution.genesis import GenesisState, build_genesis, genesis_header, genesis_sidecar
from execution.ordered_trie import ordered_trie_root_and_nodes
from execution.reads import ChainReads
from execution.sidecar import Sidecar
from execution.system_logs import encode_logs, logs_bloom, system_logs_key, to_logs
from execution.transactions import recover_sender
from execution.vm import FIXED_HEADER_FIELDS, PlumeVM, expected_base_fee, header_problems, make_vm_class
from staking.end_of_block import (
    END_OF_BLOCK_HOOKS,
    NO_CONSENSUS_FACTS,
    BlockContext,
    ConsensusFacts,
    EndOfBlockHook,
)
from staking.evidence import EvidenceVerifier

log = logging.getLogger("plume.execution")

# Building a block: after this many transactions raised unexpectedly (each
# costs a re-execution of the block so far), the block is cut short at the
# last failure instead of retried again.
MAX_FAILED_TXS_PER_BUILD = 16

# read_sidecar(sidecar) -> ConsensusFacts: the node decodes the sidecar's
# consensus content (the parent's certificate, evidence) into plain values for
# the end-of-block hooks; execution never decodes consensus types itself.
SidecarReader = Callable[[Sidecar], ConsensusFacts]


def no_consensus_facts(sidecar: Sidecar) -> ConsensusFacts:
    """The reader of a chain without a node around it (tests, tools): no signers, no evidence."""
    return NO_CONSENSUS_FACTS


def block_context(header: BlockHeaderAPI, consensus_round: int, facts: ConsensusFacts) -> BlockContext:
    """The end-of-block hooks' view of a block whose transactions have all run."""
    return BlockContext(
        height=header.block_number,
        timestamp=header.timestamp,
        round=consensus_round,
        coinbase=header.coinbase,
        base_fee_per_gas=header.base_fee_per_gas,
        gas_used=header.gas_used,
        last_commit_signers=facts.last_commit_signers,
        evidence=facts.evidence,
        last_commit_absent=facts.last_commit_absent,
    )


def recover_block_senders(block: PlumeBlock) -> None:
    """Recover every sender of ``block`` in one pass, before the EVM loop.

    Seeds each transaction's sender from the process-wide cache: a transaction
    the pool admitted already carries it (or the cache has it), only the block's
    others are recovered here. Raises ``InvalidBlock`` for a bad signature.
    """
    for index, (tx, tx_hash) in enumerate(zip(block.transactions, block.tx_hashes)):
        try:
            recover_sender(tx, tx_hash)
        except ValidationError as exc:
            raise InvalidBlock(
                f"invalid transaction {index} (0x{tx_hash.hex()}) in block: {truncate(str(exc))}"
            ) from exc


class _MidBlockHeader:
    """The block header as py-evm sees it between two transactions.

    py-evm's ``apply_all_transactions`` copies the header (an RLP object, ~0.25 ms)
    twice per transaction only to carry the running ``gas_used`` (and blob gas,
    always 0 here). While a transaction is applied py-evm reads just ``gas_used``
    and ``gas_limit`` from it (block gas check, receipt's cumulative gas), so this
    read-only view of the template with the running ``gas_used`` does; bloom and
    gas go into the real header once, after the last transaction.
    """

    __slots__ = ("_template", "gas_used")

    def __init__(self, template: BlockHeaderAPI, gas_used: int) -> None:
        self._template = template
        self.gas_used = gas_used

    def __getattr__(self, name: str) -> Any:
        return getattr(self._template, name)


@dataclass(frozen=True)
class BuildResult:
    """A built block. ``rejected``: transactions the EVM refused (invalid: nonce,
    funds, ...); ``failed``: transactions whose execution raised unexpectedly.
    Neither is in the block; both carry a truncated reason."""

    block: PlumeBlock
    included: tuple[SignedTransactionAPI, ...]
    rejected: tuple[tuple[SignedTransactionAPI, str], ...]
    failed: tuple[tuple[SignedTransactionAPI, str], ...] = ()


class _TxBlewUp(Exception):
    """Building: transaction ``index`` raised unexpectedly; the block's state is dirty."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


@dataclass
class ChainStats:
    """Counters the tests (and metrics) read."""

    executions: int = 0  # blocks executed (build or validate)
    cache_hits: int = 0  # validate/commit served from the cache
    commits: int = 0


class PlumeChain(ChainReads):
    """A Plume chain stored in ``db`` (a ``LevelDB``, or any py-evm AtomicDatabaseAPI).

    Opening an empty database writes genesis (block 0) in one batch; opening a
    populated one checks it holds this genesis and resumes at the stored head.
    """

    def __init__(
        self,
        db: AtomicDatabaseAPI,
        genesis: GenesisState,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
        end_block_hooks: Sequence[EndOfBlockHook] = END_OF_BLOCK_HOOKS,
        read_sidecar: SidecarReader = no_consensus_facts,
        evidence_verifier: EvidenceVerifier | None = None,
    ) -> None:
        self.root_db = db
        self.genesis = genesis
        self.chain_id = genesis.chain_id
        self.vm_class: type[PlumeVM] = make_vm_class(genesis.min_base_fee_per_gas, evidence_verifier)
        self.chain_view = PrefixedDB(db, PREFIX_CHAIN)
        self.exec_view = PrefixedDB(db, PREFIX_EXEC)
        self.chaindb = ChainDB(self.chain_view)
        self.cache = ExecutionCache(cache_size)
        self.end_block_hooks = tuple(end_block_hooks)
        self.read_sidecar = read_sidecar
        self.stats = ChainStats()
        self._chain_context = ChainContext(self.chain_id)
        self._consensus_context = ConsensusContext(self.chain_view)
        self.genesis_header = genesis_header(genesis)
        try:
            self._head: BlockHeaderAPI = self.chaindb.get_canonical_head()
        except CanonicalHeadNotFound:
            self._head = self._write_genesis()
        else:
            self._check_genesis()

    # ------------------------------------------------------------------ genesis
    def _write_genesis(self) -> BlockHeaderAPI:
        expected = self.genesis_header
        with self.root_db.atomic_batch() as batch:
            chain = PrefixedDB(batch, PREFIX_CHAIN)
            header = build_genesis(self.genesis, chain)
            assert header == expected, "genesis must be a pure function of GenesisState"
            block = PragueBlock(header, transactions=[], uncles=[], withdrawals=[])
            ChainDB._persist_block(chain, block, GENESIS_PARENT_HASH)
            PrefixedDB(batch, PREFIX_EXEC)[sidecar_key(header.hash)] = genesis_sidecar(self.genesis).encode()
            meta = PrefixedDB(batch, PREFIX_META)
            meta[META_CHAIN_ID] = self.chain_id.to_bytes(32, "big")
            meta[META_GENESIS_HASH] = header.hash
        return header

    def _check_genesis(self) -> None:
        try:
            stored = self.chaindb.get_canonical_block_header_by_number(0)
        except HeaderNotFound as exc:
            raise GenesisMismatch(
                "the database has a head but no block 0; it is damaged: remove it and resync"
            ) from exc
        check = getattr(self.root_db, "check_chain_identity", None)
        if check is not None:  # a LevelDB: its meta record must agree too
            try:
                check(self.chain_id, self.genesis_header.hash)
            except StorageError as exc:
                raise GenesisMismatch(str(exc)) from exc
        if stored.hash != self.genesis_header.hash:
            raise GenesisMismatch(
                f"the database holds a chain with genesis 0x{stored.hash.hex()}, but the "
                f"configured genesis hashes to 0x{self.genesis_header.hash.hex()}; use the "
                "genesis file this data directory was created with, or a new data directory"
            )

    # ------------------------------------------------------------------- head
    @property
    def head(self) -> BlockHeaderAPI:
        """Header of the last committed block."""
        return self._head

    @property
    def height(self) -> int:
        return self._head.block_number

    def next_base_fee(self) -> int:
        """Base fee per gas of the next block (what ``eth_gasPrice`` builds on)."""
        return expected_base_fee(self._head, self.vm_class.min_base_fee_per_gas)

    # ---------------------------------------------------------------- execution
    def child_header(
        self, parent: BlockHeaderAPI, *, timestamp: int, coinbase: bytes, extra_data: bytes
    ) -> BlockHeaderAPI:
        return PragueBlockHeader(
            difficulty=FIXED_HEADER_FIELDS["difficulty"],
            block_number=parent.block_number + 1,
            gas_limit=parent.gas_limit,
            timestamp=timestamp,
            coinbase=coinbase,
            parent_hash=parent.hash,
            state_root=parent.state_root,
            gas_used=0,
            extra_data=extra_data,
            mix_hash=FIXED_HEADER_FIELDS["mix_hash"],
            nonce=FIXED_HEADER_FIELDS["nonce"],
            base_fee_per_gas=expected_base_fee(parent, self.vm_class.min_base_fee_per_gas),
            withdrawals_root=FIXED_HEADER_FIELDS["withdrawals_root"],
            blob_gas_used=0,
            excess_blob_gas=0,
            parent_beacon_block_root=FIXED_HEADER_FIELDS["parent_beacon_block_root"],
            requests_hash=FIXED_HEADER_FIELDS["requests_hash"],
        )

    def new_vm(self, header: BlockHeaderAPI, db: AtomicDatabaseAPI) -> PlumeVM:
        return self.vm_class(
            header=header,
            chaindb=ChainDB(db),
            chain_context=self._chain_context,
            consensus_context=self._consensus_context,
        )

    def _execute(
        self,
        template: BlockHeaderAPI,
        txs: Sequence[SignedTransactionAPI],
        sidecar: Sidecar,
        *,
        skip_invalid: bool,
        tx_trie: tuple[bytes, dict[bytes, bytes]] | None = None,
    ) -> tuple[ExecutionResult, list[tuple[SignedTransactionAPI, str]]]:
        """Run ``txs`` on the head state under ``template``; roots computed once at the end.

        With ``skip_invalid`` (building) a transaction that fails validation is
        left out with its reason; without it (validating) it raises ``InvalidBlock``,
        and ``tx_trie`` may give the (root, nodes) of ``txs``, already computed.
        """
        self.stats.executions += 1
        facts = self.read_sidecar(sidecar)  # before the work: a bad sidecar fails fast
        overlay = Overlay(self.chain_view)
        vm = self.new_vm(template, overlay)
        state = vm.state
        rejected: list[tuple[SignedTransactionAPI, str]] = []
        receipts_list: list[ReceiptAPI] = []
        applied: list[SignedTransactionAPI] = []
        gas_used = 0
        bloom = 0
        for index, tx in enumerate(txs):
            if skip_invalid and gas_used + tx.gas > template.gas_limit:
                rejected.append(
                    (tx, f"does not fit: block has {template.gas_limit - gas_used} gas left, "
                         f"transaction asks {tx.gas}")
                )
                continue
            try:
                # py-evm validates (type, chain id, signature, nonce, funds, fees,
                # block gas) before it touches the state: a rejected tx leaves no trace.
                receipt, _ = vm.apply_transaction(_MidBlockHeader(template, gas_used), tx)
            except ValidationError as exc:
                if not skip_invalid:
                    raise InvalidBlock(
                        f"invalid transaction {index} (0x{tx.hash.hex()}) in block: {truncate(str(exc))}"
                    ) from exc
                rejected.append((tx, truncate(str(exc))))
                continue
            except Exception as exc:
                if not skip_invalid:
                    raise  # _validated turns it into InvalidBlock
                # TransactionFailed (the VM's wrapper) or anything else: the state
                # may hold half of this tx, so this whole execution is void.
                log.debug("building: tx 0x%s raised", tx.hash.hex(), exc_info=True)
                raise _TxBlewUp(index, f"execution failed: {describe(exc)}") from exc
            gas_used = receipt.gas_used  # cumulative
            bloom |= int(receipt.bloom)
            receipts_list.append(receipt)
            applied.append(tx)
        receipts = tuple(receipts_list)
        header = template.copy(gas_used=gas_used, bloom=bloom)

        # End of block, inside the state root: staking/end_of_block.py's hooks, in order.
        context = block_context(header, sidecar.round, facts)
        for hook in self.end_block_hooks:
            hook(state, context)
        # The hooks' logs: in the bloom, not in the receipts root (execution/system_logs.py).
        system_logs = to_logs(context.system_logs)
        # One state-root computation per block; trie nodes land in the overlay.
        state.persist()
        if tx_trie is None or skip_invalid:
            tx_trie = ordered_trie_root_and_nodes(tuple(applied))
        tx_root, tx_nodes = tx_trie
        receipt_root, receipt_nodes = ordered_trie_root_and_nodes(receipts)
        header = header.copy(
            state_root=state.state_root,
            transaction_root=tx_root,
            receipt_root=receipt_root,
            bloom=bloom | logs_bloom(system_logs),
        )
        trie_nodes = {**tx_nodes, **receipt_nodes}  # tx_trie's dict may be the block's own
        block = PlumeBlock(
            PragueBlock(header, transactions=list(applied), uncles=[], withdrawals=[]),
            sidecar,
        )
        result = ExecutionResult(
            block=block,
            receipts=receipts,
            state_writes=overlay,
            trie_nodes=trie_nodes,
            system_logs=system_logs,
        )
        return result, rejected

    def build_block(
        self,
        txs: Iterable[SignedTransactionAPI],
        *,
        timestamp: int,
        coinbase: bytes,
        sidecar: Sidecar,
    ) -> BuildResult:
        """Build the next block on the head from ``txs`` (in order, skipping invalid ones).

        ``timestamp`` is the proposer's clock in seconds; if it is behind the
        parent's, the parent's is used (timestamps never decrease).
        """
        if type(coinbase) is not bytes or len(coinbase) != 20:
            raise ValueError("coinbase must be a 20-byte address")
        parent = self._head
        template = self.child_header(
            parent,
            timestamp=max(int(timestamp), parent.timestamp),
            coinbase=coinbase,
            extra_data=sidecar.hash,
        )
        result, rejected, failed = self._execute_skipping_failures(template, list(txs), sidecar)
        self.cache.put(result)
        return BuildResult(
            block=result.block,
            included=tuple(result.block.transactions),
            rejected=tuple(rejected),
            failed=tuple(failed),
        )

    def _execute_skipping_failures(
        self, template: BlockHeaderAPI, candidates: list[SignedTransactionAPI], sidecar: Sidecar
    ) -> tuple[ExecutionResult, list, list]:
        """Execute ``candidates``; each one that raises unexpectedly is left out and the
        block executed again from the head without it (its half-applied state is
        thrown away with the overlay). Returns (result, rejected, failed).

        Each retry drops at least one candidate, so this ends; after
        MAX_FAILED_TXS_PER_BUILD failures the block is cut before the last one
        (that prefix just ran cleanly) and the rest wait in the pool.
        """
        failed: list[tuple[SignedTransactionAPI, str]] = []
        while True:
            try:
                result, rejected = self._execute(template, candidates, sidecar, skip_invalid=True)
                return result, rejected, failed
            except _TxBlewUp as blew:
                tx = candidates[blew.index]
                failed.append((tx, blew.reason))
                log.warning("building block #%d: left out tx 0x%s: %s",
                            template.block_number, tx.hash.hex(), blew.reason)
                if len(failed) >= MAX_FAILED_TXS_PER_BUILD:
                    del candidates[blew.index:]
                else:
                    del candidates[blew.index]

    def validate_block(self, block: PlumeBlock, *, max_timestamp: int | None = None) -> None:
        """Check ``block`` fully against the head; raise ``InvalidBlock(reason)`` if bad.

        ``max_timestamp`` (optional): reject blocks from further in the future
        than this (the node passes its clock plus a drift allowance).
        """
        self._validated(block, max_timestamp=max_timestamp)

    def _validated(self, block: PlumeBlock, *, max_timestamp: int | None = None) -> ExecutionResult:
        if not isinstance(block, PlumeBlock):
            raise InvalidBlock(f"expected a PlumeBlock, got {type(block).__name__}")
        if not block.sidecar_matches():
            raise InvalidBlock("header extra_data is not keccak256 of the block's sidecar")
        if max_timestamp is not None and block.header.timestamp > max_timestamp:
            raise InvalidBlock(
                f"timestamp {block.header.timestamp} is too far in the future (max {max_timestamp})"
            )
        parent = self._head
        if block.parent_hash != parent.hash:
            raise InvalidBlock(
                f"block #{block.number} builds on 0x{block.parent_hash.hex()}, not on the "
                f"committed head #{parent.block_number} 0x{parent.hash.hex()}"
            )
        cached = self.cache.get(block.hash)
        if cached is not None:
            # The hash fixes the header (hence tx root and sidecar hash); the body
            # could still differ from the header's claims, so compare it cheaply.
            if cached.block.tx_hashes == block.tx_hashes and cached.block.sidecar_bytes == block.sidecar_bytes:
                self.stats.cache_hits += 1
                return cached
        problems = header_problems(block.header, parent, self.vm_class.min_base_fee_per_gas)
        if problems:
            raise InvalidBlock("bad header: " + "; ".join(problems))
        # cheap guard before executing anything: every transaction costs at least 21000
        if len(block.transactions) * 21_000 > block.header.gas_limit:
            raise InvalidBlock(
                f"{len(block.transactions)} transactions cannot fit in gas limit {block.header.gas_limit}"
            )
        if len(block.block.uncles) != 0:
            raise InvalidBlock("Plume blocks have no uncles")
        if getattr(block.block, "withdrawals", ()) not in ((), [], None):
            raise InvalidBlock("Plume blocks have no withdrawals")
        h = block.header
        template = h.copy(
            state_root=parent.state_root,
            gas_used=0,
            bloom=0,
            transaction_root=BLANK_ROOT_HASH,
            receipt_root=BLANK_ROOT_HASH,
        )
        try:
            recover_block_senders(block)
            result, _ = self._execute(
                template, block.transactions, block.sidecar, skip_invalid=False, tx_trie=block.transactions_trie
            )
        except InvalidBlock:
            raise
        except Exception as exc:
            # A block from the network must never crash the node: whatever py-evm
            # raised on it (malformed fields it did not expect, ...) makes it invalid.
            log.warning("execution of block #%d raised %s", block.number, describe(exc))
            log.debug("execution of block #%d raised", block.number, exc_info=True)
            raise InvalidBlock(f"execution failed: {describe(exc)}") from exc
        got = result.block.header
        for name, label in (
            ("transaction_root", "transactions root"),
            ("gas_used", "gas used"),
            ("receipt_root", "receipts root"),
            ("bloom", "logs bloom"),
            ("state_root", "state root"),
        ):
            want, have = getattr(got, name), getattr(h, name)
            if want != have:
                fmt = (lambda v: "0x" + v.hex()) if isinstance(want, bytes) else str
                raise InvalidBlock(f"{label} mismatch: block has {fmt(have)}, execution gives {fmt(want)}")
        if got.hash != h.hash:  # every field checked above; belt and braces
            raise InvalidBlock("header does not match the executed block")
        result = ExecutionResult(
            block=block,
            receipts=result.receipts,
            state_writes=result.state_writes,
            trie_nodes=result.trie_nodes,
            system_logs=result.system_logs,
        )
        self.cache.put(result)
        return result

    # ------------------------------------------------------------------ commit
    @contextmanager
    def commit_batch(self, block: PlumeBlock) -> Iterator[DatabaseAPI]:
        """Stage ``block``'s commit in a root batch and yield it for the node's own records.

        Write node records through prefixed views of the yielded batch, e.g.
        ``PrefixedDB(batch, PREFIX_CERT)[key] = cert``. When the ``with`` body
        finishes, everything goes to disk in ONE synced WriteBatch and the head
        advances; if it raises, nothing is written and the head stays.
        A block not in the execution cache is validated (executed) first.
        """
        result = self.cache.get(block.hash)
        if result is None or block.parent_hash != self._head.hash:
            result = self._validated(block)
        else:
            self.stats.cache_hits += 1
        with self.root_db.atomic_batch() as batch:
            chain = PrefixedDB(batch, PREFIX_CHAIN)
            result.state_writes.flush_into(chain)
            for key, value in result.trie_nodes.items():
                chain[key] = value
            ChainDB._persist_block(chain, result.block.block, GENESIS_PARENT_HASH)
            # everything from the validated result, not from the (maybe re-decoded) argument
            PrefixedDB(batch, PREFIX_EXEC)[sidecar_key(block.hash)] = result.block.sidecar_bytes
            if result.system_logs:  # with the block, in the same batch
                PrefixedDB(batch, PREFIX_EXEC)[system_logs_key(block.hash)] = encode_logs(result.system_logs)
            yield batch
        self._head = result.block.header
        self.head_block = result.block
        self.stats.commits += 1
        self.cache.prune_through(block.number)

    def commit(
        self, block: PlumeBlock, extra: Callable[[DatabaseAPI], Any] | None = None
    ) -> None:
        """Commit ``block``; ``extra(batch)`` may add the node's records to the same batch."""
        with self.commit_batch(block) as batch:
            if extra is not None:
                extra(batch)

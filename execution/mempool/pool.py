"""The transaction pool: admission, ordering, limits, eviction and recheck.

Owns `Mempool` and its value types (`MempoolConfig`, `AddResult`, `Removed`,
`RemovalReason`, the `AccountState` protocol). It is a pure data structure:
no I/O, no clock (callers pass `now`), no locking (one task owns it).

Model. Transactions are grouped per sender in nonce-keyed queues. Each sender
has a *base nonce*, its account nonce at the last sync with state (an add for
that sender or a `recheck`). The sender's *pending* run is the contiguous run
of nonces starting at the base nonce; anything after the first gap is
*queued*. Pending/queued is derived, never stored, so removing a transaction
can never leave a later one looking executable.
"""

from __future__ import annotations

import enum
import heapq
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from eth.abc import SignedTransactionAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth_typing import Address, Hash32
from eth_utils import keccak

from execution.errors import truncate
from execution.permissions import permission_denied

from .errors import MempoolError, MempoolErrorCode
from .txcheck import PooledTx, TxDecoder, check_transaction, decode_raw, default_decoder

MIB = 1024 * 1024
KIB = 1024
# Hashes of transactions whose execution raised while a block was built
# (`drop_failed`); they are refused on sight, the oldest forgotten first.
FAILED_MEMORY = 1024


class AccountState(Protocol):
    """What the pool reads from state: py-evm's `StateAPI` satisfies it."""

    def get_nonce(self, address: Address) -> int: ...

    def get_balance(self, address: Address) -> int: ...

    def get_storage(self, address: Address, slot: int) -> int: ...  # the permission lists' roles


@dataclass(frozen=True, slots=True)
class MempoolConfig:
    """Limits of the pool.

    max_nonce_gap: how far beyond a sender's executable run a nonce may be,
    i.e. the number of queued future nonce slots per sender. block_gas_limit:
    when set, a tx whose gas limit exceeds it can never be included and is
    refused (GAS_LIMIT_EXCEEDS_BLOCK).
    """

    max_txs: int = 5000
    max_bytes: int = 32 * MIB
    max_tx_bytes: int = 128 * KIB
    price_bump_percent: int = 10
    max_nonce_gap: int = 64
    max_per_sender: int = 64
    ttl_seconds: float = 3 * 3600
    block_gas_limit: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_txs", "max_bytes", "max_tx_bytes", "max_per_sender"):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"MempoolConfig.{name} must be at least 1, got {getattr(self, name)}"
                )
        for name in ("price_bump_percent", "max_nonce_gap"):
            if getattr(self, name) < 0:
                raise ValueError(
                    f"MempoolConfig.{name} must not be negative, got {getattr(self, name)}"
                )
        if self.max_tx_bytes > self.max_bytes:
            raise ValueError(
                f"MempoolConfig.max_tx_bytes ({self.max_tx_bytes}) exceeds "
                f"max_bytes ({self.max_bytes})"
            )
        if self.ttl_seconds <= 0:
            raise ValueError(f"MempoolConfig.ttl_seconds must be positive, got {self.ttl_seconds}")
        if self.block_gas_limit is not None and self.block_gas_limit < 0:
            raise ValueError(
                f"MempoolConfig.block_gas_limit must not be negative, got {self.block_gas_limit}"
            )


class RemovalReason(enum.Enum):
    """Why a transaction left the pool."""

    STALE = "stale"  # nonce below the account nonce: mined, or replaced elsewhere
    UNAFFORDABLE = "unaffordable"  # the sender's balance no longer covers its run up to this tx
    EXPIRED = "expired"  # older than ttl_seconds
    EVICTED = "evicted"  # made room for a better-paying tx of another sender
    REPLACED = "replaced"  # same sender and nonce, outbid (reported as AddResult.replaced_hash)
    REMOVED = "removed"  # the caller asked (remove())
    FAILED = "failed"  # raised while a block was built (drop_failed()); refused from now on
    FORBIDDEN = "forbidden"  # the permission lists forbid the sender now (a revoke, a list switched on)


@dataclass(frozen=True, slots=True)
class Removed:
    tx_hash: Hash32
    sender: Address
    nonce: int
    reason: RemovalReason


@dataclass(frozen=True, slots=True)
class AddResult:
    """An admitted transaction.

    replaced_hash: the same-sender same-nonce tx it replaced, if any.
    evicted: other transactions that left the pool as a consequence (evicted
    for room, or the sender's own txs found stale or no longer affordable
    with the balance read for this add), so the caller can account for them.
    """

    tx_hash: Hash32
    replaced_hash: Hash32 | None = None
    evicted: tuple[Removed, ...] = ()


@dataclass(slots=True)
class _Account:
    base_nonce: int
    txs: dict[int, PooledTx] = field(default_factory=dict)

    def run_end(self, base_nonce: int | None = None) -> int:
        """First nonce at or after the base nonce that has no tx: the next executable nonce."""
        nonce = self.base_nonce if base_nonce is None else base_nonce
        while nonce in self.txs:
            nonce += 1
        return nonce


class Mempool:
    """Pending transactions of one chain; see the package docstring for the API."""

    def __init__(
        self,
        chain_id: int,
        config: MempoolConfig | None = None,
        tx_decoder: TxDecoder | None = None,
    ) -> None:
        self.chain_id = chain_id
        self.config = config if config is not None else MempoolConfig()
        self._decode = tx_decoder if tx_decoder is not None else default_decoder
        self._by_hash: dict[Hash32, PooledTx] = {}
        self._accounts: dict[Address, _Account] = {}
        self._bytes = 0
        self._seq = 0
        self._failed: OrderedDict[Hash32, str] = OrderedDict()  # tx hash -> why, FAILED_MEMORY at most
        # The node's local policy: called with each transaction that passed the
        # stateless checks; raises MempoolError(POLICY_REJECTED) to refuse it.
        self.screen: Callable[[PooledTx], None] | None = None

    # ------------------------------------------------------------------ queries

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._by_hash

    def __iter__(self) -> Iterator[Hash32]:
        return iter(list(self._by_hash))

    @property
    def size_bytes(self) -> int:
        """Sum of the raw sizes of the pooled transactions."""
        return self._bytes

    def get(self, tx_hash: Hash32) -> SignedTransactionAPI | None:
        entry = self._by_hash.get(tx_hash)
        return None if entry is None else entry.tx

    def entry(self, tx_hash: Hash32) -> PooledTx | None:
        """The pooled record (sender, fees, arrival...) of a transaction."""
        return self._by_hash.get(tx_hash)

    def raw(self, tx_hash: Hash32) -> bytes | None:
        """The transaction's bytes as received, for gossip and RPC."""
        entry = self._by_hash.get(tx_hash)
        return None if entry is None else entry.raw

    def known_tx(self, tx_hash: Hash32, raw: bytes) -> SignedTransactionAPI | None:
        """The pooled transaction whose bytes are exactly `raw`, else None.

        A block decoder's `known_tx` lookup (`PlumeBlock.decode`): a block
        carrying these very bytes reuses the object decoded (and its sender
        recovered) at admission. The bytes are compared, not just the hash.
        """
        entry = self._by_hash.get(tx_hash)
        return entry.tx if entry is not None and entry.raw == raw else None

    def sender_entries(self, address: Address) -> tuple[PooledTx, ...]:
        """The sender's pooled transactions in nonce order (at most `max_per_sender`)."""
        account = self._accounts.get(address)
        return () if account is None else tuple(account.txs[n] for n in sorted(account.txs))

    def pending_nonce(self, address: Address, state: AccountState) -> int:
        """The nonce the sender's next tx should use: state nonce plus its contiguous pooled txs."""
        nonce = state.get_nonce(address)
        account = self._accounts.get(address)
        return nonce if account is None else account.run_end(nonce)

    def pending(self) -> dict[Address, tuple[SignedTransactionAPI, ...]]:
        """Executable transactions: per sender, the contiguous run from its base nonce."""
        out: dict[Address, tuple[SignedTransactionAPI, ...]] = {}
        for sender, account in self._accounts.items():
            run = [account.txs[n].tx for n in range(account.base_nonce, account.run_end())]
            if run:
                out[sender] = tuple(run)
        return out

    def has_executable(self, base_fee: int) -> bool:
        """Whether a block built now would carry something: some sender's tx at
        its base nonce can pay `base_fee` (O(senders); stops at the first)."""
        for account in self._accounts.values():
            entry = account.txs.get(account.base_nonce)
            if entry is not None and entry.max_fee >= base_fee:
                return True
        return False

    def queued(self) -> dict[Address, tuple[SignedTransactionAPI, ...]]:
        """Transactions behind a nonce gap, per sender in nonce order."""
        out: dict[Address, tuple[SignedTransactionAPI, ...]] = {}
        for sender, account in self._accounts.items():
            end = account.run_end()
            later = [account.txs[n].tx for n in sorted(account.txs) if n > end]
            if later:
                out[sender] = tuple(later)
        return out

    # --------------------------------------------------------------- admission

    def add_raw(self, raw: bytes, state: AccountState, base_fee: int, now: float) -> AddResult:
        """Decode, check and admit `raw`; raises MempoolError with the reason otherwise."""
        raw = bytes(raw)
        if len(raw) > self.config.max_tx_bytes:
            raise MempoolError(
                MempoolErrorCode.OVERSIZED,
                f"oversized: tx is {len(raw)} bytes, the limit is {self.config.max_tx_bytes} bytes",
            )
        # Canonical encoding is enforced by decode_raw, so keccak(raw) is the tx
        # hash: a duplicate from gossip is turned away before any decoding.
        tx_hash = Hash32(keccak(raw))
        self._refuse_known(tx_hash)
        tx = decode_raw(raw, self._decode)
        return self._admit(tx, raw, tx_hash, state, base_fee, now)

    def add(
        self,
        tx: SignedTransactionAPI,
        raw_size: int,
        state: AccountState,
        base_fee: int,
        now: float,
    ) -> AddResult:
        """Admit an already decoded transaction whose encoding is `raw_size` bytes."""
        raw = tx.encode()
        if raw_size != len(raw):
            raise ValueError(
                f"raw_size {raw_size} does not match the tx's encoding of {len(raw)} bytes"
            )
        if raw_size > self.config.max_tx_bytes:
            raise MempoolError(
                MempoolErrorCode.OVERSIZED,
                f"oversized: tx is {raw_size} bytes, the limit is {self.config.max_tx_bytes} bytes",
            )
        tx_hash = Hash32(keccak(raw))
        self._refuse_known(tx_hash)
        return self._admit(tx, raw, tx_hash, state, base_fee, now)

    def _refuse_known(self, tx_hash: Hash32) -> None:
        failed = self._failed.get(tx_hash)
        if failed is not None:
            raise MempoolError(
                MempoolErrorCode.EXECUTION_FAILED,
                f"execution failed: tx 0x{tx_hash.hex()} raised while a block was built "
                f"({failed}); it is refused",
            )
        if tx_hash in self._by_hash:
            raise MempoolError(
                MempoolErrorCode.ALREADY_KNOWN,
                f"already known: tx 0x{tx_hash.hex()} is already in the pool",
            )

    def _admit(
        self,
        tx: SignedTransactionAPI,
        raw: bytes,
        tx_hash: Hash32,
        state: AccountState,
        base_fee: int,
        now: float,
    ) -> AddResult:
        if base_fee < 0:
            raise ValueError(f"base_fee must not be negative, got {base_fee}")
        checked = check_transaction(
            tx,
            raw,
            chain_id=self.chain_id,
            block_gas_limit=self.config.block_gas_limit,
            tx_hash=tx_hash,
        )
        if self.screen is not None:  # the node's local policy (docs/compliance.md): raises POLICY_REJECTED
            self.screen(checked)
        sender, nonce = checked.sender, checked.nonce
        denied = permission_denied(state.get_storage, sender, tx.to == CREATE_CONTRACT_ADDRESS)
        if denied is not None:  # the block rule (execution/vm.py), checked first on the head state
            raise MempoolError(MempoolErrorCode.PERMISSION_DENIED, str(denied))
        state_nonce = state.get_nonce(sender)
        if nonce < state_nonce:
            raise MempoolError(
                MempoolErrorCode.NONCE_TOO_LOW,
                f"nonce too low: account has nonce {state_nonce}, tx has {nonce}",
            )
        if checked.max_fee < base_fee:
            label = "max fee per gas" if checked.fee_label() == "max fee" else "gas price"
            raise MempoolError(
                MempoolErrorCode.FEE_BELOW_BASE_FEE,
                f"{label} {checked.max_fee} wei is below the base fee {base_fee} wei",
            )

        # Until this add succeeds nothing is mutated: the sender's txs below the
        # state nonce are only ignored here, and dropped (and reported) on success.
        account = self._accounts.get(sender) or _Account(base_nonce=state_nonce)
        live = {n: p for n, p in account.txs.items() if n >= state_nonce}
        stale = [p for n, p in account.txs.items() if n < state_nonce]
        next_nonce = account.run_end(state_nonce)
        existing = live.get(nonce)

        if nonce > next_nonce + self.config.max_nonce_gap:
            raise MempoolError(
                MempoolErrorCode.NONCE_GAP_TOO_LARGE,
                f"nonce gap too large: the sender's next executable nonce is {next_nonce}, "
                f"tx has {nonce}; at most {self.config.max_nonce_gap} nonces beyond it are queued "
                f"(up to {next_nonce + self.config.max_nonce_gap})",
            )
        if existing is not None:
            self._check_replacement(existing, checked)
        elif len(live) >= self.config.max_per_sender:
            raise MempoolError(
                MempoolErrorCode.POOL_FULL,
                f"pool full for this sender: 0x{sender.hex()} has {len(live)} txs in the pool, "
                f"the limit is {self.config.max_per_sender}",
            )

        balance = state.get_balance(sender)
        prior = [p for n, p in sorted(live.items()) if n < nonce]
        prior_cost = sum(p.cost for p in prior)
        if checked.cost > balance:
            raise MempoolError(
                MempoolErrorCode.INSUFFICIENT_FUNDS,
                f"insufficient funds: balance {balance} wei, tx costs up to {checked.cost_text()}",
            )
        if prior_cost + checked.cost > balance:
            raise MempoolError(
                MempoolErrorCode.INSUFFICIENT_FUNDS,
                f"insufficient funds: balance {balance} wei, the sender's {len(prior)} pooled txs "
                f"with nonces {prior[0].nonce}..{prior[-1].nonce} cost up to {prior_cost} wei and "
                f"this tx up to {checked.cost_text()}",
            )

        # Room: count and bytes after dropping the stale and the replaced tx.
        freed = stale + ([existing] if existing is not None else [])
        count = len(self._by_hash) - len(freed) + 1
        size = self._bytes - sum(p.size for p in freed) + checked.size
        is_pending = nonce <= next_nonce
        victims = self._plan_eviction(checked, count, size, base_fee, is_pending, next_nonce)

        # Commit.
        self._seq += 1
        entry = replace(checked, arrival=now, seq=self._seq)
        removed: list[Removed] = []
        for p in stale:
            removed.append(self._drop(p, RemovalReason.STALE))
        if existing is not None:
            self._drop(existing, RemovalReason.REPLACED)
        for p in victims:
            removed.append(self._drop(p, RemovalReason.EVICTED))
        # (Re)register only now: _drop forgets an account that became empty.
        account.base_nonce = state_nonce
        self._accounts[sender] = account
        account.txs[nonce] = entry
        self._by_hash[entry.tx_hash] = entry
        self._bytes += entry.size
        # A replacement may cost more than the tx it replaced: the sender's
        # later txs may no longer be covered by the balance.
        removed.extend(self._trim_unaffordable(account, balance))
        return AddResult(
            tx_hash=entry.tx_hash,
            replaced_hash=None if existing is None else existing.tx_hash,
            evicted=tuple(removed),
        )

    def _check_replacement(self, old: PooledTx, new: PooledTx) -> None:
        """geth's rule: both the fee cap and the tip must rise, by at least price_bump_percent."""
        bump = self.config.price_bump_percent

        def needed(old_value: int) -> int:
            # Rounded up, and always strictly more than before.
            return max(old_value + 1, -(-old_value * (100 + bump) // 100))

        need_fee, need_tip = needed(old.max_fee), needed(old.max_tip)
        if new.max_fee < need_fee or new.max_tip < need_tip:
            raise MempoolError(
                MempoolErrorCode.REPLACEMENT_UNDERPRICED,
                f"replacement underpriced: nonce {old.nonce} already has a tx with max fee "
                f"{old.max_fee} wei and tip {old.max_tip} wei; a replacement needs max fee "
                f">= {need_fee} wei and tip >= {need_tip} wei (+{bump}%), got max fee "
                f"{new.max_fee} wei and tip {new.max_tip} wei",
            )

    def _plan_eviction(
        self,
        new: PooledTx,
        count: int,
        size: int,
        base_fee: int,
        new_is_pending: bool,
        next_nonce: int,
    ) -> list[PooledTx]:
        """Which txs of other senders to evict so `new` fits; raises POOL_FULL if it may not.

        Only queue tails are candidates (evicting from the tail never breaks a
        sender's run), the cheapest effective tip first, newest first among
        equals; each must pay strictly less than `new`. A queued `new` may only
        evict queued txs: otherwise unexecutable txs, which never cost their
        sender anything, could push out executable ones.
        """
        cfg = self.config
        if count <= cfg.max_txs and size <= cfg.max_bytes:
            return []
        new_tip = new.effective_tip(base_fee)
        # Per candidate sender: its nonces ascending and where its run ends.
        tails: dict[Address, tuple[list[int], int]] = {}
        heap: list[tuple[int, int, Address]] = []

        def push(sender: Address) -> None:
            nonces, run_end = tails[sender]
            if not nonces:
                return
            tail = self._accounts[sender].txs[nonces[-1]]
            if not new_is_pending and tail.nonce < run_end:
                return  # the tail is executable: out of reach of a queued tx
            heapq.heappush(heap, (tail.effective_tip(base_fee), -tail.seq, sender))

        for sender, account in self._accounts.items():
            if sender == new.sender:
                continue
            tails[sender] = (sorted(account.txs), account.run_end())
            push(sender)

        victims: list[PooledTx] = []
        while count > cfg.max_txs or size > cfg.max_bytes:
            used = (
                f"pool full: {len(self._by_hash)} of {cfg.max_txs} txs and "
                f"{self._bytes} of {cfg.max_bytes} bytes in use"
            )
            if not heap:
                if new_is_pending:
                    why = "no tx of another sender is left to evict"
                else:
                    why = (
                        f"the tx is queued (nonce {new.nonce}, next executable nonce {next_nonce}) "
                        f"and may only evict queued txs of other senders, none of which is left"
                    )
                raise MempoolError(MempoolErrorCode.POOL_FULL, f"{used}; {why}")
            tip, _, sender = heapq.heappop(heap)
            if tip >= new_tip:
                raise MempoolError(
                    MempoolErrorCode.POOL_FULL,
                    f"{used}; the cheapest evictable tx pays a tip of {tip} wei per gas "
                    f"at base fee {base_fee} wei, this tx pays {new_tip} wei, which is not more",
                )
            nonces, _ = tails[sender]
            victim = self._accounts[sender].txs[nonces.pop()]
            victims.append(victim)
            count -= 1
            size -= victim.size
            push(sender)
        return victims

    # ------------------------------------------------------------------ removal

    def _drop(self, entry: PooledTx, reason: RemovalReason) -> Removed:
        account = self._accounts[entry.sender]
        del account.txs[entry.nonce]
        del self._by_hash[entry.tx_hash]
        self._bytes -= entry.size
        if not account.txs:
            del self._accounts[entry.sender]
        return Removed(entry.tx_hash, entry.sender, entry.nonce, reason)

    def _trim_unaffordable(self, account: _Account, balance: int) -> list[Removed]:
        """From the first tx whose cumulative cost exceeds `balance`: drop it and all later ones."""
        spent = 0
        doomed: list[PooledTx] = []
        for nonce in sorted(account.txs):
            entry = account.txs[nonce]
            spent += entry.cost
            if doomed or spent > balance:
                doomed.append(entry)
        return [self._drop(p, RemovalReason.UNAFFORDABLE) for p in doomed]

    def remove(self, hashes: Iterable[Hash32]) -> tuple[Removed, ...]:
        """Remove the given txs (unknown hashes are ignored); returns what was removed.

        Later nonces of the same sender stay, as queued until the gap refills.
        """
        out = []
        for tx_hash in hashes:
            entry = self._by_hash.get(tx_hash)
            if entry is not None:
                out.append(self._drop(entry, RemovalReason.REMOVED))
        return tuple(out)

    def drop_failed(self, failures: Iterable[tuple[Hash32, str]]) -> tuple[Removed, ...]:
        """Remove txs whose execution raised while a block was built, and refuse them from now on.

        `failures` are (tx hash, reason) pairs; a gossiped copy would otherwise
        come straight back and cost the next block another re-execution.
        """
        out = []
        for tx_hash, reason in failures:
            reason = truncate(reason)
            self._failed[tx_hash] = reason
            self._failed.move_to_end(tx_hash)
            if len(self._failed) > FAILED_MEMORY:
                self._failed.popitem(last=False)
            entry = self._by_hash.get(tx_hash)
            if entry is not None:
                out.append(self._drop(entry, RemovalReason.FAILED))
        return tuple(out)

    def recheck(self, state: AccountState, base_fee: int, now: float) -> tuple[Removed, ...]:
        """Resync with state after a commit; returns every tx removed and why.

        Per sender: txs below the account nonce go (STALE: mined or replaced
        elsewhere; checked first, so a tx mined before a revoke is reported as
        mined), txs the permission lists now forbid go (FORBIDDEN: a revoke, a
        list switched on), txs older than ttl_seconds go (EXPIRED), and from the first
        tx whose cumulative cost (own run, nonce order) exceeds the balance,
        that tx and all later ones go (UNAFFORDABLE). Queued txs whose gap was
        filled become pending by themselves: pending is derived from the new
        base nonce. `base_fee` is not a reason to drop (it can fall again);
        `select` skips what cannot pay it.
        """
        if base_fee < 0:
            raise ValueError(f"base_fee must not be negative, got {base_fee}")
        removed: list[Removed] = []
        for sender in list(self._accounts):
            account = self._accounts[sender]
            state_nonce = state.get_nonce(sender)
            account.base_nonce = state_nonce
            forbidden: dict[bool, bool] = {}  # by "creates a contract": at most two verdicts per sender
            for nonce in sorted(account.txs):
                entry = account.txs[nonce]
                if nonce < state_nonce:
                    removed.append(self._drop(entry, RemovalReason.STALE))
                    continue
                creates = entry.tx.to == CREATE_CONTRACT_ADDRESS
                if creates not in forbidden:
                    forbidden[creates] = permission_denied(state.get_storage, sender, creates) is not None
                if forbidden[creates]:  # no block may carry it now
                    removed.append(self._drop(entry, RemovalReason.FORBIDDEN))
                elif now - entry.arrival > self.config.ttl_seconds:
                    removed.append(self._drop(entry, RemovalReason.EXPIRED))
            if sender in self._accounts:
                removed.extend(self._trim_unaffordable(account, state.get_balance(sender)))
        return tuple(removed)

    # ---------------------------------------------------------------- selection

    def select(
        self, max_gas: int, base_fee: int, max_bytes: int | None = None
    ) -> list[SignedTransactionAPI]:
        """Transactions for a block, best effective tip first, each sender in nonce order.

        Repeatedly takes the best head among the senders' pending runs (ties:
        earlier arrival, then hash). A sender is skipped from the first tx that
        cannot pay `base_fee` and stopped at the first tx that does not fit in
        the gas (by its gas limit) or byte budget left, so every sender
        contributes a contiguous run from its base nonce.
        """
        heap: list[tuple[int, int, bytes, Address, int]] = []
        runs: dict[Address, list[PooledTx]] = {}

        def push(sender: Address, index: int) -> None:
            if index < len(runs[sender]):
                entry = runs[sender][index]
                key = (-entry.effective_tip(base_fee), entry.seq, entry.tx_hash)
                heapq.heappush(heap, (*key, sender, index))

        for sender, account in self._accounts.items():
            runs[sender] = [account.txs[n] for n in range(account.base_nonce, account.run_end())]
            push(sender, 0)
        gas_left = max_gas
        bytes_left = max_bytes
        chosen: list[SignedTransactionAPI] = []
        while heap:
            _, _, _, sender, index = heapq.heappop(heap)
            entry = runs[sender][index]
            if entry.max_fee < base_fee:
                continue  # the sender is done: its later txs cannot come before this one
            if entry.gas > gas_left or (bytes_left is not None and entry.size > bytes_left):
                continue  # likewise
            chosen.append(entry.tx)
            gas_left -= entry.gas
            if bytes_left is not None:
                bytes_left -= entry.size
            push(sender, index + 1)
        return chosen

"""The mempool: transactions waiting for a block (rules and messages: docs/mempool.md).

A pure data structure (no I/O, no clock: callers pass `now`), owned by one
node task. The node feeds it transactions from RPC and gossip, asks it for a
block's transactions, and rechecks it after every commit.

Public API
----------
``MempoolConfig(max_txs=5000, max_bytes=32 MiB, max_tx_bytes=128 KiB,
price_bump_percent=10, max_nonce_gap=64, max_per_sender=64,
ttl_seconds=3*3600, block_gas_limit=None)``
    Frozen limits. ``max_nonce_gap``: queued nonce slots per sender beyond its
    executable run. ``block_gas_limit``: if set, larger gas limits are refused.

``Mempool(chain_id, config=MempoolConfig(), tx_decoder=None)``
    ``tx_decoder(raw) -> signed tx`` defaults to py-evm Prague's transaction
    builder, restricted to legacy (EIP-155), type 1 and type 2.

``add_raw(raw, state, base_fee, now) -> AddResult``
``add(tx, raw_size, state, base_fee, now) -> AddResult``
    Admit a transaction or raise ``MempoolError(code, message)``, ``code`` a
    ``MempoolErrorCode``: NONCE_TOO_LOW, INSUFFICIENT_FUNDS, FEE_BELOW_BASE_FEE,
    INTRINSIC_GAS_TOO_LOW, GAS_LIMIT_EXCEEDS_BLOCK, WRONG_CHAIN_ID, OVERSIZED,
    ALREADY_KNOWN, POOL_FULL, REPLACEMENT_UNDERPRICED, INVALID_SIGNATURE,
    MALFORMED, UNSUPPORTED_TYPE, NONCE_GAP_TOO_LARGE, TIP_ABOVE_FEE_CAP,
    INITCODE_TOO_LARGE, EXECUTION_FAILED, POLICY_REJECTED (raised by ``screen``),
    PERMISSION_DENIED (the on-chain permission lists forbid the sender: the
    block rule of ``execution/permissions.py`` on the head state).
    ``state`` is any ``AccountState`` (``get_nonce(address)``,
    ``get_balance(address)``, ``get_storage(address, slot)``). ``AddResult(tx_hash, replaced_hash, evicted)``:
    ``evicted`` lists (as ``Removed``) every other tx that left the pool
    because of this add.

``screen``: ``None`` or a callable given each ``PooledTx`` that passed the
    stateless checks, before the state checks; it raises ``MempoolError``
    (POLICY_REJECTED) to refuse it. The node sets it to its local policy.

``select(max_gas, base_fee, max_bytes=None) -> list[tx]``
    Block contents: best effective tip first across senders, each sender a
    contiguous nonce run from its account nonce.

``recheck(state, base_fee, now) -> tuple[Removed, ...]``
    After each commit: drops stale nonces, unaffordable runs, expired txs.

``remove(hashes) -> tuple[Removed, ...]``,
``drop_failed([(hash, reason), ...]) -> tuple[Removed, ...]`` (txs that raised
while a block was built: removed, and refused as EXECUTION_FAILED while among
the last ``FAILED_MEMORY`` (1024) such hashes), ``get(hash) -> tx | None``,
``entry(hash) -> PooledTx | None``, ``raw(hash) -> bytes | None``,
``hash in pool``, ``len(pool)``, ``iter(pool)`` (hashes), ``size_bytes``,
``pending_nonce(address, state) -> int``,
``pending() / queued() -> dict[address, tuple[tx, ...]]`` (nonce order).

``Removed(tx_hash, sender, nonce, reason)`` with ``RemovalReason``: STALE,
UNAFFORDABLE, EXPIRED, EVICTED, REPLACED (only ever reported as
``AddResult.replaced_hash``), REMOVED, FAILED, FORBIDDEN (the permission
lists forbid the sender now).

Modules: ``errors`` (codes and the error), ``txcheck`` (decoding and the
checks that need no state), ``pool`` (the pool itself).
"""

from .errors import MempoolError, MempoolErrorCode
from .pool import AccountState, AddResult, Mempool, MempoolConfig, RemovalReason, Removed
from .txcheck import PooledTx, default_decoder

__all__ = [
    "AccountState",
    "AddResult",
    "Mempool",
    "MempoolConfig",
    "MempoolError",
    "MempoolErrorCode",
    "PooledTx",
    "RemovalReason",
    "Removed",
    "default_decoder",
]

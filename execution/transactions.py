"""Transaction decoding and the process-wide sender cache.

``decode_transaction(raw)`` turns wire bytes (legacy RLP list, or a typed
EIP-2718 envelope) into a py-evm signed transaction via the Prague transaction
builder, refusing the types Plume does not run (blobs, set-code).

Sender recovery is the expensive part of a transaction's life outside the EVM;
the mempool, block building and validation all need it, often for the same
transaction. ``recover_sender`` keeps a bounded map tx hash -> sender and plants
the result in the transaction's own cached ``sender`` property, so each
signature is recovered once per process. eth-keys uses the coincurve
(libsecp256k1) backend when coincurve is installed; ``signature_backend()``
reports which one is active.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from eth.abc import SignedTransactionAPI
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_keys.exceptions import BadSignature
from eth_utils import ValidationError

from execution.errors import DecodeError, truncate
from execution.rlp_limits import check_transaction_shape

# 0 legacy (with or without EIP-155), 1 EIP-2930 access list, 2 EIP-1559 dynamic fee.
ALLOWED_TX_TYPES = frozenset({0, 1, 2})
MAX_TX_BYTES = 128 * 1024
SENDER_CACHE_SIZE = 200_000

TransactionBuilder = PragueTransactionBuilder

_senders: OrderedDict[bytes, bytes] = OrderedDict()
_senders_lock = threading.Lock()  # execution may run in a worker thread (trio.to_thread)


def tx_type(tx: SignedTransactionAPI) -> int:
    return getattr(tx, "type_id", None) or 0


def recover_sender(tx: SignedTransactionAPI, tx_hash: bytes | None = None) -> bytes:
    """The sender of ``tx`` (20 bytes), recovered at most once per process.

    ``tx_hash``, if the caller has it (keccak of the tx's canonical bytes),
    saves re-encoding the transaction to hash it. Raises
    ``eth_utils.ValidationError`` if the signature does not recover.
    """
    cached = tx.__dict__.get("sender")
    if cached is not None:
        return cached
    if tx_hash is None:
        tx_hash = tx.hash
    with _senders_lock:
        sender = _senders.get(tx_hash)
    if sender is None:
        try:
            sender = tx.get_sender()
        except (BadSignature, ValueError, ValidationError) as exc:
            raise ValidationError(f"invalid transaction signature: {exc}") from exc
        with _senders_lock:
            _senders[tx_hash] = sender
            if len(_senders) > SENDER_CACHE_SIZE:
                _senders.popitem(last=False)
    # `sender` is a cached_property on py-evm transactions: seed it.
    tx.__dict__["sender"] = sender
    return sender


def seed_hash(tx: SignedTransactionAPI, tx_hash: bytes) -> None:
    """Give ``tx`` its hash, keccak of its canonical bytes, which the caller holds.

    py-evm caches a typed transaction's ``hash`` (a cached_property, so it
    lives in the instance's ``__dict__``) but computes it by re-encoding the
    transaction; a legacy transaction's is a plain property, nothing to seed.
    """
    if tx_type(tx) != 0:
        tx.__dict__.setdefault("hash", tx_hash)


def decode_transaction(raw: bytes) -> SignedTransactionAPI:
    """Decode wire bytes to a signed transaction with its sender recovered.

    Raises ``DecodeError`` for malformed bytes, an unsupported type, or a
    signature that does not recover.
    """
    if type(raw) is not bytes or not raw:
        raise DecodeError("a transaction must be non-empty bytes")
    if len(raw) > MAX_TX_BYTES:
        raise DecodeError(f"transaction is {len(raw)} bytes, the limit is {MAX_TX_BYTES}")
    if raw[0] <= 0x7F and raw[0] not in ALLOWED_TX_TYPES:
        raise DecodeError(f"transaction type {raw[0]} is not supported on Plume (use 0, 1 or 2)")
    try:
        check_transaction_shape(raw)
        tx = TransactionBuilder.decode(raw)
    except Exception as exc:  # rlp raises a zoo of types
        raise DecodeError(f"malformed transaction: {truncate(str(exc))}") from exc
    if tx_type(tx) not in ALLOWED_TX_TYPES:
        raise DecodeError(f"transaction type {tx_type(tx)} is not supported on Plume")
    try:
        recover_sender(tx)
    except ValidationError as exc:
        raise DecodeError(str(exc)) from exc
    return tx


def encode_transaction(tx: SignedTransactionAPI) -> bytes:
    """Wire bytes of ``tx`` (inverse of ``decode_transaction``)."""
    return tx.encode()


def signature_backend() -> str:
    """Name of the eth-keys backend in use (``CoinCurveECCBackend`` is the fast one)."""
    from eth_keys import keys

    return type(keys.backend).__name__

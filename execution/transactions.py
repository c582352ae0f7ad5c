"""Transaction decoding and the process-wide sender cache.

``decode_transaction(raw)`` turns wire bytes (legacy RLP list, or a typed
EIP-2718 envelope) into a py-evm signed transaction via the Prague transaction
builder, refusing the types Plume does not run (blobs, set-code).

Sender recovery is the expensive part of a transaction's life outside the EVM;
the mempool, block building and validation all need it, often for the same
transaction. ``recover_sender`` keeps a bounded map tx hash -> sender and plants
the result in the transaction's own cached ``sender`` property, so each
signature is recovered once per process.

A recovery itself goes straight to libsecp256k1 (coincurve): the signing hash
is cut from the transaction's canonical bytes (``signing_hash``), not rebuilt
through py-evm's unsigned transaction object, and the address is keccak of the
recovered key. It accepts and refuses exactly what py-evm's ``get_sender``
does (tested property by property); a transaction class it does not know, or a
process without coincurve, takes py-evm's path. ``signature_backend()`` reports
eth-keys' backend, which py-evm's path and signing use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import rlp
from eth.abc import SignedTransactionAPI
from eth.constants import SECPK1_N
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_hash.auto import keccak
from eth_keys.exceptions import BadSignature
from eth_utils import ValidationError, int_to_big_endian
from rlp.codec import length_prefix

try:
    from coincurve import PublicKey as Secp256k1PublicKey
except ImportError:  # pragma: no cover - coincurve is pinned; py-evm's path still works
    Secp256k1PublicKey = None

from execution.errors import DecodeError, truncate
from execution.rlp_limits import check_transaction_shape

# 0 legacy (with or without EIP-155), 1 EIP-2930 access list, 2 EIP-1559 dynamic fee.
ALLOWED_TX_TYPES = frozenset({0, 1, 2})
MAX_TX_BYTES = 128 * 1024
SENDER_CACHE_SIZE = 200_000

TransactionBuilder = PragueTransactionBuilder

# The classes whose signing message ``signing_hash`` knows how to cut.
_LEGACY_TX_CLASS = TransactionBuilder.legacy_signed
_TYPED_TX_CLASS = TransactionBuilder.typed_transaction
_FAST_TYPED_TX_TYPES = frozenset({1, 2})
EIP155_V_OFFSET = 35  # EIP-155: v = 35 + 2 * chain_id + y_parity
_RLP_LIST_OFFSET = 0xC0
_RLP_LONG_LIST = 0xF7  # a list prefix above this is followed by its length's bytes
_EMPTY_RLP_STRING = b"\x80"

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
        sender = recover_uncached(tx)
        with _senders_lock:
            _senders[tx_hash] = sender
            if len(_senders) > SENDER_CACHE_SIZE:
                _senders.popitem(last=False)
    # `sender` is a cached_property on py-evm transactions: seed it.
    tx.__dict__["sender"] = sender
    return sender


def recover_uncached(tx: SignedTransactionAPI) -> bytes:
    """One real recovery of ``tx``'s sender, no cache: libsecp256k1 directly
    (``fast_sender``), or py-evm's ``get_sender`` for a class the fast path does
    not know. Raises ``eth_utils.ValidationError`` if the signature does not recover."""
    try:
        sender = fast_sender(tx)
        return tx.get_sender() if sender is None else sender
    except (BadSignature, ValueError, ValidationError) as exc:
        raise ValidationError(f"invalid transaction signature: {truncate(str(exc))}") from exc


def fast_sender(tx: SignedTransactionAPI) -> bytes | None:
    """The sender of ``tx`` recovered with libsecp256k1 directly, or None if
    this path does not know ``tx``'s class (or coincurve is missing).

    Refuses (``ValidationError``) exactly what py-evm's ``get_sender`` refuses:
    y_parity not 0 or 1, r or s outside [0, secp256k1n), a signature that
    recovers no key. Like py-evm's, it accepts a high s: the mempool refuses
    that before recovering, and in a block py-evm's state-level transaction
    validation does (EIP-2).
    """
    if Secp256k1PublicKey is None:
        return None
    msg_hash = signing_hash(tx)
    if msg_hash is None:
        return None
    return _recover_address(msg_hash, tx.y_parity, tx.r, tx.s)


def signing_hash(tx: SignedTransactionAPI) -> bytes | None:
    """keccak of the message ``tx``'s signature signs (py-evm's
    ``get_message_for_signing``), or None for a class it does not know.

    The message is the signed transaction's list without its last three items
    (y_parity or v, r, s), cut from the canonical bytes (``tx.encode()``, which
    a decoded transaction has cached): typed, ``type || rlp([fields])``; legacy
    with EIP-155 (v >= 35), ``rlp([fields, chain_id, "", ""])``; legacy before
    EIP-155 (v 27 or 28), ``rlp([fields])``.
    """
    tx_class = type(tx)
    if tx_class is _TYPED_TX_CLASS and tx.type_id in _FAST_TYPED_TX_TYPES:
        encoded = tx.encode()
        fields = _fields_before_signature(encoded, 1, (tx.y_parity, tx.r, tx.s))
        return keccak(encoded[:1] + length_prefix(len(fields), _RLP_LIST_OFFSET) + fields)
    if tx_class is _LEGACY_TX_CLASS:
        v = tx.v
        fields = _fields_before_signature(tx.encode(), 0, (v, tx.r, tx.s))
        if v >= EIP155_V_OFFSET:
            # The same for both parities; int_to_big_endian as py-evm does
            # (chain id 0 is b"\x00", not the empty string).
            chain_id = (v - EIP155_V_OFFSET) // 2
            fields += rlp.encode(int_to_big_endian(chain_id)) + _EMPTY_RLP_STRING * 2
        return keccak(length_prefix(len(fields), _RLP_LIST_OFFSET) + fields)
    return None


def _fields_before_signature(encoded: bytes, list_start: int, signature_ints: tuple[int, int, int]) -> bytes:
    """The encoded items of the RLP list at ``encoded[list_start:]`` without the
    three integers that end it (their encoded length is known from their values)."""
    prefix = encoded[list_start]
    header = 1 if prefix <= _RLP_LONG_LIST else 1 + prefix - _RLP_LONG_LIST
    tail = sum(_rlp_int_length(number) for number in signature_ints)
    return encoded[list_start + header : len(encoded) - tail]


def _rlp_int_length(number: int) -> int:
    """Length of the RLP encoding of a non-negative integer."""
    if number < 0x80:  # 0 is b"\x80", 1..127 their own byte
        return 1
    size = (number.bit_length() + 7) // 8
    if size < 56:
        return 1 + size
    return 1 + (size.bit_length() + 7) // 8 + size


def _recover_address(msg_hash: bytes, y_parity: int, r: int, s: int) -> bytes:
    # eth-keys' checks of a recoverable signature. The values stay out of the
    # text: a legacy v may be as long as the transaction.
    if y_parity not in (0, 1):
        raise ValidationError("y_parity is not 0 or 1")
    if not (0 <= r < SECPK1_N and 0 <= s < SECPK1_N):
        raise ValidationError("r or s is outside [0, secp256k1n)")
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((y_parity,))
    try:
        public_key = Secp256k1PublicKey.from_signature_and_message(signature, msg_hash, hasher=None)
    except Exception as exc:  # noqa: BLE001 - coincurve raises ValueError, or its own errors
        raise ValidationError(f"the signature recovers no public key: {truncate(str(exc))}") from exc
    return keccak(public_key.format(compressed=False)[1:])[12:]


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

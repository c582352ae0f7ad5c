"""Decoding and the checks that need no state: what a transaction *is*.

Owns the default decoder (py-evm Prague's transaction builder, limited to the
types this pool accepts), `PooledTx` (a checked transaction with the numbers
the pool orders and limits by) and `check_transaction`, which runs every
check that depends only on the transaction itself and the chain: type, chain
id, field ranges, tip versus fee cap, EIP-3860 initcode size, intrinsic gas,
block gas limit and the signature. Checks run cheapest first, so the sender recovery (the costly one)
is paid only by transactions that passed everything else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from eth.abc import SignedTransactionAPI
from eth.constants import CREATE_CONTRACT_ADDRESS, GAS_TX, SECPK1_N
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.constants import STANDARD_TOKEN_COST, TOTAL_COST_FLOOR_PER_TOKEN
from eth.vm.forks.shanghai.constants import INITCODE_WORD_COST, MAX_INITCODE_SIZE
from eth_typing import Address, Hash32
from eth_utils import keccak

from execution.errors import describe
from execution.transactions import recover_sender, seed_hash

from .errors import MempoolError, MempoolErrorCode

log = logging.getLogger("plume.mempool")

TxDecoder = Callable[[bytes], SignedTransactionAPI]

LEGACY_TX_TYPE = 0
ACCESS_LIST_TX_TYPE = 1  # EIP-2930
DYNAMIC_FEE_TX_TYPE = 2  # EIP-1559
ACCEPTED_TX_TYPES = (LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE, DYNAMIC_FEE_TX_TYPE)

_TYPE_NAMES = {
    LEGACY_TX_TYPE: "legacy",
    ACCESS_LIST_TX_TYPE: "EIP-2930 access list",
    DYNAMIC_FEE_TX_TYPE: "EIP-1559 dynamic fee",
    3: "EIP-4844 blob",
    4: "EIP-7702 set code",
}
_ACCEPTED_TEXT = "accepted are legacy (EIP-155), type 1 (EIP-2930) and type 2 (EIP-1559)"

# Bounds of the fields, as the protocol (and geth) define them. RLP decoding
# accepts integers of any size, so these are checked explicitly.
_NONCE_LIMIT = 2**64 - 1  # EIP-2681: a nonce must be below 2**64 - 1
_GAS_LIMIT = 2**64
_UINT256_LIMIT = 2**256

_PRAGUE_BUILDER = PragueVM.get_transaction_builder()


def type_name(type_id: int) -> str:
    return _TYPE_NAMES.get(type_id, "unknown")


def _unsupported(type_id: int) -> MempoolError:
    return MempoolError(
        MempoolErrorCode.UNSUPPORTED_TYPE,
        f"unsupported transaction type {type_id} ({type_name(type_id)}): {_ACCEPTED_TEXT}",
    )


def default_decoder(raw: bytes) -> SignedTransactionAPI:
    """Decode `raw` with py-evm Prague's builder; only legacy, type 1 and type 2.

    Raises MempoolError(UNSUPPORTED_TYPE) for any other typed envelope (the
    builder itself would decode blob and set-code transactions, which this
    pool does not carry). Other decoding failures propagate as the builder
    raised them; `decode_raw` turns them into MALFORMED.
    """
    if raw and raw[0] <= 0x7F and raw[0] not in (ACCESS_LIST_TX_TYPE, DYNAMIC_FEE_TX_TYPE):
        # 0x00..0x7f is a typed envelope (EIP-2718); a legacy tx is an RLP list (>= 0xc0).
        raise _unsupported(raw[0])
    return _PRAGUE_BUILDER.decode(raw)


def decode_raw(raw: bytes, decoder: TxDecoder) -> SignedTransactionAPI:
    """Run `decoder`, mapping every failure to a MempoolError, and insist on canonical bytes."""
    if not raw:
        raise MempoolError(MempoolErrorCode.MALFORMED, "malformed transaction: empty input")
    try:
        tx = decoder(raw)
    except MempoolError:
        raise
    except Exception as exc:  # noqa: BLE001
        # Bytes from the network may make rlp/py-evm raise almost anything
        # (DeserializationError, ValidationError, IndexError, ...); none of it
        # may escape as anything but a rejection.
        # The decoder's own text (rlp/py-evm exception names, Python reprs) is
        # for the node's debug log, not for the client.
        log.debug("undecodable transaction (%d bytes): %s", len(raw), describe(exc))
        raise MempoolError(
            MempoolErrorCode.MALFORMED,
            f"malformed transaction: cannot decode {len(raw)} bytes as an RLP legacy, EIP-2930 or EIP-1559 transaction",
        ) from exc
    try:
        canonical = tx.encode()
    except Exception as exc:  # noqa: BLE001 - same reason as above
        log.debug("transaction cannot be re-encoded: %s", describe(exc))
        raise MempoolError(MempoolErrorCode.MALFORMED, "malformed transaction: cannot re-encode it") from exc
    if canonical != raw:
        # The pool keys transactions by keccak(raw); a second encoding of the
        # same transaction would get a second hash and slip past ALREADY_KNOWN.
        raise MempoolError(
            MempoolErrorCode.MALFORMED,
            f"malformed transaction: non-canonical encoding ({len(raw)} bytes, "
            f"canonical form is {len(canonical)} bytes)",
        )
    return tx


def tx_type_id(tx: SignedTransactionAPI) -> int:
    # py-evm's legacy transactions have type_id None.
    type_id = getattr(tx, "type_id", None)
    return LEGACY_TX_TYPE if type_id is None else int(type_id)


def fee_fields(tx: SignedTransactionAPI) -> tuple[int, int]:
    """(max fee per gas, max priority fee per gas); both are the gas price for types 0 and 1."""
    if tx_type_id(tx) == DYNAMIC_FEE_TX_TYPE:
        return tx.max_fee_per_gas, tx.max_priority_fee_per_gas
    return tx.gas_price, tx.gas_price


def required_gas(tx: SignedTransactionAPI) -> tuple[int, int]:
    """(intrinsic gas, EIP-7623 calldata floor) under Prague rules.

    py-evm's `intrinsic_gas` leaves out the EIP-3860 initcode word cost (it
    charges it while executing), so it is added here: a pool should only hold
    transactions valid by the protocol's own definition.
    """
    intrinsic = tx.intrinsic_gas
    if tx.to == CREATE_CONTRACT_ADDRESS:
        intrinsic += INITCODE_WORD_COST * ((len(tx.data) + 31) // 32)
    zeros = tx.data.count(0)
    tokens = zeros + (len(tx.data) - zeros) * STANDARD_TOKEN_COST
    floor = GAS_TX + TOTAL_COST_FLOOR_PER_TOKEN * tokens
    return intrinsic, floor


@dataclass(frozen=True, slots=True)
class PooledTx:
    """A transaction that passed the stateless checks, with what the pool sorts and limits by.

    `seq` is the pool's arrival counter (ties in ordering go to the earlier
    arrival); `arrival` is the caller's clock at admission, for the ttl.
    """

    tx: SignedTransactionAPI
    tx_hash: Hash32
    raw: bytes
    sender: Address
    nonce: int
    type_id: int
    gas: int
    max_fee: int
    max_tip: int
    value: int
    arrival: float = 0.0
    seq: int = 0

    @property
    def size(self) -> int:
        return len(self.raw)

    @property
    def cost(self) -> int:
        """The most this transaction can take from the sender: gas x max fee + value."""
        return self.gas * self.max_fee + self.value

    def effective_tip(self, base_fee: int) -> int:
        """Tip per gas at `base_fee`; negative when the tx cannot pay the base fee."""
        return min(self.max_tip, self.max_fee - base_fee)

    def fee_label(self) -> str:
        return "max fee" if self.type_id == DYNAMIC_FEE_TX_TYPE else "gas price"

    def cost_text(self) -> str:
        return (
            f"{self.cost} wei (gas {self.gas} x {self.fee_label()} {self.max_fee}"
            f" + value {self.value})"
        )


def _check_chain_id(tx: SignedTransactionAPI, type_id: int, chain_id: int) -> None:
    if type_id == LEGACY_TX_TYPE:
        v = tx.v
        if v in (27, 28):
            raise MempoolError(
                MempoolErrorCode.WRONG_CHAIN_ID,
                f"wrong chain id: this chain is {chain_id}, tx has no chain id "
                f"(pre-EIP-155 legacy signature, v={v})",
            )
        if v < 35:
            raise MempoolError(
                MempoolErrorCode.INVALID_SIGNATURE,
                f"invalid signature: legacy v={v} is neither 27/28 nor EIP-155 "
                f"(35 + 2 x chain id + parity)",
            )
    tx_chain_id = tx.chain_id
    if tx_chain_id != chain_id:
        raise MempoolError(
            MempoolErrorCode.WRONG_CHAIN_ID,
            f"wrong chain id: this chain is {chain_id}, tx is for {tx_chain_id}",
        )


def _check_ranges(tx: SignedTransactionAPI, max_fee: int, max_tip: int) -> None:
    def bad(what: str) -> MempoolError:
        return MempoolError(MempoolErrorCode.MALFORMED, f"malformed transaction: {what}")

    if tx.nonce >= _NONCE_LIMIT:
        raise bad(f"nonce {tx.nonce} is not below 2**64-1")
    if tx.gas >= _GAS_LIMIT:
        raise bad(f"gas limit {tx.gas} does not fit in 64 bits")
    for name, number in (
        ("max fee per gas", max_fee),
        ("max priority fee per gas", max_tip),
        ("value", tx.value),
    ):
        if number >= _UINT256_LIMIT:
            raise bad(f"{name} {number} does not fit in 256 bits")


def _check_signature(tx: SignedTransactionAPI, tx_hash: Hash32) -> Address:
    def bad(what: str) -> MempoolError:
        return MempoolError(MempoolErrorCode.INVALID_SIGNATURE, f"invalid signature: {what}")

    if tx.y_parity not in (0, 1):
        raise bad(f"y parity {tx.y_parity} is not 0 or 1")
    if not 1 <= tx.r < SECPK1_N:
        raise bad(f"r {tx.r} is outside [1, secp256k1n)")
    # EIP-2 (Homestead): s in the upper half makes a second valid signature
    # of the same transaction, a malleability py-evm also refuses.
    if not 1 <= tx.s <= SECPK1_N // 2:
        raise bad(f"s {tx.s} is outside [1, secp256k1n/2]")
    try:
        # Through the process-wide sender cache: block validation (and the
        # block builder) then find this sender instead of recovering it again.
        sender = recover_sender(tx, tx_hash)
    except Exception as exc:  # noqa: BLE001 - eth_keys raises several types for a bad point
        log.debug("sender recovery failed: %s", describe(exc))
        raise bad("cannot recover the sender: the signature is not a valid secp256k1 signature") from exc
    return Address(sender)


def check_transaction(
    tx: SignedTransactionAPI,
    raw: bytes,
    *,
    chain_id: int,
    block_gas_limit: int | None,
    tx_hash: Hash32 | None = None,
) -> PooledTx:
    """Every check that needs no account state; returns the transaction as a `PooledTx`.

    `tx_hash`, if the caller already has it, must be keccak(raw). The result
    carries arrival 0 and seq 0; the pool stamps both on admission.
    """
    type_id = tx_type_id(tx)
    if type_id not in ACCEPTED_TX_TYPES:
        raise _unsupported(type_id)
    _check_chain_id(tx, type_id, chain_id)
    max_fee, max_tip = fee_fields(tx)
    _check_ranges(tx, max_fee, max_tip)
    if max_tip > max_fee:
        raise MempoolError(
            MempoolErrorCode.TIP_ABOVE_FEE_CAP,
            f"max priority fee per gas {max_tip} wei is above the max fee per gas {max_fee} wei",
        )
    if tx.to == CREATE_CONTRACT_ADDRESS and len(tx.data) > MAX_INITCODE_SIZE:
        # EIP-3860: such a tx is invalid; the VM refuses it, so it could never be mined.
        raise MempoolError(
            MempoolErrorCode.INITCODE_TOO_LARGE,
            f"initcode too large: the contract creation carries {len(tx.data)} bytes of "
            f"initcode, the EIP-3860 limit is {MAX_INITCODE_SIZE} bytes",
        )
    intrinsic, floor = required_gas(tx)
    needed = max(intrinsic, floor)
    if tx.gas < needed:
        raise MempoolError(
            MempoolErrorCode.INTRINSIC_GAS_TOO_LOW,
            f"intrinsic gas too low: gas limit {tx.gas}, the tx needs at least {needed} "
            f"(intrinsic gas {intrinsic}, EIP-7623 calldata floor {floor})",
        )
    if block_gas_limit is not None and tx.gas > block_gas_limit:
        raise MempoolError(
            MempoolErrorCode.GAS_LIMIT_EXCEEDS_BLOCK,
            f"gas limit {tx.gas} exceeds the block gas limit {block_gas_limit}",
        )
    if tx_hash is None:
        tx_hash = Hash32(keccak(raw))
    sender = _check_signature(tx, tx_hash)
    seed_hash(tx, tx_hash)  # the commit's tx index asks for it
    return PooledTx(
        tx=tx,
        tx_hash=tx_hash,
        raw=raw,
        sender=sender,
        nonce=tx.nonce,
        type_id=type_id,
        gas=tx.gas,
        max_fee=max_fee,
        max_tip=max_tip,
        value=tx.value,
    )

"""Python and py-evm values to the JSON shapes of the Ethereum execution-apis.

QUANTITY is "0x" + hex without leading zeros ("0x0" for zero); DATA is "0x" +
two hex digits per byte; absent things are `null`. Blocks, transactions,
receipts and logs get exactly the fields geth returns for a post-London,
pre-merge-shaped chain, so web3.py and ethers.js format them without
middleware.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth.abc import BlockAPI, BlockHeaderAPI, LogAPI, ReceiptAPI, SignedTransactionAPI
from eth._utils.address import generate_contract_address
from eth_utils import to_checksum_address



def q(value: int) -> str:
    """QUANTITY."""
    return hex(value)


def d(value: bytes) -> str:
    """DATA."""
    return "0x" + value.hex()


def addr(value: bytes) -> str:
    """An address, checksummed (EIP-55), as geth prints it."""
    return to_checksum_address(value)


def word(value: int) -> str:
    """A 32-byte word (topics, storage values) as DATA."""
    return "0x" + value.to_bytes(32, "big").hex()


def tx_type(tx: SignedTransactionAPI) -> int:
    type_id = getattr(tx, "type_id", None)
    return 0 if type_id is None else int(type_id)


def effective_gas_price(tx: SignedTransactionAPI, base_fee: int) -> int:
    """What the sender paid per gas in a block with `base_fee` (EIP-1559)."""
    return min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas)


def effective_tip(tx: SignedTransactionAPI, base_fee: int) -> int:
    return effective_gas_price(tx, base_fee) - base_fee


def mined_transaction(tx: SignedTransactionAPI, header: Any, index: int) -> dict[str, Any]:
    """The transaction object of ``tx``, the ``index``-th of the block with ``header``."""
    return transaction(
        tx, block_hash=header.hash, block_number=header.block_number, index=index,
        base_fee=header.base_fee_per_gas, block_timestamp=header.timestamp,
    )


def transaction(
    tx: SignedTransactionAPI,
    *,
    block_hash: bytes | None,
    block_number: int | None,
    index: int | None,
    base_fee: int | None,
    block_timestamp: int | None = None,
) -> dict[str, Any]:
    """A transaction object; block fields null for a pending one."""
    kind = tx_type(tx)
    result: dict[str, Any] = {
        "blockHash": None if block_hash is None else d(block_hash),
        "blockNumber": None if block_number is None else q(block_number),
        "blockTimestamp": None if block_timestamp is None else q(block_timestamp),
        "from": addr(tx.sender),
        "gas": q(tx.gas),
        "hash": d(tx.hash),
        "input": d(tx.data),
        "nonce": q(tx.nonce),
        "to": addr(tx.to) if tx.to else None,
        "transactionIndex": None if index is None else q(index),
        "value": q(tx.value),
        "type": q(kind),
        "r": q(tx.r),
        "s": q(tx.s),
    }
    if kind == 0:
        result["gasPrice"] = q(tx.gas_price)
        result["v"] = q(tx.v)
        if tx.chain_id is not None:
            result["chainId"] = q(tx.chain_id)
        return result
    result["chainId"] = q(tx.chain_id)
    result["v"] = q(tx.y_parity)
    result["yParity"] = q(tx.y_parity)
    result["accessList"] = [
        {"address": addr(a), "storageKeys": [word(k) for k in keys]} for a, keys in tx.access_list
    ]
    if kind == 1:
        result["gasPrice"] = q(tx.gas_price)
    else:
        result["maxFeePerGas"] = q(tx.max_fee_per_gas)
        result["maxPriorityFeePerGas"] = q(tx.max_priority_fee_per_gas)
        # geth reports the effective price once mined, the fee cap while pending.
        price = tx.max_fee_per_gas if base_fee is None else effective_gas_price(tx, base_fee)
        result["gasPrice"] = q(price)
    return result


def block(
    blk: BlockAPI,
    *,
    full_transactions: bool,
    size: int,
) -> dict[str, Any]:
    header = blk.header
    txs: list[Any]
    if full_transactions:
        txs = [
            mined_transaction(tx, header, i) for i, tx in enumerate(blk.transactions)
        ]
    else:
        txs = [d(tx.hash) for tx in blk.transactions]
    result = header_fields(header)
    result["size"] = q(size)
    result["transactions"] = txs
    result["uncles"] = []
    withdrawals_root = getattr(header, "withdrawals_root", None)
    if withdrawals_root is not None:
        result["withdrawals"] = [
            {"index": q(w.index), "validatorIndex": q(w.validator_index), "address": addr(w.address),
             "amount": q(w.amount)}
            for w in getattr(blk, "withdrawals", ())
        ]
    return result


def header_fields(header: BlockHeaderAPI) -> dict[str, Any]:
    result: dict[str, Any] = {
        "number": q(header.block_number),
        "hash": d(header.hash),
        "parentHash": d(header.parent_hash),
        "nonce": d(header.nonce),
        "mixHash": d(header.mix_hash),
        "sha3Uncles": d(header.uncles_hash),
        "logsBloom": d(header.bloom.to_bytes(256, "big")),
        "transactionsRoot": d(header.transaction_root),
        "stateRoot": d(header.state_root),
        "receiptsRoot": d(header.receipt_root),
        "miner": addr(header.coinbase),
        "difficulty": q(header.difficulty),
        "totalDifficulty": q(0),
        "extraData": d(header.extra_data),
        "gasLimit": q(header.gas_limit),
        "gasUsed": q(header.gas_used),
        "timestamp": q(header.timestamp),
    }
    if getattr(header, "base_fee_per_gas", None) is not None:
        result["baseFeePerGas"] = q(header.base_fee_per_gas)
    optional = (
        ("withdrawals_root", "withdrawalsRoot", d),
        ("blob_gas_used", "blobGasUsed", q),
        ("excess_blob_gas", "excessBlobGas", q),
        ("parent_beacon_block_root", "parentBeaconBlockRoot", d),
        ("requests_hash", "requestsHash", d),
    )
    for attr, key, fmt in optional:
        value = getattr(header, attr, None)
        if value is not None:
            result[key] = fmt(value)
    return result


def log_entry(
    log: LogAPI,
    *,
    block_hash: bytes,
    block_number: int,
    tx_hash: bytes,
    tx_index: int,
    log_index: int,
) -> dict[str, Any]:
    return {
        "address": addr(log.address),
        "topics": [word(t) if isinstance(t, int) else d(t) for t in log.topics],
        "data": d(log.data),
        "blockNumber": q(block_number),
        "blockHash": d(block_hash),
        "transactionHash": d(tx_hash),
        "transactionIndex": q(tx_index),
        "logIndex": q(log_index),
        "removed": False,
    }


def receipt(
    blk: BlockAPI,
    receipts: Sequence[ReceiptAPI],
    index: int,
) -> dict[str, Any]:
    """The receipt of transaction `index` of `blk` (`receipts` are the block's)."""
    header = blk.header
    tx = blk.transactions[index]
    rcpt = receipts[index]
    previous_cumulative = receipts[index - 1].gas_used if index else 0
    first_log_index = sum(len(r.logs) for r in receipts[:index])
    base_fee = header.base_fee_per_gas or 0
    return {
        "transactionHash": d(tx.hash),
        "transactionIndex": q(index),
        "blockHash": d(header.hash),
        "blockNumber": q(header.block_number),
        "from": addr(tx.sender),
        "to": addr(tx.to) if tx.to else None,
        "cumulativeGasUsed": q(rcpt.gas_used),
        "gasUsed": q(rcpt.gas_used - previous_cumulative),
        "effectiveGasPrice": q(effective_gas_price(tx, base_fee)),
        "contractAddress": None if tx.to else addr(generate_contract_address(tx.sender, tx.nonce)),
        "logs": [
            log_entry(log, block_hash=header.hash, block_number=header.block_number, tx_hash=tx.hash,
                      tx_index=index, log_index=first_log_index + i)
            for i, log in enumerate(rcpt.logs)
        ],
        "logsBloom": d(rcpt.bloom.to_bytes(256, "big")),
        "status": q(1 if rcpt.state_root == b"\x01" else 0),
        "type": q(tx_type(tx)),
    }

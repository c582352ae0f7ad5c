"""End-of-block logs: the EVM logs the end-of-block hooks emit, published like transaction logs.

They belong to no transaction. As Polygon Bor does for its state-sync
events, they are reported after the block's transactions under a derived
transaction hash, ``end_of_block_tx_hash(height, block_hash)`` =
keccak256(b"plume-end-of-block" ‖ height as 8 bytes big-endian ‖ block hash),
with ``transactionIndex`` = the number of the block's transactions and
``logIndex`` continuing after the transactions' logs.

Consensus: they are in the header's ``logsBloom`` (so a bloom-filtered log
query finds them) and not in the receipts root (that stays Ethereum's, over
the transactions' receipts only). They are a deterministic function of the
parent state and the block (its transactions and sidecar), recomputed by
every node that executes the block, syncing ones included; a validator
recomputes the bloom and refuses a block whose bloom differs.

Storage: RLP list of py-evm ``Log``s under ``PREFIX_EXEC`` by block hash,
written in the block's commit batch (absent = none). Their number is bounded
by the hooks' own per-block bounds (slashing: 3 logs per applied piece of
evidence, at most ``MAX_EVIDENCE_ITEMS`` = 256 pieces per sidecar).
"""

from __future__ import annotations

from collections.abc import Iterable

import rlp
from eth.rlp.logs import Log
from eth_bloom import BloomFilter
from eth_hash.auto import keccak
from rlp.sedes import CountableList

END_OF_BLOCK_TAG = b"plume-end-of-block"
SYSTEM_LOGS_KEY = b"syslogs/"  # under PREFIX_EXEC: syslogs/<block hash> -> RLP list of logs
_LOGS = CountableList(Log)


def end_of_block_tx_hash(height: int, block_hash: bytes) -> bytes:
    """The transaction hash under which block ``height``'s end-of-block logs are reported."""
    return keccak(END_OF_BLOCK_TAG + height.to_bytes(8, "big") + block_hash)


def system_logs_key(block_hash: bytes) -> bytes:
    return SYSTEM_LOGS_KEY + block_hash


def to_logs(emitted: Iterable[tuple[bytes, tuple[int, ...], bytes]]) -> tuple[Log, ...]:
    """``BlockContext.system_logs`` entries as py-evm logs."""
    return tuple(Log(address, list(topics), data) for address, topics, data in emitted)


def logs_bloom(logs: Iterable[Log]) -> int:
    """The bloom bits of ``logs`` (address and topics, as a receipt's bloom)."""
    bloom = BloomFilter()
    for log in logs:
        for item in log.bloomables:
            bloom.add(item)
    return int(bloom)


def encode_logs(logs: tuple[Log, ...]) -> bytes:
    return rlp.encode(list(logs), sedes=_LOGS)


def decode_logs(raw: bytes) -> tuple[Log, ...]:
    return tuple(rlp.decode(raw, sedes=_LOGS))

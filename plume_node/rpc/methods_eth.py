"""eth_* methods for chain data, accounts, transactions, calls.

Every block of this chain is final once committed, so the tags
latest / safe / finalized all name the head, and pending names the head too
(the next block does not exist until it is committed; geth without a miner
answers the same way). Fee methods are in `methods_fees`, logs in
`methods_logs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from execution.mempool import MempoolError
from execution.proofs import MAX_PROOF_SLOTS

from plume_node.rpc import params as p
from plume_node.rpc.chainview import ChainView, resolve_block_number
from plume_node.rpc.dispatch import MethodTable, Param
from plume_node.rpc.encode import (
    addr,
    block as encode_block,
    d,
    mined_transaction,
    q,
    receipt as encode_receipt,
    transaction,
    word,
)
from plume_node.rpc.errors import METHOD_NOT_FOUND, InvalidParams, RpcError, ServerError
from plume_node.rpc.workers import OffThread

table = MethodTable()

LATEST = p.BlockRef(tag="latest")


@table.register("eth_chainId")
def eth_chain_id(backend: Any) -> str:
    return q(backend.chain_id)


@table.register("eth_blockNumber")
def eth_block_number(backend: Any) -> str:
    return q(ChainView(backend.chain).head_number())


@table.register("eth_syncing")
def eth_syncing(backend: Any) -> Any:
    status = backend.syncing()
    if not status:
        return False
    return {
        "startingBlock": q(status["starting_block"]),
        "currentBlock": q(status["current_block"]),
        "highestBlock": q(status["highest_block"]),
    }


@table.register("eth_accounts")
def eth_accounts(backend: Any) -> list[str]:
    # The node holds no user keys: wallets sign and send raw transactions.
    return []


@table.register("eth_coinbase")
def eth_coinbase(backend: Any) -> None:
    # As geth without an etherbase: the method is not supported here (a node
    # does not mine; validators propose blocks, their fee address is per node).
    raise RpcError(METHOD_NOT_FOUND, "the method eth_coinbase does not exist/is not available")


def _no_keys(method: str) -> None:
    # -32601 as geth answers a method it does not serve, with a message that says what to do instead.
    raise RpcError(
        METHOD_NOT_FOUND,
        f"the method {method} does not exist/is not available: it needs a key on the node, and a Plume node "
        "holds no user keys; sign the transaction in the wallet/library and send it with eth_sendRawTransaction",
    )


for _method in ("eth_sendTransaction", "eth_sign", "eth_signTransaction", "eth_signTypedData_v4"):
    table.register(_method, Param("args", lambda value, name: value, None), Param("more", lambda value, name: value, None))(
        lambda backend, *args, _name=_method: _no_keys(_name)
    )


# ---- account state ---------------------------------------------------------


@table.register("eth_getBalance", Param("address", p.address), Param("block", p.block_ref, LATEST))
def eth_get_balance(backend: Any, address: bytes, ref: p.BlockRef) -> str:
    view = ChainView(backend.chain)
    return q(view.state_at(ref).get_balance(address))


@table.register("eth_getTransactionCount", Param("address", p.address), Param("block", p.block_ref, LATEST))
def eth_get_transaction_count(backend: Any, address: bytes, ref: p.BlockRef) -> str:
    view = ChainView(backend.chain)
    if ref.tag == "pending":
        # The next nonce counting the sender's executable transactions in the
        # pool: what a wallet must use for its next transaction.
        return q(backend.mempool.pending_nonce(address, view.latest_state()))
    return q(view.state_at(ref).get_nonce(address))


@table.register("eth_getCode", Param("address", p.address), Param("block", p.block_ref, LATEST))
def eth_get_code(backend: Any, address: bytes, ref: p.BlockRef) -> str:
    return d(ChainView(backend.chain).state_at(ref).get_code(address))


@table.register(
    "eth_getStorageAt",
    Param("address", p.address),
    Param("position", p.storage_slot),
    Param("block", p.block_ref, LATEST),
)
def eth_get_storage_at(backend: Any, address: bytes, position: int, ref: p.BlockRef) -> str:
    return word(ChainView(backend.chain).state_at(ref).get_storage(address, position))


def _storage_keys(value: Any, name: str) -> list[int]:
    if not isinstance(value, list):
        raise InvalidParams(f"{name}: expected a list of storage positions")
    if len(value) > MAX_PROOF_SLOTS:
        raise InvalidParams(f"{name}: at most {MAX_PROOF_SLOTS} storage keys per proof, got {len(value)}")
    return [p.storage_slot(v, f"{name}[{i}]") for i, v in enumerate(value)]


def _proof(ctx: Any, address: bytes, slots: list[int], ref: p.BlockRef) -> dict[str, Any]:
    view = ChainView(ctx.chain, ctx.budget)
    number = resolve_block_number(view, ref)
    if number > view.head_number():
        raise ServerError(f"header not found: block {number} is beyond the head ({view.head_number()})")
    proof = ctx.chain.proof(address, slots, number)
    return {
        "address": addr(proof.address),
        "accountProof": [d(node) for node in proof.proof],
        "balance": q(proof.balance),
        "codeHash": d(proof.code_hash),
        "nonce": q(proof.nonce),
        "storageHash": d(proof.storage_root),
        "storageProof": [
            {"key": word(s.slot), "value": q(s.value), "proof": [d(node) for node in s.proof]} for s in proof.storage
        ],
    }


@table.register(
    "eth_getProof", Param("address", p.address), Param("storageKeys", _storage_keys), Param("block", p.block_ref, LATEST)
)
def eth_get_proof(backend: Any, address: bytes, slots: list[int], ref: p.BlockRef) -> OffThread:
    """EIP-1186: the account and the storage slots with Merkle proofs against the block's state root."""
    return OffThread(lambda ctx: _proof(ctx, address, slots, ref))


# ---- blocks ----------------------------------------------------------------


def _block_json(view: ChainView, blk: Any, full: bool) -> dict[str, Any]:
    return encode_block(blk, full_transactions=full, size=view.block_size(blk))


@table.register(
    "eth_getBlockByNumber",
    Param("block", lambda v, n: p.block_ref(v, n, allow_hash=False)),
    Param("fullTransactions", p.boolean, False),
)
def eth_get_block_by_number(backend: Any, ref: p.BlockRef, full: bool) -> dict[str, Any] | None:
    view = ChainView(backend.chain)
    blk = view.block_by_number(resolve_block_number(view, ref))
    return None if blk is None else _block_json(view, blk, full)


@table.register("eth_getBlockByHash", Param("blockHash", p.hash32), Param("fullTransactions", p.boolean, False))
def eth_get_block_by_hash(backend: Any, block_hash: bytes, full: bool) -> dict[str, Any] | None:
    view = ChainView(backend.chain)
    blk = view.block_by_hash(block_hash)
    return None if blk is None else _block_json(view, blk, full)


@table.register(
    "eth_getBlockTransactionCountByNumber", Param("block", lambda v, n: p.block_ref(v, n, allow_hash=False))
)
def eth_get_block_tx_count_by_number(backend: Any, ref: p.BlockRef) -> str | None:
    view = ChainView(backend.chain)
    blk = view.block_by_number(resolve_block_number(view, ref))
    return None if blk is None else q(len(blk.transactions))


@table.register("eth_getBlockTransactionCountByHash", Param("blockHash", p.hash32))
def eth_get_block_tx_count_by_hash(backend: Any, block_hash: bytes) -> str | None:
    blk = ChainView(backend.chain).block_by_hash(block_hash)
    return None if blk is None else q(len(blk.transactions))


@table.register("eth_getUncleCountByBlockNumber", Param("block", lambda v, n: p.block_ref(v, n, allow_hash=False)))
def eth_get_uncle_count_by_number(backend: Any, ref: p.BlockRef) -> str | None:
    view = ChainView(backend.chain)
    return None if view.block_by_number(resolve_block_number(view, ref)) is None else q(0)


@table.register("eth_getUncleCountByBlockHash", Param("blockHash", p.hash32))
def eth_get_uncle_count_by_hash(backend: Any, block_hash: bytes) -> str | None:
    return None if ChainView(backend.chain).block_by_hash(block_hash) is None else q(0)


# ---- transactions ----------------------------------------------------------


@table.register("eth_sendRawTransaction", Param("transaction", p.data))
def eth_send_raw_transaction(backend: Any, raw: bytes) -> str:
    if not raw:
        raise InvalidParams("transaction: empty transaction data")
    try:
        tx_hash = backend.submit_transaction(raw)
    except MempoolError as exc:
        # The mempool's message is precise ("nonce too low: account has nonce
        # 5, tx has 3"); pass it on unchanged, with its code as data.
        raise ServerError(exc.message, data=exc.code.value) from None
    return d(tx_hash)


@table.register("eth_getTransactionByHash", Param("hash", p.hash32))
def eth_get_transaction_by_hash(backend: Any, tx_hash: bytes) -> dict[str, Any] | None:
    view = ChainView(backend.chain)
    found = view.transaction_location(tx_hash)
    if found is not None:
        blk, index = found
        return mined_transaction(blk.transactions[index], blk.header, index)
    pending = backend.mempool.get(tx_hash)
    if pending is not None:
        return transaction(pending, block_hash=None, block_number=None, index=None, base_fee=None)
    return None


def _tx_by_block_and_index(view: ChainView, blk: Any, index: int) -> dict[str, Any] | None:
    if blk is None or index >= len(blk.transactions):
        return None
    return mined_transaction(blk.transactions[index], blk.header, index)


@table.register("eth_getTransactionByBlockHashAndIndex", Param("blockHash", p.hash32), Param("index", p.quantity))
def eth_get_tx_by_block_hash_and_index(backend: Any, block_hash: bytes, index: int) -> dict[str, Any] | None:
    view = ChainView(backend.chain)
    return _tx_by_block_and_index(view, view.block_by_hash(block_hash), index)


@table.register(
    "eth_getTransactionByBlockNumberAndIndex",
    Param("block", lambda v, n: p.block_ref(v, n, allow_hash=False)),
    Param("index", p.quantity),
)
def eth_get_tx_by_block_number_and_index(backend: Any, ref: p.BlockRef, index: int) -> dict[str, Any] | None:
    view = ChainView(backend.chain)
    return _tx_by_block_and_index(view, view.block_by_number(resolve_block_number(view, ref)), index)


@table.register("eth_getTransactionReceipt", Param("hash", p.hash32))
def eth_get_transaction_receipt(backend: Any, tx_hash: bytes) -> dict[str, Any] | None:
    view = ChainView(backend.chain)
    found = view.transaction_location(tx_hash)
    if found is None:
        return None
    blk, index = found
    return encode_receipt(blk, view.receipts(blk), index)


@table.register("eth_getBlockReceipts", Param("block", p.block_ref))
def eth_get_block_receipts(backend: Any, ref: p.BlockRef) -> list[dict[str, Any]] | None:
    view = ChainView(backend.chain)
    blk = view.block_by_hash(ref.hash) if ref.hash is not None else view.block_by_number(resolve_block_number(view, ref))
    if blk is None:
        return None
    receipts = view.receipts(blk)
    return [encode_receipt(blk, receipts, i) for i in range(len(blk.transactions))]


# ---- calls -----------------------------------------------------------------


@dataclass(frozen=True)
class CallRequest:
    """An eth_call / eth_estimateGas transaction object, parsed."""

    sender: bytes | None
    to: bytes | None
    gas: int | None
    gas_price: int | None
    max_fee_per_gas: int | None
    max_priority_fee_per_gas: int | None
    value: int
    data: bytes
    nonce: int | None
    # EIP-2930 entries; None when the request has none (the call then runs as a legacy transaction)
    access_list: tuple[tuple[bytes, tuple[int, ...]], ...] | None = None


_CALL_FIELDS = {
    "from", "to", "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "value", "data", "input",
    "nonce", "accessList", "type", "chainId",
}


def call_request(value: Any, name: str) -> CallRequest:
    if not isinstance(value, dict):
        raise InvalidParams(f"{name}: expected a transaction object like {{\"to\": \"0x..\", \"data\": \"0x..\"}}")
    unknown = sorted(set(value) - _CALL_FIELDS)
    if unknown:
        raise InvalidParams(f"{name}: unknown field(s) {p.names(unknown)}")

    def opt(key: str, parse: Any) -> Any:
        raw = value.get(key)
        return None if raw is None else parse(raw, f"{name}.{key}")

    data = opt("input", p.data)
    legacy_data = opt("data", p.data)
    if data is not None and legacy_data is not None and data != legacy_data:
        raise InvalidParams(f"{name}: both input and data are set and differ; send only input")
    if data is None:
        data = legacy_data
    if value.get("gasPrice") is not None and (
        value.get("maxFeePerGas") is not None or value.get("maxPriorityFeePerGas") is not None
    ):
        raise InvalidParams(f"{name}: both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified")
    opt("type", p.quantity)
    opt("chainId", p.quantity)
    return CallRequest(
        sender=opt("from", p.address),
        to=opt("to", p.address),
        gas=opt("gas", p.quantity),
        gas_price=opt("gasPrice", p.quantity),
        max_fee_per_gas=opt("maxFeePerGas", p.quantity),
        max_priority_fee_per_gas=opt("maxPriorityFeePerGas", p.quantity),
        value=opt("value", p.quantity) or 0,
        data=data or b"",
        nonce=opt("nonce", p.quantity),
        access_list=opt("accessList", access_list),
    )


# An access list is charged per entry (2,400 gas per address, 1,900 per key), so
# these bounds are far above what any block could pay for; they bound parsing.
MAX_ACCESS_LIST_ADDRESSES = 1_000
MAX_ACCESS_LIST_KEYS = 10_000


def access_list(value: Any, name: str) -> tuple[tuple[bytes, tuple[int, ...]], ...]:
    """An EIP-2930 access list: [{"address": "0x..", "storageKeys": ["0x<32 bytes>", ...]}, ...]."""
    if not isinstance(value, list):
        raise InvalidParams(f"{name}: expected an array of {{address, storageKeys}} objects")
    if len(value) > MAX_ACCESS_LIST_ADDRESSES:
        raise InvalidParams(f"{name}: at most {MAX_ACCESS_LIST_ADDRESSES} entries, got {len(value)}")
    entries, keys = [], 0
    for i, entry in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(entry, dict) or set(entry) - {"address", "storageKeys"} or "address" not in entry:
            raise InvalidParams(f"{where}: expected {{\"address\": \"0x..\", \"storageKeys\": [..]}}")
        slots = entry.get("storageKeys") or []
        if not isinstance(slots, list):
            raise InvalidParams(f"{where}.storageKeys: expected an array")
        keys += len(slots)
        if keys > MAX_ACCESS_LIST_KEYS:
            raise InvalidParams(f"{name}: at most {MAX_ACCESS_LIST_KEYS} storage keys in all")
        parsed = tuple(int.from_bytes(p.hash32(k, f"{where}.storageKeys[{j}]"), "big") for j, k in enumerate(slots))
        entries.append((p.address(entry["address"], f"{where}.address"), parsed))
    return tuple(entries)


# Both run EVM code: in a worker thread, on a snapshot, under the request's budget.
@table.register("eth_call", Param("transaction", call_request), Param("block", p.block_ref, LATEST))
def eth_call(backend: Any, request: CallRequest, ref: p.BlockRef) -> OffThread:
    return OffThread(lambda ctx: d(ChainView(ctx.chain, ctx.budget).call(request, ref)))


@table.register("eth_estimateGas", Param("transaction", call_request), Param("block", p.block_ref, LATEST))
def eth_estimate_gas(backend: Any, request: CallRequest, ref: p.BlockRef) -> OffThread:
    return OffThread(lambda ctx: q(ChainView(ctx.chain, ctx.budget).estimate_gas(request, ref)))


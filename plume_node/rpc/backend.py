"""`RpcBackend`: everything the JSON-RPC server needs from the node, and no more.

The node runtime implements it; tests build one over a real PlumeChain and
Mempool. Reads go straight to `chain` and `mempool`; anything that involves
the network or consensus goes through a method, so the RPC layer never
touches p2p or the engine. Calls and log scans read a snapshot of `chain`
in a worker thread (`workers.py`), so its database must be a LevelDB (or
prefixed views of one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from execution.chain import PlumeChain
    from execution.mempool import Mempool
    from plume_node.events import ChainEvents


class RpcBackend(Protocol):
    @property
    def chain(self) -> "PlumeChain":
        """The node's chain: committed blocks, receipts, state reads, call/estimate_gas."""

    @property
    def mempool(self) -> "Mempool":
        """The node's mempool; the RPC layer only reads it: `get(tx_hash)` for
        pending transactions, `pending_nonce(address, state)`, `len()`/iteration."""

    @property
    def chain_id(self) -> int: ...

    @property
    def observer(self) -> bool:
        """A read-only observer (docs/compliance.md): submitting and signing methods are refused."""

    @property
    def compliance_enabled(self) -> bool:
        """Whether the node runs the compliance service (plume_subscribe is refused otherwise)."""

    @property
    def events(self) -> "ChainEvents":
        """Where the node announces commits and admitted transactions (for eth_subscribe)."""

    def submit_transaction(self, raw: bytes) -> bytes:
        """Add a raw signed transaction to the mempool and gossip it; return its
        hash. Raises `execution.mempool.MempoolError` with the precise reason."""

    def node_info(self) -> dict[str, Any]:
        """{"node_id": hex str, "moniker": str, "listen_addr": str, "genesis_hash": 0x-hex, ...}: keys
        camelCased into plume_nodeInfo, which adds version, chainId, height,
        latestBlockHash, peers and syncing."""

    def genesis_document(self) -> tuple[dict[str, Any], bytes]:
        """(the genesis document as JSON, its 32-byte hash): plume_genesis."""

    def consensus_state(self) -> dict[str, Any]:
        """{"height": int, "round": int, "step": str, "validators": [{"address",
        "power": int, "pub_key"}], "proposer"}: addresses and keys as 0x-hex
        strings. plume_consensusState turns ints into QUANTITY and keys into camelCase."""

    def commit_certificate(self, height: int) -> bytes | None:
        """The encoded `consensus.messages.CommitCertificate` of `height`, or None."""

    def submit_evidence(self, encoded: bytes) -> bytes:
        """Verify and keep double-sign evidence; its keccak hash. Raises ValueError with the reason."""

    def validator_set(self, height: int) -> dict[str, Any] | None:
        """{"height", "validators": [{"address", "power": int, "pub_key", "priority": int}],
        "proposer", "total_power": int} of the set that decides `height` (1 up to
        the committed height + 1), or None for any other height."""

    def syncing(self) -> dict[str, int] | None:
        """None when caught up, else {"starting_block", "current_block", "highest_block"}."""

    def peer_count(self) -> int: ...

    def peer_status(self) -> dict[str, Any]:
        """{"peers": [{"node_id", "address", "direction", "height": int}],
        "bans": [{"key", "seconds_left": int, "reason"}], "bans_total": int}:
        connected peers and the active bans with the most time left
        ("id:<node id>" or "addr:<host>[:<port>]"), at most 256 of them."""

"""``ChainSnapshot``: the committed chain frozen at one moment, for reads off the node's thread.

JSON-RPC runs ``eth_call``, ``eth_estimateGas`` and log scans in worker
threads so they never delay consensus. A worker must not share mutable
py-evm or database objects with the thread that commits, so it reads a
``ChainSnapshot``: a ``PlumeChain`` over a LevelDB snapshot
(``execution.db.snapshot_view``) with its own ChainDB, VM contexts and
head, read from the snapshot itself. What it shares with the live chain is
immutable (genesis, the VM class). Writing through it raises
``ReadOnlyError``. It may be taken in any thread: a height is committed
in one LevelDB WriteBatch, so a snapshot always holds whole heights.
``release()`` it when done.
"""

from __future__ import annotations

from eth.consensus.context import ConsensusContext
from eth.vm.chain_context import ChainContext

from execution.cache import ExecutionCache
from execution.chain import ChainStats, PlumeChain
from execution.chaindb import PlumeChainDB
from execution.db import PREFIX_CHAIN, PREFIX_EXEC, PrefixedDB, SnapshotDB, snapshot_view


class ChainSnapshot(PlumeChain):
    """Read-only ``PlumeChain`` at the head committed when it was taken."""

    def __init__(self, chain: PlumeChain) -> None:
        # Deliberately not PlumeChain.__init__: that writes or checks genesis;
        # a snapshot only copies what the live chain already checked.
        snapshot, view = snapshot_view(chain.root_db)
        self._snapshot: SnapshotDB = snapshot
        self.root_db = view
        self.genesis = chain.genesis
        self.chain_id = chain.chain_id
        self.vm_class = chain.vm_class
        self.chain_view = PrefixedDB(view, PREFIX_CHAIN)
        self.exec_view = PrefixedDB(view, PREFIX_EXEC)
        self.chaindb = PlumeChainDB(self.chain_view)
        self.cache = ExecutionCache(1)
        self.end_block_hooks = ()  # a snapshot never executes a block
        self.read_sidecar = chain.read_sidecar
        self.stats = ChainStats()
        self._chain_context = ChainContext(self.chain_id)
        self._consensus_context = ConsensusContext(self.chain_view)
        self.genesis_header = chain.genesis_header
        self._head = self.chaindb.get_canonical_head()

    def release(self) -> None:
        self._snapshot.release()


__all__ = ["ChainSnapshot"]

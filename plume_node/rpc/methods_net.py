"""web3_* and net_* methods: client identity, network id, peers."""

from __future__ import annotations

from typing import Any

from eth_hash.auto import keccak

from plume_node import __version__
from plume_node.rpc import params as p
from plume_node.rpc.dispatch import MethodTable, Param
from plume_node.rpc.encode import d, q

table = MethodTable()

CLIENT_VERSION = f"plume-node/v{__version__}/python"


@table.register("web3_clientVersion")
def web3_client_version(backend: Any) -> str:
    return CLIENT_VERSION


@table.register("web3_sha3", Param("data", p.data))
def web3_sha3(backend: Any, data: bytes) -> str:
    return d(keccak(data))


@table.register("net_version")
def net_version(backend: Any) -> str:
    # A decimal string, by the spec (unlike eth_chainId's hex).
    return str(backend.chain_id)


@table.register("net_listening")
def net_listening(backend: Any) -> bool:
    return True


@table.register("net_peerCount")
def net_peer_count(backend: Any) -> str:
    return q(backend.peer_count())

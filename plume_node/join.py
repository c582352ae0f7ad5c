"""Joining an existing chain: its genesis from a file or a peer's JSON-RPC, and the peers to dial.

`plume-node init --genesis FILE_OR_URL --peers NODEID@HOST:PORT,...` uses
these. A genesis fetched from a node (`plume_genesis`) must parse, and its
hash must equal both the hash the node sends with it and the `genesisHash`
of its `plume_nodeInfo`, so a truncated or altered answer is refused; the
p2p handshake then refuses every peer of another chain (docs/operator.md,
"Joining a network").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plume_node.config import ConfigError, parse_peer
from plume_node.errors import BadOption, UserError
from plume_node.genesis import GenesisDoc, GenesisError, load_genesis, parse_genesis

# The largest plume_genesis answer read (a genesis with ~50,000 funded accounts).
MAX_GENESIS_BYTES = 8 * 1024 * 1024
FETCH_TIMEOUT_S = 15.0
MAX_PEERS = 64  # persistent peers one --peers may name
_HINT = "is it the JSON-RPC URL of a running node of the chain to join?"


class JoinError(UserError):
    """A genesis that cannot be fetched or trusted; the message says why."""


@dataclass(frozen=True)
class JoinedGenesis:
    doc: GenesisDoc
    source: str  # the path or URL it came from


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def obtain_genesis(source: str, expected_hash: str | None = None) -> JoinedGenesis:
    """The genesis at `source` (a genesis.json path or a node's JSON-RPC URL), checked against `expected_hash`."""
    doc = fetch_genesis(source) if is_url(source) else _read_file(source)
    if expected_hash is not None:
        want = expected_hash.lower().removeprefix("0x")
        if doc.hash().hex() != want:
            raise BadOption(
                f"the genesis from {source[:200]} has hash 0x{doc.hash().hex()}, not {expected_hash[:80]}: "
                "it is another chain's",
                "--genesis-hash",
            )
    return JoinedGenesis(doc, source)


def _read_file(source: str) -> GenesisDoc:
    path = Path(source).expanduser()
    if not path.is_file():
        hint = " (a node's JSON-RPC URL starts with http:// or https://)" if ":" in source else ""
        raise BadOption(f"{source[:200]} is not a file{hint}", "--genesis")
    if path.stat().st_size > MAX_GENESIS_BYTES:
        raise BadOption(f"{source[:200]} is larger than {MAX_GENESIS_BYTES} bytes: not a Plume genesis", "--genesis")
    return load_genesis(path)


def fetch_genesis(url: str) -> GenesisDoc:
    """Ask the node at `url` for its genesis; refuse anything that does not parse or whose hash does not match."""
    from plume_node.cli._rpc_client import NodeRpcError, RpcClient, RpcClientError  # plume_node.cli imports us

    client = RpcClient(url, timeout=FETCH_TIMEOUT_S, max_response_bytes=MAX_GENESIS_BYTES, unreachable_hint=_HINT)
    try:
        answer = client.call("plume_genesis")
        info = client.call("plume_nodeInfo")
    except NodeRpcError as exc:
        raise JoinError(
            f"the node at {url} refused plume_genesis ({str(exc)[:200]}); download its genesis.json and pass the file"
        ) from None
    except RpcClientError as exc:
        raise JoinError(f"cannot fetch the genesis: {str(exc)[:300]}") from None
    document, sent_hash, info_hash = _unpack(url, answer, info)
    try:
        doc = parse_genesis(document, f"the genesis from {url}")
    except GenesisError as exc:
        raise JoinError(exc.message[:300]) from None
    got = "0x" + doc.hash().hex()
    if got != sent_hash or got != info_hash:
        raise JoinError(
            f"the genesis from {url} hashes to {got}, but the node reports {sent_hash[:80]} "
            f"(plume_genesis) and {info_hash[:80]} (plume_nodeInfo): refused"
        )
    return doc


def _unpack(url: str, answer: Any, info: Any) -> tuple[Any, str, str]:
    if not (isinstance(answer, dict) and "genesis" in answer and isinstance(answer.get("hash"), str)):
        raise JoinError(f"the server at {url} did not answer plume_genesis as a Plume node does")
    info_hash = info.get("genesisHash") if isinstance(info, dict) else None
    if not isinstance(info_hash, str):
        raise JoinError(f"the node at {url} reports no genesisHash in plume_nodeInfo; is it a Plume node?")
    return answer["genesis"], answer["hash"].lower(), info_hash.lower()


def parse_peers(text: str | None) -> list[str]:
    """`NODEID@HOST:PORT,...` as config.toml's p2p.persistent_peers (lowercase ids, no duplicates)."""
    if not text:
        return []
    peers: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            node_id, _host, _port = parse_peer(item)
        except ConfigError as exc:
            raise BadOption(exc.message[:300], "--peers") from None
        peer = f"{node_id}@{item.partition('@')[2]}"
        if peer not in peers:
            peers.append(peer)
    if len(peers) > MAX_PEERS:
        raise BadOption(f"{len(peers)} peers; at most {MAX_PEERS}", "--peers")
    return peers

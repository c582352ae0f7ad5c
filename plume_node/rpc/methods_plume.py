"""plume_* methods: what Ethereum has no word for (supply and burn, consensus, node).

Amounts are QUANTITY hex like the eth_ namespace, so one client library
formats both; addresses are checksummed hex, keys and signatures DATA.
"""

from __future__ import annotations

from typing import Any

from consensus.errors import DecodeError as ConsensusDecodeError
from consensus.messages import CommitCertificate

from execution.errors import truncate
from plume_node import __version__
from plume_node.rpc import params as p
from plume_node.rpc.chainview import ChainView
from plume_node.rpc.dispatch import MethodTable, Param
from plume_node.rpc.encode import d, q
from plume_node.rpc.errors import InvalidParams, ServerError

table = MethodTable()


def _camel(key: str) -> str:
    if key.endswith("_s"):
        key = key[:-2] + "_seconds"  # uptime_s -> uptimeSeconds
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _json_value(value: Any) -> Any:
    """Backend values to RPC JSON: ints become QUANTITY, bytes DATA, recursively."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return q(value)
    if isinstance(value, bytes):
        return d(value)
    if isinstance(value, dict):
        return {_camel(str(k)): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return str(value)


@table.register("plume_nodeInfo")
def plume_node_info(backend: Any) -> dict[str, Any]:
    view = ChainView(backend.chain)
    info = {_camel(k): v for k, v in backend.node_info().items()}
    info.update(
        {
            "version": f"plume-node/v{__version__}/python",
            "chainId": q(backend.chain_id),
            "height": q(view.head_number()),
            "latestBlockHash": d(view.head().hash),
            "peers": backend.peer_count(),
            "syncing": bool(backend.syncing()),
        }
    )
    return info


@table.register("plume_genesis")
def plume_genesis(backend: Any) -> dict[str, Any]:
    """The node's genesis document as its genesis.json holds it, and its hash (the
    chain's identity, as plume_nodeInfo's genesisHash): what `plume-node init
    --genesis URL` fetches to join the chain."""
    document, digest = backend.genesis_document()
    return {"genesis": document, "hash": d(digest)}


@table.register("plume_supply", Param("block", p.block_ref, p.BlockRef(tag="latest")))
def plume_supply(backend: Any, ref: p.BlockRef) -> dict[str, Any]:
    """The supply accounting at the block (docs/rpc.md lists each field and the
    identities they satisfy): genesisSupply + totalIssued - totalBurned ==
    totalSupply, totalBurned == the burnedBy<cause> fields, stakingBalance ==
    bonded + unbonding + undistributedRewards + unwithdrawnCommission."""
    number, genesis_supply, supply = ChainView(backend.chain).supply_at(ref)
    return {
        "blockNumber": q(number),
        "genesisSupply": q(genesis_supply),
        "totalSupply": q(supply.total_supply),
        "totalIssued": q(supply.total_issued),
        "totalBurned": q(supply.total_burned),
        **{f"burnedBy{cause}": q(amount) for cause, amount in supply.burned_by_cause},
        "rewardPool": q(supply.reward_pool),
        "stakingBalance": q(supply.staking_balance),
        "bonded": q(supply.bonded),
        "unbonding": q(supply.unbonding),
        "undistributedRewards": q(supply.undistributed_rewards),
        "unwithdrawnCommission": q(supply.unwithdrawn_commission),
        # undistributedRewards + unwithdrawnCommission (the name dapps already read)
        "rewardsOutstanding": q(supply.rewards_outstanding),
        # deposits the governance contract holds for open proposals
        "governanceDeposits": q(supply.governance_deposits),
    }


@table.register("plume_peers")
def plume_peers(backend: Any) -> dict[str, Any]:
    """{peers: [{nodeId, address, direction, height}], bans: [{key, secondsLeft, reason}]},
    numbers as QUANTITY; read-only."""
    return _json_value(backend.peer_status())


@table.register("plume_consensusState")
def plume_consensus_state(backend: Any) -> dict[str, Any]:
    """{height, round, step, validators: [{address, power, pubKey}], proposer},
    numbers as QUANTITY (the backend's snake_case keys become camelCase)."""
    return _json_value(backend.consensus_state())


def _height(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    ref = p.block_ref(value, name, allow_hash=False)
    return ref.number if ref.number is not None else -1 if ref.tag == "earliest" else -2


MAX_EVIDENCE_HEX = 2 * 65536 + 2  # a sidecar evidence item is at most 64 KiB


def _evidence_bytes(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or len(value) > MAX_EVIDENCE_HEX:
        raise InvalidParams(f"{name}: expected 0x-hex evidence of at most 64 KiB")
    return p.data(value, name)


@table.register("plume_submitEvidence", Param("evidence", _evidence_bytes))
def plume_submit_evidence(backend: Any, evidence: bytes) -> str:
    """Double-sign evidence (two conflicting votes of one validator, encoded as in a block's
    sidecar): verified, kept for the next proposal and gossiped; returns its keccak hash."""
    try:
        return d(backend.submit_evidence(evidence))
    except ValueError as exc:  # EvidenceRefused: built from the caller's bytes
        raise InvalidParams(truncate(str(exc), 200)) from None


@table.register("plume_getValidatorSet", Param("height", _height))
def plume_get_validator_set(backend: Any, height: int) -> dict[str, Any] | None:
    """The validator set (powers, proposer priorities, round-0 proposer) deciding
    `height`, as the chain itself defined it (`latest`: the set that decided the
    head; `earliest`: height 1); null beyond the next height."""
    if height < 0:
        height = 1 if height == -1 else max(1, ChainView(backend.chain).head_number())
    return _json_value(backend.validator_set(height))


@table.register("plume_getBlockCommit", Param("height", _height))
def plume_get_block_commit(backend: Any, height: int) -> dict[str, Any] | None:
    if height < 0:
        view = ChainView(backend.chain)
        height = 0 if height == -1 else view.head_number()
    raw = backend.commit_certificate(height)
    if raw is None:
        return None
    try:
        cert = raw if isinstance(raw, CommitCertificate) else CommitCertificate.decode(raw)
    except ConsensusDecodeError as exc:
        raise ServerError(f"the stored commit certificate of height {height} is corrupt: {exc}") from None
    return {
        "height": q(cert.height),
        "round": q(cert.round),
        "blockHash": d(cert.block_hash),
        "signatures": [{"validator": d(v.validator), "signature": d(v.signature)} for v in cert.precommits],
    }


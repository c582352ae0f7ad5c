"""`plume-node debug double-sign`: make a validator double-sign on purpose, to see slashing work.

It signs two conflicting prevotes (same height and round, two different
block hashes) with the validator key of --home, and submits the evidence to
a node with `plume_submitEvidence`; the next proposer carries it in its
block and staking slashes, jails and tombstones that validator. It bypasses
the double-sign guard by design, so it refuses to run without
--yes-slash-me. For devnets and tests only.
"""

from __future__ import annotations

import hashlib
import json

import click

from consensus.crypto import PrivateKey
from consensus.messages import PREVOTE, DuplicateVoteEvidence, Vote
from plume_node.cli._common import rpc_call, rpc_option
from plume_node.cli._rpc_client import RpcClient
from plume_node.cli.keys import home_option
from plume_node.home import Home
from plume_node.node_keys import load_key_file


@click.group()
def debug() -> None:
    """Tools that break things on purpose (devnets and tests only)."""


def _vote(key: PrivateKey, chain_id: str, height: int, tag: bytes) -> Vote:
    vote = Vote(PREVOTE, height, 0, hashlib.sha256(tag).digest(), key.address)
    return vote.with_signature(key.sign(vote.sign_bytes(chain_id)))


@debug.command("double-sign")
@home_option
@rpc_option
@click.option("--yes-slash-me", is_flag=True, help="Required: this gets the validator of --home slashed for good.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def double_sign(home: str, rpc_url: str, yes_slash_me: bool, as_json: bool) -> None:
    """Sign two conflicting votes with --home's validator key and submit the evidence."""
    if not yes_slash_me:
        raise click.UsageError(
            "this signs two conflicting votes with the validator key of --home: the validator gets slashed, "
            "jailed and tombstoned for good. Pass --yes-slash-me to do it"
        )
    key = PrivateKey.from_seed(load_key_file(Home.at(home).validator_key_path).private_bytes)
    client = RpcClient(rpc_url)
    chain_id = str(int(rpc_call(client, "eth_chainId"), 16))
    height = int(rpc_call(client, "eth_blockNumber"), 16)  # a committed height: its set is known
    evidence = DuplicateVoteEvidence.from_votes(_vote(key, chain_id, height, b"a"), _vote(key, chain_id, height, b"b"))
    digest = rpc_call(client, "plume_submitEvidence", "0x" + evidence.encode().hex())
    if as_json:
        click.echo(json.dumps({"evidence": digest, "validator": "0x" + key.address.hex(), "height": height}))
    else:
        click.echo(f"submitted double-sign evidence {digest} against validator 0x{key.address.hex()} at height {height}")

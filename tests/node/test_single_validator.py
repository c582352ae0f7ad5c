"""A lone validator, in-process: it commits consecutive heights, each with a commit
certificate that verifies against the validator set, and block N+1's sidecar
carries block N's certificate (what execution rewards signers from)."""

from __future__ import annotations

import pytest

from consensus.crypto import PrivateKey
from consensus.errors import ConsensusError
from consensus.messages import CommitCertificate
from consensus.validators import Validator, ValidatorSet
from node_helpers import running, wait_for_height
from plume_node.node import Node
from staking.end_of_block import END_OF_BLOCK_HOOKS, BlockContext

HEIGHTS = 6


async def test_commits_consecutive_heights_with_verified_certificates(node: Node) -> None:
    assert node.app.committed_height() == 0
    async with running(node):
        await wait_for_height(node, HEIGHTS, timeout=30)
    chain = node.chain
    top = chain.height
    assert top >= HEIGHTS

    genesis_set = node.app.validator_set(1)
    assert [v.address for v in genesis_set.validators] == [node.validator_address]

    previous = chain.get_header(0)
    for h in range(1, top + 1):
        header = chain.get_header(h)
        assert header.block_number == h
        assert header.parent_hash == previous.hash, f"block {h} does not build on block {h - 1}"
        assert header.timestamp >= previous.timestamp

        cert = node.app.commit_certificate(h)
        assert cert is not None, f"no commit certificate stored for height {h}"
        assert (cert.height, cert.block_hash) == (h, header.hash)
        assert cert.signers() == (node.validator_address,)
        # Raises InvalidCertificate unless +2/3 of this height's power signed this block.
        cert.verify(node.app.validator_set(h), node.app.chain_id)
        # The same bytes are what the node serves to peers and RPC.
        assert CommitCertificate.decode(node.commit_certificate(h)) == cert
        previous = header

    # block N+1's sidecar last_commit certifies block N; block 1 carries none.
    assert chain.get_sidecar(1).last_commit == b""
    for h in range(1, top):
        last_commit = chain.get_sidecar(h + 1).last_commit
        carried = CommitCertificate.decode(last_commit)
        assert carried.height == h
        assert carried.block_hash == chain.get_header(h).hash
        carried.verify(node.app.validator_set(h), node.app.chain_id)
        assert carried == node.app.commit_certificate(h)


async def test_certificate_verification_is_not_vacuous(node: Node) -> None:
    """The checks above would catch a certificate under the wrong key, chain or block."""
    async with running(node):
        await wait_for_height(node, 2, timeout=30)
    cert = node.app.commit_certificate(1)
    vset = node.app.validator_set(1)
    cert.verify(vset, node.app.chain_id)

    stranger = ValidatorSet.new([Validator.from_pub_key(PrivateKey.from_seed(b"\x07" * 32).public_key.raw, 100)])
    with pytest.raises(ConsensusError):
        cert.verify(stranger, node.app.chain_id)
    with pytest.raises(ConsensusError):
        cert.verify(vset, str(node.chain_id + 1))  # signatures are bound to the chain id
    forged = CommitCertificate(cert.height, cert.round, b"\x11" * 32, cert.precommits)
    with pytest.raises(ConsensusError):
        forged.verify(vset, node.app.chain_id)


async def test_end_of_block_hooks_see_the_parent_certificates_signers(node: Node) -> None:
    """The node decodes each sidecar's last_commit into the hooks' BlockContext:
    block N+1's hooks see who signed block N (block 1's see no one)."""
    seen: dict[int, BlockContext] = {}

    def record(state, ctx: BlockContext) -> None:
        seen[ctx.height] = ctx  # reads only: the state root is unchanged

    node.chain.end_block_hooks = END_OF_BLOCK_HOOKS + (record,)
    async with running(node):
        await wait_for_height(node, 3, timeout=30)
    assert seen[1].last_commit_signers == ()
    for h in (2, 3):
        header = node.chain.get_header(h)
        assert [s.address for s in seen[h].last_commit_signers] == [node.validator_address]
        assert seen[h].evidence == ()
        assert (seen[h].height, seen[h].timestamp, seen[h].coinbase) == (
            h, header.timestamp, header.coinbase)
        assert seen[h].gas_used == header.gas_used
        assert seen[h].round == node.chain.get_sidecar(h).round

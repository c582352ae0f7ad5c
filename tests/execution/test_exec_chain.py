"""build_block / validate_block / commit: transfers, rejections, header rules, tampering, the cache."""

from __future__ import annotations

import pytest
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague.blocks import PragueBlock

from execution.block import PlumeBlock
from execution.chain import PlumeChain
from execution.errors import InvalidBlock
from plume_exec_helpers import (
    ADDRS,
    COINBASE,
    ETHER,
    GWEI,
    SINK,
    make_genesis,
    sidecar,
    transfer,
)
from plume_node.storage import PREFIX_CERT, PrefixedDB
from staking.end_of_block import END_OF_BLOCK_HOOKS


def two_nodes(genesis=None):
    g = genesis or make_genesis()
    return PlumeChain(AtomicDB(), g), PlumeChain(AtomicDB(), g)


def rebuild(blk: PlumeBlock, *, txs=None, **header_changes) -> PlumeBlock:
    header = blk.header.copy(**header_changes) if header_changes else blk.header
    body = PragueBlock(header, transactions=list(txs if txs is not None else blk.transactions),
                       uncles=[], withdrawals=[])
    return PlumeBlock(body, blk.sidecar)


def test_transfers_build_validate_commit() -> None:
    proposer, validator = two_nodes()
    before = proposer.state_at()
    txs = [transfer(0, n, value=ETHER, tip=2 * GWEI) for n in range(3)] + [transfer(1, 0, to=ADDRS[2], value=5)]
    result = proposer.build_block(txs, timestamp=proposer.head.timestamp + 2, coinbase=COINBASE,
                                  sidecar=sidecar())
    assert [t.hash for t in result.included] == [t.hash for t in txs] and result.rejected == ()
    blk = PlumeBlock.decode(result.block.encode())
    validator.validate_block(blk)
    validator.commit(blk)
    proposer.commit(result.block)
    for chain in (proposer, validator):
        assert chain.height == 1 and chain.head.hash == blk.hash
        after = chain.state_at()
        base_fee = blk.header.base_fee_per_gas
        assert after.balance(SINK) == before.balance(SINK) + 3 * ETHER
        assert after.balance(ADDRS[2]) == before.balance(ADDRS[2]) + 5
        # sender pays value + gas at (base fee + tip)
        assert after.balance(ADDRS[0]) == before.balance(ADDRS[0]) - 3 * ETHER - 3 * 21000 * (base_fee + 2 * GWEI)
        assert after.nonce(ADDRS[0]) == 3
        # the coinbase gets the tips only
        assert after.balance(COINBASE) == 3 * 21000 * 2 * GWEI + 21000 * GWEI
    assert proposer.head.state_root == validator.head.state_root


def test_build_skips_invalid_transactions_with_reasons(mem_chain: PlumeChain) -> None:
    good = transfer(0, 0)
    gap = transfer(0, 5)
    broke = transfer(1, 0, value=10**30)
    other_chain = transfer(2, 0, chain_id=1)
    cheap = transfer(3, 0, max_fee=1, tip=1)
    result = mem_chain.build_block([good, gap, broke, other_chain, cheap], timestamp=0,
                                   coinbase=COINBASE, sidecar=sidecar())
    assert [t.hash for t in result.included] == [good.hash]
    reasons = {tx.hash: why for tx, why in result.rejected}
    assert "nonce" in reasons[gap.hash].lower()
    assert "balance" in reasons[broke.hash].lower() or "funds" in reasons[broke.hash].lower()
    assert "chain id 1" in reasons[other_chain.hash]
    assert "base fee" in reasons[cheap.hash]


def test_block_gas_limit_is_respected() -> None:
    chain = PlumeChain(AtomicDB(), make_genesis(gas_limit=21000 * 3))
    txs = [transfer(0, n) for n in range(5)]
    result = chain.build_block(txs, timestamp=0, coinbase=COINBASE, sidecar=sidecar())
    assert len(result.included) == 3 and result.block.header.gas_used == 3 * 21000
    assert all("does not fit" in why for _, why in result.rejected)


def test_timestamps_equal_to_parent_accepted_lower_rejected() -> None:
    proposer, validator = two_nodes()
    t0 = proposer.head.timestamp
    same = proposer.build_block([transfer(0, 0)], timestamp=t0, coinbase=COINBASE, sidecar=sidecar())
    assert same.block.header.timestamp == t0
    validator.validate_block(same.block)
    validator.commit(same.block)
    proposer.commit(same.block)
    # a proposer whose clock is behind still produces a valid (clamped) block
    behind = proposer.build_block([], timestamp=t0 - 100, coinbase=COINBASE, sidecar=sidecar())
    assert behind.block.header.timestamp == t0
    earlier = rebuild(behind.block, timestamp=t0 - 1)
    with pytest.raises(InvalidBlock, match="timestamp .* before the parent"):
        validator.validate_block(earlier)
    validator.validate_block(behind.block)


def test_validate_rejects_wrong_state_root() -> None:
    proposer, validator = two_nodes()
    blk = proposer.build_block([transfer(0, 0)], timestamp=0, coinbase=COINBASE, sidecar=sidecar()).block
    with pytest.raises(InvalidBlock, match="state root mismatch"):
        validator.validate_block(rebuild(blk, state_root=b"\x11" * 32))
    with pytest.raises(InvalidBlock, match="gas used mismatch"):
        validator.validate_block(rebuild(blk, gas_used=blk.header.gas_used + 1))
    with pytest.raises(InvalidBlock, match="receipts root mismatch"):
        validator.validate_block(rebuild(blk, receipt_root=b"\x22" * 32))
    with pytest.raises(InvalidBlock, match="transactions root mismatch"):
        validator.validate_block(rebuild(blk, txs=[transfer(0, 0, value=2)]))
    validator.validate_block(blk)  # the untampered block is fine


def test_validate_rejects_wrong_extra_data_and_header_rules() -> None:
    proposer, validator = two_nodes()
    blk = proposer.build_block([], timestamp=0, coinbase=COINBASE, sidecar=sidecar()).block
    with pytest.raises(InvalidBlock, match="extra_data"):
        validator.validate_block(rebuild(blk, extra_data=b"\x00" * 32))
    with pytest.raises(InvalidBlock, match="extra_data"):
        validator.validate_block(PlumeBlock(blk.block, sidecar(round=9)))
    with pytest.raises(InvalidBlock, match="base fee"):
        validator.validate_block(rebuild(blk, base_fee_per_gas=blk.header.base_fee_per_gas + 1))
    with pytest.raises(InvalidBlock, match="gas limit"):
        validator.validate_block(rebuild(blk, gas_limit=blk.header.gas_limit + 1))
    with pytest.raises(InvalidBlock, match="difficulty"):
        validator.validate_block(rebuild(blk, difficulty=1))
    with pytest.raises(InvalidBlock, match="parent_beacon_block_root"):
        validator.validate_block(rebuild(blk, parent_beacon_block_root=b"\x01" * 32))
    with pytest.raises(InvalidBlock, match="committed head"):
        validator.validate_block(rebuild(blk, parent_hash=b"\x02" * 32))
    with pytest.raises(InvalidBlock, match="future"):
        validator.validate_block(blk, max_timestamp=blk.header.timestamp - 1)


def test_validate_rejects_bad_transaction_signature() -> None:
    proposer, validator = two_nodes()
    tx = transfer(0, 0)
    blk = proposer.build_block([tx], timestamp=0, coinbase=COINBASE, sidecar=sidecar()).block
    forged = rebuild(blk, txs=[tx.copy(r=0)])
    assert forged.hash == blk.hash  # same header: only the body lies
    with pytest.raises(InvalidBlock, match="signature"):
        validator.validate_block(forged)
    # also when the proposer has the genuine block cached under that hash
    with pytest.raises(InvalidBlock, match="signature"):
        proposer.validate_block(forged)


def test_commit_never_re_executes() -> None:
    proposer, validator = two_nodes()
    blk = proposer.build_block([transfer(0, 0)], timestamp=0, coinbase=COINBASE, sidecar=sidecar()).block
    assert proposer.stats.executions == 1
    proposer.validate_block(blk)  # its own proposal comes back through consensus
    proposer.commit(blk)
    assert proposer.stats.executions == 1 and proposer.stats.cache_hits == 2

    validator.validate_block(PlumeBlock.decode(blk.encode()))
    assert validator.stats.executions == 1
    validator.commit(PlumeBlock.decode(blk.encode()))
    assert validator.stats.executions == 1 and validator.stats.commits == 1


def test_commit_without_validation_executes_once(mem_chain: PlumeChain) -> None:
    other = PlumeChain(AtomicDB(), make_genesis())
    blk = other.build_block([transfer(0, 0)], timestamp=0, coinbase=COINBASE, sidecar=sidecar()).block
    mem_chain.commit(blk)  # e.g. block sync: validated inside commit
    assert mem_chain.stats.executions == 1 and mem_chain.head.hash == blk.hash


def test_cache_bounded_and_siblings_dropped() -> None:
    chain = PlumeChain(AtomicDB(), make_genesis(), cache_size=3)
    blocks = [
        chain.build_block([transfer(0, 0)], timestamp=0, coinbase=COINBASE, sidecar=sidecar(round=r)).block
        for r in range(4)
    ]
    assert len({b.hash for b in blocks}) == 4
    assert len(chain.cache) == 3 and blocks[0].hash not in chain.cache
    chain.commit(blocks[2])
    assert len(chain.cache) == 0  # the committed block used up, its siblings dropped
    with pytest.raises(InvalidBlock, match="committed head"):
        chain.validate_block(blocks[3])


def test_node_records_share_the_commit_batch(mem_chain: PlumeChain) -> None:
    blk = mem_chain.build_block([transfer(0, 0)], timestamp=0, coinbase=COINBASE, sidecar=sidecar()).block
    with pytest.raises(RuntimeError):
        with mem_chain.commit_batch(blk) as batch:
            PrefixedDB(batch, PREFIX_CERT)[b"1"] = b"certificate"
            raise RuntimeError("node failed while adding its records")
    # nothing written, head unchanged, the cached result still usable
    assert mem_chain.height == 0
    assert not PrefixedDB(mem_chain.root_db, PREFIX_CERT).exists(b"1")
    mem_chain.commit(blk, lambda batch: PrefixedDB(batch, PREFIX_CERT).set(b"1", b"certificate"))
    assert mem_chain.height == 1 and mem_chain.stats.executions == 1
    assert PrefixedDB(mem_chain.root_db, PREFIX_CERT)[b"1"] == b"certificate"


def test_end_block_hooks_run_inside_the_state_root() -> None:
    """Staking's future rewards/slashing hook point: deterministic writes, in the root."""
    seen = []

    def hook(state, ctx):
        seen.append((ctx.height, ctx.round, ctx.base_fee_per_gas * ctx.gas_used))
        state.set_storage(SINK, 1, ctx.height + 100)

    g = make_genesis()
    hooks = END_OF_BLOCK_HOOKS + (hook,)
    proposer = PlumeChain(AtomicDB(), g, end_block_hooks=hooks)
    validator = PlumeChain(AtomicDB(), g, end_block_hooks=hooks)
    plain = PlumeChain(AtomicDB(), g)
    blk = proposer.build_block([transfer(0, 0)], timestamp=0, coinbase=COINBASE, sidecar=sidecar(round=2)).block
    assert seen == [(1, 2, 21000 * blk.header.base_fee_per_gas)]
    validator.validate_block(blk)
    validator.commit(blk)
    assert validator.state_at().storage(SINK, 1) == 101
    with pytest.raises(InvalidBlock, match="state root mismatch"):
        plain.validate_block(blk)  # a node without the hook disagrees on the root


def test_unexpected_error_during_validation_is_an_invalid_block() -> None:
    """Whatever py-evm (or a hook) raises on a network block becomes InvalidBlock, not a crash."""
    g = make_genesis()
    proposer = PlumeChain(AtomicDB(), g)
    blk = proposer.build_block([transfer(0, 0)], timestamp=0, coinbase=COINBASE, sidecar=sidecar()).block

    def broken(state, ctx):
        raise RuntimeError("unexpected")

    validator = PlumeChain(AtomicDB(), g, end_block_hooks=END_OF_BLOCK_HOOKS + (broken,))
    with pytest.raises(InvalidBlock, match="execution failed: RuntimeError"):
        validator.validate_block(blk)
    assert validator.height == 0 and len(validator.cache) == 0


def test_too_many_transactions_rejected_before_execution() -> None:
    g = make_genesis(gas_limit=21000 * 2)
    proposer, validator = PlumeChain(AtomicDB(), g), PlumeChain(AtomicDB(), g)
    blk = proposer.build_block([transfer(0, 0), transfer(0, 1)], timestamp=0, coinbase=COINBASE,
                               sidecar=sidecar()).block
    stuffed = rebuild(blk, txs=[*blk.transactions, transfer(0, 2)])
    with pytest.raises(InvalidBlock, match="cannot fit"):
        validator.validate_block(stuffed)
    assert validator.stats.executions == 0


def test_hooks_read_the_consensus_facts_in_build_and_validate() -> None:
    """read_sidecar's plain values reach every hook, the same when building and validating:
    a hook writing from them agrees on the root only with a node that reads them alike."""
    from staking.end_of_block import CommitSigner, ConsensusFacts, Misbehaviour

    def signer(tag: bytes) -> CommitSigner:
        return CommitSigner(tag * 20, tag * 32, 1)

    def read(sc):
        return ConsensusFacts((signer(bytes([sc.round])),), (Misbehaviour(b"\x07" * 20, sc.round),))

    def signer_hook(state, ctx):
        state.set_storage(SINK, 2, int.from_bytes(ctx.last_commit_signers[0].address, "big") + ctx.evidence[0].height)

    g = make_genesis()
    hooks = END_OF_BLOCK_HOOKS + (signer_hook,)
    proposer = PlumeChain(AtomicDB(), g, end_block_hooks=hooks, read_sidecar=read)
    validator = PlumeChain(AtomicDB(), g, end_block_hooks=hooks, read_sidecar=read)
    other = PlumeChain(AtomicDB(), g, end_block_hooks=hooks,
                       read_sidecar=lambda sc: ConsensusFacts((signer(b"\x00"),), (Misbehaviour(b"", 0),)))
    blk = proposer.build_block([transfer(0, 0)], timestamp=0, coinbase=COINBASE, sidecar=sidecar(round=3)).block
    validator.validate_block(blk)
    validator.commit(blk)
    assert validator.state_at().storage(SINK, 2) == int.from_bytes(b"\x03" * 20, "big") + 3
    with pytest.raises(InvalidBlock, match="state root mismatch"):
        other.validate_block(blk)

    def unreadable(sc):
        raise ValueError("not a certificate")

    with pytest.raises(InvalidBlock, match="execution failed: ValueError"):
        PlumeChain(AtomicDB(), g, read_sidecar=unreadable).validate_block(blk)

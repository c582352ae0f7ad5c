"""The block interval policy of `ConsensusDriver` (docs/consensus.md, "Block interval").

One real engine with a real double-sign guard, driven by the node's driver on
trio's autojump clock; the test plays the other three of four equal
validators by submitting their signed proposal and votes, and the
application is an in-memory stand-in whose pool the test fills. After a
commit the next height starts when the commit grace is over (every
validator's precommit in, or `commit_grace_ms`), and no sooner than
`min_block_interval_ms` after the previous height started, if a block would
carry a pooled transaction, else `block_time_ms` after the commit; a
precommit that arrives in the grace lands in the stored certificate.
"""

from __future__ import annotations

import contextlib

import pytest
import trio

from consensus.actions import BlockVerdict
from consensus.engine import ConsensusEngine
from consensus.messages import CommitCertificate
from consensus.signer import MemoryStore, Signer
from consensus.validators import ValidatorSet
from engine_harness import CHAIN, block_for, index_of_proposer, make_set, precommit, prevote, sign_proposal
from plume_node.app import SyncedBlock
from plume_node.config import Config, ConfigError, set_dotted
from plume_node.consensus_driver import (
    DEFAULT_COMMIT_GRACE_MS,
    DEFAULT_MIN_BLOCK_INTERVAL_MS,
    POOL_LOOK_INTERVAL_S,
    ConsensusDriver,
)
from waiting import await_until

BLOCK_TIME_MS = 1000
GRACE_MS = 300
EARLY = 0.01  # s: just before a moment the test names
LATE = 0.01  # s: just after it (the autojump clock runs every ready task first)


class PoolApp:
    """The driver's application, in memory: blocks are opaque bytes named by
    their SHA-256, every block is valid, and the pool is two flags the test
    sets (a transaction a block would carry; any pooled transaction)."""

    def __init__(self, validators: ValidatorSet) -> None:
        self.validators = validators
        self.height = 0
        self.certificates: dict[int, CommitCertificate] = {}
        self.committed_at: dict[int, float] = {}
        self.includable = False
        self.pooled = False
        self.validated: dict[int, float] = {}  # height -> when its block was judged
        self.first_asked: dict[int, float] = {}  # height -> when its validator set was first asked for


    def committed_height(self) -> int:
        return self.height

    def validator_set(self, height: int) -> ValidatorSet:
        self.first_asked.setdefault(height, trio.current_time())  # height 1: when it started
        return self.validators.advance(height - 1)  # the proposer moves on with the height

    def propose_block(self, height: int, round: int) -> tuple[bytes, bytes]:
        return block_for(f"{height}/{round}")

    def validate_block(self, height: int, block_hash: bytes, block: bytes) -> tuple[BlockVerdict, str]:
        self.validated[height] = trio.current_time()
        return BlockVerdict.VALID, ""

    def commit(self, height: int, block_hash: bytes, block: bytes, certificate: CommitCertificate) -> None:
        self.height = height
        self.certificates[height] = certificate
        self.committed_at[height] = trio.current_time()

    def record_late_precommits(self, certificate: CommitCertificate) -> bool:
        if len(certificate.precommits) <= len(self.certificates[certificate.height].precommits):
            return False
        self.certificates[certificate.height] = certificate
        return True

    def has_pending_transactions(self) -> bool:
        return self.pooled or self.includable

    def has_includable_transactions(self) -> bool:
        return self.includable

    def save_own_proposal(self, proposal) -> None:
        pass

    def own_proposal(self, height: int):
        return None


class Chain:
    """Validator 0 is the driver's; the test signs for 1, 2 and 3."""

    def __init__(self, **driver_options) -> None:
        self.keys, validators = make_set([10, 10, 10, 10])
        self.app = PoolApp(validators)
        engine = ConsensusEngine(CHAIN, self.keys[0].address)
        signer = Signer(self.keys[0], MemoryStore(), CHAIN)
        options = {"block_time_ms": BLOCK_TIME_MS, "commit_grace_ms": GRACE_MS, "min_block_interval_ms": 0,
                   **driver_options}
        self.driver = ConsensusDriver(engine, self.app, signer, **options)

    @property
    def working_on(self) -> int | None:
        return self.driver.engine.height

    async def commit_height_1(self, signers=(1, 2)) -> float:
        """Play height 1 to a commit with our precommit and `signers`' (a +2/3
        of four); return the trio time of the commit."""
        await await_until(lambda: self.working_on == 1, 5, "height 1 to start")
        block_hash, block = block_for("1/0")
        proposer = index_of_proposer(self.app.validators, self.keys, 0)
        if proposer != 0:
            self.driver.submit_proposal(sign_proposal(self.keys[proposer], 1, 0, block_hash), block)
        for i in signers:
            self.driver.submit_vote(prevote(self.keys[i], 1, 0, block_hash))
        for i in signers:
            self.driver.submit_vote(precommit(self.keys[i], 1, 0, block_hash))
        await await_until(lambda: self.app.height == 1, 5, "height 1 to be committed")
        return self.app.committed_at[1]

    def propose(self, height: int) -> None:
        """The round-0 proposer of `height` (one of the test's validators) proposes."""
        proposer = index_of_proposer(self.app.validator_set(height), self.keys, 0)
        assert proposer != 0, "the test plays the proposer"
        block_hash, block = block_for(f"{height}/0")
        self.driver.submit_proposal(sign_proposal(self.keys[proposer], height, 0, block_hash), block)

    def late_precommit(self, i: int) -> None:
        self.driver.submit_vote(precommit(self.keys[i], 1, 0, block_for("1/0")[0]))


async def started_at(chain: Chain, moment: float) -> None:
    """Height 2 is not started just before `moment` and is just after it."""
    await trio.sleep_until(moment - EARLY)
    assert chain.working_on == 1, f"height 2 started before {moment - chain.app.committed_at[1]:.3f} s"
    await trio.sleep_until(moment + LATE)
    assert chain.working_on == 2, f"height 2 not started at {moment - chain.app.committed_at[1]:.3f} s"


async def test_with_transactions_waiting_the_next_height_starts_after_the_grace_not_the_block_time(autojump_clock):
    chain = Chain()
    chain.app.includable = True
    async with trio.open_nursery() as nursery:
        await nursery.start(chain.driver.run)
        committed = await chain.commit_height_1()  # validator 3 never precommits
        await started_at(chain, committed + GRACE_MS / 1000)
        assert len(chain.app.certificates[1].precommits) == 3
        nursery.cancel_scope.cancel()


async def test_a_late_precommit_in_the_grace_is_stored_and_ends_the_grace(autojump_clock):
    chain = Chain()
    chain.app.includable = True
    async with trio.open_nursery() as nursery:
        await nursery.start(chain.driver.run)
        committed = await chain.commit_height_1()
        assert len(chain.app.certificates[1].precommits) == 3
        await trio.sleep_until(committed + 0.1)
        assert chain.working_on == 1
        chain.late_precommit(3)  # the last validator's, inside the grace: nobody else can come
        await started_at(chain, committed + 0.1)
        signers = {v.validator for v in chain.app.certificates[1].precommits}
        assert signers == {k.address for k in chain.keys}
        nursery.cancel_scope.cancel()


async def test_without_transactions_the_next_height_waits_the_block_time(autojump_clock):
    chain = Chain()
    async with trio.open_nursery() as nursery:
        await nursery.start(chain.driver.run)
        committed = await chain.commit_height_1(signers=(1, 2, 3))  # all four in: the grace is over at once
        await started_at(chain, committed + BLOCK_TIME_MS / 1000)
        nursery.cancel_scope.cancel()


async def test_a_transaction_pooled_during_the_block_time_starts_the_height_at_once(autojump_clock):
    chain = Chain()
    async with trio.open_nursery() as nursery:
        await nursery.start(chain.driver.run)
        committed = await chain.commit_height_1(signers=(1, 2, 3))
        await trio.sleep_until(committed + 0.5)
        assert chain.working_on == 1
        chain.app.includable = True
        chain.driver.notify_transactions()
        await started_at(chain, committed + 0.5)
        nursery.cancel_scope.cancel()


async def test_transactions_no_block_can_carry_yet_do_not_shorten_the_interval(autojump_clock):
    chain = Chain()
    chain.app.pooled = True  # e.g. behind a nonce gap, or under the base fee
    async with trio.open_nursery() as nursery:
        await nursery.start(chain.driver.run)
        committed = await chain.commit_height_1(signers=(1, 2, 3))
        chain.driver.notify_transactions()
        await started_at(chain, committed + BLOCK_TIME_MS / 1000)
        nursery.cancel_scope.cancel()


async def test_the_grace_never_outlasts_the_block_time(autojump_clock):
    chain = Chain(commit_grace_ms=5 * BLOCK_TIME_MS)
    chain.app.includable = True
    async with trio.open_nursery() as nursery:
        await nursery.start(chain.driver.run)
        committed = await chain.commit_height_1()
        await started_at(chain, committed + BLOCK_TIME_MS / 1000)
        nursery.cancel_scope.cancel()


async def test_without_empty_blocks_the_next_height_waits_for_a_pooled_transaction(autojump_clock):
    chain = Chain(create_empty_blocks=False)
    chain.app.pooled = True  # height 1 waits for one too
    async with trio.open_nursery() as nursery:
        await nursery.start(chain.driver.run)
        committed = await chain.commit_height_1(signers=(1, 2, 3))
        chain.app.pooled = False  # height 1 carried it
        await trio.sleep_until(committed + 5 * BLOCK_TIME_MS / 1000)
        assert chain.working_on == 1, "an empty height started with create_empty_blocks = false"
        chain.app.pooled = True
        chain.driver.notify_transactions()
        await started_at(chain, committed + 5 * BLOCK_TIME_MS / 1000)
        nursery.cancel_scope.cancel()


async def test_the_next_proposal_starts_the_height_at_once_and_its_block_is_judged(autojump_clock):
    chain = Chain()  # an empty pool here: the pause would last the block time
    async with trio.open_nursery() as nursery:
        await nursery.start(chain.driver.run)
        committed = await chain.commit_height_1(signers=(1, 2, 3))
        await trio.sleep_until(committed + 0.2)
        assert chain.working_on == 1
        chain.propose(2)  # its proposer's pool had a transaction
        await started_at(chain, committed + 0.2)
        assert chain.app.validated[2] < committed + 0.2 + LATE
        nursery.cancel_scope.cancel()


async def test_with_transactions_waiting_heights_start_no_closer_than_the_minimum_interval(autojump_clock):
    chain = Chain(min_block_interval_ms=250)
    chain.app.includable = True
    async with trio.open_nursery() as nursery:
        await nursery.start(chain.driver.run)
        committed = await chain.commit_height_1(signers=(1, 2, 3))  # the grace is over at once
        started = chain.app.first_asked[1]
        assert committed < started + 0.25 - EARLY
        await started_at(chain, started + 0.25)
        nursery.cancel_scope.cancel()


def test_commit_grace_and_min_block_interval_are_config_keys_with_bounded_ranges():
    assert Config().consensus.commit_grace_ms == DEFAULT_COMMIT_GRACE_MS == 300
    assert set_dotted(Config(), "consensus.commit_grace_ms", "0").consensus.commit_grace_ms == 0
    assert Config().consensus.min_block_interval_ms == DEFAULT_MIN_BLOCK_INTERVAL_MS == 250
    for key in ("commit_grace_ms", "min_block_interval_ms"):
        for bad in ("-1", "60001"):
            with pytest.raises(ConfigError, match=f"consensus.{key} must be between 0 and 60000"):
                set_dotted(Config(), f"consensus.{key}", bad)


class SyncingPoolApp(PoolApp):
    """PoolApp that also commits blocks handed over by block sync (opaque, all good)."""

    def durable_run(self):
        return contextlib.nullcontext()

    def apply_synced_block(self, height: int, block: bytes, certificate: bytes) -> tuple[SyncedBlock, str]:
        self.height = height
        self.committed_at[height] = trio.current_time()
        return SyncedBlock.COMMITTED, ""


async def play_height(chain: Chain, height: int) -> None:
    """The test's validators carry `height` to a commit (with ours, 4 of 4)."""
    await await_until(lambda: chain.working_on == height, 5, f"height {height} to start")
    block_hash, block = block_for(f"{height}/0")
    proposer = index_of_proposer(chain.app.validator_set(height), chain.keys, 0)
    if proposer != 0:
        chain.driver.submit_proposal(sign_proposal(chain.keys[proposer], height, 0, block_hash), block)
    for vote in (prevote, precommit):
        for i in (1, 2, 3):
            chain.driver.submit_vote(vote(chain.keys[i], height, 0, block_hash))
    await await_until(lambda: chain.app.height == height, 5, f"height {height} committed")


@pytest.mark.parametrize("offset_s", [ms / 1000 for ms in range(0, 1000, 100)])
async def test_a_pause_block_sync_moved_past_does_not_delay_the_current_one(autojump_clock, offset_s):
    # The pause before height 2 was left behind when block sync committed 2
    # and 3; it kept re-arming the transaction Event, so height 5's pause
    # waited on one nobody set and started up to 1 s after a pooled transaction.
    chain = Chain(create_empty_blocks=False)
    chain.app.__class__ = SyncingPoolApp
    chain.app.pooled = True
    async with trio.open_nursery() as nursery:
        await nursery.start(chain.driver.run)
        await play_height(chain, 1)
        chain.app.pooled = False
        await trio.sleep(0.5)  # height 2's pause waits for a transaction
        chain.driver.submit_synced_blocks([(2, b"b2", b"c2"), (3, b"b3", b"c3")], lambda *a: None)
        await play_height(chain, 4)
        await trio.sleep(3 + offset_s)
        assert chain.working_on == 4
        chain.app.pooled = True
        pooled_at = trio.current_time()
        chain.driver.notify_transactions()
        await await_until(lambda: chain.working_on == 5, 5, "height 5 to start")
        delay = trio.current_time() - pooled_at
        assert delay <= POOL_LOOK_INTERVAL_S + LATE, f"height 5 started {delay:.3f} s after a pooled transaction"
        nursery.cancel_scope.cancel()

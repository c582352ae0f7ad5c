"""End-of-block processing: an ordered list of hooks, each one rule over the block's state.

Execution runs ``END_OF_BLOCK_HOOKS`` in order after a block's last
transaction and before its state root is computed, identically when it
builds, validates or syncs a block, so every hook's writes are in the state
root. A hook is ``hook(state, ctx) -> None``: ``state`` is the block's py-evm
state (``StateAPI``), ``ctx`` a ``BlockContext``, plain data that execution
builds from the block's header and the consensus facts of its sidecar (the
node decodes those: staking and execution never see consensus types).

Hooks must be deterministic (every node runs them on every block) and may
raise only on a bug: an exception makes a validated block invalid.

Order (see docs/execution.md):

1. ``process_fee_split``: the 50/50 base-fee split (``staking/fees.py``).
2. ``process_rewards``: issue ``block_reward`` into the reward pool and split
   the pool by power over the parent's set: the signers of ``last_commit``
   get their parts, the absent members' parts burn (``staking/rewards.py``).
3. ``process_slashings``: slash, jail and tombstone each double-signer the
   block's evidence proves, logging ``EvidenceApplied``, ``Slashed`` and
   ``Jailed`` through ``ctx.emit`` (``staking/slashing.py``).
4. ``process_downtime``: count who of the parent's set missed it; slash and
   jail a validator that missed too many of the window, logging ``Slashed``
   and ``Jailed`` (``staking/downtime.py``).
5. ``process_auto_restake``: at an epoch end, start a round compounding the
   opted-in delegations' rewards; every block, compound the next pairs of
   the round (bounded per block; ``staking/autorestake.py``).
6. ``process_unbonding_queue``: pay matured undelegations (``staking/queues.py``).
7. ``process_redelegation_queue``: forget matured redelegations.
8. ``process_validator_set_update``: at an epoch end (or at once after any
   jailing: double-sign, downtime or low self-delegation), choose the next active set (``staking/active_set.py``).
9. ``process_governance``: close the proposals whose deposit or voting period
   is over; a passed one's parameter changes apply here, last, so every rule
   of this block ran under the old values (``staking/governance/rules.py``).

``process_slashings`` (double-sign evidence, ``staking/slashing.py``) runs
right after rewards, before auto-restake and the queues, so a slash reaches
stake and entries before they compound or mature; a tombstoned validator
leaves the active set at the end of the same block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from staking import abi, autorestake, downtime, fees, queues, rewards, slashing
from staking.active_set import prune_empty_validators, update_active_set
from staking.addresses import STAKING_ADDRESS
from staking.evidence import Misbehaviour
from staking.fees import apply_fee_split
from staking.governance.rules import process_governance
from staking.store import Store


@dataclass(frozen=True)
class CommitSigner:
    """A validator whose precommit is in a block's ``last_commit``, as the parent's set knew it."""

    address: bytes  # consensus address
    pub_key: bytes  # its Ed25519 consensus key (the staking contract's key for it)
    power: int  # its voting power in the set that decided the parent


@dataclass(frozen=True)
class ConsensusFacts:
    """What a block's sidecar says about consensus, decoded by the node into plain values."""

    last_commit_signers: tuple[CommitSigner, ...] = ()  # whose precommits certify the parent, by address
    evidence: tuple[Misbehaviour, ...] = ()
    # the other members of the parent's set: their precommits are not in last_commit
    last_commit_absent: tuple[CommitSigner, ...] = ()


NO_CONSENSUS_FACTS = ConsensusFacts()


@dataclass(frozen=True)
class BlockContext:
    """The block as the end-of-block hooks see it."""

    height: int
    timestamp: int
    round: int  # the consensus round the block was proposed in
    coinbase: bytes  # the proposer's fee address
    base_fee_per_gas: int
    gas_used: int  # by all of the block's transactions
    last_commit_signers: tuple[CommitSigner, ...]  # sorted by address, as in the parent's certificate
    evidence: tuple[Misbehaviour, ...]  # in the sidecar's order
    last_commit_absent: tuple[CommitSigner, ...] = ()  # the parent set's members that did not sign it
    # The EVM logs the hooks emit, in order: (address, topics, data). Execution
    # publishes them after the block's transactions (docs/execution.md).
    system_logs: list[tuple[bytes, tuple[int, ...], bytes]] = field(default_factory=list, compare=False)

    def emit(self, address: bytes, event: abi.Event, indexed: tuple, data: tuple) -> None:
        """Record one event of a system contract at ``address`` (no gas: no transaction pays)."""
        topics, payload = abi.event_log(event, indexed, data)
        self.system_logs.append((address, topics, payload))


EndOfBlockHook = Callable[[Any, BlockContext], None]


def process_fee_split(state: Any, ctx: BlockContext) -> None:
    """Half of ``base_fee_per_gas * gas_used`` to the reward pool, the rest burned."""
    apply_fee_split(state, ctx.base_fee_per_gas, ctx.gas_used)


def process_rewards(state: Any, ctx: BlockContext) -> None:
    """Issue the block reward into the pool, then split the pool by power over the parent's set:
    each signer its part, the absent members' parts burned."""
    store = Store(state, STAKING_ADDRESS)
    fees.issue(state, store.get("param.block_reward"))
    signers = []
    for signer in ctx.last_commit_signers:
        operator = store.get_address("consensus_key.operator", signer.pub_key)
        if operator != bytes(20):
            signers.append((operator, signer.power))
    absent_power = sum(member.power for member in ctx.last_commit_absent)
    rewards.allocate_block_rewards(state, store, signers, absent_power)


def process_auto_restake(state: Any, ctx: BlockContext) -> None:
    """At an epoch end, start (or queue) a round over the auto-restake list; every block,
    compound at most ``AUTO_RESTAKE_PER_BLOCK`` pairs of the running round."""
    store = Store(state, STAKING_ADDRESS)
    if ctx.height % store.get("param.epoch_length") == 0:
        autorestake.start_round(store)
    autorestake.process(state, store)


def process_slashings(state: Any, ctx: BlockContext) -> None:
    """Slash, jail and tombstone each validator the block's evidence proves double-signed."""
    store = Store(state, STAKING_ADDRESS)
    emit = partial(ctx.emit, STAKING_ADDRESS)  # EvidenceApplied, Slashed, Jailed per applied evidence
    for misbehaviour in ctx.evidence:
        if misbehaviour.pub_key:
            slashing.apply_evidence(state, store, misbehaviour, ctx.height, emit)


def process_downtime(state: Any, ctx: BlockContext) -> None:
    """Record who of the parent's set signed it; slash and jail each validator that missed
    more than the window allows (``staking/downtime.py``).

    After ``process_slashings``: a validator tombstoned in this block is jailed
    and not slashed again (one fault, the harsher rule); a jailed validator still
    in the parent's set is counted all the same. Before auto-restake and the
    queues, as every slash, so it reaches the stake first; before the set
    update, which drops the jailed validator at the end of this block."""
    store = Store(state, STAKING_ADDRESS)
    params = downtime.DowntimeParams.read(store)
    parent = ctx.height - 1  # the block whose precommits last_commit carries
    for operator, missed in downtime.members(store, ctx.last_commit_signers, ctx.last_commit_absent):
        count = downtime.record_signature(store, operator, missed, parent, params.window)
        if store.get("validator.jailed", operator) or not downtime.is_down(store, operator, count, params):
            continue  # a jailed validator is counted, never slashed again while jailed
        burned = downtime.slash_downtime(state, store, operator, params.slash_fraction_bps)
        until = downtime.jail_for_downtime(store, operator, ctx.timestamp, params)
        ctx.emit(STAKING_ADDRESS, abi.SLASHED, (operator,), (abi.Infraction.DOWNTIME, burned, parent))
        ctx.emit(STAKING_ADDRESS, abi.JAILED, (operator,), (abi.Infraction.DOWNTIME, until))


def process_unbonding_queue(state: Any, ctx: BlockContext) -> None:
    """Pay every unbonding entry whose completion time is at most the block's time (bounded per block)."""
    store = Store(state, STAKING_ADDRESS)
    queues.mature(state, store, "ubd", ctx.timestamp, queues.complete_unbonding)


def process_redelegation_queue(state: Any, ctx: BlockContext) -> None:
    """Forget every redelegation entry whose completion time is at most the block's time."""
    store = Store(state, STAKING_ADDRESS)
    queues.mature(state, store, "red", ctx.timestamp, queues.complete_redelegation)


def process_validator_set_update(state: Any, ctx: BlockContext) -> None:
    """At the end of every ``epoch_length``-th block, remove empty validators, then record
    the top validators by stake."""
    store = Store(state, STAKING_ADDRESS)
    if ctx.height % store.get("param.epoch_length") == 0:
        prune_empty_validators(state, store, ctx.timestamp, ctx.height)
        update_active_set(store, ctx.height, ctx.timestamp)
    elif store.get("active.dirty"):  # someone was jailed (any cause): it leaves now, not at the epoch end
        update_active_set(store, ctx.height, ctx.timestamp)
    if store.get("active.dirty"):
        store.set("active.dirty", 0)


END_OF_BLOCK_HOOKS: tuple[EndOfBlockHook, ...] = (
    process_fee_split,
    process_rewards,
    process_slashings,
    process_downtime,
    process_auto_restake,
    process_unbonding_queue,
    process_redelegation_queue,
    process_validator_set_update,
    process_governance,
)

"""Downtime: a validator missing more than the window allows is slashed the fraction exactly
(burned, supply counters exact), jailed until the jail time, and leaves the active set at once;
one missing exactly the allowed number is not; nobody is judged before a whole window; unjail
refuses too early, while tombstoned and for a non-validator, and works after the jail time."""

from __future__ import annotations

import dataclasses

import pytest
from eth.db.atomic import AtomicDB
from eth_abi import decode

from execution.chain import PlumeChain
from staking import abi, views
from staking.addresses import STAKING_ADDRESS
from staking.end_of_block import END_OF_BLOCK_HOOKS, CommitSigner, ConsensusFacts, Misbehaviour
from staking.params import MAX_SIGNED_BLOCKS_WINDOW, ParamError, SlashingParams, StakingParams
from staking.store import Store
from staking_harness import ADDRS, PLUME, StakingChain, calldata, consensus_key
from test_slashing import books_balance

WINDOW = 10
MAX_MISSED = 5  # 50% of 10 must be signed
JAIL = 60
SLASHING = SlashingParams(
    signed_blocks_window=WINDOW, min_signed_per_window_bps=5_000, slash_fraction_downtime_bps=100,
    downtime_jail_duration=JAIL,
)


class Signing:
    """A chain whose every block's ``last_commit`` is the head's active set, less ``absent``."""

    def __init__(self, slashing: SlashingParams = SLASHING, epoch_length: int = 1000, first_hooks=(),
                 lagged: bool = False):
        """``lagged``: the parent's set is the one recorded two blocks before it, as consensus
        applies a set (a set chosen at the end of E decides E+2 on); else the head's."""
        c = StakingChain(StakingParams(unbonding_period=60, epoch_length=epoch_length))
        self.c = c
        self.lagged = lagged
        self.absent: set[int] = set()
        self.evidence: tuple[Misbehaviour, ...] = ()
        self.logs: list[tuple[int, tuple, bytes]] = []  # (height, topics, data) the hooks emitted
        genesis = dataclasses.replace(c.chain.genesis, slashing=slashing)
        hooks = (*first_hooks, *END_OF_BLOCK_HOOKS, self._record_logs)
        c.chain = PlumeChain(AtomicDB(), genesis, read_sidecar=self.facts, end_block_hooks=hooks)

    def facts(self, sidecar) -> ConsensusFacts:
        head = self.c.chain.head.block_number
        chosen_by = max(0, head - 2) if self.lagged else head
        members = [
            (ADDRS.index(v.operator), CommitSigner(bytes([ADDRS.index(v.operator)]) * 20, v.consensus_pubkey, v.power))
            for v in views.active_set(self.c.chain.state_at(chosen_by).accounts)
        ]
        signed = tuple(m for i, m in members if i not in self.absent)
        absent = tuple(m for i, m in members if i in self.absent)
        return ConsensusFacts(signed, self.evidence, absent)

    def _record_logs(self, state, ctx) -> None:
        self.logs.extend((ctx.height, topics, data) for address, topics, data in ctx.system_logs
                         if address == STAKING_ADDRESS)

    def info(self, who: int):
        return views.validator(self.c.chain.state_at().accounts, ADDRS[who], self.c.chain.head.timestamp)

    def active(self) -> list[bytes]:
        return [v.operator for v in views.active_set(self.c.chain.state_at().accounts)]

    def refused(self, who: int, reason: str) -> None:
        """``unjail`` from ``who`` reverts with ``reason`` and leaves it as jailed as it was.

        (Not the harness's ``refused``: every block here writes the signing
        records, so the contract's storage root moves with each block.)"""
        jailed = self.info(who).jailed if who < 4 else None
        out = self.c.send(who, "unjail", dt=0)
        assert not out.ok and reason in (out.reason or ""), out.reason
        assert (self.info(who).jailed if who < 4 else None) == jailed

    def events(self, event: abi.Event) -> list[tuple]:
        return [(h, topics, decode(list(event.data), data)) for h, topics, data in self.logs if topics[0] == event.topic0]


def test_missing_more_than_allowed_slashes_exactly_jails_and_leaves_the_set_at_once():
    s = Signing()
    c = s.c
    assert c.send(5, "delegate", ADDRS[3], value=20 * PLUME).ok  # validator 3: 120 PLUME
    s.absent = {3}
    burned_before = c.chain.state_at().total_slashed()
    while not s.info(3).jailed:
        c.block(dt=2)
        assert c.chain.height <= 2 * WINDOW, "never jailed"
    height, now = c.chain.height, c.chain.head.timestamp
    info = s.info(3)
    assert info.tokens == 120 * PLUME * 99 // 100  # 1% of the bonded tokens, burned
    assert c.chain.state_at().total_slashed() - burned_before == 120 * PLUME // 100
    assert c.view("getDelegation", ADDRS[5], ADDRS[3])[1] == 20 * PLUME * 99 // 100  # every share lost 1%
    assert info.jailed and not info.tombstoned and info.jailed_until == now + JAIL
    assert info.missed_blocks == 0  # the window starts afresh
    assert ADDRS[3] not in s.active() and views.active_set_chosen_at(c.chain.state_at().accounts) == height
    assert [e[2] for e in s.events(abi.SLASHED)] == [(abi.Infraction.DOWNTIME, 120 * PLUME // 100, height - 1)]
    assert [e[2] for e in s.events(abi.JAILED)] == [(abi.Infraction.DOWNTIME, now + JAIL)]
    assert s.events(abi.JAILED)[0][1][1] == int.from_bytes(ADDRS[3], "big")
    books_balance(s)
    assert c.view("getSigningInfo", ADDRS[3]) == (0, 0, 0, now + JAIL, False)
    for i in (0, 1, 2):  # the others signed every block
        assert not s.info(i).jailed and s.info(i).missed_blocks == 0


def test_nobody_is_judged_before_a_whole_window():
    s = Signing()
    s.absent = {2}
    s.c.advance(WINDOW - 1)
    info = s.info(2)
    assert info.missed_blocks == WINDOW - 1 > MAX_MISSED and not info.jailed  # missed all, not judged yet
    start, offset, missed, until, tombstoned = s.c.view("getSigningInfo", ADDRS[2])
    assert (start, offset, missed, until, tombstoned) == (0, WINDOW - 1, WINDOW - 1, 0, False)
    s.c.block()
    assert s.info(2).jailed


def test_a_new_validator_is_judged_only_a_whole_window_after_it_joined():
    s = Signing(epoch_length=5)
    c = s.c
    assert c.send(4, "createValidator", consensus_key(4), "v4", 1_000, 2_000, 100, value=50 * PLUME).ok
    c.to_epoch_end()
    assert ADDRS[4] in s.active()  # the next block's parent set (in this harness)
    s.absent = {4}
    c.advance(WINDOW - 1)
    assert s.info(4).missed_blocks == WINDOW - 1 and not s.info(4).jailed
    c.block()
    assert s.info(4).jailed


def test_missing_exactly_the_allowed_number_is_not_jailed():
    s = Signing()
    c = s.c
    for height in range(1, 3 * WINDOW + 1):  # every 10 consecutive blocks: 5 missed
        s.absent = {1} if height % WINDOW >= WINDOW - MAX_MISSED else set()
        c.block()
        assert not s.info(1).jailed, height
    assert s.info(1).missed_blocks == MAX_MISSED
    assert s.info(1).tokens == 100 * PLUME and s.events(abi.SLASHED) == []
    s.absent = {1}  # one more miss in the window (the block leaving it was signed): 6 > 5
    c.block()
    assert s.info(1).jailed


def test_unjail_refuses_too_early_a_non_validator_and_a_tombstoned_one_then_returns_at_the_next_update():
    s = Signing(epoch_length=50)
    c = s.c
    s.absent = {3}
    c.advance(WINDOW)
    until = s.info(3).jailed_until
    assert s.info(3).jailed and until > c.chain.head.timestamp
    s.absent = set()
    s.refused(3, f"jailed for downtime until {until}")
    s.refused(5, "no validator with operator")
    s.refused(0, "not jailed")
    c.block(dt=until - c.chain.head.timestamp)  # the jail time has come
    out = c.send(3, "unjail", dt=0)
    assert out.ok, out.reason
    assert not s.info(3).jailed and ADDRS[3] not in s.active()  # back at the next update, not before
    c.to_epoch_end()
    assert ADDRS[3] in s.active()
    c.advance(2 * WINDOW)  # it signs again: never judged down
    assert not s.info(3).jailed and s.info(3).missed_blocks == 0


def test_a_tombstoned_validator_cannot_unjail_even_after_the_jail_time():
    s = Signing()
    c = s.c
    s.absent = {2}
    c.advance(WINDOW)
    assert s.info(2).jailed
    s.absent = set()
    s.evidence = (Misbehaviour(bytes([2]) * 20, c.chain.height, consensus_key(2), 100),)
    c.block()
    s.evidence = ()
    assert s.info(2).tombstoned
    c.block(dt=JAIL + 1)
    s.refused(2, "tombstoned")


def test_low_self_delegation_jailing_still_unjails_at_once():
    s = Signing()
    c = s.c
    assert c.send(1, "undelegate", ADDRS[1], 99 * PLUME + 1).ok  # below the 1 PLUME minimum
    assert s.info(1).jailed and s.info(1).jailed_until == 0
    assert c.send(1, "delegate", ADDRS[1], value=PLUME).ok
    assert c.send(1, "unjail").ok
    assert not s.info(1).jailed


def test_an_offline_validator_cannot_dodge_downtime_by_jailing_itself_for_low_self_delegation():
    """The dodge: offline, it undelegates under the minimum (jailed, not slashed), misses while
    still in consensus, then delegates again and unjails before the epoch end. Every jailing
    now chooses the set again at once, and its misses while jailed are counted."""
    s = Signing(lagged=True)
    c = s.c
    s.absent = {3}
    c.advance(WINDOW - 3)  # 7 missed, not yet judged (a window is 10 blocks)
    assert c.view("getSigningInfo", ADDRS[3])[1:3] == (WINDOW - 3, WINDOW - 3)
    assert c.send(3, "undelegate", ADDRS[3], 99 * PLUME + 1).ok  # jailed: low self-delegation
    jailed_at = c.chain.height
    assert s.info(3).jailed and ADDRS[3] not in s.active()  # the set was chosen again in that block
    c.advance(2 * WINDOW)
    assert c.send(3, "delegate", ADDRS[3], value=PLUME).ok
    assert c.send(3, "unjail").ok
    c.advance(WINDOW)
    assert ADDRS[3] not in s.active()  # back only at the next epoch end, not in consensus meanwhile
    # counted while jailed in the consensus set: the block of the jailing and the two after it
    # (their parents' sets were chosen before it left), then not (it is in no parent set)
    assert c.view("getSigningInfo", ADDRS[3])[1] == WINDOW - 3 + 3
    assert jailed_at + 2 < c.chain.height


def test_a_validator_unjailed_while_still_in_consensus_is_judged_on_the_blocks_it_missed_jailed():
    s = Signing(lagged=True)
    c = s.c
    s.absent = {3}
    c.advance(WINDOW - 3)
    assert c.send(3, "undelegate", ADDRS[3], 99 * PLUME + 1).ok  # jailed; still decides two heights
    c.block([c.tx(3, calldata("delegate", ADDRS[3]), value=PLUME), c.tx(3, calldata("unjail"))])
    assert not s.info(3).jailed
    c.block()  # its third miss since the jailing: the whole window counted, 10 of 10 missed
    info = s.info(3)
    assert info.jailed and info.jailed_until == c.chain.head.timestamp + JAIL
    assert [e[2][0] for e in s.events(abi.SLASHED)] == [abi.Infraction.DOWNTIME]


def test_jailed_validators_out_of_the_consensus_set_are_not_counted():
    s = Signing()
    c = s.c
    s.absent = {3}
    c.advance(WINDOW)
    assert s.info(3).jailed
    c.advance(3)  # it is out of the set, and would be skipped anyway while jailed
    assert c.view("getSigningInfo", ADDRS[3])[:3] == (0, 0, 0)
    assert len(s.events(abi.SLASHED)) == 1


def test_a_changed_window_restarts_each_record_instead_of_reading_stale_bits():
    change_at = 9

    def shrink_the_window(state, ctx) -> None:  # as a parameter change would, before the rules run
        if ctx.height == change_at:
            Store(state, STAKING_ADDRESS).set("param.slashing.signed_blocks_window", 5)

    s = Signing(first_hooks=(shrink_the_window,))
    c = s.c
    c.advance(4)
    s.absent = {2}
    c.advance(4)  # 4 missed of 8 counted with the window of 10
    assert c.view("getSigningInfo", ADDRS[2])[1:3] == (8, 4)
    s.absent = set()
    c.block()  # the window is 5 from here: the record starts afresh, its bitmap cleared
    assert c.chain.height == change_at
    assert c.view("getSigningInfo", ADDRS[2]) == (change_at - 1, 1, 0, 0, False)
    c.advance(6)  # signs across the positions where the old bits were: nothing stale is read
    assert c.view("getSigningInfo", ADDRS[2])[1:3] == (7, 0) and not s.info(2).jailed
    s.absent = {2}
    c.advance(2)
    assert not s.info(2).jailed  # 2 missed of 5: allowed (5 - ceil(2.5) = 2)
    c.block()
    assert s.info(2).jailed


def test_a_removed_validator_registered_again_starts_with_a_clean_record():
    s = Signing(epoch_length=5)
    c = s.c
    assert c.send(4, "createValidator", consensus_key(4), "v4", 1_000, 2_000, 100, value=PLUME).ok
    c.to_epoch_end()
    s.absent = {4}
    c.advance(3)  # 3 missed: allowed, and not yet a whole window
    assert c.view("getSigningInfo", ADDRS[4])[1:3] == (3, 3)
    assert c.send(4, "undelegate", ADDRS[4], PLUME).ok  # empty and jailed: it leaves, then is removed
    c.advance(10, dt=20)  # its entry and its unbonding (60 s each) end, then an epoch end removes it
    assert views.validator(c.chain.state_at().accounts, ADDRS[4], 0) is None
    assert c.send(4, "createValidator", consensus_key(6), "again", 1_000, 2_000, 100, value=PLUME).ok
    assert c.view("getSigningInfo", ADDRS[4]) == (0, 0, 0, 0, False)


def test_the_downtime_parameters_have_cosmos_defaults_and_are_bounded_at_genesis_load():
    defaults = SlashingParams()
    assert (defaults.signed_blocks_window, defaults.min_signed_per_window_bps,
            defaults.slash_fraction_downtime_bps, defaults.downtime_jail_duration) == (100, 5_000, 100, 600)
    assert SlashingParams().max_missed() == 50 and SLASHING.max_missed() == MAX_MISSED
    for bad in ({"signed_blocks_window": 0}, {"signed_blocks_window": MAX_SIGNED_BLOCKS_WINDOW + 1},
                {"min_signed_per_window_bps": 10_001}, {"slash_fraction_downtime_bps": 10_001},
                {"downtime_jail_duration": -1}, {"signed_blocks_window": "100"}):
        with pytest.raises(ParamError) as refused:
            SlashingParams.from_mapping(bad)
        assert next(iter(bad)) in str(refused.value)


def test_an_operator_registered_again_after_its_tombstoned_validator_was_removed_is_judged_afresh():
    """The old validator's tombstone stays on its key, not on the operator: evidence against the
    new key slashes, and a downtime jailing of the new validator can be unjailed."""
    s = Signing(epoch_length=5)
    c = s.c
    s.evidence = (Misbehaviour(bytes([2]) * 20, c.chain.height, consensus_key(2), 100),)
    c.block()
    s.evidence = ()
    assert s.info(2).tombstoned and s.info(2).tokens == 95 * PLUME
    assert c.send(2, "undelegate", ADDRS[2], 95 * PLUME).ok  # empty: removed once unbonded
    c.advance(10, dt=20)
    assert views.validator(c.chain.state_at().accounts, ADDRS[2], 0) is None
    refused = c.send(2, "createValidator", consensus_key(2), "old key", 1_000, 2_000, 100, value=PLUME)
    assert not refused.ok and "tombstoned" in refused.reason  # the old key never validates again
    assert c.send(2, "createValidator", consensus_key(6), "again", 1_000, 2_000, 100, value=10 * PLUME).ok
    assert not s.info(2).tombstoned and c.view("getSigningInfo", ADDRS[2])[4] is False
    c.to_epoch_end()
    assert ADDRS[2] in s.active()
    s.absent = {2}  # down: jailed for downtime, and unjailed after the jail time
    c.advance(WINDOW)
    assert s.info(2).jailed and not s.info(2).tombstoned
    s.absent = set()
    c.block(dt=JAIL)
    assert c.send(2, "unjail", dt=0).ok
    c.to_epoch_end()
    assert ADDRS[2] in s.active()
    tokens = s.info(2).tokens
    s.evidence = (Misbehaviour(bytes([2]) * 20, c.chain.height, consensus_key(6), tokens // PLUME),)
    c.block()  # the new key's double-sign is not "already applied"
    s.evidence = ()
    info = s.info(2)
    assert info.tombstoned and info.jailed and info.tokens == tokens - tokens // PLUME * PLUME * 5 // 100


class CountingState:
    """Contract storage in a dict that counts slot writes: isolates the record's rules."""

    def __init__(self) -> None:
        self.slots: dict[tuple[bytes, int], int] = {}
        self.writes = 0

    def get_storage(self, address: bytes, slot: int) -> int:
        return self.slots.get((address, slot), 0)

    def set_storage(self, address: bytes, slot: int, value: int) -> None:
        self.writes += 1
        self.slots[(address, slot)] = value


def test_a_reset_writes_a_few_slots_and_the_first_pass_after_it_ignores_stale_bits():
    from staking import downtime

    state = CountingState()
    store = Store(state, STAKING_ADDRESS)
    operator, window = ADDRS[3], MAX_SIGNED_BLOCKS_WINDOW
    for height in range(1, window + 1):  # missed every block of the largest window
        downtime.record_signature(store, operator, True, height, window)
    assert downtime.signing_info(store, operator).missed_blocks == window
    state.writes = 0
    downtime.reset_signing_info(store, operator)  # a jailing, a return to the set, a removal
    assert state.writes <= 3  # not the 391 bitmap slots
    # the stale bits are ignored and overwritten on the ring's first pass
    for height in range(window + 1, window + 301):
        count = downtime.record_signature(store, operator, height % 3 == 0, height, window)
    assert count == 100 == downtime.signing_info(store, operator).missed_blocks
    assert store.get("slashing.missed_bits", operator, 0) == sum(1 << i for i in range(256) if (i + window + 1) % 3 == 0)
    assert store.get("slashing.missed_bits", operator, 1) == sum(1 << i for i in range(44) if (i + 256 + window + 1) % 3 == 0)
    small = 300  # and with a window that wraps: the second pass reads the first's bits
    downtime.reset_signing_info(store, operator)
    for height in range(1, 2 * small + 1):
        count = downtime.record_signature(store, operator, height <= small, height, small)
    assert count == 0


def test_a_validator_back_in_the_set_after_a_whole_window_out_starts_a_fresh_record():
    s = Signing(epoch_length=5, lagged=True)
    c = s.c
    s.absent = {3}
    c.advance(3)
    assert c.send(3, "undelegate", ADDRS[3], 99 * PLUME + 1).ok  # jailed: leaves the set
    c.advance(2 * WINDOW)
    assert c.view("getSigningInfo", ADDRS[3])[1:3] == (6, 6)  # 3 + the 3 heights it still decided
    assert c.send(3, "delegate", ADDRS[3], value=PLUME).ok
    assert c.send(3, "unjail").ok
    c.to_epoch_end()
    assert ADDRS[3] in s.active()
    assert c.view("getSigningInfo", ADDRS[3])[:3] == (0, 0, 0)  # its old misses are forgotten
    s.absent = set()
    c.advance(2 * WINDOW)
    assert not s.info(3).jailed and c.view("getSigningInfo", ADDRS[3])[2] == 0


def test_a_validator_back_in_the_set_within_a_window_keeps_its_record():
    """Leaving and coming back quickly (a self-jailing, unjail, the next epoch end) does not
    wipe the misses: an offline operator cannot stay unjudged by cycling."""
    s = Signing(epoch_length=5, lagged=True)
    c = s.c
    s.absent = {3}
    c.advance(4)
    assert c.send(3, "undelegate", ADDRS[3], 99 * PLUME + 1).ok
    c.block([c.tx(3, calldata("delegate", ADDRS[3]), value=PLUME), c.tx(3, calldata("unjail"))])
    c.to_epoch_end()
    assert ADDRS[3] in s.active()
    for _ in range(WINDOW):
        if s.info(3).jailed:
            break
        c.block()
    assert s.info(3).jailed and s.events(abi.SLASHED)  # judged on the whole window it was counted


def test_a_delegation_reads_only_the_slashes_since_it_started_and_removal_drops_them():
    from staking import rewards

    state = CountingState()
    store = Store(state, STAKING_ADDRESS)
    validator, delegator = ADDRS[3], ADDRS[5]
    store.set("validator.tokens", validator, 1000 * PLUME)
    for _ in range(1000):  # a long life of slashes (each ends a period)
        rewards.record_slash(store, validator, rewards.SLASH_PRECISION // 100)
    start = rewards.period(store, validator) - 1
    store.set("rewards.start", delegator, validator, start)
    store.set("rewards.stake", delegator, validator, 10 * PLUME)
    rewards.record_slash(store, validator, rewards.SLASH_PRECISION // 100)  # one since it started
    reads = 0
    counting_get = store.get

    def get(name, *keys):
        nonlocal reads
        reads += 1
        return counting_get(name, *keys)

    store.get = get
    rewards.pending(store, delegator, validator)
    assert reads < 40  # a binary search (log2 1001 ~ 10 reads) and one slash, not 1001 slashes
    store.get = counting_get
    from staking.active_set import remove_validator
    remove_validator(RewardsState(state), store, validator)
    assert store.get("rewards.slash_count", validator) == 0


class RewardsState(CountingState):
    """``CountingState`` with the balance calls removal makes (nothing is owed here)."""

    def __init__(self, inner: CountingState) -> None:
        self.slots, self.writes = inner.slots, 0

    def delta_balance(self, address: bytes, delta: int) -> None:
        assert delta == 0

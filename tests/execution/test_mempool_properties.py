"""Hypothesis properties of the mempool over random sequences of operations.

Adds (valid and invalid), simulated commits of `select`ed blocks, balance
changes, nonces mined elsewhere, clock jumps and removals, with a small pool
so the limits bite. After every step: the pool is within its limits, every
accepted tx is either still in the pool or was reported removed (exactly
once), and `select` yields, per sender, a contiguous nonce run from the state
nonce that fits the gas budget and that the sender can pay for.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from eth_account import Account
from eth_utils import keccak
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from execution.mempool import Mempool, MempoolConfig, MempoolError, MempoolErrorCode as Code, RemovalReason

CHAIN_ID = 1337
TO = bytes.fromhex("22" * 20)
KEYS = [keccak(b"plume-mempool-property-%d" % i) for i in range(4)]
ADDR = [bytes.fromhex(Account.from_key(k).address[2:]) for k in KEYS]
CONFIG = MempoolConfig(
    max_txs=5, max_bytes=480, max_tx_bytes=300, max_per_sender=4, max_nonce_gap=3, ttl_seconds=50
)
BASE_FEES = (0, 7, 7, 7, 60, 150)


@dataclass
class DictState:
    nonces: dict[bytes, int] = field(default_factory=dict)
    balances: dict[bytes, int] = field(default_factory=dict)

    def get_nonce(self, address: bytes) -> int:
        return self.nonces.get(bytes(address), 0)

    def get_balance(self, address: bytes) -> int:
        return self.balances.get(bytes(address), 0)

    def get_storage(self, address: bytes, slot: int) -> int:
        return 0  # no permission list is on


@functools.lru_cache(maxsize=None)
def sign(who: int, nonce: int, max_fee: int, tip: int, tx_type: int, gas: int, value: int = 0) -> bytes:
    tx: dict = {"chainId": CHAIN_ID, "nonce": nonce, "gas": gas, "value": value, "to": TO, "data": b""}
    if tx_type == 2:
        tx.update(type=2, maxFeePerGas=max_fee, maxPriorityFeePerGas=tip)
    else:
        tx["gasPrice"] = max_fee
    return bytes(Account.sign_transaction(tx, KEYS[who]).raw_transaction)


senders = st.integers(0, len(KEYS) - 1)
add_op = st.tuples(
    st.just("add"),
    senders,
    # Nonce offset from the sender's pending nonce: 0 extends the run,
    # negative replaces (or is too low), positive leaves a gap.
    st.sampled_from((0, 0, 0, 0, -1, -2, 1, 3, 4)),
    st.sampled_from((5, 50, 100, 200, 400)),  # max fee (gas price for legacy)
    st.sampled_from((0, 1, 5, 20, 60)),  # tip (ignored for legacy)
    st.sampled_from((0, 2)),
    st.sampled_from((21000, 60000)),
    st.sampled_from((0, 0, 10**6)),  # value
)
commit_op = st.tuples(st.just("commit"), st.sampled_from((21000, 63000, 150000, 10**6)), st.sampled_from(BASE_FEES))
fund_op = st.tuples(st.just("fund"), senders, st.sampled_from((0, 3_000_000, 20_000_000, 10**12, 10**12)))
mined_elsewhere_op = st.tuples(st.just("mined_elsewhere"), senders)
time_op = st.tuples(st.just("time"), st.sampled_from((1, 20, 60)))
remove_op = st.tuples(st.just("remove"), st.integers(0, 50))
# Weighted choice of the operation kind (one_of would weigh kinds equally,
# and the pool would rarely fill up): adds 6/12, commits 2/12.
_OPS = {
    "add": add_op, "commit": commit_op, "fund": fund_op,
    "mined_elsewhere": mined_elsewhere_op, "time": time_op, "remove": remove_op,
}
ops = st.sampled_from(["add"] * 6 + ["commit"] * 2 + ["fund", "mined_elsewhere", "time", "remove"]).flatmap(
    _OPS.__getitem__
)


class Harness:
    """Drives one pool and one state, tracking what should be in the pool."""

    def __init__(self, balances: list[int]) -> None:
        self.mp = Mempool(CHAIN_ID, CONFIG)
        self.state = DictState(balances={ADDR[i]: b for i, b in enumerate(balances)})
        self.base_fee = 7
        self.now = 0.0
        self.alive: set[bytes] = set()
        self.accepted = 0

    def forget(self, hashes) -> None:
        for tx_hash in hashes:
            assert tx_hash in self.alive, "a removal was reported twice or for an unknown tx"
            self.alive.remove(tx_hash)

    def recheck(self) -> None:
        removed = self.mp.recheck(self.state, self.base_fee, self.now)
        for r in removed:
            event(f"recheck dropped {r.reason.name}")
        self.forget(r.tx_hash for r in removed)

    def step(self, op: tuple) -> None:
        kind = op[0]
        if kind == "add":
            _, who, offset, max_fee, tip, tx_type, gas, value = op
            nonce = self.mp.pending_nonce(ADDR[who], self.state) + offset
            if nonce < 0:
                return
            raw = sign(who, nonce, max_fee, min(tip, max_fee) if tx_type == 2 else 0, tx_type, gas, value)
            try:
                result = self.mp.add_raw(raw, self.state, self.base_fee, self.now)
            except MempoolError as err:
                assert err.code in {
                    Code.NONCE_TOO_LOW, Code.INSUFFICIENT_FUNDS, Code.FEE_BELOW_BASE_FEE,
                    Code.ALREADY_KNOWN, Code.POOL_FULL, Code.REPLACEMENT_UNDERPRICED,
                    Code.NONCE_GAP_TOO_LARGE,
                }, err
                event(f"rejected {err.code.name}")
                return
            self.accepted += 1
            event("accepted")
            assert result.tx_hash == keccak(raw) and result.tx_hash not in self.alive
            if result.replaced_hash is not None:
                self.forget([result.replaced_hash])
            self.forget(r.tx_hash for r in result.evicted)
            for r in result.evicted:
                if r.reason is RemovalReason.EVICTED:
                    # Evicted from the tail: nothing of that sender above it stays.
                    assert r.sender != ADDR[who]
                    assert all(
                        self.mp.entry(h).nonce < r.nonce for h in self.mp if self.mp.entry(h).sender == r.sender
                    )
            for r in result.evicted:
                event(f"add dropped {r.reason.name}")
            if result.replaced_hash is not None:
                event("replaced")
            self.alive.add(result.tx_hash)
        elif kind == "commit":
            _, max_gas, next_base_fee = op
            block = self.mp.select(max_gas, self.base_fee)
            event(f"commit of {min(len(block), 3)}+ txs")
            for tx in block:  # execute: every tx must be valid against the evolving state
                sender = bytes(tx.sender)
                assert tx.nonce == self.state.get_nonce(sender)
                max_fee = tx.max_fee_per_gas
                assert max_fee >= self.base_fee
                assert self.state.get_balance(sender) >= tx.gas * max_fee + tx.value
                price = min(max_fee, self.base_fee + tx.max_priority_fee_per_gas)
                self.state.nonces[sender] = tx.nonce + 1
                self.state.balances[sender] -= tx.gas * price + tx.value
            self.base_fee = next_base_fee
            self.recheck()
        elif kind == "fund":
            _, who, balance = op
            self.state.balances[ADDR[who]] = balance
            self.recheck()
        elif kind == "mined_elsewhere":
            sender = ADDR[op[1]]
            self.state.nonces[sender] = self.state.get_nonce(sender) + 1
            self.recheck()
        elif kind == "time":
            self.now += op[1]
            self.recheck()
        elif kind == "remove":
            present = sorted(self.alive)
            if present:
                target = present[op[1] % len(present)]
                removed = self.mp.remove([target, b"\x00" * 32])
                assert [r.tx_hash for r in removed] == [target]
                self.forget([target])

    def check_invariants(self) -> None:
        mp = self.mp
        assert set(mp) == self.alive and len(mp) == len(self.alive)
        assert len(mp) <= CONFIG.max_txs
        assert mp.size_bytes == sum(len(mp.raw(h)) for h in mp) <= CONFIG.max_bytes
        per_sender: dict[bytes, int] = {}
        for tx_hash in mp:
            entry = mp.entry(tx_hash)
            per_sender[entry.sender] = per_sender.get(entry.sender, 0) + 1
            assert mp.get(tx_hash).hash == tx_hash
        assert all(n <= CONFIG.max_per_sender for n in per_sender.values())
        views = [tx.hash for txs in mp.pending().values() for tx in txs]
        views += [tx.hash for txs in mp.queued().values() for tx in txs]
        assert sorted(views) == sorted(mp)
        for sender, txs in mp.pending().items():
            start = self.state.get_nonce(sender)
            assert [tx.nonce for tx in txs] == list(range(start, start + len(txs)))
            assert mp.pending_nonce(sender, self.state) == start + len(txs)
        for max_gas in (21000, 100_000, 10**7):
            for base_fee in {self.base_fee, 60}:
                self.check_select(max_gas, base_fee)

    def check_select(self, max_gas: int, base_fee: int) -> None:
        block = self.mp.select(max_gas, base_fee)
        assert sum(tx.gas for tx in block) <= max_gas
        hashes = [tx.hash for tx in block]
        assert len(set(hashes)) == len(hashes) and all(h in self.mp for h in hashes)
        runs: dict[bytes, list[int]] = {}
        for tx in block:
            assert tx.max_fee_per_gas >= base_fee
            runs.setdefault(bytes(tx.sender), []).append(tx.nonce)
        for sender, nonces in runs.items():
            start = self.state.get_nonce(sender)
            assert nonces == list(range(start, start + len(nonces)))
        self.check_greedy(block, max_gas, base_fee)

    def check_greedy(self, block: list, max_gas: int, base_fee: int) -> None:
        """`block` is the greedy choice by effective tip, replayed from the pending views.

        Every time a tx is taken, each sender head that ranks better must have
        been unable to pay the base fee or to fit in the gas left (so that
        sender is out for good), and the taken tx must be its sender's head.
        """
        mp = self.mp

        def tip(tx) -> int:
            if tx.type_id == 2:
                return min(tx.max_priority_fee_per_gas, tx.max_fee_per_gas - base_fee)
            return tx.gas_price - base_fee

        def rank(tx) -> tuple:
            return (-tip(tx), mp.entry(tx.hash).seq, tx.hash)

        def usable(tx, gas_left: int) -> bool:
            return tx.max_fee_per_gas >= base_fee and tx.gas <= gas_left

        active = {sender: list(txs) for sender, txs in mp.pending().items()}
        gas_left = max_gas
        for taken in block:
            for sender in list(active):
                head = active[sender][0]
                if head.hash != taken.hash and rank(head) < rank(taken):
                    assert not usable(head, gas_left), "a better head was passed over"
                    del active[sender]
            sender = bytes(taken.sender)
            assert active[sender][0].hash == taken.hash
            gas_left -= taken.gas
            active[sender].pop(0)
            if not active[sender]:
                del active[sender]
        assert not any(usable(txs[0], gas_left) for txs in active.values()), "select stopped early"


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    balances=st.lists(st.sampled_from((0, 5_000_000, 10**12, 10**12, 10**12)), min_size=len(KEYS), max_size=len(KEYS)),
    steps=st.lists(ops, min_size=10, max_size=60),
)
def test_random_operations_keep_the_pool_consistent(balances: list[int], steps: list[tuple]) -> None:
    harness = Harness(balances)
    for op in steps:
        harness.step(op)
        harness.check_invariants()


fees = st.integers(1, 400)


@settings(max_examples=80, deadline=None)
@given(old_fee=fees, old_tip=fees, new_fee=fees, new_tip=fees)
def test_replacement_needs_ten_percent_on_both_fee_and_tip(old_fee, old_tip, new_fee, new_tip) -> None:
    old_tip, new_tip = min(old_tip, old_fee), min(new_tip, new_fee)
    mp = Mempool(CHAIN_ID, MempoolConfig())
    rich = DictState(balances={ADDR[0]: 10**18})
    old = sign(0, 0, old_fee, old_tip, 2, 21000)
    mp.add_raw(old, rich, 0, 0)
    new = sign(0, 0, new_fee, new_tip, 2, 21000)
    # ceil(old * 1.1) and strictly above the old value, on both fields.
    ok = all(new_v * 100 >= old_v * 110 and new_v > old_v for new_v, old_v in ((new_fee, old_fee), (new_tip, old_tip)))
    if new == old:
        ok = False  # same bytes: already known
    try:
        result = mp.add_raw(new, rich, 0, 0)
    except MempoolError as err:
        assert not ok
        assert err.code in (Code.REPLACEMENT_UNDERPRICED, Code.ALREADY_KNOWN)
        assert list(mp) == [keccak(old)]
    else:
        assert ok
        assert result.replaced_hash == keccak(old) and list(mp) == [keccak(new)]

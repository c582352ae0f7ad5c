"""A Plume chain in memory with genesis validators, and staking calls as signed transactions.

``StakingChain`` builds and commits one block per ``send`` (or several
transactions in one block with ``block``), at a block time the test
controls, so unbonding maturity and epochs are exact.

``snapshot``/``assert_clean_revert`` check the issue's "bad input" rule: a
refused call leaves the staking contract's storage (its storage root) and
every balance exactly as they were, except what the sender paid for gas
(and where that went: the tip to the coinbase, half the base fee to the
reward pool).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import rlp
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth.rlp.accounts import Account as RlpAccount
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from trie import HexaryTrie

from execution.chain import PlumeChain
from execution.errors import CallError
from execution.genesis import GenesisAccount, GenesisState
from execution.sidecar import Sidecar
from execution.transactions import decode_transaction
from staking import abi
from staking.addresses import GOVERNANCE_ADDRESS, REWARD_POOL_ADDRESS, STAKING_ADDRESS
from staking.genesis import GenesisValidator
from staking.governance import abi as gov_abi
from staking.params import ExecutionParams, GovParams, SlashingParams, StakingParams

CHAIN_ID = 4343
GWEI = 10**9
TIP = GWEI  # every harness transaction's priority fee
PLUME = 10**18
GENESIS_TIME = 1_700_000_000
KEYS = [keccak(b"plume-staking-test-%d" % i) for i in range(8)]
ADDRS = [bytes.fromhex(Account.from_key(k).address[2:]) for k in KEYS]
COINBASE = bytes.fromhex("00000000000000000000000000000000000c0b02")
START_BALANCE = 10_000 * PLUME


def consensus_key(i: int) -> bytes:
    """A valid Ed25519 public key, distinct per ``i``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = Ed25519PrivateKey.from_private_bytes(keccak(b"consensus-%d" % i))
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def method(name: str) -> abi.Method:
    (m,) = [m for m in abi.METHODS.values() if m.name == name]
    return m


def calldata(name: str, *args) -> bytes:
    m = method(name)
    return m.selector + encode(list(m.inputs), list(args))


def gov_method(name: str) -> abi.Method:
    (m,) = [m for m in gov_abi.METHODS.values() if m.name == name]
    return m


def gov_calldata(name: str, *args) -> bytes:
    """Calldata of a governance contract (0x…1001) method."""
    m = gov_method(name)
    return m.selector + encode(list(m.inputs), list(args))


def revert_reason(output: bytes) -> str | None:
    if output[:4] != abi.ERROR_SELECTOR:
        return None
    return decode(["string"], output[4:])[0]


@dataclass
class Outcome:
    ok: bool
    output: bytes
    gas_used: int
    logs: list = field(default_factory=list)
    sender: bytes = b""

    @property
    def reason(self) -> str | None:
        return revert_reason(self.output)


@dataclass(frozen=True)
class Snapshot:
    """What a refused call must leave as it was."""

    staking_storage_root: bytes
    balances: dict
    nonces: dict
    gov_storage_root: bytes = b""


class StakingChain:
    def __init__(
        self,
        params: StakingParams | None = None,
        n_validators: int = 4,
        stake: int = 100 * PLUME,
        contracts: dict[bytes, bytes] | None = None,
        rewards: bool = False,
        gov: GovParams | None = None,
        execution: ExecutionParams | None = None,
        slashing: SlashingParams | None = None,
        permissions=None,
        db=None,
        **chain_options,
    ):
        """``rewards`` False (the default) sets ``block_reward`` to 0, so the rules of
        delegation and its accounting are seen without the pool's issuance. ``db``
        (default in memory) and ``chain_options`` (``read_sidecar``,
        ``evidence_verifier``) go to ``PlumeChain``."""
        self.params = params or StakingParams(unbonding_period=60, epoch_length=5)
        if not rewards:
            self.params = dataclasses.replace(self.params, block_reward=0)
        alloc = {a: GenesisAccount(balance=START_BALANCE) for a in ADDRS}
        for address, code in (contracts or {}).items():
            alloc[address] = GenesisAccount(balance=0, code=code)
        self.contracts = tuple(contracts or ())
        gvals = tuple(
            GenesisValidator(operator=ADDRS[i], consensus_pubkey=consensus_key(i), tokens=stake, moniker=f"v{i}")
            for i in range(n_validators)
        )
        self.genesis = GenesisState(
            chain_id=CHAIN_ID, timestamp=GENESIS_TIME, alloc=alloc, staking=self.params, validators=gvals,
            gov=gov or GovParams(), execution=execution or ExecutionParams(),
            **({"slashing": slashing} if slashing is not None else {}),
            **({"permissions": permissions} if permissions is not None else {}),
        )
        self.chain = PlumeChain(AtomicDB() if db is None else db, self.genesis, **chain_options)
        self.nonces = [0] * len(KEYS)
        self.observers: list = []  # called with the chain after every committed block

    # -- transactions -------------------------------------------------------------

    def tx(self, who: int, data: bytes, *, value: int = 0, to: bytes = STAKING_ADDRESS, gas: int = 2_000_000):
        fields = dict(
            type=2, nonce=self.nonces[who], gas=gas, value=value, chainId=CHAIN_ID, data=data,
            to=to_checksum_address(to), maxFeePerGas=100 * GWEI, maxPriorityFeePerGas=TIP,
        )
        self.nonces[who] += 1
        return decode_transaction(bytes(Account.sign_transaction(fields, KEYS[who]).raw_transaction))

    def block(self, txs=(), *, dt: int = 1):
        head = self.chain.head
        result = self.chain.build_block(
            list(txs), timestamp=head.timestamp + dt, coinbase=COINBASE, sidecar=Sidecar(round=0, last_commit=b"")
        )
        assert not result.rejected and not result.failed, (result.rejected, result.failed)
        self.chain.commit(result.block)
        for observe in self.observers:
            observe(self)
        return result

    def send(self, who: int, name: str, *args, value: int = 0, dt: int = 1, gas: int = 2_000_000) -> Outcome:
        return self.raw(who, calldata(name, *args), value=value, dt=dt, gas=gas)

    def raw(self, who: int, data: bytes, *, value: int = 0, to: bytes = STAKING_ADDRESS, dt: int = 1,
            gas: int = 2_000_000) -> Outcome:
        """One transaction with any calldata, alone in a block ``dt`` seconds after the head."""
        tx = self.tx(who, data, value=value, to=to, gas=gas)
        self.block([tx], dt=dt)
        receipt, _, _ = self.chain.get_receipt(tx.hash)
        ok = receipt.state_root == b"\x01"
        output = b"" if ok else self._replay_revert(who, data, value, to, gas)
        return Outcome(ok, output, receipt.gas_used, list(receipt.logs), ADDRS[who])

    def _replay_revert(self, who: int, data: bytes, value: int, to: bytes, gas: int) -> bytes:
        """The revert data of a failed call, replayed on the state before its block."""
        fields = {"from": ADDRS[who], "to": to, "data": data, "value": value, "gas": gas}
        try:
            self.chain.call(fields, self.chain.head.block_number - 1)
        except CallError as exc:
            return exc.revert_data or b""
        raise AssertionError("the call failed in its block but succeeds when replayed")

    def advance(self, blocks: int = 1, dt: int = 1) -> None:
        for _ in range(blocks):
            self.block(dt=dt)

    def to_epoch_end(self, dt: int = 0) -> None:
        """Empty blocks up to and including the next epoch end (the active set is chosen in its last)."""
        self.block(dt=dt)
        while self.chain.height % self.params.epoch_length:
            self.block(dt=dt)

    def away_from_epoch_end(self) -> None:
        """Make sure the next block is not an epoch end (an empty block at the same time if it is)."""
        if (self.chain.height + 1) % self.params.epoch_length == 0:
            self.block(dt=0)

    # -- reads --------------------------------------------------------------------

    def gov_send(self, who: int, name: str, *args, value: int = 0, dt: int = 1, gas: int = 3_000_000) -> Outcome:
        """A governance contract call, alone in a block ``dt`` seconds after the head."""
        return self.raw(who, gov_calldata(name, *args), value=value, to=GOVERNANCE_ADDRESS, dt=dt, gas=gas)

    def gov_refused(self, who: int, name: str, *args, value: int = 0, reason: str = "") -> Outcome:
        return self.refused_raw(who, gov_calldata(name, *args), value=value, to=GOVERNANCE_ADDRESS, reason=reason,
                                gas=3_000_000)

    def gov_view(self, name: str, *args):
        m = gov_method(name)
        out = self.chain.call({"to": GOVERNANCE_ADDRESS, "data": gov_calldata(name, *args), "gas": 30_000_000})
        return tuple(list(v) if isinstance(v, tuple) else v for v in decode(list(m.outputs), out))

    def view(self, name: str, *args):
        m = method(name)
        out = self.chain.call({"to": STAKING_ADDRESS, "data": calldata(name, *args)})
        return tuple(list(v) if isinstance(v, tuple) else v for v in decode(list(m.outputs), out))

    def balance(self, address: bytes) -> int:
        return self.chain.state_at().balance(address)

    def state(self, number: int | None = None) -> AccountDB:
        """The account state after block ``number`` (head if None), for staking.views."""
        return AccountDB(self.chain.chain_view, self.chain.get_header(number).state_root)

    def storage_root(self, address: bytes, number: int | None = None) -> bytes:
        """The root of ``address``'s storage trie, read from the state trie."""
        state_trie = HexaryTrie(self.chain.chain_view, self.chain.get_header(number).state_root)
        return rlp.decode(state_trie[keccak(address)], sedes=RlpAccount).storage_root

    def accounts(self) -> tuple[bytes, ...]:
        """Every account that can hold a balance in these tests."""
        return (*ADDRS, COINBASE, STAKING_ADDRESS, GOVERNANCE_ADDRESS, REWARD_POOL_ADDRESS, *self.contracts)

    def snapshot(self) -> Snapshot:
        view = self.chain.state_at()
        return Snapshot(
            staking_storage_root=self.storage_root(STAKING_ADDRESS),
            gov_storage_root=self.storage_root(GOVERNANCE_ADDRESS),
            balances={a: view.balance(a) for a in self.accounts()},
            nonces={a: view.nonce(a) for a in self.accounts()},
        )

    def assert_clean_revert(self, before: Snapshot, outcome: Outcome) -> None:
        """``outcome`` (alone in the head block, no epoch end, no maturity) changed nothing but its fee."""
        assert not outcome.ok
        after = self.snapshot()
        assert after.staking_storage_root == before.staking_storage_root, "a refused call changed staking storage"
        assert after.gov_storage_root == before.gov_storage_root, "a refused call changed governance storage"
        base_fee = self.chain.head.base_fee_per_gas
        paid = outcome.gas_used * (base_fee + TIP)
        expected = dict(before.balances)
        expected[outcome.sender] -= paid
        expected[COINBASE] += outcome.gas_used * TIP
        expected[REWARD_POOL_ADDRESS] += outcome.gas_used * base_fee // 2
        assert after.balances == expected
        nonces = dict(before.nonces)
        nonces[outcome.sender] += 1
        assert after.nonces == nonces

    def refused(self, who: int, name: str, *args, value: int = 0, reason: str = "", gas: int = 2_000_000) -> Outcome:
        """Send a call that must be refused with ``reason`` in its text, and check it changed nothing."""
        return self.refused_raw(who, calldata(name, *args), value=value, reason=reason, gas=gas)

    def refused_raw(self, who: int, data: bytes, *, value: int = 0, to: bytes = STAKING_ADDRESS,
                    reason: str | None = "", gas: int = 2_000_000) -> Outcome:
        """``refused`` for any calldata and target; ``reason=None``: a failure without revert data."""
        self.away_from_epoch_end()
        before = self.snapshot()
        outcome = self.raw(who, data, value=value, to=to, dt=0, gas=gas)
        assert not outcome.ok, "the call succeeded"
        if reason is None:
            assert outcome.output == b"", outcome.output
        else:
            assert reason in (outcome.reason or ""), outcome.reason
        assert outcome.gas_used > 21_000
        self.assert_clean_revert(before, outcome)
        return outcome


def decoded_logs(logs) -> list[tuple[str, tuple]]:
    """(event name, (indexed..., data...)) of staking logs, in order."""
    by_topic = {e.topic0: e for e in abi.EVENTS}
    out = []
    for log in logs:
        address, topics, data = (log.address, log.topics, log.data) if hasattr(log, "address") else log
        assert address == STAKING_ADDRESS
        event = by_topic[topics[0]]
        indexed = tuple(bytes(t.to_bytes(32, "big")[12:]) for t in topics[1:])
        out.append((event.name, indexed + tuple(decode(list(event.data), data))))
    return out

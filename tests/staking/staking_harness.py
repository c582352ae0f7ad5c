"""A Plume chain in memory with genesis validators, and staking calls as signed transactions.

``StakingChain`` builds and commits one block per ``send`` (or several
transactions in one block with ``block``), at a block time the test
controls, so unbonding maturity and epochs are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth.db.atomic import AtomicDB
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from execution.chain import PlumeChain
from execution.errors import CallError
from execution.genesis import GenesisAccount, GenesisState
from execution.sidecar import Sidecar
from execution.transactions import decode_transaction
from staking import abi
from staking.addresses import STAKING_ADDRESS
from staking.genesis import GenesisValidator
from staking.params import StakingParams

CHAIN_ID = 4343
GWEI = 10**9
PLUME = 10**18
GENESIS_TIME = 1_700_000_000
KEYS = [keccak(b"plume-staking-test-%d" % i) for i in range(8)]
ADDRS = [bytes.fromhex(Account.from_key(k).address[2:]) for k in KEYS]
COINBASE = bytes.fromhex("00000000000000000000000000000000000c0b02")


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

    @property
    def reason(self) -> str | None:
        return revert_reason(self.output)


class StakingChain:
    def __init__(self, params: StakingParams | None = None, n_validators: int = 4, stake: int = 100 * PLUME):
        self.params = params or StakingParams(unbonding_period=60, epoch_length=5)
        alloc = {a: GenesisAccount(balance=10_000 * PLUME) for a in ADDRS}
        gvals = tuple(
            GenesisValidator(operator=ADDRS[i], consensus_pubkey=consensus_key(i), tokens=stake, moniker=f"v{i}")
            for i in range(n_validators)
        )
        genesis = GenesisState(
            chain_id=CHAIN_ID, timestamp=GENESIS_TIME, alloc=alloc, staking=self.params, validators=gvals
        )
        self.chain = PlumeChain(AtomicDB(), genesis)
        self.nonces = [0] * len(KEYS)

    # -- transactions -------------------------------------------------------------

    def tx(self, who: int, data: bytes, *, value: int = 0, to: bytes = STAKING_ADDRESS, gas: int = 2_000_000):
        fields = dict(
            type=2, nonce=self.nonces[who], gas=gas, value=value, chainId=CHAIN_ID, data=data,
            to=to_checksum_address(to), maxFeePerGas=100 * GWEI, maxPriorityFeePerGas=GWEI,
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
        return result

    def send(self, who: int, name: str, *args, value: int = 0, dt: int = 1) -> Outcome:
        tx = self.tx(who, calldata(name, *args), value=value)
        self.block([tx], dt=dt)
        receipt, _, _ = self.chain.get_receipt(tx.hash)
        ok = receipt.state_root == b"\x01"
        return Outcome(ok, b"" if ok else self._replay_revert(who, name, args, value), receipt.gas_used, list(receipt.logs))

    def _replay_revert(self, who: int, name: str, args: tuple, value: int) -> bytes:
        """The revert data of a failed call, replayed on the state before its block."""
        fields = {"from": ADDRS[who], "to": STAKING_ADDRESS, "data": calldata(name, *args), "value": value}
        try:
            self.chain.call(fields, self.chain.head.block_number - 1)
        except CallError as exc:
            return exc.revert_data or b""
        raise AssertionError(f"{name} failed in its block but succeeds when replayed")

    def advance(self, blocks: int = 1, dt: int = 1) -> None:
        for _ in range(blocks):
            self.block(dt=dt)

    # -- reads --------------------------------------------------------------------

    def view(self, name: str, *args):
        m = method(name)
        out = self.chain.call({"to": STAKING_ADDRESS, "data": calldata(name, *args)})
        return decode(list(m.outputs), out)

    def balance(self, address: bytes) -> int:
        return self.chain.state_at().balance(address)

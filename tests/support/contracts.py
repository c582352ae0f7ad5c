"""The compiled Solidity artifacts for tests, and a chain to deploy them on (docs/contracts.md).

The build table lives in ``scripts/build_contracts.py`` (stdlib only, so it is
imported here without node or npm). ``load_artifact("StakingDelegator")``
returns the checked-in JSON: ``abi`` always; ``bytecode``, ``deployedBytecode``
and ``immutableReferences`` for deployable contracts.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import rlp
from eth._utils.address import generate_contract_address
from eth.db.atomic import AtomicDB
from eth.rlp.accounts import Account as RlpAccount
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import event_abi_to_log_topic, function_abi_to_4byte_selector, keccak, to_checksum_address
from trie import HexaryTrie

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build_contracts.py"


def _build_module() -> ModuleType:
    name = "build_contracts"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BUILD_SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while being built
        spec.loader.exec_module(module)
    return sys.modules[name]


build = _build_module()
TARGETS = build.TARGETS


def target(contract_name: str):
    """The build table row of ``contract_name``."""
    for row in TARGETS:
        if row.contract == contract_name:
            return row
    raise KeyError(f"no contract {contract_name!r} in the build table of {BUILD_SCRIPT.name}")


def load_artifact(contract_name: str) -> dict:
    """The artifact JSON of ``contract_name`` (as written by the build script)."""
    return json.loads((REPO / target(contract_name).artifact).read_text(encoding="utf-8"))


def deployed_code(artifact: dict, immutables: dict[str, bytes]) -> bytes:
    """The runtime code a deployment leaves on chain: ``deployedBytecode`` with
    each immutable's placeholder (zeros) filled in. ``immutables`` maps the
    artifact's immutable reference ids (AST ids, as strings) to 32-byte values."""
    code = bytearray.fromhex(artifact["deployedBytecode"][2:])
    for ref_id, places in artifact["immutableReferences"].items():
        value = immutables[ref_id]
        for place in places:
            assert place["length"] == len(value) == 32
            code[place["start"] : place["start"] + 32] = value
    return bytes(code)


# --- deploying and driving contracts on an in-process chain ---------------------------
#
# ``ContractChain`` is a PlumeChain in memory (real py-evm, one block per
# transaction at a block time the test controls) with funded accounts;
# ``chain.deploy("AssetToken", ...)`` returns a ``Contract`` whose ``send``,
# ``view`` and ``refused`` encode calls from the artifact's ABI. ``refused``
# checks the revert names the expected custom error and that the call moved
# nothing: every deployed contract's storage and every tracked balance is as
# before, except the gas the sender paid.

CHAIN_ID = 4646
GWEI = 10**9
ETHER = 10**18
GENESIS_TIME = 1_700_000_000
TIP = GWEI
KEYS = [keccak(b"plume-contract-test-%d" % i) for i in range(10)]
ADDRS = [bytes.fromhex(Account.from_key(k).address[2:]) for k in KEYS]
COINBASE = bytes.fromhex("00000000000000000000000000000000000c0b03")
START_BALANCE = 1_000_000 * ETHER
DEFAULT_GAS = 8_000_000
PANIC_SELECTOR = keccak(b"Panic(uint256)")[:4]
ERROR_SELECTOR = keccak(b"Error(string)")[:4]


def abi_type(entry: dict) -> str:
    """The canonical ABI type of one input/output entry (tuples spelled out)."""
    kind = entry["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in entry["components"]) + ")" + kind[len("tuple"):]
    return kind


def types_of(entries: list[dict]) -> list[str]:
    return [abi_type(e) for e in entries]


def error_selector(entry: dict) -> bytes:
    return keccak(f"{entry['name']}({','.join(types_of(entry['inputs']))})".encode())[:4]


_KNOWN_ERRORS: dict[bytes, dict] = {}


def known_errors() -> dict[bytes, dict]:
    """Every custom error of every artifact in the build table, by selector."""
    if not _KNOWN_ERRORS:
        for row in TARGETS:
            for entry in load_artifact(row.contract)["abi"]:
                if entry["type"] == "error":
                    _KNOWN_ERRORS.setdefault(error_selector(entry), entry)
    return _KNOWN_ERRORS


@dataclass
class Outcome:
    """One transaction's result: its receipt status, revert data, gas and logs."""

    ok: bool
    output: bytes
    gas_used: int
    logs: list = field(default_factory=list)
    sender: bytes = b""


@dataclass(frozen=True)
class Revert:
    """A decoded revert: the custom error's name and arguments."""

    name: str
    args: tuple


class Contract:
    """A deployed contract and its ABI."""

    def __init__(self, chain: "ContractChain", address: bytes, abi: list[dict], name: str):
        self.chain, self.address, self.abi, self.name = chain, address, abi, name
        self.errors = {error_selector(e): e for e in abi if e["type"] == "error"}

    @property
    def checksum(self) -> str:
        return to_checksum_address(self.address)

    def function(self, name: str, nargs: int) -> dict:
        entries = [e for e in self.abi if e["type"] == "function" and e["name"] == name and len(e["inputs"]) == nargs]
        assert len(entries) == 1, f"{self.name} has {len(entries)} functions {name} with {nargs} inputs"
        return entries[0]

    def calldata(self, name: str, *args) -> bytes:
        entry = self.function(name, len(args))
        return function_abi_to_4byte_selector(entry) + encode(types_of(entry["inputs"]), list(args))

    def send(self, who: int, name: str, *args, value: int = 0, dt: int = 1) -> Outcome:
        """Call ``name`` in a transaction from account ``who``; it must succeed."""
        outcome = self.chain.transact(who, self.address, self.calldata(name, *args), value=value, dt=dt)
        assert outcome.ok, f"{self.name}.{name} reverted: {self.decode_revert(outcome.output)}"
        return outcome

    def try_send(self, who: int, name: str, *args, value: int = 0, dt: int = 1) -> Outcome:
        return self.chain.transact(who, self.address, self.calldata(name, *args), value=value, dt=dt)

    def view(self, name: str, *args, sender: bytes = b"") -> Any:
        """The decoded result of a read-only call (one output unwrapped)."""
        entry = self.function(name, len(args))
        out = self.chain.chain.call(
            {"from": sender or ADDRS[0], "to": self.address, "data": self.calldata(name, *args)}
        )
        values = decode(types_of(entry["outputs"]), out)
        return values[0] if len(values) == 1 else values

    def decode_revert(self, data: bytes) -> Revert:
        selector = data[:4]
        entry = self.errors.get(selector) or known_errors().get(selector)  # a created contract's error bubbles up
        if entry is not None:
            return Revert(entry["name"], decode(types_of(entry["inputs"]), data[4:]))
        if selector == PANIC_SELECTOR:
            return Revert("Panic", decode(["uint256"], data[4:]))
        if selector == ERROR_SELECTOR:
            return Revert("Error", decode(["string"], data[4:]))
        return Revert("<unknown>", (data,))

    def refused(self, who: int, error: str, name: str, *args, value: int = 0) -> Revert:
        """Send a call that must revert with custom error ``error`` and move nothing.

        The call is mined at the head's timestamp (``dt=0``), the time views and
        the replay that reads the revert data run at: advance the chain first
        (``advance_to``) to test a deadline."""
        data = self.calldata(name, *args)
        before = self.chain.snapshot()
        outcome = self.chain.transact(who, self.address, data, value=value, dt=0)
        assert not outcome.ok, f"{self.name}.{name} succeeded; expected {error}"
        revert = self.decode_revert(outcome.output)
        assert revert.name == error, f"{self.name}.{name} reverted with {revert}, expected {error}"
        self.chain.assert_moved_nothing(before, outcome)
        return revert

    def events(self, outcome: Outcome, name: str) -> list[dict]:
        """The ``name`` events this contract emitted in ``outcome``, decoded to dicts."""
        (entry,) = [e for e in self.abi if e["type"] == "event" and e["name"] == name]
        topic = event_abi_to_log_topic(entry)
        found = []
        for address, topics, data in outcome.logs:
            if address != self.address or not topics or topics[0].to_bytes(32, "big") != topic:
                continue
            indexed = [i for i in entry["inputs"] if i["indexed"]]
            plain = [i for i in entry["inputs"] if not i["indexed"]]
            values = dict(zip([i["name"] for i in plain], decode(types_of(plain), data)))
            for i, word in zip(indexed, topics[1:]):
                values[i["name"]] = decode([abi_type(i)], word.to_bytes(32, "big"))[0]
            found.append(values)
        return found


@dataclass(frozen=True)
class ChainSnapshot:
    """What a refused call must leave as it was."""

    storage_roots: dict
    balances: dict


class ContractChain:
    """An in-memory Plume chain with funded accounts ``ADDRS`` for contract tests."""

    def __init__(self, n_accounts: int = len(KEYS), extra_alloc: dict | None = None, permissions: Any = None):
        """``extra_alloc``: more genesis accounts, ``{address: GenesisAccount}`` (predeployed code);
        ``permissions``: the genesis ``PermissionsGenesis`` (default: every list off)."""
        from execution.chain import PlumeChain
        from execution.genesis import GenesisAccount, GenesisState
        from staking.params import StakingParams

        alloc = {a: GenesisAccount(balance=START_BALANCE) for a in ADDRS[:n_accounts]}
        alloc.update(extra_alloc or {})
        genesis = GenesisState(
            chain_id=CHAIN_ID, timestamp=GENESIS_TIME, gas_limit=60_000_000, alloc=alloc,
            staking=StakingParams(block_reward=0),
            **({"permissions": permissions} if permissions is not None else {}),
        )
        self.chain = PlumeChain(AtomicDB(), genesis)
        self.nonces = [0] * len(KEYS)
        self.contracts: list[Contract] = []

    @property
    def timestamp(self) -> int:
        return self.chain.head.timestamp

    def _signed(self, who: int, to: bytes, data: bytes, value: int, gas: int):
        from execution.transactions import decode_transaction

        tx = dict(type=2, nonce=self.nonces[who], gas=gas, value=value, chainId=CHAIN_ID, data=data,
                  maxFeePerGas=100 * GWEI, maxPriorityFeePerGas=TIP)
        if to:
            tx["to"] = to_checksum_address(to)
        self.nonces[who] += 1
        return decode_transaction(bytes(Account.sign_transaction(tx, KEYS[who]).raw_transaction))

    def block(self, txs=(), *, dt: int = 1):
        from execution.sidecar import Sidecar

        result = self.chain.build_block(
            list(txs), timestamp=self.timestamp + dt, coinbase=COINBASE, sidecar=Sidecar(round=0, last_commit=b"")
        )
        assert not result.rejected, result.rejected
        self.chain.commit(result.block)
        return result

    def advance_to(self, timestamp: int) -> None:
        """An empty block at ``timestamp`` (so the next transaction's block is one second later)."""
        assert timestamp >= self.timestamp
        self.block(dt=timestamp - self.timestamp)

    def transact(self, who: int, to: bytes, data: bytes, *, value: int = 0, dt: int = 1,
                 gas: int = DEFAULT_GAS) -> Outcome:
        """One transaction alone in a block ``dt`` seconds after the head."""
        from execution.errors import CallError

        tx = self._signed(who, to, data, value, gas)
        self.block([tx], dt=dt)
        receipt, _, _ = self.chain.get_receipt(tx.hash)
        ok = receipt.state_root == b"\x01"
        output = b""
        if not ok:  # replay on the state before the block for the revert data
            try:
                self.chain.call({"from": ADDRS[who], "to": to, "data": data, "value": value, "gas": gas},
                                self.chain.height - 1)
            except CallError as exc:
                output = exc.revert_data or b""
        logs = [(log.address, [int.from_bytes(t, "big") if isinstance(t, bytes) else t for t in log.topics],
                 log.data) for log in receipt.logs]
        return Outcome(ok, output, self.gas_of_last(), logs, ADDRS[who])

    def gas_of_last(self) -> int:
        """Gas of the only transaction in the head block (receipt gas is cumulative)."""
        (receipt,) = self.chain.get_receipts(self.chain.height)
        return receipt.gas_used

    def deploy(self, name: str, *args, who: int = 0) -> Contract:
        artifact = load_artifact(name)
        (ctor,) = [e for e in artifact["abi"] if e["type"] == "constructor"] or [{"inputs": []}]
        init = bytes.fromhex(artifact["bytecode"][2:]) + encode(types_of(ctor["inputs"]), list(args))
        address = generate_contract_address(ADDRS[who], self.nonces[who])
        outcome = self.transact(who, b"", init)
        contract = Contract(self, address, artifact["abi"], name)
        assert outcome.ok, f"deploying {name} reverted: {contract.decode_revert(outcome.output)}"
        return self.track(contract)

    def deploy_refused(self, name: str, *args, who: int = 0) -> Revert:
        """Deploy ``name``, which must revert: the decoded revert of its constructor."""
        artifact = load_artifact(name)
        (ctor,) = [e for e in artifact["abi"] if e["type"] == "constructor"]
        init = bytes.fromhex(artifact["bytecode"][2:]) + encode(types_of(ctor["inputs"]), list(args))
        outcome = self.transact(who, b"", init)
        assert not outcome.ok, f"deploying {name} succeeded"
        return Contract(self, b"", artifact["abi"], name).decode_revert(outcome.output)

    def track(self, contract: Contract) -> Contract:
        """Include ``contract`` in the snapshots ``refused`` compares."""
        self.contracts.append(contract)
        return contract

    def at(self, name: str, address: bytes) -> Contract:
        """A contract created by another (a factory) with ``name``'s ABI, tracked."""
        return self.track(Contract(self, address, load_artifact(name)["abi"], name))

    def balance(self, address: bytes) -> int:
        return self.chain.state_at().balance(address)

    def storage_root(self, address: bytes) -> bytes:
        state_trie = HexaryTrie(self.chain.chain_view, self.chain.head.state_root)
        return rlp.decode(state_trie[keccak(address)], sedes=RlpAccount).storage_root

    def snapshot(self) -> ChainSnapshot:
        view = self.chain.state_at()
        addresses = [*ADDRS, *(c.address for c in self.contracts)]
        return ChainSnapshot(
            storage_roots={c.address: self.storage_root(c.address) for c in self.contracts},
            balances={a: view.balance(a) for a in addresses},
        )

    def assert_moved_nothing(self, before: ChainSnapshot, outcome: Outcome) -> None:
        """Only the sender's gas changed between ``before`` and now."""
        after = self.snapshot()
        changed = [a.hex() for a, root in before.storage_roots.items() if after.storage_roots[a] != root]
        assert not changed, f"a refused call changed the storage of {changed}"
        fee = outcome.gas_used * (self.chain.head.base_fee_per_gas + TIP)
        expected = dict(before.balances)
        expected[outcome.sender] -= fee
        assert {a: after.balances[a] for a in expected} == expected, "a balance changed"


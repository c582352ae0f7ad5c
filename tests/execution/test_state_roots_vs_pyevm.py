"""Per-block state work gives py-evm's state roots, block by block.

Two py-evm ``MiningChain``s run the same random blocks: one with py-evm's own
``AccountDB`` (per-account ``HexaryTrie.set``), one with ``PlumeAccountDB``
(one ``apply_batch`` per block, nodes read through the shared node cache).
Blocks mix value transfers (to existing, new and empty accounts, zero value
included: EIP-161 deletes an empty account a transaction touches), storage
writes and clears, contract creations, contracts created and self-destructed
in one transaction (EIP-6780: deleted), and calls to a deployed contract that
self-destructs (EIP-6780: only its balance moves). The state root, and so
every block hash, must be equal after every block; so must every account.
"""

from __future__ import annotations

from eth import constants
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.state import PragueState
from eth_keys import keys
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.state_db import PlumeAccountDB

CHAIN_ID = 7778
GWEI = 10**9
SENDER_KEYS = [keys.PrivateKey(keccak(b"roots-sender-%d" % i)) for i in range(4)]
SENDERS = [k.public_key.to_canonical_address() for k in SENDER_KEYS]
BENEFICIARY = b"\xbe" * 20
STORE_CONTRACT = b"\x5e" * 20  # SSTORE(calldata[0:32], calldata[32:64])
SUICIDE_CONTRACT = b"\x5d" * 20  # SELFDESTRUCT(BENEFICIARY), deployed at genesis
EMPTY_ACCOUNTS = [bytes([0xE0 + i]) * 20 for i in range(3)]  # exist at genesis, empty
NEW_ACCOUNTS = [keccak(b"roots-new-%d" % i)[:20] for i in range(5)]

STORE_CODE = bytes.fromhex("6020356000355500")
SUICIDE_CODE = b"\x73" + BENEFICIARY + b"\xff"
# initcode returning STORE_CODE: PUSH8 code; PUSH1 0; MSTORE; PUSH1 8; PUSH1 24; RETURN
DEPLOY_STORE = b"\x67" + STORE_CODE + bytes.fromhex("600052600860" "18f3")
# initcode that writes two slots, then self-destructs (created, given storage and
# destroyed in one transaction: its storage is wiped with it)
CREATE_AND_DIE = bytes.fromhex("6001600055" "6002600155") + SUICIDE_CODE

BatchState = PragueState.configure(__name__="BatchPragueState", account_db_class=PlumeAccountDB)
BatchPragueVM = PragueVM.configure(__name__="BatchPragueVM", _state_class=BatchState)


def new_chain(vm_class) -> MiningChain:
    klass = MiningChain.configure(
        __name__="RootsChain", vm_configuration=((0, vm_class),), chain_id=CHAIN_ID
    )
    params = {
        "difficulty": 0,
        "gas_limit": 30_000_000,
        "timestamp": 1_700_000_000,
        "coinbase": b"\xc0" * 20,
        "extra_data": b"",
        "nonce": constants.POST_MERGE_NONCE,
        "mix_hash": constants.POST_MERGE_MIX_HASH,
        "base_fee_per_gas": GWEI,
    }
    state = {a: {"balance": 10**24, "nonce": 0, "code": b"", "storage": {}} for a in SENDERS}
    state[STORE_CONTRACT] = {"balance": 0, "nonce": 1, "code": STORE_CODE, "storage": {1: 7, 2: 9}}
    state[SUICIDE_CONTRACT] = {"balance": 5, "nonce": 1, "code": SUICIDE_CODE, "storage": {}}
    for address in EMPTY_ACCOUNTS:
        state[address] = {"balance": 0, "nonce": 0, "code": b"", "storage": {}}
    return klass.from_genesis(AtomicDB(), params, state)


# (kind, sender, target, value, slot, word)
ops = st.tuples(
    st.sampled_from(["transfer", "transfer", "store", "deploy", "create_and_die", "call_suicide"]),
    st.integers(0, len(SENDERS) - 1),
    st.integers(0, len(EMPTY_ACCOUNTS) + len(NEW_ACCOUNTS) + len(SENDERS) - 1),
    st.sampled_from([0, 0, 1, 10**18]),
    st.integers(0, 4),
    st.sampled_from([0, 0, 1, 2**255]),
)


def targets() -> list[bytes]:
    return [*EMPTY_ACCOUNTS, *NEW_ACCOUNTS, *SENDERS]


def sign(op, nonces: list[int]):
    kind, who, target, value, slot, word = op
    to, data = targets()[target], b""
    if kind == "store":
        to, data = STORE_CONTRACT, slot.to_bytes(32, "big") + word.to_bytes(32, "big")
    elif kind == "deploy":
        to, data = b"", DEPLOY_STORE
    elif kind == "create_and_die":
        to, data = b"", CREATE_AND_DIE
    elif kind == "call_suicide":
        to = SUICIDE_CONTRACT
    tx = PragueVM.get_transaction_builder().create_unsigned_transaction(
        nonce=nonces[who], gas_price=2 * GWEI, gas=200_000, to=to, value=value, data=data
    ).as_signed_transaction(SENDER_KEYS[who], chain_id=CHAIN_ID)
    nonces[who] += 1
    return tx


def accounts_of(chain: MiningChain) -> list[tuple]:
    state = chain.get_vm().state
    slots = range(5)
    return [
        (state.get_balance(a), state.get_nonce(a), state.get_code(a),
         [state.get_storage(a, s) for s in slots], state.account_exists(a))
        for a in (*targets(), STORE_CONTRACT, SUICIDE_CONTRACT, BENEFICIARY)
    ]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(ops, max_size=10), min_size=1, max_size=5))
def test_batched_state_roots_equal_pyevm_block_by_block(blocks) -> None:
    reference, batched = new_chain(PragueVM), new_chain(BatchPragueVM)
    assert batched.get_canonical_head().state_root == reference.get_canonical_head().state_root
    nonces = [0] * len(SENDERS)
    for number, block_ops in enumerate(blocks, start=1):
        txs = [sign(op, nonces) for op in block_ops]
        timestamp = 1_700_000_000 + number
        want = reference.mine_all(txs, timestamp=timestamp)[0].imported_block.header
        got = batched.mine_all(txs, timestamp=timestamp)[0].imported_block.header
        assert got.state_root == want.state_root, f"block {number}"
        assert got.hash == want.hash
    assert accounts_of(batched) == accounts_of(reference)


def test_a_touched_empty_account_is_deleted_and_the_roots_agree() -> None:
    """EIP-161 in the account trie: a zero-value transfer to a genesis account that is empty
    deletes it; a create-and-self-destruct leaves no account; both chains agree."""
    reference, batched = new_chain(PragueVM), new_chain(BatchPragueVM)
    nonces = [0] * len(SENDERS)
    txs = [sign(("transfer", 0, 0, 0, 0, 0), nonces), sign(("create_and_die", 1, 0, 10**18, 0, 0), nonces)]
    created = keccak(b"\xd6\x94" + SENDERS[1] + b"\x80")[12:]  # CREATE address of (sender 1, nonce 0)
    for chain in (reference, batched):
        assert chain.get_vm().state.account_exists(EMPTY_ACCOUNTS[0])
        chain.mine_all(txs, timestamp=1_700_000_001)
        state = chain.get_vm().state
        assert not state.account_exists(EMPTY_ACCOUNTS[0])
        assert not state.account_exists(created)
        assert state.get_balance(BENEFICIARY) == 10**18
    assert batched.get_canonical_head().state_root == reference.get_canonical_head().state_root

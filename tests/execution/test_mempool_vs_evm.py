"""The mempool admits only what the EVM would put in a block (differential, hypothesis).

Each example is one signed transaction generated around a validity boundary:
EIP-3860 initcode size, intrinsic gas (calldata, access lists, the 32000 of a
create, initcode words), the EIP-7623 calldata floor, the block gas limit, the
base fee, tip versus fee cap, funds, chain id, for types 0, 1 and 2. The same
transaction goes to a fresh `Mempool` and, as the only transaction of a block,
to `PlumeChain.build_block` on the same head state (real py-evm, the Plume VM).

Checked: a transaction the pool admits is included in the block; a
transaction the EVM leaves out is refused by the pool; nothing ever fails
unexpectedly while building. Where the pool refuses what py-evm would still
include, the refusal must be one of the pool's documented stricter rules
(docs/mempool.md): the EIP-3860 initcode word cost counted before execution
(py-evm charges it while executing), worst-case funds (`gas x max fee +
value`), and EIP-1559's tip <= fee cap.
"""

from __future__ import annotations

import functools

from eth.db.atomic import AtomicDB
from eth_account import Account
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from execution.chain import PlumeChain
from execution.mempool import Mempool, MempoolConfig, MempoolError, MempoolErrorCode as Code
from execution.transactions import decode_transaction
from plume_exec_helpers import ADDRS, CHAIN_ID, COINBASE, ETHER, GWEI, KEYS, SINK, HeadState, make_genesis, sidecar

GAS_LIMIT = 30_000_000
BALANCE = 1000 * ETHER  # every ADDRS account's genesis balance
MAX_INITCODE = 49_152
SLOT = "0x" + "00" * 31 + "01"


@functools.cache
def chain() -> PlumeChain:
    return PlumeChain(AtomicDB(), make_genesis(gas_limit=GAS_LIMIT, balance=BALANCE))


def gas_schedule(data: bytes, create: bool, access_list: list) -> tuple[int, int, int]:
    """(py-evm's intrinsic gas, the spec's intrinsic gas with initcode words, EIP-7623 floor).

    Written out from the EIPs, not taken from the pool, so the test does not
    check the pool against itself.
    """
    zeros = data.count(0)
    nonzeros = len(data) - zeros
    keys = sum(len(entry["storageKeys"]) for entry in access_list)
    pyevm = 21_000 + 4 * zeros + 16 * nonzeros + 2_400 * len(access_list) + 1_900 * keys
    if create:
        pyevm += 32_000
    words = (len(data) + 31) // 32 if create else 0
    floor = 21_000 + 10 * (zeros + 4 * nonzeros)
    return pyevm, pyevm + 2 * words, floor


access_lists = st.lists(
    st.builds(
        lambda addr, n: {"address": "0x" + addr * 20, "storageKeys": [SLOT] * n},
        st.sampled_from(["33", "44"]),
        st.integers(0, 2),
    ),
    max_size=2,
)


@st.composite
def transactions(draw):
    """(raw, facts): one signed tx near some boundary, and the numbers it was built from."""
    tx_type = draw(st.sampled_from([0, 1, 2]))
    create = draw(st.booleans())
    sizes = [0, 1, 31, 33, 1000, MAX_INITCODE - 1, MAX_INITCODE, MAX_INITCODE + 1, MAX_INITCODE + 32]
    size = draw(st.sampled_from(sizes))
    # Initcode that stops at once (STOP), then zero or non-zero filler for the gas rules.
    filler = draw(st.sampled_from([b"\x00", b"\x01"]))
    data = (b"\x00" + filler * (size - 1)) if size else b""
    access_list = draw(access_lists) if tx_type in (1, 2) else []
    pyevm, spec, floor = gas_schedule(data, create, access_list)
    anchor = draw(st.sampled_from(["pyevm", "spec", "floor", "block"]))
    gas_at = {"pyevm": pyevm, "spec": spec, "floor": floor, "block": GAS_LIMIT}[anchor]
    gas = max(0, gas_at + draw(st.sampled_from([-1, 0, 1])))
    base_fee = chain().next_base_fee()
    max_fee = draw(st.sampled_from([base_fee - 1, base_fee, base_fee + GWEI]))
    tip = draw(st.sampled_from([0, GWEI, max_fee + 1])) if tx_type == 2 else max_fee
    effective = min(max_fee, tip + base_fee)
    # Value puts the cost just at or just past the balance, by either rule of funds.
    value = draw(st.sampled_from([
        0,
        BALANCE - gas * max_fee,
        BALANCE - gas * max_fee + 1,
        BALANCE - gas * effective,
        BALANCE - gas * effective + 1,
    ]))
    value = max(0, value)
    chain_id = draw(st.sampled_from([CHAIN_ID] * 9 + [CHAIN_ID + 1]))
    fields: dict = {"chainId": chain_id, "nonce": 0, "gas": gas, "value": value, "data": data}
    if not create:
        fields["to"] = "0x" + SINK.hex()
    if tx_type == 2:
        fields.update(type=2, maxFeePerGas=max_fee, maxPriorityFeePerGas=tip, accessList=access_list)
    else:
        fields["gasPrice"] = max_fee
        if tx_type == 1:
            fields["accessList"] = access_list
    who = draw(st.integers(0, len(KEYS) - 1))
    raw = bytes(Account.sign_transaction(fields, KEYS[who]).raw_transaction)
    facts = dict(gas=gas, pyevm=pyevm, spec=spec, floor=floor, max_fee=max_fee, tip=tip,
                 value=value, balance=BALANCE, sender=ADDRS[who])
    event(f"type {tx_type}, {'create' if create else 'call'}, gas at {anchor}")
    return raw, facts


def pool_verdict(raw: bytes, c: PlumeChain) -> MempoolError | None:
    pool = Mempool(CHAIN_ID, MempoolConfig(block_gas_limit=GAS_LIMIT))
    try:
        pool.add_raw(raw, HeadState(c), c.next_base_fee(), now=0)
    except MempoolError as exc:
        return exc
    return None


def stricter_rule_applies(err: MempoolError, facts: dict) -> bool:
    """Is `err` one of the pool's documented rules that py-evm checks later or not at all?"""
    if err.code is Code.INTRINSIC_GAS_TOO_LOW:  # the initcode words, which py-evm charges later
        return max(facts["pyevm"], facts["floor"]) <= facts["gas"] < facts["spec"]
    if err.code is Code.INSUFFICIENT_FUNDS:
        return facts["gas"] * facts["max_fee"] + facts["value"] > facts["balance"]
    if err.code is Code.TIP_ABOVE_FEE_CAP:
        return facts["tip"] > facts["max_fee"]
    return False


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transactions())
def test_pool_admits_only_what_the_evm_includes(case) -> None:
    raw, facts = case
    c = chain()
    verdict = pool_verdict(raw, c)
    built = c.build_block([decode_transaction(raw)], timestamp=c.head.timestamp, coinbase=COINBASE,
                          sidecar=sidecar())
    assert built.failed == (), f"building raised on a tx: {built.failed[0][1]}"
    included = len(built.included) == 1
    event(f"pool {'accepts' if verdict is None else verdict.code.name}, evm {'includes' if included else 'refuses'}")
    if verdict is None:
        assert included, f"the pool admitted a tx the EVM refuses: {built.rejected[0][1]}"
    elif included:
        assert stricter_rule_applies(verdict, facts), (
            f"the pool refused a tx the EVM includes, by no documented stricter rule: "
            f"{verdict.code.name}: {verdict.message}"
        )

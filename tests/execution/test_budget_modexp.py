"""RPC execution refuses MODEXP inputs over EIP-7823's bound: one C-level pow()
would otherwise hold the interpreter lock (and stall consensus) for seconds,
out of reach of the budget's deadline check."""

from __future__ import annotations

import pytest
from plume_exec_helpers import ADDRS, open_chain

from execution import calls
from execution.budget import MAX_MODEXP_INPUT_BYTES, AbortReason, ExecutionAborted, ExecutionBudget

MODEXP = (5).to_bytes(20, "big")


def modexp_input(exponent_bytes: int) -> bytes:
    """3 ** exponent mod (2**64 - 59), the exponent `exponent_bytes` long: 32 bytes of
    0xff then zeros (zero bytes keep the calldata cheap enough for 50M gas)."""
    exponent = b"\xff" * 32 + b"\0" * (exponent_bytes - 32)
    modulus = (2**64 - 59).to_bytes(8, "big")
    lengths = (1).to_bytes(32, "big") + exponent_bytes.to_bytes(32, "big") + (8).to_bytes(32, "big")
    return lengths + b"\x03" + exponent + modulus


def run(chain, data: bytes, budget: ExecutionBudget | None) -> bytes:
    return calls.call(chain, {"from": ADDRS[0], "to": MODEXP, "data": data, "gas": 50_000_000}, budget=budget)


def budget() -> ExecutionBudget:
    return ExecutionBudget.start(gas_cap=50_000_000, total_gas=500_000_000, timeout_s=5.0)


def test_modexp_over_the_bound_is_refused_at_once(tmp_path) -> None:
    db, chain = open_chain(tmp_path / "db")
    with pytest.raises(ExecutionAborted, match="EIP-7823") as info:
        run(chain, modexp_input(2_000_000), budget())  # over a second of pow() without the bound
    assert info.value.reason is AbortReason.INPUT_BOUND
    db.close()


def test_modexp_within_the_bound_gives_the_same_answer_as_without_a_budget(tmp_path) -> None:
    db, chain = open_chain(tmp_path / "db")
    data = modexp_input(MAX_MODEXP_INPUT_BYTES)
    exponent = int.from_bytes(data[97 : 97 + MAX_MODEXP_INPUT_BYTES], "big")
    expected = pow(3, exponent, 2**64 - 59).to_bytes(8, "big")
    assert run(chain, data, budget()) == expected == run(chain, data, None)
    db.close()

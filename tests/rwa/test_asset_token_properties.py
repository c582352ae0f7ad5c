"""Hypothesis property test of AssetToken on real py-evm: random agent and holder
actions (mints, burns, transfers, forced transfers, partial and whole freezes,
wallet recovery, cap changes, pauses) keep the token's books whole. After every step:

- ``holderCount`` is the number of addresses with a non-zero balance;
- no holder has more frozen than it holds;
- ``totalSupply`` is the sum of the balances;
- a transfer ``canTransfer`` allows succeeds, and one it refuses reverts with
  the matching custom error and moves nothing.

A modest number of examples by default; PLUME_SOAK=1 runs many more.
"""

from __future__ import annotations

import os

from contracts import ADDRS, ContractChain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SOAK = os.environ.get("PLUME_SOAK") == "1"
ISSUER, HOLDERS = 0, (1, 2, 3, 4)
UNVERIFIED = 5
# canTransfer's Refusal enum -> the error the transfer reverts with
REFUSAL_ERRORS = {
    1: "TokenPaused", 2: "SenderFrozen", 3: "ReceiverFrozen", 4: "ReceiverNotVerified", 5: "LockedUp",
    6: "CountryNotAllowed", 7: "MaxBalanceExceeded", 8: "MaxHoldersExceeded", 9: "InsufficientUnfrozenBalance",
}

holder = st.sampled_from(HOLDERS)
receiver = st.sampled_from((*HOLDERS, UNVERIFIED))
amount = st.integers(0, 1_000)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("mint"), holder, amount),
        st.tuples(st.just("burn"), holder, st.integers(1, 4)),
        st.tuples(st.just("transfer"), holder, receiver, amount),
        st.tuples(st.just("forced"), holder, receiver, st.integers(1, 4)),
        st.tuples(st.just("freeze"), holder, st.integers(1, 4)),
        st.tuples(st.just("unfreeze"), holder),
        st.tuples(st.just("frozen"), holder, st.booleans()),
        st.tuples(st.just("pause"), st.booleans()),
        st.tuples(st.just("caps"), st.integers(0, 4), st.sampled_from((0, 500, 2_000))),
        st.tuples(st.just("recover"), holder, holder),
    ),
    min_size=4,
    max_size=24,
)


def balance(token, who: int) -> int:
    return token.view("balanceOf", ADDRS[who])


def transfer(token, sender: int, to: int, value: int) -> None:
    ok, refusal = token.view("canTransfer", ADDRS[sender], ADDRS[to], value)
    if ok:
        token.send(sender, "transfer", ADDRS[to], value)
    else:
        token.refused(sender, REFUSAL_ERRORS[refusal], "transfer", ADDRS[to], value)


def apply(token, op: tuple) -> None:
    kind = op[0]
    if kind == "mint":
        _, who, value = op
        if not token.view("isVerified", ADDRS[who]):  # a recovered (lost) wallet
            token.refused(ISSUER, "ReceiverNotVerified", "mint", ADDRS[who], value)
            return
        if token.view("isFrozen", ADDRS[who]) or not _fits(token, who, value):
            return
        token.send(ISSUER, "mint", ADDRS[who], value)
    elif kind == "burn":
        _, who, quarters = op
        token.send(ISSUER, "burn", ADDRS[who], balance(token, who) * quarters // 4)
    elif kind == "transfer":
        transfer(token, *op[1:])
    elif kind == "forced":
        _, sender, to, quarters = op
        value = balance(token, sender) * quarters // 4
        if token.view("isVerified", ADDRS[to]):
            token.send(ISSUER, "forcedTransfer", ADDRS[sender], ADDRS[to], value)
        else:
            token.refused(ISSUER, "ReceiverNotVerified", "forcedTransfer", ADDRS[sender], ADDRS[to], value)
    elif kind == "freeze":
        _, who, quarters = op
        free = balance(token, who) - token.view("frozenTokens", ADDRS[who])
        if free * quarters // 4 > 0:
            token.send(ISSUER, "freezePartialTokens", ADDRS[who], free * quarters // 4)
    elif kind == "unfreeze":
        frozen = token.view("frozenTokens", ADDRS[op[1]])
        if frozen:
            token.send(ISSUER, "unfreezePartialTokens", ADDRS[op[1]], frozen)
    elif kind == "frozen":
        token.send(ISSUER, "setAddressFrozen", ADDRS[op[1]], op[2])
    elif kind == "pause":
        token.send(ISSUER, "pause" if op[1] else "unpause")
    elif kind == "recover":
        _, lost, new = op
        if balance(token, lost) == 0 or lost == new:
            token.refused(ISSUER, "NothingToRecover", "recoveryAddress", ADDRS[lost], ADDRS[new])
        elif token.view("isVerified", ADDRS[lost]) or token.view("isVerified", ADDRS[new]):
            token.send(ISSUER, "recoveryAddress", ADDRS[lost], ADDRS[new])
        else:
            token.refused(ISSUER, "ReceiverNotVerified", "recoveryAddress", ADDRS[lost], ADDRS[new])
    else:
        _, max_holders, max_balance = op
        token.send(ISSUER, "setMaxHolders", max_holders)
        token.send(ISSUER, "setMaxBalance", max_balance)


def _fits(token, who: int, value: int) -> bool:
    """Whether a mint of ``value`` to ``who`` is within the caps (else it must be refused)."""
    cap = token.view("maxBalance")
    if cap and balance(token, who) + value > cap:
        token.refused(ISSUER, "MaxBalanceExceeded", "mint", ADDRS[who], value)
        return False
    max_holders = token.view("maxHolders")
    if max_holders and value and balance(token, who) == 0 and token.view("holderCount") >= max_holders:
        token.refused(ISSUER, "MaxHoldersExceeded", "mint", ADDRS[who], value)
        return False
    return True


def check(token) -> None:
    balances = {who: balance(token, who) for who in (*HOLDERS, UNVERIFIED)}
    assert token.view("holderCount") == sum(1 for b in balances.values() if b > 0)
    assert token.view("totalSupply") == sum(balances.values())
    for who in HOLDERS:
        assert token.view("frozenTokens", ADDRS[who]) <= balances[who]
    assert balances[UNVERIFIED] == 0  # nothing ever reaches an unverified address


@settings(max_examples=200 if SOAK else 8, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=operations)
def test_random_agent_and_holder_actions_keep_the_books_whole(ops) -> None:
    chain = ContractChain()
    token = chain.deploy("AssetToken", "Solar", "SUN", ADDRS[ISSUER])
    for who in HOLDERS:
        token.send(ISSUER, "registerIdentity", ADDRS[who], 276)
    for op in ops:
        apply(token, op)
        check(token)

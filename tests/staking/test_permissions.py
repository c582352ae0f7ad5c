"""The permissions contract at 0x…1003 and its consensus rule, on real py-evm.

Roles (Subnet-EVM allowlist semantics), every refusal of ``setRole`` and its
reason, the views, the block rule (a tampered proposer's block carrying a
forbidden transaction is rejected by a validator), the mempool's typed
refusal, the deploy list on top-level and nested creations, the validator
list on ``createValidator``, and governance switching a list and setting a role.
"""

from __future__ import annotations

import pytest
from eth.db.atomic import AtomicDB
from eth.exceptions import WriteProtection
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import to_checksum_address

import execution.vm as vm_module
from execution.chain import PlumeChain
from execution.errors import CallError, InvalidBlock, PermissionDenied
from execution.genesis import GenesisAccount
from execution.mempool import Mempool, MempoolConfig, MempoolError, MempoolErrorCode
from execution.mempool.pool import RemovalReason
from execution.sidecar import Sidecar
from execution.transactions import decode_transaction
from gov_helpers import GOV, YES, change, end_voting, propose, vote
from plume_node.rpc.chainview import AccountReader
from staking.addresses import GOVERNANCE_ADDRESS, PERMISSIONS_ADDRESS
from staking.params import ExecutionParams
from staking.permissions import abi as perm_abi
from staking.permissions.genesis import PermissionsGenesis
from staking.permissions.roles import PermList, Role
from staking_harness import ADDRS, CHAIN_ID, COINBASE, KEYS, PLUME, StakingChain, consensus_key, revert_reason

TRANSACT, DEPLOY, VALIDATOR = PermList.TRANSACT, PermList.DEPLOY, PermList.VALIDATOR
NONE, ENABLED, MANAGER, ADMIN = Role.NONE, Role.ENABLED, Role.MANAGER, Role.ADMIN
ADMIN_I, MANAGER_I, USER_I, OTHER_I = 4, 5, 6, 7  # accounts that are not genesis validators
# A contract whose code CREATEs an empty contract and stores the new address (0 if the create failed) in slot 0.
FACTORY = bytes.fromhex("600060006000f060005500")
FACTORY_ADDRESS = bytes.fromhex("00000000000000000000000000000000000fac70")
# A contract that calls setRole(deploy, tx.origin, enabled) on 0x…1003 (slot 1: the call's success), then
# CREATEs an empty contract (slot 0: its address, 0 if it failed): a manager granting mid-transaction.
GRANT_THEN_CREATE = bytes.fromhex(
    "63e626105760e01b6000526001600452326024526001604452600060006064600060006110035af1600155600060006000f060005500"
)
GRANT_THEN_CREATE_ADDRESS = bytes.fromhex("00000000000000000000000000000000000fac71")


def perms(transact=False, deploy=False, validator=False, extra=()) -> PermissionsGenesis:
    """Genesis lists; ADMIN_I is admin on every list, and the genesis validators' operators enabled."""
    roles = [(w, ADDRS[ADMIN_I], ADMIN) for w in PermList]
    roles += [(w, ADDRS[i], ENABLED) for w in PermList for i in range(2)]
    return PermissionsGenesis(transact=transact, deploy=deploy, validator=validator, roles=tuple(roles) + tuple(extra))


def chain(**lists) -> StakingChain:
    contracts = {FACTORY_ADDRESS: FACTORY, GRANT_THEN_CREATE_ADDRESS: GRANT_THEN_CREATE}
    return StakingChain(n_validators=2, permissions=perms(**lists), contracts=contracts,
                        gov=GOV, execution=ExecutionParams())


def calldata(name: str, *args) -> bytes:
    (m,) = [m for m in perm_abi.METHODS.values() if m.name == name]
    return m.selector + encode(list(m.inputs), list(args))


def set_role(sc: StakingChain, who: int, which: PermList, account: bytes, role: Role):
    return sc.raw(who, calldata("setRole", int(which), account, int(role)), to=PERMISSIONS_ADDRESS)


def view(sc: StakingChain, name: str, *args):
    (m,) = [m for m in perm_abi.METHODS.values() if m.name == name]
    out = sc.chain.call({"to": PERMISSIONS_ADDRESS, "data": calldata(name, *args)})
    return decode(list(m.outputs), out)[0]


def role(sc: StakingChain, which: PermList, who: int) -> Role:
    return Role(view(sc, "roleOf", int(which), ADDRS[who]))


def transfer(sc: StakingChain, who: int, to: bytes = COINBASE, value: int = 1):
    return sc.tx(who, b"", value=value, to=to, gas=21_000)


def build(sc: StakingChain, txs):
    head = sc.chain.head
    return sc.chain.build_block(txs, timestamp=head.timestamp + 1, coinbase=COINBASE,
                                sidecar=Sidecar(round=0, last_commit=b""))


# -- roles -------------------------------------------------------------------------


def test_lists_are_off_by_default_and_the_views_say_so() -> None:
    sc = StakingChain(n_validators=1)
    for which in PermList:
        assert view(sc, "isEnabled", int(which)) is False
    assert view(sc, "isAllowed", ADDRS[USER_I]) is False  # holds no role: not "verified" for an RWA token
    sc.block([transfer(sc, USER_I)])  # and yet transacts: the list is off
    assert sc.chain.state_at().code(PERMISSIONS_ADDRESS) == b"\xfe"  # the account exists from genesis


def test_admin_manages_managers_and_managers_manage_enabled() -> None:
    sc = chain()  # lists off, so unlisted accounts can send their setRole calls
    out = set_role(sc, ADMIN_I, DEPLOY, ADDRS[MANAGER_I], MANAGER)
    assert out.ok and role(sc, DEPLOY, MANAGER_I) == MANAGER
    (log,) = out.logs
    assert log.topics[0] == perm_abi.ROLE_SET.topic0
    assert decode(["uint8", "address"], log.data) == (MANAGER, to_checksum_address(ADDRS[ADMIN_I]).lower())
    assert set_role(sc, MANAGER_I, DEPLOY, ADDRS[USER_I], ENABLED).ok
    assert role(sc, DEPLOY, USER_I) == ENABLED
    assert set_role(sc, MANAGER_I, DEPLOY, ADDRS[USER_I], NONE).ok
    assert role(sc, DEPLOY, USER_I) == NONE
    assert role(sc, TRANSACT, MANAGER_I) == NONE  # roles are per list
    assert set_role(sc, ADMIN_I, DEPLOY, ADDRS[USER_I], ADMIN).ok  # an admin sets any role
    assert set_role(sc, ADMIN_I, DEPLOY, ADDRS[USER_I], NONE).ok


@pytest.mark.parametrize(
    "actor_role, target_role, new_role, reason",
    [
        (None, NONE, ENABLED, "the caller's role is none"),
        (ENABLED, NONE, ENABLED, "the caller's role is enabled"),
        (MANAGER, NONE, MANAGER, "a manager sets only none or enabled"),
        (MANAGER, NONE, ADMIN, "a manager sets only none or enabled"),
        (MANAGER, MANAGER, NONE, "a manager sets only none or enabled"),
        (MANAGER, ADMIN, NONE, "a manager sets only none or enabled"),
    ],
)
def test_granting_without_the_needed_role_reverts_with_a_reason(actor_role, target_role, new_role, reason) -> None:
    sc = chain()
    if actor_role is not None:
        assert set_role(sc, ADMIN_I, VALIDATOR, ADDRS[MANAGER_I], actor_role).ok
    if target_role != NONE:
        assert set_role(sc, ADMIN_I, VALIDATOR, ADDRS[USER_I], target_role).ok
    data = calldata("setRole", int(VALIDATOR), ADDRS[USER_I], int(new_role))
    out = sc.refused_raw(MANAGER_I, data, to=PERMISSIONS_ADDRESS, reason=reason)
    assert "validator list" in out.reason
    assert role(sc, VALIDATOR, USER_I) == target_role


@pytest.mark.parametrize("args, reason", [((3, 0, 1), "list 3 is not"), ((0, 0, 4), "role 4 is not")])
def test_a_bad_list_or_role_reverts(args, reason) -> None:
    sc = chain()
    which, _, new = args
    data = calldata("setRole", which, ADDRS[USER_I], new)
    sc.refused_raw(ADMIN_I, data, to=PERMISSIONS_ADDRESS, reason=reason)
    with pytest.raises(CallError) as failed:
        sc.chain.call({"to": PERMISSIONS_ADDRESS, "data": calldata("roleOf", 3, ADDRS[USER_I])})
    assert "list 3 is not" in revert_reason(failed.value.revert_data)


def test_set_role_refuses_a_static_call() -> None:
    sc = chain()
    # eth_call runs as a plain call; a STATICCALL from a contract is what WriteProtection guards:
    # the shared dispatch raises it for any write method in a static frame.
    from staking.contract import dispatch
    from staking.permissions.contract import PERMISSIONS_CONTRACT

    class Msg:
        data_as_bytes = calldata("setRole", 0, ADDRS[USER_I], 1)
        is_static = True
        storage_address = PERMISSIONS_ADDRESS
        value = 0
        sender = ADDRS[ADMIN_I]

    class Computation:
        msg = Msg()

        def consume_gas(self, amount, reason):
            pass

    with pytest.raises(WriteProtection):
        dispatch(PERMISSIONS_CONTRACT, Computation())
    assert role(sc, DEPLOY, USER_I) == NONE


# -- the block rule -------------------------------------------------------------------


def test_the_proposer_leaves_out_a_forbidden_transfer_and_the_mempool_refuses_it() -> None:
    sc = chain(transact=True)
    tx = transfer(sc, USER_I)
    result = build(sc, [tx])
    assert result.included == () and "permission denied" in result.rejected[0][1]
    pool = Mempool(CHAIN_ID, MempoolConfig())
    with pytest.raises(MempoolError) as refused:
        pool.add(tx, len(tx.encode()), AccountReader(sc.chain.state_at()), sc.chain.next_base_fee(), 0)
    assert refused.value.code is MempoolErrorCode.PERMISSION_DENIED
    assert "transact list" in refused.value.message and ADDRS[USER_I].hex() in refused.value.message
    allowed = transfer(sc, ADMIN_I)
    pool.add(allowed, len(allowed.encode()), AccountReader(sc.chain.state_at()), sc.chain.next_base_fee(), 0)


def test_a_revoke_drops_the_accounts_pooled_transactions_at_the_next_recheck() -> None:
    sc = chain(transact=True, deploy=True)
    assert set_role(sc, ADMIN_I, TRANSACT, ADDRS[USER_I], ENABLED).ok
    assert set_role(sc, ADMIN_I, DEPLOY, ADDRS[OTHER_I], ENABLED).ok
    assert set_role(sc, ADMIN_I, TRANSACT, ADDRS[OTHER_I], ENABLED).ok
    pool = Mempool(CHAIN_ID, MempoolConfig())
    pooled = [transfer(sc, USER_I), transfer(sc, USER_I), creation(sc, OTHER_I), transfer(sc, OTHER_I)]
    for tx in pooled:
        pool.add(tx, len(tx.encode()), AccountReader(sc.chain.state_at()), sc.chain.next_base_fee(), 0)
    sc.block([sc.tx(ADMIN_I, calldata("setRole", int(TRANSACT), ADDRS[USER_I], 0), to=PERMISSIONS_ADDRESS),
              sc.tx(ADMIN_I, calldata("setRole", int(DEPLOY), ADDRS[OTHER_I], 0), to=PERMISSIONS_ADDRESS)])
    removed = pool.recheck(AccountReader(sc.chain.state_at()), sc.chain.next_base_fee(), 0)
    assert {r.tx_hash for r in removed} == {pooled[0].hash, pooled[1].hash, pooled[2].hash}
    assert {r.reason for r in removed} == {RemovalReason.FORBIDDEN}
    # OTHER_I may still transact: its transfer stays, though after the dropped creation it waits on a nonce gap
    assert pooled[3].hash in pool


def test_a_block_built_by_a_tampered_proposer_is_invalid_for_every_validator(monkeypatch) -> None:
    sc = chain(transact=True)
    honest = PlumeChain(AtomicDB(), sc.genesis)  # a second validator, same genesis, own database
    tx = transfer(sc, USER_I)
    with monkeypatch.context() as patched:  # the tampered proposer skips the rule
        patched.setattr(vm_module, "permission_denied", lambda *args: None)
        forged = build(sc, [tx])
    assert forged.included == (tx,)
    with pytest.raises(InvalidBlock, match="permission denied: 0x" + ADDRS[USER_I].hex()):
        honest.validate_block(forged.block)
    honest.validate_block(build(sc, []).block)  # the same validator takes an honest block


def test_a_grant_applies_to_later_transactions_of_the_same_block() -> None:
    sc = chain(transact=True)
    grant = sc.tx(ADMIN_I, calldata("setRole", 0, ADDRS[USER_I], 1), to=PERMISSIONS_ADDRESS)
    spend = transfer(sc, USER_I)
    result = build(sc, [spend, grant])  # before the grant: left out
    assert result.included == (grant,) and "permission denied" in result.rejected[0][1]
    sc.nonces[ADMIN_I] -= 1
    sc.nonces[USER_I] -= 1
    grant, spend = sc.tx(ADMIN_I, grant.data, to=PERMISSIONS_ADDRESS), transfer(sc, USER_I)
    result = build(sc, [grant, spend])  # after it, in the same block: included
    assert result.included == (grant, spend)
    sc.chain.commit(result.block)
    revoke = sc.tx(ADMIN_I, calldata("setRole", 0, ADDRS[USER_I], 0), to=PERMISSIONS_ADDRESS)
    sc.block([revoke])
    assert isinstance(_invalid_reason(sc, transfer(sc, USER_I)), str)


def creation(sc: StakingChain, who: int):
    """A contract creation with empty initcode, signed by ``who``."""
    fields = dict(type=2, nonce=sc.nonces[who], gas=100_000, value=0, chainId=CHAIN_ID, data=b"",
                  maxFeePerGas=100 * 10**9, maxPriorityFeePerGas=10**9)
    sc.nonces[who] += 1
    return decode_transaction(bytes(Account.sign_transaction(fields, KEYS[who]).raw_transaction))


def _invalid_reason(sc: StakingChain, tx) -> str | None:
    result = build(sc, [tx])
    return result.rejected[0][1] if result.rejected else None


def test_the_deploy_list_refuses_creations_top_level_and_nested() -> None:
    sc = chain(deploy=True)
    create = creation(sc, USER_I)
    assert "deploy list" in _invalid_reason(sc, create)
    sc.nonces[USER_I] -= 1
    sc.block([creation(sc, ADMIN_I)])  # an admin deploys
    out = sc.raw(USER_I, b"", to=FACTORY_ADDRESS, gas=1_000_000)  # a factory's CREATE, origin not listed
    assert out.ok and sc.chain.state_at().storage(FACTORY_ADDRESS, 0) == 0  # the create failed
    out = sc.raw(ADMIN_I, b"", to=FACTORY_ADDRESS, gas=1_000_000)
    assert out.ok and sc.chain.state_at().storage(FACTORY_ADDRESS, 0) != 0  # an admin's origin may
    assert sc.raw(USER_I, b"", to=COINBASE, gas=21_000).ok  # transfers are not the deploy list's business
    denied = PermissionDenied(DEPLOY, ADDRS[USER_I])
    assert denied.perm_list is DEPLOY and denied.account == ADDRS[USER_I]


def test_the_validator_list_guards_create_validator() -> None:
    sc = chain(validator=True)
    args = (consensus_key(7), "v7", 500, 1_000, 100)
    out = sc.refused(USER_I, "createValidator", *args, value=10 * PLUME, reason="not on the validator list")
    assert out.reason.startswith("0x" + ADDRS[USER_I].hex())
    assert set_role(sc, ADMIN_I, VALIDATOR, ADDRS[USER_I], ENABLED).ok
    assert sc.send(USER_I, "createValidator", *args, value=10 * PLUME).ok


# -- governance --------------------------------------------------------------------------


def test_governance_switches_a_list_and_sets_a_role() -> None:
    sc = chain()
    key = f"permissions.role.transact.0x{ADDRS[USER_I].hex()}"
    pid = propose(sc, 0, [change("permissions.transact", 1), change(key, int(ENABLED))])
    vote(sc, 0, pid, YES)
    vote(sc, 1, pid, YES)
    end_voting(sc, pid)
    assert view(sc, "isEnabled", 0) is True
    assert role(sc, TRANSACT, USER_I) == ENABLED
    events = [
        (log.topics[0], log.data) for n in range(1, sc.chain.height + 1)
        for log in sc.chain.get_system_logs_by_hash(sc.chain.get_header(n).hash) if log.address == PERMISSIONS_ADDRESS
    ]
    assert events == [
        (perm_abi.LIST_SWITCHED.topic0, encode(["bool"], [True])),
        (perm_abi.ROLE_SET.topic0, encode(["uint8", "address"], [int(ENABLED), GOVERNANCE_ADDRESS])),
    ]
    assert _invalid_reason(sc, transfer(sc, OTHER_I)) is not None  # the list is on now
    sc.nonces[OTHER_I] -= 1
    assert _invalid_reason(sc, transfer(sc, USER_I)) is None


@pytest.mark.parametrize(
    "key, value, reason",
    [
        ("permissions.transact", 2, "must be 0..1"),
        ("permissions.role.deploy.0x" + "ab" * 20, 4, "must be 0..3"),
        ("permissions.role.nolist.0x" + "ab" * 20, 1, "unknown permissions key"),
        ("permissions.role.deploy.0x1234", 1, "unknown permissions key"),
        ("permissions.everything", 1, "unknown permissions key"),
    ],
)
def test_governance_refuses_a_bad_permissions_key_at_submission(key, value, reason) -> None:
    sc = chain()
    raw = encode(["uint256"], [value])
    out = sc.gov_refused(0, "submitProposal", "t", "d", [(key, raw)], value=GOV.min_deposit, reason=reason)
    assert revert_reason(out.output)


def test_genesis_entries_are_bounded_and_checked() -> None:
    from staking.params import ParamError

    with pytest.raises(ParamError):
        PermissionsGenesis(roles=((TRANSACT, b"\x01", ADMIN),))
    with pytest.raises(ValueError):
        PermissionsGenesis(roles=((TRANSACT, ADDRS[0], 9),))
    from execution.genesis import GenesisError, GenesisState

    with pytest.raises(GenesisError, match="system address"):
        GenesisState(chain_id=1, timestamp=0, alloc={PERMISSIONS_ADDRESS: GenesisAccount(balance=1)})


# -- the chain stays governable (review finding: one admin could freeze it for good) --


def test_an_admin_cannot_freeze_the_chain_by_revoking_the_validators_then_itself() -> None:
    sc = chain(transact=True)
    assert set_role(sc, ADMIN_I, TRANSACT, ADDRS[MANAGER_I], MANAGER).ok
    for who in (ADMIN_I, MANAGER_I):  # the attack: take the voters' transact role away
        for operator in (0, 1):
            out = sc.refused_raw(who, calldata("setRole", int(TRANSACT), ADDRS[operator], int(NONE)),
                                 to=PERMISSIONS_ADDRESS, reason="active set")
            assert "keeps governance reachable" in out.reason
            assert role(sc, TRANSACT, operator) == ENABLED
    out = sc.refused_raw(ADMIN_I, calldata("setRole", int(TRANSACT), ADDRS[ADMIN_I], int(NONE)),
                         to=PERMISSIONS_ADDRESS, reason="last admin")
    assert role(sc, TRANSACT, ADMIN_I) == ADMIN
    assert transfer(sc, 0) is not None  # an operator still transacts, so a proposal can still be sent
    sc.block([])


def test_the_last_admin_can_step_down_once_another_admin_exists() -> None:
    sc = chain()
    assert set_role(sc, ADMIN_I, DEPLOY, ADDRS[USER_I], ADMIN).ok
    assert set_role(sc, ADMIN_I, DEPLOY, ADDRS[ADMIN_I], ENABLED).ok  # two admins: one may go
    sc.refused_raw(USER_I, calldata("setRole", int(DEPLOY), ADDRS[USER_I], int(NONE)),
                   to=PERMISSIONS_ADDRESS, reason="last admin")
    assert role(sc, DEPLOY, USER_I) == ADMIN


def test_governance_cannot_vote_away_an_active_operators_transact_role() -> None:
    sc = chain()
    key = f"permissions.role.transact.0x{ADDRS[1].hex()}"
    sc.gov_refused(0, "submitProposal", "t", "d", [(key, encode(["uint256"], [0]))],
                   value=GOV.min_deposit, reason="active set")


def test_a_nested_create_uses_the_deploy_verdict_of_the_transactions_start() -> None:
    sc = chain(deploy=True)
    assert set_role(sc, ADMIN_I, DEPLOY, GRANT_THEN_CREATE_ADDRESS, MANAGER).ok
    out = sc.raw(USER_I, b"", to=GRANT_THEN_CREATE_ADDRESS, gas=1_000_000)
    state = sc.chain.state_at()
    assert out.ok and state.storage(GRANT_THEN_CREATE_ADDRESS, 1) == 1  # the manager contract's grant went through
    assert role(sc, DEPLOY, USER_I) == ENABLED
    assert state.storage(GRANT_THEN_CREATE_ADDRESS, 0) == 0  # but the CREATE after it, in the same tx, failed
    out = sc.raw(USER_I, b"", to=FACTORY_ADDRESS, gas=1_000_000)  # the next transaction starts enabled
    assert out.ok and sc.chain.state_at().storage(FACTORY_ADDRESS, 0) != 0


def test_eth_call_and_estimate_of_a_creation_by_an_unlisted_deployer_say_why() -> None:
    sc = chain(deploy=True)
    expected = f"permission denied: 0x{ADDRS[USER_I].hex()} is not on the deploy list"
    for run in (sc.chain.call, sc.chain.estimate_gas):
        with pytest.raises(CallError) as caught:
            run({"from": ADDRS[USER_I], "data": b"\x00"})
        assert str(caught.value) == expected, run
    sc.chain.call({"from": ADDRS[ADMIN_I], "data": b"\x00"})  # a listed deployer's creation runs


def test_simulate_v1_with_validation_applies_the_permission_lists() -> None:
    from execution.budget import ExecutionBudget
    from execution.simulate import SimulatedBlockSpec, SimulationError, SimulationRule

    sc = chain(transact=True)

    def run(who: int, validation: bool):
        budget = ExecutionBudget.start(gas_cap=10**7, total_gas=10**8, timeout_s=30)
        spec = SimulatedBlockSpec(calls=({"from": ADDRS[who], "to": COINBASE, "value": 1},))
        return sc.chain.simulate((spec,), None, budget, validation=validation)

    with pytest.raises(SimulationError) as caught:
        run(USER_I, True)
    assert caught.value.rule is SimulationRule.PERMISSION_DENIED and "transact list" in str(caught.value)
    assert run(USER_I, False)  # without validation, as eth_call: not refused
    assert run(0, True)  # an enabled operator's call passes the rule


def test_the_recheck_reports_a_tx_mined_before_a_revoke_as_stale_not_forbidden() -> None:
    sc = chain(transact=True)
    assert set_role(sc, ADMIN_I, TRANSACT, ADDRS[USER_I], ENABLED).ok
    pool = Mempool(CHAIN_ID, MempoolConfig())
    mined, waiting = transfer(sc, USER_I), transfer(sc, USER_I)
    for tx in (mined, waiting):
        pool.add(tx, len(tx.encode()), AccountReader(sc.chain.state_at()), sc.chain.next_base_fee(), 0)
    sc.block([mined, sc.tx(ADMIN_I, calldata("setRole", int(TRANSACT), ADDRS[USER_I], 0), to=PERMISSIONS_ADDRESS)])
    removed = pool.recheck(AccountReader(sc.chain.state_at()), sc.chain.next_base_fee(), 0)
    assert {r.tx_hash: r.reason for r in removed} == {mined.hash: RemovalReason.STALE, waiting.hash: RemovalReason.FORBIDDEN}


def test_a_stored_role_out_of_range_reverts_cleanly_in_a_simulation() -> None:
    from execution.budget import ExecutionBudget
    from execution.simulate import AccountOverride, SimulatedBlockSpec
    from staking.store import slot

    sc = chain()
    bad = AccountOverride(PERMISSIONS_ADDRESS, state_diff=((slot("role", int(DEPLOY), ADDRS[USER_I]), 7),))
    calls = ({"from": ADDRS[ADMIN_I], "to": PERMISSIONS_ADDRESS, "data": calldata("roleOf", int(DEPLOY), ADDRS[USER_I])},
             {"from": ADDRS[ADMIN_I], "to": PERMISSIONS_ADDRESS,
              "data": calldata("setRole", int(DEPLOY), ADDRS[USER_I], int(NONE))})
    budget = ExecutionBudget.start(gas_cap=10**7, total_gas=10**8, timeout_s=30)
    (block,) = sc.chain.simulate((SimulatedBlockSpec(accounts=(bad,), calls=calls),), None, budget, validation=False)
    for call in block.calls:
        assert call.error is not None and "stored role 7" in revert_reason(call.error.revert_data), call

"""End to end: the RWA contracts from web3.py with the shipped artifacts, against a
real `plume-node` process (RPC, mempool, consensus, execution).

The issue's flows: an issuer creates an asset token through the factory,
verifies two holders and transfers to them; a transfer to an unverified
address is refused with its custom error; freezing and a forced transfer
work. A milestone vault with three verifiers and quorum two: backers deposit,
one EIP-712 attestation releases nothing, two release exactly the milestone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from contracts import load_artifact
from eth._utils.address import generate_contract_address
from eth_account import Account
from eth_utils import keccak
from rwa_fixtures import attestation
from waiting import wait_until
from web3 import Web3
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD  # a receipt also holds the other contracts' logs
from web3.providers import HTTPProvider

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from e2e_node import CHAIN_ID, RunningNode, start_node  # noqa: E402

pytestmark = pytest.mark.slow
PLUME = 10**18
DEPOSIT_WINDOW_S = 12  # from the vault's creation; only the deposit must land in it


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> RunningNode:
    running = start_node(tmp_path_factory.mktemp("rwa-web3"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def w3(node) -> Web3:
    return Web3(HTTPProvider(node.rpc_url, request_kwargs={"timeout": 30}))


def send(w3: Web3, account, tx: dict) -> dict:
    """Sign and send ``tx`` (which has its gas) from ``account``; wait for a successful receipt."""
    tx = {**tx, "chainId": CHAIN_ID, "nonce": w3.eth.get_transaction_count(account.address, "pending"),
          "maxFeePerGas": 50 * 10**9, "maxPriorityFeePerGas": 10**9}
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction), timeout=60, poll_latency=0.2)
    assert receipt["status"] == 1, receipt
    return receipt


def transact(w3: Web3, account, call, value: int = 0) -> dict:
    """A contract call (or constructor) as a transaction, its gas estimated by the node."""
    built = call.build_transaction({"from": account.address, "value": value})
    return send(w3, account, {k: built[k] for k in ("to", "data", "value", "gas") if k in built})


def deploy(w3: Web3, account, name: str, *args):
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = transact(w3, account, factory.constructor(*args))
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


def created(w3: Web3, factory, receipt, name: str):
    (event,) = factory.events.Created().process_receipt(receipt, errors=DISCARD)
    return w3.eth.contract(address=event.args.asset, abi=load_artifact(name)["abi"])


def funded(w3: Web3, node: RunningNode, amount: int):
    account = Account.create()
    send(w3, node.operator(), {"to": account.address, "value": amount, "gas": 21_000})
    return account


def custom_error(excinfo) -> bytes:
    data = excinfo.value.data
    return bytes.fromhex(data[2:10]) if isinstance(data, str) else bytes(data[:4])


def test_asset_token_flow_from_web3(w3, node) -> None:
    issuer = node.operator()
    alice, bob = funded(w3, node, 5 * PLUME), funded(w3, node, 5 * PLUME)
    stranger = Account.create()
    factory = deploy(w3, issuer, "AssetTokenFactory")
    token = created(w3, factory, transact(w3, issuer, factory.functions.createAssetToken("Solar Co-op", "SUN")),
                    "AssetToken")
    assert factory.functions.createdBy(issuer.address, 0, 10).call() == [token.address]
    for who, country in ((issuer, 276), (alice, 276), (bob, 250)):
        transact(w3, issuer, token.functions.registerIdentity(who.address, country))
    transact(w3, issuer, token.functions.mint(issuer.address, 1_000))
    transact(w3, issuer, token.functions.transfer(alice.address, 300))
    transact(w3, issuer, token.functions.transfer(bob.address, 200))
    assert [token.functions.balanceOf(a.address).call() for a in (issuer, alice, bob)] == [500, 300, 200]

    with pytest.raises(ContractCustomError) as refused:
        token.functions.transfer(stranger.address, 1).call({"from": alice.address})
    assert custom_error(refused) == keccak(b"ReceiverNotVerified(address)")[:4]

    transact(w3, issuer, token.functions.setAddressFrozen(alice.address, True))
    with pytest.raises(ContractCustomError) as frozen:
        token.functions.transfer(bob.address, 1).call({"from": alice.address})
    assert custom_error(frozen) == keccak(b"SenderFrozen(address)")[:4]
    receipt = transact(w3, issuer, token.functions.forcedTransfer(alice.address, bob.address, 100))
    (forced,) = token.events.ForcedTransfer().process_receipt(receipt, errors=DISCARD)
    assert forced.args.amount == 100
    assert token.functions.balanceOf(bob.address).call() == 300


def test_milestone_vault_flow_from_web3(w3, node) -> None:
    issuer = node.operator()
    backer, recipient = funded(w3, node, 5 * PLUME), Account.create()
    verifier_keys = [keccak(b"rwa-web3-verifier-%d" % i) for i in range(3)]
    verifiers = [Account.from_key(k).address for k in verifier_keys]
    asset = deploy(w3, issuer, "TestToken", "Dollar", "USD")
    transact(w3, backer, asset.functions.mint(backer.address, 1_000 * PLUME))
    factory = deploy(w3, issuer, "MilestoneVaultFactory")
    # approve the vault before it exists (its address: the factory's first CREATE, nonce 1),
    # so the deposit is the only transaction that must be mined before the deadline
    predicted = Web3.to_checksum_address(generate_contract_address(bytes.fromhex(factory.address[2:]), 1))
    transact(w3, backer, asset.functions.approve(predicted, 2**256 - 1))
    now = w3.eth.get_block("latest")["timestamp"]
    deposit_deadline = now + DEPOSIT_WINDOW_S
    milestones = [(100 * PLUME, 0, recipient.address, deposit_deadline + 600),
                  (200 * PLUME, 0, recipient.address, deposit_deadline + 1200)]
    receipt = transact(w3, issuer, factory.functions.createMilestoneVault(
        asset.address, "School", "SCH", deposit_deadline, verifiers, 2, milestones))
    vault = created(w3, factory, receipt, "MilestoneVault")
    assert vault.address == predicted
    transact(w3, backer, vault.functions.deposit(500 * PLUME, backer.address))
    wait_until(lambda: w3.eth.get_block("latest")["timestamp"] > deposit_deadline, timeout=60,
               what="the deposit deadline to pass")

    evidence = b"\x42" * 32
    vault_address = bytes.fromhex(vault.address[2:])
    first = attestation(vault_address, 0, evidence, verifier_keys[0], chain_id=CHAIN_ID)
    transact(w3, backer, vault.functions.attest(0, evidence, first))
    assert asset.functions.balanceOf(recipient.address).call() == 0
    with pytest.raises(ContractCustomError) as replay:
        vault.functions.attest(0, evidence, first).call({"from": backer.address})
    assert custom_error(replay) == keccak(b"AlreadyAttested(uint256,address)")[:4]
    second = attestation(vault_address, 0, evidence, verifier_keys[2], chain_id=CHAIN_ID)
    receipt = transact(w3, backer, vault.functions.attest(0, evidence, second))
    (released,) = vault.events.MilestoneReleased().process_receipt(receipt, errors=DISCARD)
    assert released.args.amount == 100 * PLUME
    assert asset.functions.balanceOf(recipient.address).call() == 100 * PLUME

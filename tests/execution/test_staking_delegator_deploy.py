"""The compiled StakingDelegator fixture deploys on py-evm and its views answer.

Only what needs no staking contract: the creation transaction succeeds, the
code left on chain is the artifact's runtime code with the validator filled
in, and the views read the constructor's state. Deposits and withdrawals call
the staking precompile and are tested with it.
"""

from __future__ import annotations

from contracts import deployed_code, load_artifact
from eth._utils.address import generate_contract_address
from eth_abi import decode, encode
from eth_utils import function_abi_to_4byte_selector, to_checksum_address

from execution.chain import PlumeChain
from plume_exec_helpers import ADDRS, build_and_commit, transfer

STAKING_ADDRESS = bytes.fromhex("0000000000000000000000000000000000001000")
DEPLOY_GAS = 2_000_000
RECEIPT_SUCCESS = b"\x01"


def calldata(abi: list[dict], name: str, *args) -> bytes:
    (entry,) = [e for e in abi if e.get("type") == "function" and e["name"] == name]
    types = [i["type"] for i in entry["inputs"]]
    return function_abi_to_4byte_selector(entry) + encode(types, list(args))


def view(chain: PlumeChain, abi: list[dict], address: bytes, name: str, *args) -> tuple:
    (entry,) = [e for e in abi if e.get("type") == "function" and e["name"] == name]
    out = chain.call({"from": ADDRS[2], "to": address, "data": calldata(abi, name, *args)})
    return decode([o["type"] for o in entry["outputs"]], out)


def deploy(chain: PlumeChain, artifact: dict, validator: bytes) -> bytes:
    init = bytes.fromhex(artifact["bytecode"][2:]) + encode(["address"], [to_checksum_address(validator)])
    tx = transfer(0, 0, to=b"", value=0, gas=DEPLOY_GAS, data=init)
    result = build_and_commit(chain, [tx])
    assert result.included == (tx,), result.rejected or result.failed
    (receipt,) = chain.get_receipts(chain.height)
    assert receipt.state_root == RECEIPT_SUCCESS, "the constructor reverted"
    return generate_contract_address(ADDRS[0], 0)


def test_staking_delegator_deploys_and_its_views_read_its_state(mem_chain: PlumeChain) -> None:
    artifact = load_artifact("StakingDelegator")
    abi = artifact["abi"]
    validator = ADDRS[1]
    address = deploy(mem_chain, artifact, validator)

    (validator_ref,) = artifact["immutableReferences"]  # the one immutable: validator
    expected = deployed_code(artifact, {validator_ref: validator.rjust(32, b"\x00")})
    assert mem_chain.state_at().code(address) == expected

    assert view(mem_chain, abi, address, "validator") == (to_checksum_address(validator).lower(),)
    assert view(mem_chain, abi, address, "STAKING") == ("0x" + STAKING_ADDRESS.hex(),)
    for depositor in (ADDRS[0], ADDRS[2]):
        assert view(mem_chain, abi, address, "deposited", depositor) == (0,)
        assert view(mem_chain, abi, address, "pending", depositor) == (0, 0)

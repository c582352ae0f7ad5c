"""The report's permission changes: RoleSet / ListSwitched logs decoded, bounded, rendered escaped.

The end-to-end path (a real node's eth_getLogs, the CLI, the HTML read with
a parser) is in tests/network/test_permissions_devnet.py; here the decoding
and the bounds, with the logs a node would return built from the ABI.
"""

from __future__ import annotations

import pytest

from plume_node.compliance import permissions_report as pr
from staking.abi import event_log
from staking.addresses import GOVERNANCE_ADDRESS
from staking.permissions import abi as perm_abi

ACCOUNT = bytes.fromhex("70997970c51812dc3a010c7d01b50e0d17dc79c8")


def rpc_log(event, indexed, data, block=7, tx="0x" + "ab" * 32) -> dict:
    topics, payload = event_log(event, indexed, data)
    return {"topics": ["0x" + t.to_bytes(32, "big").hex() for t in topics], "data": "0x" + payload.hex(),
            "blockNumber": hex(block), "transactionHash": tx}


def test_role_set_and_list_switched_decode() -> None:
    role = pr.decode_change(rpc_log(perm_abi.ROLE_SET, (2, ACCOUNT), (3, GOVERNANCE_ADDRESS)))
    assert role == {"blockNumber": 7, "transactionHash": "0x" + "ab" * 32, "event": "RoleSet", "list": "validator",
                    "account": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "role": "admin",
                    "by": "0x0000000000000000000000000000000000001001"}
    switched = pr.decode_change(rpc_log(perm_abi.LIST_SWITCHED, (0,), (True,), tx=None))
    assert switched == {"blockNumber": 7, "transactionHash": None, "event": "ListSwitched", "list": "transact", "on": True}


@pytest.mark.parametrize("mangle", [
    lambda log: {**log, "topics": log["topics"][:1]},
    lambda log: {**log, "topics": ["0x" + "00" * 32] + log["topics"][1:]},
    lambda log: {**log, "data": "0x12"},
    lambda log: {**log, "topics": [log["topics"][0], "0x" + "00" * 31 + "09", log["topics"][2]]},
])
def test_a_malformed_log_is_a_clear_error(mangle) -> None:
    with pytest.raises(pr.PermissionLogError, match="malformed permissions log"):
        pr.decode_change(mangle(rpc_log(perm_abi.ROLE_SET, (0, ACCOUNT), (1, ACCOUNT))))


def test_the_range_is_read_in_chunks_and_the_count_is_bounded(monkeypatch) -> None:
    asked = []

    def call(method, query):
        asked.append((int(query["fromBlock"], 16), int(query["toBlock"], 16)))
        return [rpc_log(perm_abi.ROLE_SET, (0, ACCOUNT), (1, ACCOUNT))]

    changes = pr.collect_permission_changes(call, 1, 2_500)
    assert asked == [(1, 1_000), (1_001, 2_000), (2_001, 2_500)] and len(changes) == 3
    monkeypatch.setattr(pr, "MAX_PERMISSION_CHANGES", 2)
    with pytest.raises(pr.PermissionLogError, match="more than 2 permission changes"):
        pr.collect_permission_changes(call, 1, 2_500)


def test_the_table_escapes_what_the_node_sent() -> None:
    page = pr.permissions_html([{"blockNumber": 1, "event": "RoleSet", "list": "transact",
                                 "account": "<script>x</script>", "role": "enabled", "by": "0x1", "transactionHash": None}])
    assert "<script>" not in page and "&lt;script&gt;" in page and 'id="permission-changes"' in page

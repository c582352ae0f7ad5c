"""The permission changes of a report's range: RoleSet and ListSwitched logs of 0x…1003.

Read with ``eth_getLogs`` (system logs of governance included) in chunks of
``LOGS_CHUNK_BLOCKS`` blocks; at most ``MAX_PERMISSION_CHANGES`` changes per
report (a longer list asks for a shorter range). Each change is a JSON-able
dict; ``permissions_html`` renders them as one more table of the page.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from eth_abi import decode
from eth_abi.exceptions import DecodingError
from eth_utils import to_checksum_address

from plume_node.errors import UserError
from staking.addresses import PERMISSIONS_ADDRESS
from staking.permissions import abi as perm_abi
from staking.permissions.roles import LIST_NAMES, ROLE_NAMES, PermList, Role

LOGS_CHUNK_BLOCKS = 1_000
MAX_PERMISSION_CHANGES = 10_000
_TOPICS = {"0x" + e.topic0.to_bytes(32, "big").hex(): e for e in perm_abi.EVENTS}


class PermissionLogError(UserError):
    """A node answer to eth_getLogs that is not a permissions log."""


def _word(topic: str) -> int:
    return int(topic, 16)


def decode_change(log: dict) -> dict[str, Any]:
    """One RoleSet / ListSwitched log as a change: block, transaction, event, list, and its fields."""
    try:
        event = _TOPICS[log["topics"][0]]
        list_id = PermList(_word(log["topics"][1]))
        data = bytes.fromhex(log["data"][2:])
        change: dict[str, Any] = {
            "blockNumber": int(log["blockNumber"], 16),
            "transactionHash": log.get("transactionHash"),
            "event": event.name,
            "list": LIST_NAMES[list_id],
        }
        if event is perm_abi.ROLE_SET:
            role, by = decode(list(event.data), data)
            change.update(account=to_checksum_address(_word(log["topics"][2]).to_bytes(32, "big")[12:]),
                          role=ROLE_NAMES[Role(role)], by=to_checksum_address(by))
        else:
            (on,) = decode(list(event.data), data)
            change.update(on=bool(on))
        return change
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, DecodingError) as exc:
        raise PermissionLogError(f"the node's eth_getLogs answer holds a malformed permissions log ({type(exc).__name__})") from None


def collect_permission_changes(call: Callable[..., Any], first: int, last: int) -> list[dict[str, Any]]:
    """Every permission change in blocks first..last, in chain order."""
    topics = [list(_TOPICS)]
    changes: list[dict[str, Any]] = []
    for start in range(first, last + 1, LOGS_CHUNK_BLOCKS):
        end = min(last, start + LOGS_CHUNK_BLOCKS - 1)
        logs = call("eth_getLogs", {"fromBlock": hex(start), "toBlock": hex(end),
                                    "address": to_checksum_address(PERMISSIONS_ADDRESS), "topics": topics})
        if not isinstance(logs, list):
            raise PermissionLogError("the node's eth_getLogs answer is not a list")
        changes.extend(decode_change(log) for log in logs)
        if len(changes) > MAX_PERMISSION_CHANGES:
            raise PermissionLogError(f"more than {MAX_PERMISSION_CHANGES} permission changes in the range; report a shorter one")
    return changes


def permissions_html(changes: list[dict[str, Any]]) -> str:
    """The changes as an HTML table (id ``permission-changes``), every value escaped."""
    def cell(value: Any) -> str:
        return f"<td>{html.escape('' if value is None else str(value), quote=True)}</td>"

    headers = ("block", "event", "list", "account", "role", "on", "by", "transaction")
    rows = "".join(
        "<tr>" + "".join(cell(c.get(k)) for k in ("blockNumber", "event", "list", "account", "role", "on", "by",
                                                   "transactionHash")) + "</tr>"
        for c in changes
    )
    head = "".join(f"<th>{h}</th>" for h in headers)
    return (f'<table id="permission-changes"><caption>Permission changes (0x…1003)</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")

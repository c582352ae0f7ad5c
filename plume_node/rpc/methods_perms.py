"""plume_getPermissions: one account's standing on the permission lists (0x…1003) at a block.

Answer: ``{"blockNumber", "address", "lists": {"transact"|"deploy"|"validator":
{"on": bool, "role": "none"|"enabled"|"manager"|"admin", "allowed": bool}}}``;
``allowed`` is whether the account may do what the list guards at that block
(the list is off, or it holds a role).
"""

from __future__ import annotations

from typing import Any

from staking.permissions.roles import LIST_NAMES, ROLE_NAMES
from staking.permissions.views import standing

from plume_node.rpc import params as p
from plume_node.rpc.chainview import ChainView
from plume_node.rpc.dispatch import MethodTable, Param
from plume_node.rpc.encode import addr, q
from plume_node.rpc.workers import OffThread, ReadContext

table = MethodTable()
_LATEST = p.BlockRef(tag="latest")


def _permissions(ctx: ReadContext, account: bytes, ref: p.BlockRef) -> dict[str, Any]:
    at = ChainView(ctx.chain, ctx.budget).block_state_at(ref)
    return {
        "blockNumber": q(at.number),
        "address": addr(account),
        "lists": {
            LIST_NAMES[s.perm_list]: {"on": s.on, "role": ROLE_NAMES[s.role], "allowed": s.allowed}
            for s in standing(at.state, account)
        },
    }


@table.register("plume_getPermissions", Param("address", p.address), Param("block", p.block_ref, _LATEST))
def plume_get_permissions(backend: Any, account: bytes, ref: p.BlockRef) -> OffThread:
    """The account's role on each permission list, whether each list is on, and whether it may act."""
    return OffThread(lambda ctx: _permissions(ctx, account, ref))

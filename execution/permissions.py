"""The permission lists' rule on a whole transaction, shared by block execution and the mempool.

The roles live in the permissions contract's storage (``staking/permissions/``);
this reads them from whatever state the caller has (the state a transaction
starts on, in a block; the head state, in the mempool).
"""

from __future__ import annotations

from collections.abc import Callable

from execution.errors import PermissionDenied
from staking.permissions.roles import PermList, state_may_use


def permission_denied(get_storage: Callable[[bytes, int], int], sender: bytes, creates: bool) -> PermissionDenied | None:
    """Why the lists forbid ``sender`` this transaction (``creates``: a contract creation), or None."""
    if not state_may_use(get_storage, PermList.TRANSACT, sender):
        return PermissionDenied(PermList.TRANSACT, sender)
    if creates and not state_may_use(get_storage, PermList.DEPLOY, sender):
        return PermissionDenied(PermList.DEPLOY, sender)
    return None

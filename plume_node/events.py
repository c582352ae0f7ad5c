"""`ChainEvents`: the node tells whoever listens that blocks were committed or
transactions entered the mempool, and (the compliance service) fund flows
and alerts.

The publishers are the consensus driver's commit hook and the mempool
admission (`Node.accept_transaction`); the listeners (the WebSocket
subscriptions of the RPC server) must return at once without blocking: they
only note the event (a `send_nowait` or an integer) and do their work in
their own task. A listener that raises is logged and skipped, so a listener's
bug never reaches consensus or the transaction path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from enum import Enum

log = logging.getLogger("plume.events")


class PlumeKind(Enum):
    """The compliance service's notifications (plume_subscribe kinds, docs/compliance.md)."""

    ALERTS = "alerts"
    FUND_FLOWS = "fundFlows"


# `make_results()` builds the notifications' `result` JSON texts (called only if someone wants them).
ComplianceListener = Callable[[PlumeKind, Callable[[], Sequence[str]]], None]


class ChainEvents:
    def __init__(self) -> None:
        self._on_commit: list[Callable[[int], None]] = []
        self._on_pending: list[Callable[[bytes], None]] = []
        self._on_compliance: list[ComplianceListener] = []
        self._compliance_wanted: list[Callable[[PlumeKind], bool]] = []

    def listen(
        self, *, on_commit: Callable[[int], None] | None = None, on_pending: Callable[[bytes], None] | None = None
    ) -> None:
        """Register non-blocking callbacks: `on_commit(height)` once the chain
        head is `height` (heights may be skipped: a block-sync batch commits
        several at once), `on_pending(tx_hash)` for each transaction the
        mempool accepted."""
        if on_commit is not None:
            self._on_commit.append(on_commit)
        if on_pending is not None:
            self._on_pending.append(on_pending)

    def listen_compliance(self, callback: ComplianceListener, wanted: Callable[[PlumeKind], bool]) -> None:
        """`callback(kind, make_results)` once per block and kind with that block's compliance
        notifications; `wanted(kind)` says whether anyone listens for that kind now (the
        service then skips building them, or even following the chain)."""
        self._on_compliance.append(callback)
        self._compliance_wanted.append(wanted)

    def compliance_wanted(self, kind: PlumeKind) -> bool:
        for wanted in self._compliance_wanted:
            try:
                if wanted(kind):
                    return True
            except Exception:
                log.exception("compliance event listener %r failed", wanted)
        return False

    def compliance(self, kind: PlumeKind, make_results: Callable[[], Sequence[str]]) -> None:
        for callback in self._on_compliance:
            try:
                callback(kind, make_results)
            except Exception:
                log.exception("compliance event listener %r failed", callback)

    def committed(self, height: int) -> None:
        for callback in self._on_commit:
            _call(callback, height)

    def pending(self, tx_hash: bytes) -> None:
        for callback in self._on_pending:
            _call(callback, tx_hash)


def _call(callback: Callable, value: object) -> None:
    try:
        callback(value)
    except Exception:  # a listener's bug: the publisher (consensus, the mempool path) goes on
        log.exception("chain event listener %r failed", callback)


__all__ = ["ChainEvents", "PlumeKind"]

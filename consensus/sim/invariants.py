"""The safety and liveness properties a run must keep, checked as it goes.

- agreement: no two honest nodes commit different blocks at one height;
- validity: every committed block passes the application's validation;
- certificate: every commit carries a certificate for that height and block
  that verifies against the height's validator set (+2/3 valid precommits);
- progress (checked at the end, only when the network heals): every honest
  node that is up reaches the target height.

Commits are checked the moment they happen (the simulator calls `on_commit`
from inside the step that produced them), so a violation names the first
step that broke a property. Nodes running a Byzantine behaviour, including
both copies of a twinned validator, are not held to agreement, but their
commits must still be valid and certified. (The simulator holds every node
to agreement, twins included, while Byzantine power stays below 1/3: then
no two certified commits may conflict, whoever made them.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consensus.sim.app import validation_error


class InvariantChecker:
    def __init__(
        self, chain_id: bytes, validator_set: Callable[[int], Any], honest: frozenset[str],
        agreeing: frozenset[str] | None = None,
    ) -> None:
        """`honest`: the honest nodes; `agreeing`: the nodes held to agreement
        (the honest ones unless told otherwise)."""
        self._chain_id = chain_id
        self._validator_set = validator_set
        self._honest = honest
        self._agreeing = honest if agreeing is None else agreeing
        self.violations: list[str] = []
        self.agreement = True
        self.max_round = 0
        # height -> (block hash, first honest node that committed it)
        self._decided: dict[int, tuple[bytes, str]] = {}
        self._last_height: dict[str, int] = {}
        # Precommits whose signatures a verified certificate already covered.
        self._verified_votes: set[Any] = set()

    def _violate(self, text: str) -> None:
        if text not in self.violations:
            self.violations.append(text)

    def on_commit(
        self, node: str, now_ms: int, height: int, block_hash: bytes, block: bytes, certificate: Any,
        already_synced: bool = False,
    ) -> None:
        """Check one commit. `already_synced`: the engine decided a height the
        node had already committed through block sync; it must agree with it."""
        at = f"t={now_ms}ms node {node} height {height}"
        last = self._last_height.get(node, 0)
        if already_synced:
            if height > last:
                self._violate(f"{at}: engine decided height {height}, reported as synced, above {last}")
        elif height != last + 1:
            self._violate(f"{at}: committed height {height} right after height {last}")
        self._last_height[node] = max(last, height)

        reason = validation_error(height, block_hash, block)
        if reason:
            self._violate(f"validity: {at}: committed block {block_hash.hex()[:16]} that fails validation ({reason})")

        self._check_certificate(at, height, block_hash, certificate)

        if node in self._honest:
            self.max_round = max(self.max_round, int(certificate.round))
        if node in self._agreeing:
            first = self._decided.setdefault(height, (block_hash, node))
            if first[0] != block_hash:
                self.agreement = False
                self._violate(
                    f"agreement: {at}: committed {block_hash.hex()[:16]} but node {first[1]} "
                    f"committed {first[0].hex()[:16]}"
                )

    def local_conflict(self, node: str, now_ms: int, height: int, synced: bytes, decided: bytes, honest: bool) -> None:
        """A node's engine decided another block than the one it synced at that height."""
        if honest:
            self.agreement = False
            self._violate(
                f"agreement: t={now_ms}ms node {node} height {height}: synced {synced.hex()[:16]} "
                f"but its engine decided {decided.hex()[:16]}"
            )

    def _check_certificate(self, at: str, height: int, block_hash: bytes, certificate: Any) -> None:
        if certificate is None:
            self._violate(f"certificate: {at}: commit without a certificate")
            return
        if certificate.height != height or certificate.block_hash != block_hash:
            self._violate(
                f"certificate: {at}: certificate is for height {certificate.height} "
                f"block {bytes(certificate.block_hash).hex()[:16]}"
            )
            return
        vset = self._validator_set(height)
        if self._known_good(certificate, vset):
            return
        try:
            certificate.verify(vset, self._chain_id)
        except Exception as exc:  # any failure, also an unexpected one, is a finding
            self._violate(f"certificate: {at}: certificate does not verify: {type(exc).__name__}: {exc}")
            return
        self._verified_votes.update(certificate.precommits)

    def _known_good(self, certificate: Any, vset: Any) -> bool:
        """True if every precommit's signature was already checked (in an
        earlier certificate) and the certificate is otherwise well formed with
        a quorum. Nodes commit the same block with different subsets of the
        same precommits; re-verifying each signature for each node would be
        most of the simulator's own cost. Anything new goes to the real
        `verify`, which stays the authority."""
        seen: set[bytes] = set()
        power = 0
        for vote in certificate.precommits:
            if vote not in self._verified_votes or vote.validator in seen:
                return False
            if (vote.height, vote.round, vote.block_hash) != (certificate.height, certificate.round, certificate.block_hash):
                return False
            validator = vset.get(vote.validator)
            if validator is None:
                return False
            seen.add(vote.validator)
            power += validator.power
        return power >= vset.quorum_power

    def check_progress(self, target: int, heights: dict[str, int], live_honest: list[str], sim_ms: int) -> None:
        for node in live_honest:
            if heights.get(node, 0) < target:
                self._violate(
                    f"progress: node {node} reached height {heights.get(node, 0)} of {target} by t={sim_ms}ms"
                )

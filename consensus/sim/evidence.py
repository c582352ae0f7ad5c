"""Proof of double-signing, from the engines and from watching the wire.

Two sources feed it: the `EvidenceFound` actions honest engines return, and
the simulator's own view of every vote any node sends (it sees all messages,
like an omniscient observer, so it catches an equivocator even when no single
honest node saw both of its votes). Every piece of evidence is verified
against the validator set of its height before its validator is counted as
proven; unverifiable evidence is recorded as a violation of the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consensus.messages import DuplicateVoteEvidence, Vote


class EvidencePool:
    def __init__(self, chain_id: bytes, validator_set: Callable[[int], Any]) -> None:
        self._chain_id = chain_id
        self._validator_set = validator_set
        self.proven: set[bytes] = set()
        self.bad: list[str] = []
        # (validator, height, round, type) -> the first vote seen with that key
        self._first_vote: dict[tuple[bytes, int, int, int], Vote] = {}
        # Conflicting pairs already turned into evidence (by key and the two hashes)
        self._done: set[tuple[bytes, int, int, int, bytes, bytes]] = set()

    def observe_vote(self, vote: Vote) -> None:
        key = (bytes(vote.validator), vote.height, vote.round, int(vote.type))
        first = self._first_vote.setdefault(key, vote)
        if first.block_hash == vote.block_hash:
            return
        pair = key + tuple(sorted((bytes(first.block_hash), bytes(vote.block_hash))))
        if pair in self._done:
            return
        self._done.add(pair)  # type: ignore[arg-type]
        evidence = DuplicateVoteEvidence.from_votes(first, vote)
        self.add(evidence, source="observed on the wire")

    def add(self, evidence: DuplicateVoteEvidence, source: str = "engine") -> None:
        validator = bytes(evidence.vote_a.validator)
        if validator in self.proven:
            return
        try:
            evidence.verify(self._validator_set(evidence.vote_a.height), self._chain_id)
        except Exception as exc:
            self.bad.append(f"evidence ({source}) against {validator.hex()} does not verify: {type(exc).__name__}: {exc}")
            return
        self.proven.add(validator)

    def addresses(self) -> tuple[str, ...]:
        return tuple(sorted(a.hex() for a in self.proven))

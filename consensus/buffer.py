"""Bounded buffer of messages for the next height, replayed by start_height.

Votes and proposals for height+1 arrive while we are still finishing height
(a faster peer committed first). They are kept, within per-sender caps so a
Byzantine validator cannot fill memory or crowd out others, and replayed when
the engine reaches that height. Senders in the current validator set are
checked against their key first (an address pins its key), so nobody can
spend another validator's quota with forged messages; senders we cannot check
yet share one small pool. Proposals carry blocks, so bytes are capped too:
the whole buffer, and the unknown senders' pool within it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .messages import Proposal, Vote, payload_digest

MAX_VOTES_PER_SENDER = 16
MAX_PROPOSALS_PER_SENDER = 2
MAX_UNKNOWN_VOTES = 64
MAX_UNKNOWN_PROPOSALS = 4
# Bytes (encoded message plus block) held at once; a proposal's block can be
# as large as a p2p message (8 MiB by default), and what does not fit is
# re-sent by catch-up gossip once we reach that height.
MAX_BUFFER_BYTES = 64 * 1024 * 1024
MAX_UNKNOWN_BYTES = 16 * 1024 * 1024
# Copies of one proposal with different block bytes (its signature covers only
# the hash, so anyone can pair it with junk): kept up to this many per
# proposal, outside its sender's proposal cap, so junk that arrives first
# cannot crowd out the real bytes; all are judged in turn at the height.
MAX_PAYLOADS_PER_PROPOSAL = 3

BufferedItem = tuple[Vote | Proposal, bytes | None]


@dataclass
class FutureBuffer:
    height: int = -1
    max_votes_per_sender: int = MAX_VOTES_PER_SENDER
    max_proposals_per_sender: int = MAX_PROPOSALS_PER_SENDER
    max_unknown_votes: int = MAX_UNKNOWN_VOTES
    max_unknown_proposals: int = MAX_UNKNOWN_PROPOSALS
    max_bytes: int = MAX_BUFFER_BYTES
    max_unknown_bytes: int = MAX_UNKNOWN_BYTES
    max_payloads_per_proposal: int = MAX_PAYLOADS_PER_PROPOSAL
    _bytes: int = 0
    _unknown_bytes: int = 0
    _items: list[BufferedItem] = field(default_factory=list)
    _counts: dict[tuple[bytes | None, str], int] = field(default_factory=dict)
    _seen: set[bytes] = field(default_factory=set)
    # encoded proposal -> payloads buffered with it
    _copies: dict[bytes, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size_bytes(self) -> int:
        """Bytes held (encoded messages plus blocks)."""
        return self._bytes

    def holds_proposal_from(self, sender: bytes) -> bool:
        """Whether a proposal signed by `sender` is buffered, its signature
        checked (a sender of the current set)."""
        return self._counts.get((sender, "proposal"), 0) > 0

    def add(self, message: Vote | Proposal, block: bytes | None, known_sender: bool) -> bool:
        """Buffer a message for `self.height`; False if over a cap or duplicate."""
        if message.height != self.height:
            return False
        encoded = message.encode()
        key = encoded + payload_digest(block or b"") if isinstance(message, Proposal) else encoded
        if key in self._seen:
            return False
        copies = self._copies.get(encoded, 0)
        if copies:  # another copy of a buffered proposal, with other bytes
            if copies >= self.max_payloads_per_proposal:
                return False
            return self._keep(message, block, encoded, key, known_sender)
        kind = "proposal" if isinstance(message, Proposal) else "vote"
        sender = (message.proposer if isinstance(message, Proposal) else message.validator) if known_sender else None
        if known_sender:
            cap = self.max_proposals_per_sender if kind == "proposal" else self.max_votes_per_sender
        else:
            cap = self.max_unknown_proposals if kind == "proposal" else self.max_unknown_votes
        count = self._counts.get((sender, kind), 0)
        if count >= cap:
            return False
        if not self._keep(message, block, encoded, key, known_sender):
            return False
        self._counts[(sender, kind)] = count + 1
        return True

    def _keep(self, message: Vote | Proposal, block: bytes | None, encoded: bytes, key: bytes, known_sender: bool) -> bool:
        """Hold the message if the byte caps allow."""
        size = len(encoded) + len(block or b"")
        if self._bytes + size > self.max_bytes:
            return False
        if not known_sender and self._unknown_bytes + size > self.max_unknown_bytes:
            return False
        self._bytes += size
        if not known_sender:
            self._unknown_bytes += size
        self._seen.add(key)
        if isinstance(message, Proposal):
            self._copies[encoded] = self._copies.get(encoded, 0) + 1
        self._items.append((message, block))
        return True

    def advance_to(self, height: int) -> list[BufferedItem]:
        """The engine enters `height`: return what was buffered for it (in
        arrival order) and start buffering for `height + 1`."""
        items = self._items if self.height == height else []
        self.height = height + 1
        self._items = []
        self._counts = {}
        self._seen = set()
        self._copies = {}
        self._bytes = self._unknown_bytes = 0
        return items

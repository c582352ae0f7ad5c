"""The error types of the consensus package.

Decoding untrusted bytes raises `DecodeError` and nothing else, so a driver can
wrap every network decode in one `except`. Verification of certificates and
evidence raises the specific `ValueError` subclasses below with a reason that
names what was wrong.
"""

from __future__ import annotations


class ConsensusError(Exception):
    """Base of every error this package raises on purpose."""


class DecodeError(ConsensusError, ValueError):
    """Bytes that are not the canonical encoding of the expected value."""


class InvalidCertificate(ConsensusError, ValueError):
    """A CommitCertificate that does not prove a commit for the given set."""


class InvalidEvidence(ConsensusError, ValueError):
    """A DuplicateVoteEvidence that does not prove a double-sign."""


class InvalidValidatorSet(ConsensusError, ValueError):
    """A validator set (or a change to one) that breaks CometBFT's rules."""

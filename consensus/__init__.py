"""The BFT consensus engine as a pure state machine (no I/O, no clock, no trio).

Votes, proposals, commit certificates, validator sets, proposer selection,
evidence, the double-sign guard, and the deterministic simulator in `sim/`.
Imports nothing else of Plume's.
"""

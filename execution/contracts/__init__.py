"""Solidity contracts shipped with the node: sources and compiled artifacts (docs/contracts.md)."""

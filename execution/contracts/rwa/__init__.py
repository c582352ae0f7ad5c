"""The real-world-asset library: Solidity sources and their compiled JSON artifacts (docs/tokenization.md)."""

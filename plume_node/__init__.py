"""The node: config, genesis, keys, LevelDB storage, the trio runtime, JSON-RPC, CLI."""

__version__ = "0.1.0"

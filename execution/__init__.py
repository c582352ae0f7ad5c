"""py-evm integration: the Plume VM fork, block building and validation, the mempool."""

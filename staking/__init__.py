"""Staking: validators, delegations, rewards, slashing, fee-burn accounting, governance."""

"""Governance by stakers: the contract at ``0x…1001`` (proposals, deposits, votes, tally, parameter changes).

``params_registry``: the governable parameters, derived from the params dataclasses;
``proposals``: a proposal's storage; ``tally``: the stake-weighted count and the decision;
``rules``: the lifecycle and the end-of-block rule ``process_governance``;
``methods``/``abi``/``contract``: the precompile; ``genesis``: the account at genesis;
``views``: gas-free reads for the node. docs/governance.md states every rule.
"""

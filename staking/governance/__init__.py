"""Governance by stakers: the contract at ``0x…1001`` (proposals, deposits, votes, tally, parameter changes).

``params_registry``: the governable parameters, derived from the params dataclasses;
``proposals``: a proposal's storage; ``tally``: the stake-weighted count;
``rules``: the end-of-block rule ``process_governance``; ``methods``/``abi``/``contract``:
the precompile. docs/governance.md states every rule.
"""

"""Compliance: local policy rules (docs/compliance.md).

`model` holds the values (fund flows, rules, hits), `rules` the pure rules
engine (flows and transactions in, typed hits out, bounded window state),
`policyfile` parses compliance.toml and denylist files, `flows` derives a
block's fund flows from its transactions, receipts and value-transfer trace,
`service` is the trio side in the node (reload on SIGHUP, alerts to
subscribers, a JSON-lines file and a webhook), `report` builds audit reports
over JSON-RPC.

Local policy never changes consensus: a node without it accepts the same blocks.
"""

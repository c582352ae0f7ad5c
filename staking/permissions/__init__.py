"""The permissions contract at ``0x…1003``: allowlists of who may transact, deploy, register a validator."""

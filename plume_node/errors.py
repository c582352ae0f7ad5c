"""The node's user-facing errors: problems an operator or user can fix.

Domain code raises these; it never raises the CLI library's exceptions. The
`plume-node` command translates them: a `UserError` becomes one `Error:`
line and exit code 1, a `BadOption` a usage error naming the option (exit
code 2). A traceback is always a bug.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; the message says what is wrong and what to do."""

    @property
    def message(self) -> str:
        return str(self)


class BadOption(UserError):
    """A command-line option's value is wrong; `option` names it (e.g. "--set")."""

    def __init__(self, message: str, option: str) -> None:
        super().__init__(message)
        self.option = option

"""The `plume-node` command line: one click group, one module per command family.

Each family lives in its own module and is registered here. Errors a user can
fix are raised by the domain code as `plume_node.errors.UserError`; the group
below translates them into click's: one clear `Error:` line with exit code 1,
or a usage error naming the option for a `BadOption`. A traceback is a bug.
"""

from __future__ import annotations

import click

from plume_node import __version__
from plume_node.errors import BadOption, UserError


class PlumeGroup(click.Group):
    """The root command: domain errors become click's user-facing errors here, and only here."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BadOption as exc:
            raise click.BadParameter(str(exc), param_hint=exc.option) from None
        except UserError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=PlumeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="plume-node")
def main() -> None:
    """Plume node: a proof-of-stake chain with BFT finality and an EVM."""


def _register() -> None:
    # Imported here so `plume-node --help` stays cheap to load and each
    # family can be read on its own.
    from plume_node.cli.node import genesis, init, start

    for command in (init, start, genesis):
        main.add_command(command)
    from plume_node.cli.keys import keys
    from plume_node.cli.query import query
    from plume_node.cli.tx import tx

    for family in (keys, tx, query):
        main.add_command(family)
    # `tx staking` and the staking queries add themselves to `tx` and `query`.
    # `tx gov` and the governance queries likewise.
    import plume_node.cli.gov  # noqa: F401
    import plume_node.cli.perms  # noqa: F401  (`tx perms`, `query perms`)
    import plume_node.cli.query_staking  # noqa: F401
    import plume_node.cli.staking  # noqa: F401
    from plume_node.cli.sim import sim
    main.add_command(sim)
    from plume_node.cli.devnet import devnet
    main.add_command(devnet)
    from plume_node.cli.debug import debug
    main.add_command(debug)
    from plume_node.cli.report import report
    main.add_command(report)
    # the `rwa` group with `rwa vault` (added by rwa_vault) and `query rwa`
    from plume_node.cli.rwa_vault import rwa
    main.add_command(rwa)


_register()

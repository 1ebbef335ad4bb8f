"""The command line: one module per command, all registered on one Typer app.

Imported in the order ``lrsweep --help`` lists the commands.
"""

from lrsweep.cli import (
    distributed,  # noqa: F401  merge
    find,  # noqa: F401  find
    grid,  # noqa: F401,I001  grid
    runs,  # noqa: F401  show, compare, plot
    schedule,  # noqa: F401  schedule
    tune,  # noqa: F401  tune
    validate,  # noqa: F401  validate, datasets, schema
)
from lrsweep.cli.app import app


def main() -> None:
    """The console script (and ``python -m lrsweep``): the app, then a fast exit once everything is written."""
    from lrsweep.cli.common import sigterm_raises_interrupt
    from lrsweep.cli.exit import exit_code, fast_exit

    sigterm_raises_interrupt()  # first: a SIGTERM during start-up or a download exits 130, cleaned up
    try:
        app()
    except SystemExit as done:  # Typer ends every command so, its files written and closed
        fast_exit(exit_code(done.code))
        raise

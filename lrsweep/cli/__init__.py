"""The command line: one module per command, all registered on one Typer app.

Imported in the order ``lrsweep --help`` lists the commands.
"""

from lrsweep.cli.app import app
from lrsweep.cli import grid  # noqa: F401,I001  grid
from lrsweep.cli import validate  # noqa: F401  validate, datasets, schema
from lrsweep.cli import schedule  # noqa: F401  schedule
from lrsweep.cli import find  # noqa: F401  find
from lrsweep.cli import tune  # noqa: F401  tune
from lrsweep.cli import runs  # noqa: F401  show, compare, plot
from lrsweep.cli import distributed  # noqa: F401  merge


def main() -> None:
    from lrsweep.cli.common import sigterm_raises_interrupt

    sigterm_raises_interrupt()  # first: a SIGTERM during start-up or a download exits 130, cleaned up
    app()

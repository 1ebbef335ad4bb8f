"""The command line: one module per command, all registered on one Typer app."""

from lrsweep.cli.app import app
from lrsweep.cli import grid as _grid  # noqa: F401  (registers grid, validate)

for _optional in ("schedule", "find", "runs", "distributed"):
    try:
        __import__(f"lrsweep.cli.{_optional}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"lrsweep.cli.{_optional}":
            raise


def main() -> None:
    app()

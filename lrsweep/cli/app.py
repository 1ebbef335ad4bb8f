"""The Typer application that every command module registers on."""

import typer

app = typer.Typer(
    name="lrsweep",
    help=(
        "Choose a learning rate by strategy, from one YAML file.\n\n"
        "grid: train one variant per learning rate (x scheduler x optimizer x seed), pick the best "
        "on validation, retrain it and score it on test. schedule: preview, run and compare PyTorch LR "
        "schedulers. find: the LR range test, which proposes a grid in one short run. tune: the budgeted "
        "strategy, which answers with an LR, the band around it and what it cost.\n\n"
        "Exit codes: 0 all variants finished, 1 some variant failed, 2 bad usage or config, "
        "3 a network failure (a download failed on every mirror), 130 interrupted (resumable with --resume)."
    ),
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        from lrsweep._version import __version__

        typer.echo(f"lrsweep {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Choose a learning rate by strategy, from one YAML file."""

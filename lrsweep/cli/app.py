"""The Typer application that every command module registers on."""

from __future__ import annotations

import inspect

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")  # what typer's completion scripts exist for
NAMED_METAVARS = {"sets": "KEY=VALUE", "params": "KEY=VALUE"}  # options whose value has a form of its own
TYPE_METAVARS = {"str": "TEXT", "int": "INTEGER", "int range": "INTEGER", "float": "FLOAT", "float range": "FLOAT"}


def conventional(param, ctx) -> None:
    """Help in the conventions of the command line: a flag shows no value, an option the kind of value it
    takes (TEXT, INTEGER, PATH, KEY=VALUE, [a|b]), an argument its name in capitals (RUN_DIR), instead of
    typer's ``<bool>``, ``<list[str]>`` and ``{run_dir}``. Set on this command's own parameter objects."""
    if getattr(param, "lrsweep_help", False):
        return
    param.lrsweep_help = True
    if isinstance(param, TyperArgument):  # typer has no hook for these two: they are set on the instance
        name = param.metavar = param.metavar or param.name.upper()
        shown = (name if param.required else f"[{name}]") + ("..." if param.nargs != 1 else "")
        param.get_usage_pieces = lambda ctx: [shown]  # type: ignore[method-assign]  # RUN_DIR, [RUN_DIR]
        param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]  # the name says it: no type
        return
    if param.is_flag:
        param.display_type_rich = lambda ctx: None
        return
    if param.metavar is None and hasattr(param, "display_type"):  # typer before 0.2x writes click's TEXT itself
        shown = str(param.display_type(ctx) or "").strip("<>")
        kind = shown[len("list[") : -1] if shown.startswith("list[") else shown  # repeatable: one value each
        param.metavar = (
            NAMED_METAVARS.get(param.name) or TYPE_METAVARS.get(kind) or (f"[{kind}]" if "|" in kind else kind.upper())
        )


def rewrap(help_text: str | None) -> str | None:
    """A docstring's paragraphs as paragraphs: its line breaks (written to fit the source) are not kept, so
    the help wraps to the terminal. A paragraph whose lines are indented keeps them (examples, lists)."""
    if not help_text:
        return help_text
    paragraphs = inspect.cleandoc(help_text).split("\n\n")
    kept = [p if any(line.startswith(" ") for line in p.splitlines()) else " ".join(p.split("\n")) for p in paragraphs]
    return "\n\n".join(kept)


class Command(TyperCommand):
    """Every lrsweep command: conventional metavars, rewrapped paragraphs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.help = rewrap(self.help)

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            conventional(param, ctx)
        return params


COMPLETION_OPTIONS = ("--install-completion", "--show-completion")


class Group(TyperGroup):
    """The ``lrsweep`` group, with the same help conventions as its commands."""

    def parse_args(self, ctx, args):
        """``--show-completion`` may be given a shell or not: without one it stands for the running shell."""
        args = list(args)
        for i, arg in enumerate(args):
            if arg in COMPLETION_OPTIONS and (i + 1 == len(args) or args[i + 1].startswith("-")):
                args.insert(i + 1, "")
        return super().parse_args(ctx, args)

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            conventional(param, ctx)
        return params


class App(typer.Typer):
    """``app.command()`` makes a :class:`Command` unless told otherwise."""

    def command(self, *args, **kwargs):
        kwargs.setdefault("cls", Command)
        return super().command(*args, **kwargs)


app = App(
    name="lrsweep",
    cls=Group,
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
    add_completion=False,  # ours below take the shell as given, as they must where no interactive shell runs us
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        from lrsweep._version import __version__

        typer.echo(f"lrsweep {__version__}")
        raise typer.Exit()


def _completion(ctx: typer.Context, param, value: str | None) -> None:
    """``--show-completion [SHELL]`` / ``--install-completion [SHELL]``: the shell named, else the one that
    runs lrsweep; where none can be told (setsid, CI, a parent that is no shell) a clear error, exit 2."""
    if value is None or ctx.resilient_parsing:
        return
    from typer import completion

    shell = value.strip().lower() or _detected_shell()
    if shell is None:
        raise typer.BadParameter(
            f"cannot tell which shell runs lrsweep (its parent is no interactive shell); name it: "
            f"{param.opts[0]} bash (or zsh, fish, powershell)",
            ctx=ctx,
            param=param,
        )
    if shell not in SHELLS:
        raise typer.BadParameter(
            f"no completion for shell {shell!r} (bash, zsh, fish, powershell)", ctx=ctx, param=param
        )
    completion.completion_init()  # typer's completion classes, as add_completion would register them
    callback = completion.install_callback if param.name == "install_completion" else completion.show_callback
    callback(ctx, param, shell)


def _detected_shell() -> str | None:
    try:
        import shellingham  # type: ignore[import-untyped]
    except ImportError:  # typer-slim comes without it
        return None
    try:
        return str(shellingham.detect_shell()[0]).lower()
    except shellingham.ShellDetectionFailure:
        return None


def _completion_option(flag: str, text: str):
    """``--install-completion`` or ``--show-completion``: an optional SHELL, handled eagerly by _completion."""
    return typer.Option(
        None, flag, callback=_completion, is_eager=True, expose_value=False, metavar="[SHELL]", help=text
    )


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    install_completion: str = _completion_option(
        "--install-completion",
        "Install shell completion: bash, zsh, fish or powershell (default: the shell running lrsweep).",
    ),
    show_completion: str = _completion_option(
        "--show-completion",
        "Print the completion script for SHELL (default: the shell running lrsweep), to copy or customise.",
    ),
) -> None:
    """Choose a learning rate by strategy, from one YAML file."""

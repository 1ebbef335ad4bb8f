"""``lrsweep validate``, ``lrsweep datasets`` and ``lrsweep schema``: the config, checked and described."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lrsweep.cli.app import app
from lrsweep.cli.common import (
    DeviceOption,
    JsonOption,
    SetOption,
    config_overrides,
    print_json,
    stderr_console,
    stdout_console,
    user_errors,
)


@app.command()
def validate(
    config_path: Annotated[Path, typer.Argument(help="The YAML config to check.")],
    sets: SetOption = None,
    device: DeviceOption = None,
    json_out: JsonOption = False,
    no_import: Annotated[
        bool,
        typer.Option(
            "--no-import",
            help="Do not import the package.module:function names of the config; check everything "
            "else and say what was left unchecked.",
        ),
    ] = False,
) -> None:
    """Check CONFIG and print the expanded plan (variants, device, dataset sizes) without training.

    Nothing is downloaded: missing dataset files are reported (a run fetches them).

    A config is code when it names code: a data.name or model.name like package.module:function
    is imported and called, here as in a run. The modules are listed before they are imported;
    --no-import checks everything else without importing them.
    """
    from lrsweep.api.validation import validate_config

    err = stderr_console()

    def announce(imports):
        for key, spec in imports:
            err.print(f"imports: {spec.partition(':')[0]} (for {key} '{spec}')", markup=False, highlight=False)

    with user_errors():
        checked = validate_config(
            config_path, config_overrides(sets, device), allow_imports=not no_import, before_import=announce
        )
    if json_out:
        print_json(checked.to_dict())
        return
    _print_validation(config_path, checked, no_import)


def _print_validation(config_path: Path, checked, no_import: bool) -> None:
    from lrsweep.render.tables import plan_table

    console = stdout_console()
    config = checked.config
    own = config.kind != "engine"
    sizes = checked.sizes if checked.sizes is not None else (f"of your {config.kind}" if own else "not loaded")
    console.print(
        plan_table(checked.variants, sizes, checked.device_description, config.fingerprint(), config.train.epochs)
    )
    if no_import and checked.imports:
        for key, spec in checked.imports:
            console.print(f"would import: {spec.partition(':')[0]} (for {key} '{spec}')", markup=False)
    for note in checked.notes:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    if checked.task_note:
        console.print(f"task: {checked.task} ({checked.task_note})", markup=False, highlight=False)
    if checked.features is not None:
        names = ", ".join(checked.features)
        console.print(f"features: {len(checked.features)} columns: {names}", markup=False, highlight=False)
    for item in checked.unchecked:
        console.print(f"unchecked: {item}", markup=False, highlight=False)
    task = f", task {checked.task}" if checked.task else ""
    console.print(f"[green]OK[/]: {config_path} is valid ({len(checked.variants)} variants{task}).", highlight=False)


@app.command()
def datasets(json_out: JsonOption = False) -> None:
    """List every dataset (data.name), its options with their defaults and meaning, and the keys every data
    section takes."""
    from rich.table import Table

    from lrsweep.config.datasets import describe_datasets

    described = describe_datasets()
    if json_out:
        print_json(described)
        return
    console = stdout_console()
    common = Table(title="every data section", title_justify="left")
    for column in ("key", "default", "meaning"):
        common.add_column(column)
    for key in described["common"]:
        common.add_row(key["name"], key["default"], key["meaning"])
    console.print(common)
    for entry in described["datasets"]:
        aliases = f" (also {', '.join(entry['aliases'])})" if entry["aliases"] else ""
        table = Table(title=f"{entry['name']}{aliases}: {entry['summary']}", title_justify="left")
        for column in ("option", "default", "meaning"):
            table.add_column(column)
        for option in entry["options"]:
            table.add_row(option["name"], option["default"], option["meaning"])
        if not entry["options"]:
            table.add_row("-", "", "no options of its own")
        console.print(table)
    console.print("Or data.name: package.module:function, your own factory (its keyword arguments are its options).")


@app.command()
def schema() -> None:
    """Print the JSON Schema (draft 2020-12) of a config file, for editors that complete and check YAML.

    Write it once, then name it on a config's first line:

        lrsweep schema > lrsweep.schema.json
        # yaml-language-server: $schema=lrsweep.schema.json
    """
    from lrsweep.config.jsonschema import config_schema

    typer.echo(json.dumps(config_schema(), indent=2))

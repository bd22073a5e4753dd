"""wiam import."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .. import registry
from ..diagnostics import Report, SpecError
from ..importing import find, to_text, write
from ..loader import UsageError
from .common import (AtOption, moment, EXIT_SPEC, DirArgument, FormatOption, OutputFormat, RecursiveOption, fail_spec, fail_usage,
                     valid_model)


def import_command(directory: str = DirArgument, recursive: bool = RecursiveOption,
                   targets: Optional[list[str]] = typer.Option(None, "--target", metavar="NAME",
                                                               help="Only this target, NAME or CLOUD.NAME (repeatable)."),
                   write_spec: bool = typer.Option(False, "--write", help="Add them to the spec files (else only print)."),
                   fmt: OutputFormat = FormatOption,
                   at: Optional[str] = AtOption) -> None:
    """Find the objects in the clouds that wiam did not create and that the spec's targets need (an
    AWS account's OIDC providers for the spec's issuers), and add them to the targets' settings
    (existing_oidc_providers), so that compiling reuses them instead of colliding with them.
    Credentials come from each SDK's default chain."""
    model = valid_model(directory, recursive, fmt, Report(), moment(at))
    try:
        found = find(model, targets, lambda cloud: registry.get(cloud).live.connect())
    except UsageError as error:
        fail_usage(str(error))
    except ImportError as error:
        fail_usage(f"the SDK for import is not installed ({error.name}): pip install 'wiam[live]'")
    if write_spec:
        try:
            write(model, found, directory, recursive)
        except SpecError as error:
            fail_spec(error, fmt)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"targets": [item.as_json() for item in found], "written": write_spec},
                              indent=2, sort_keys=True))
    else:
        typer.echo(to_text(found, model), nl=False)
    raise typer.Exit(EXIT_SPEC if any(item.error for item in found) else 0)

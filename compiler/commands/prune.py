"""wiam prune."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .. import jit, windows
from ..diagnostics import Report, SpecError, printable
from ..loader import UsageError
from ..spec_edit import EditError, remove_blocks
from .common import (EXIT_SPEC, AtOption, DirArgument, FormatOption, OutputFormat, RecursiveOption, fail_lines,
                     fail_spec, fail_usage, moment, valid_model)


def prune_command(directory: str = DirArgument, recursive: bool = RecursiveOption,
                  dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be removed."),
                  fmt: OutputFormat = FormatOption, at: Optional[str] = AtOption) -> None:
    """Remove the grants and identities whose windows have closed at --at (default now) from the
    files that declare them, and a workload that would keep no grant or no identity; everything else
    stays byte for byte. Nothing is written unless the edited spec validates."""
    when = moment(at)
    model = valid_model(directory, recursive, fmt, Report(), when)
    removals = jit.closed_blocks(model, when)
    edited: dict[str, bytes] = {}
    try:
        if removals:
            edited = remove_blocks(model, [removal.path for removal in removals])
            jit.validated(directory, recursive, edited, when)
        if not dry_run:
            jit.write_all(edited, directory)
    except EditError as error:
        fail_lines(str(error), EXIT_SPEC)
    except UsageError as error:
        fail_usage(str(error))
    except SpecError as error:
        fail_spec(error, fmt)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"at": windows.text(when), "dry_run": dry_run, "removed": [r.as_json() for r in removals],
                              "files": sorted(edited)}, indent=2, ensure_ascii=False))
        return
    verb = "would remove" if dry_run else "removed"
    for removal in removals:
        typer.echo(f"{verb} {removal.what} ({printable(str(removal.pos))}): {removal.why}")
    if not removals:
        typer.echo(f"nothing to prune at {windows.text(when)}")

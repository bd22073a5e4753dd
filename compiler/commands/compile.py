"""wiam compile."""

from __future__ import annotations

import json
import os
from enum import Enum
from typing import Optional

import typer

from .. import windows
from ..cache import remember_valid
from ..compile import MODULES_MANIFEST, atlantis_yaml, compile_folder
from ..diagnostics import Report, SpecError, printable
from ..loader import UsageError
from ..terraform import write_file, write_tree
from .common import (AtOption, DirArgument, FormatOption, OutputFormat, RecursiveOption, fail_spec, fail_usage, kept,
                     moment, notes, progress, refuse_overlap, refuse_spec_file)


class Split(str, Enum):
    target = "target"


def compile_command(directory: str = DirArgument,
                    out: str = typer.Option(..., "--out", "-o", help="Output folder (replaced whole)."),
                    split: Optional[Split] = typer.Option(None, "--split", help="One root module per cloud target."),
                    atlantis: Optional[str] = typer.Option(None, "--atlantis",
                                                           help="With --split: write an atlantis.yaml here (the "
                                                                "repository root), one project per module."),
                    recursive: bool = RecursiveOption, fmt: OutputFormat = FormatOption,
                    at: Optional[str] = AtOption) -> None:
    """Compile a spec into Terraform: OUT/main.tf.json and versions.tf, or both per OUT/<cloud>-<target>/."""
    report = Report()
    when = moment(at)
    if atlantis and split is None:
        fail_usage("--atlantis needs --split target (one Atlantis project per root module)")
    try:
        with progress() as (on_file, on_target):
            files = compile_folder(directory, recursive, split is not None, report, on_file, on_target, remember_valid,
                                       when)
    except SpecError as error:
        fail_spec(error, fmt)
    except UsageError as error:
        fail_usage(str(error))
    refuse_overlap(out, directory, recursive)
    if atlantis:  # checked before anything is written, so a refusal leaves OUT as it was
        refuse_spec_file("--atlantis", atlantis, directory)
    path = out
    try:
        kept(write_tree(out, files), out)
        if atlantis:
            path = atlantis
            write_file(atlantis, atlantis_yaml(json.loads(files[MODULES_MANIFEST]),
                                               os.path.relpath(out, os.path.dirname(os.path.abspath(atlantis)))))
    except OSError as error:
        fail_usage(f"cannot write {path}: {error.strerror or error}")  # fail_usage shows it printable
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"ok": True, "at": windows.text(when), "out": out, "files": sorted(files),
                               "notes": report.notes}, indent=2))
        return
    notes(report)
    typer.echo(f"wrote {len(files)} file{'s' if len(files) != 1 else ''} to {printable(out)}: {', '.join(sorted(files))}")

"""The `wiam` command line. Exit codes: 0 success, 1 the spec failed, 2 a usage error."""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from typing import Optional

import typer
from rich.console import Console

from .compile import compile_model, load_model
from .diagnostics import Report, SpecError
from .loader import UsageError
from .terraform import write_tree

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Compile workload identity specs into Terraform JSON for AWS, GCP and Azure.")
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_SPEC, EXIT_USAGE = 1, 2


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


class Split(str, Enum):
    target = "target"


def _fail_spec(error: SpecError, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"ok": False, "errors": [d.as_json() for d in error.diagnostics]}, indent=2))
    else:
        for diagnostic in error.diagnostics:
            err.print(diagnostic.render(), markup=False)
        count = len(error.diagnostics)
        err.print(f"{count} error{'s' if count != 1 else ''}", markup=False)
    raise typer.Exit(EXIT_SPEC)


def _fail_usage(message: str) -> None:
    err.print(f"wiam: {message}", markup=False)
    raise typer.Exit(EXIT_USAGE)


def _notes(report: Report) -> None:
    for note in report.notes:
        err.print(f"note: {note}", markup=False)


DirArgument = typer.Argument(".", help="The spec folder (or one spec file).", show_default=True)
RecursiveOption = typer.Option(False, "--recursive", "-r", help="Also load spec files in subfolders.")
FormatOption = typer.Option(OutputFormat.text, "--format", "-f", help="Output format.")


@app.command()
def validate(directory: str = DirArgument, recursive: bool = RecursiveOption,
             fmt: OutputFormat = FormatOption) -> None:
    """Load, merge and validate a spec; print every error, not only the first."""
    report = Report()
    try:
        model = load_model(directory, recursive, report)
        compile_model(model, report=report)  # cloud limits are part of validity
    except SpecError as error:
        _fail_spec(error, fmt)
    except UsageError as error:
        _fail_usage(str(error))
    summary = {"files": len(model.document.files), "issuers": len(model.issuers),
               "targets": len(model.targets), "workloads": len(model.workloads)}
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"ok": True, "errors": [], "notes": report.notes, "summary": summary}, indent=2))
        return
    _notes(report)
    typer.echo(f"ok: {summary['files']} files, {summary['issuers']} issuers, {summary['targets']} targets, "
               f"{summary['workloads']} workloads")


@app.command("compile")
def compile_command(directory: str = DirArgument,
                    out: str = typer.Option(..., "--out", "-o", help="Output folder (replaced whole)."),
                    split: Optional[Split] = typer.Option(None, "--split", help="One root module per cloud target."),
                    recursive: bool = RecursiveOption, fmt: OutputFormat = FormatOption) -> None:
    """Compile a spec into Terraform JSON: OUT/main.tf.json, or OUT/<cloud>-<target>/main.tf.json."""
    report = Report()
    try:
        files = compile_model(load_model(directory, recursive, report), split=split is not None, report=report)
    except SpecError as error:
        _fail_spec(error, fmt)
    except UsageError as error:
        _fail_usage(str(error))
    if os.path.abspath(out) == os.path.abspath(directory):
        _fail_usage("--out must not be the spec folder itself (it is replaced whole)")
    try:
        write_tree(out, files)
    except OSError as error:
        _fail_usage(f"cannot write {out}: {error.strerror or error}")
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"ok": True, "out": out, "files": sorted(files), "notes": report.notes}, indent=2))
        return
    _notes(report)
    typer.echo(f"wrote {len(files)} file{'s' if len(files) != 1 else ''} to {out}: {', '.join(sorted(files))}")


def main() -> None:
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

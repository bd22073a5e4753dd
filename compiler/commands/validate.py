"""wiam validate."""

from __future__ import annotations

import json

from typing import Optional

import typer

from .. import windows
from ..diagnostics import Report
from .common import AtOption, moment, DirArgument, FormatOption, OutputFormat, RecursiveOption, notes, valid_model


def validate(directory: str = DirArgument, recursive: bool = RecursiveOption,
             fmt: OutputFormat = FormatOption,
             at: Optional[str] = AtOption) -> None:
    """Load, merge and validate a spec; print every error, not only the first."""
    report = Report()
    model = valid_model(directory, recursive, fmt, report, moment(at))
    summary = {"files": len(model.document.files), "issuers": len(model.issuers),
               "targets": len(model.targets), "workloads": len(model.workloads)}
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"ok": True, "at": windows.text(model.at), "errors": [], "notes": report.notes,
                               "summary": summary}, indent=2))
        return
    notes(report)
    typer.echo(f"ok: {summary['files']} files, {summary['issuers']} issuers, {summary['targets']} targets, "
               f"{summary['workloads']} workloads")

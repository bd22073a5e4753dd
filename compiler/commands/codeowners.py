"""wiam codeowners."""

from __future__ import annotations

import json
import os
from typing import Optional

import typer

from ..codeowners import expected_rules, merged, parse, problems, repository_root, section
from ..diagnostics import Report, SpecError, printable
from ..loader import UsageError, read_bytes
from .common import EXIT_SPEC, DirArgument, FormatOption, OutputFormat, RecursiveOption, emit, err, fail_spec, fail_usage, valid_model

MAX_CODEOWNERS_BYTES = 3 * 1024 * 1024  # GitHub reads no larger CODEOWNERS file


def codeowners_command(directory: str = DirArgument, recursive: bool = RecursiveOption,
                       out: Optional[str] = typer.Option(None, "--out", "-o", metavar="CODEOWNERS",
                                                         help="Write the rules into this file (its other lines kept)."),
                       check: Optional[str] = typer.Option(None, "--check", metavar="CODEOWNERS",
                                                           help="Exit 1 unless this file sends each spec file to its owners."),
                       fmt: OutputFormat = FormatOption) -> None:
    """CODEOWNERS rules that make a change to a workload's spec file need its owner's approval: one
    rule per spec file (its path from the git repository's root) naming the teams that settings
    owners maps its workloads' owners to. Print them, write them (--out), or check a file (--check)."""
    if out is not None and check is not None:
        fail_usage("--out and --check exclude each other: write the file, or check it")
    model = valid_model(directory, recursive, fmt, Report())
    report = Report()
    rules, warnings = expected_rules(model, repository_root(directory), report)
    if report.diagnostics:
        fail_spec(SpecError(report.diagnostics), fmt)
    for warning in warnings:
        err.print(f"warning: {printable(warning)}", markup=False)
    if check is not None:
        given, ignored = parse(_read(check) if os.path.lexists(check) else "")  # no file: no rule
        for line in ignored:
            err.print(f"note: {printable(check)}:{line}: GitHub ignores this rule (a negation, a character range "
                      "or an invalid pattern)", markup=False)
        found = problems(given, rules)
        if fmt is OutputFormat.json:
            typer.echo(json.dumps({"ok": not found, "problems": found, "warnings": warnings}, indent=2))
        else:
            typer.echo("".join(f"{printable(p)}\n" for p in found) or f"ok: {check} sends every spec file to its owners\n",
                       nl=False)
        raise typer.Exit(EXIT_SPEC if found else 0)
    if out is None:
        typer.echo(section(rules), nl=False)
        return
    try:
        content = merged(_read(out) if os.path.lexists(out) else "", rules)
    except ValueError as error:
        fail_usage(f"{out}: {error}; fix it by hand, or remove the section's lines")
    emit(content.encode("utf-8"), out, directory)


def _read(path: str) -> str:
    try:
        return read_bytes(path, os.path.dirname(path) or ".", MAX_CODEOWNERS_BYTES, "a CODEOWNERS file").decode("utf-8")
    except UsageError as error:
        fail_usage(str(error))
    except UnicodeDecodeError:
        fail_usage(f"{path}: not UTF-8 text")

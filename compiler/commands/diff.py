"""wiam diff."""

from __future__ import annotations

import json
from enum import Enum
from typing import Optional

import typer

from ..analysis import SEVERITIES, at_or_above
from ..cache import remember_valid
from ..diagnostics import SpecError
from ..diff import diff as diff_specs
from ..diff import to_markdown, to_text
from ..loader import UsageError
from .common import AtOption, moment, EXIT_SPEC, OutOption, RecursiveOption, emit, fail_spec, fail_usage


class DiffFormat(str, Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


def diff_command(base: str = typer.Argument(..., help="A spec folder, or a git revision (REV or REV:PATH)."),
                 head: str = typer.Argument(".", help="A spec folder, or a git revision (REV or REV:PATH)."),
                 path: str = typer.Option(".", "--path", help="The spec folder inside the repository, for REV."),
                 recursive: bool = RecursiveOption,
                 fmt: DiffFormat = typer.Option(DiffFormat.text, "--format", "-f", help="Output format."),
                 fail_on: Optional[str] = typer.Option(None, "--fail-on",
                                                       help="widening, or a severity: exit 1 on new findings at "
                                                            "or above it."),
                 out: Optional[str] = OutOption,
                 at: Optional[str] = AtOption) -> None:
    """The access HEAD adds and removes against BASE, both at --at: who reaches what, findings, escalation
    paths, conditions and time windows."""
    if fail_on is not None and fail_on != "widening" and fail_on not in SEVERITIES:
        fail_usage(f"--fail-on takes widening or one of {', '.join(SEVERITIES)}")
    try:
        result = diff_specs(base, head, path, recursive, on_valid=remember_valid, at=moment(at))
    except SpecError as error:
        fail_spec(error, fmt)
    except UsageError as error:
        fail_usage(str(error))
    if fmt is DiffFormat.json:
        content = json.dumps(result.as_json(), indent=2, ensure_ascii=False) + "\n"
    else:
        content = to_markdown(result) if fmt is DiffFormat.markdown else to_text(result)
    emit(content.encode(), out, base, head, path)
    failing = (result.classification == "widening" if fail_on == "widening"
               else bool(at_or_above(result.findings_introduced, fail_on)) if fail_on else False)
    raise typer.Exit(EXIT_SPEC if failing else 0)

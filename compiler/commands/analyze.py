"""wiam analyze."""

from __future__ import annotations

import io
import itertools
import json
from enum import Enum
from typing import Optional

import typer
from rich.console import Console

from .. import __version__
from .. import windows
from ..analysis import SEVERITIES, Limits, all_rules, at_or_above, disabled_blocks
from ..analysis import analyze as analyze_model
from ..analysis import output as analysis_output
from .. import discovery
from ..diagnostics import Report, SpecError
from ..loader import UsageError
from ..graph import build_graph
from ..revision import line_origin
from .common import (AtOption, RevOption, duration, moment, EXIT_SPEC, DirArgument, OutOption, RecursiveOption, emit,
                     fail_spec, fail_usage, places, planned_revision, relabelled)


class AnalyzeFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


Severity = Enum("Severity", {severity: severity for severity in SEVERITIES}, type=str)
SEVERITY_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan"}


def analyze(directory: str = DirArgument, recursive: bool = RecursiveOption,
            fmt: AnalyzeFormat = typer.Option(AnalyzeFormat.text, "--format", "-f", help="Output format."),
            fail_on: Optional[Severity] = typer.Option(None, "--fail-on",
                                                       help="Exit 1 on unsuppressed findings at or above this severity."),
            out: Optional[str] = OutOption,
            at: Optional[str] = AtOption, rev: Optional[str] = RevOption,
            expiring_within: str = typer.Option("24h", "--expiring-within", metavar="DURATION",
                                                help="WIAM021: report windows closing this soon after --at (12h, 2d)."),
            max_break_glass: str = typer.Option("12h", "--max-break-glass", metavar="DURATION",
                                                help="WIAM023: the longest a break-glass window may hold.")) -> None:
    """Least-privilege findings, each with its rule, severity, place in the spec and fix, at --at."""
    limits = Limits(duration("--expiring-within", expiring_within), duration("--max-break-glass", max_break_glass))
    model, plans, source = planned_revision(directory, recursive, fmt, Report(), moment(at, rev), rev)
    rules = all_rules()
    named = places(source, directory, in_work_tree=fmt is AnalyzeFormat.sarif)
    try:
        discovered = discovery.load(directory)
    except SpecError as error:
        fail_spec(error, fmt)
    except UsageError as error:
        fail_usage(str(error))
    findings = relabelled(analyze_model(model, build_graph(model, plans), plans, limits, discovered), named)
    failing = at_or_above(findings, fail_on.value) if fail_on else []
    disabled = [{**item, "file": named(item["file"]), "since": line_origin(item["file"], item["line"])}
                for item in disabled_blocks(model)]
    if fmt is AnalyzeFormat.json:
        data = {"at": windows.text(model.at),
                **analysis_output.to_json(findings, rules, fail_on.value if fail_on else None), "disabled": disabled}
        emit((json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode(), out, directory)
    elif fmt is AnalyzeFormat.sarif:
        sarif = analysis_output.to_sarif(findings, rules, __version__, windows.text(model.at))
        if source is not None:  # the places are the work tree's paths; the revision read is this one
            sarif["runs"][0].setdefault("properties", {})["revision"] = source.label.partition(":")[0]
        emit((json.dumps(sarif, indent=2, ensure_ascii=False) + "\n").encode(), out, directory)
        if len(sarif["runs"][0]["results"]) < len(findings):  # the exit code still counts them all
            typer.echo("note: " + analysis_output.truncation_note(len(findings), len(sarif["runs"][0]["results"])),
                       err=True)
    else:
        buffer = io.StringIO() if out else None  # colour only on a terminal; rich decides
        console = Console(highlight=False, soft_wrap=True, file=buffer, emoji=False)
        _print_findings(console, findings, rules)
        _print_disabled(console, disabled)
        if buffer is not None:
            emit(buffer.getvalue().encode(), out, directory)
    raise typer.Exit(EXIT_SPEC if failing else 0)


def _print_findings(console: Console, findings, rules) -> None:
    shown = [f for f in findings if not f.suppressed]
    for file, in_file in itertools.groupby(shown, key=lambda f: f.pos.file):  # findings come sorted by file
        console.print(file, style="bold", markup=False)
        for finding in in_file:
            console.print(f"  {finding.pos.line}:{finding.pos.column} ", end="", markup=False)
            console.print(f"{finding.severity.upper()}", style=SEVERITY_STYLE[finding.severity], end="", markup=False)
            console.print(f" {finding.rule} {rules[finding.rule].title} ({finding.block})", markup=False)
            console.print(f"    {finding.message}", markup=False)
            console.print(f"    fix: {rules[finding.rule].fix}", style="dim", markup=False)
    counts = analysis_output.summary(findings)
    parts = [f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts[s]]
    console.print(f"{len(shown)} finding{'s' if len(shown) != 1 else ''}" + (f": {', '.join(parts)}" if parts else "")
                  + (f" ({counts['suppressed']} suppressed)" if counts["suppressed"] else ""), markup=False)


def _print_disabled(console: Console, disabled: list[dict]) -> None:
    if not disabled:
        return
    console.print(f"disabled by the kill switch ({len(disabled)}):", style="bold", markup=False)
    for item in disabled:
        since = item["since"]
        origin = (f"since {since['commit'][:12]} ({since['date']}, {since['author']})" if since["commit"]
                  else since["why"])
        console.print(f"  {item['file']}:{item['line']}:{item['column']} {item['block']}: {item['reason']} "
                      f"[{origin}]", markup=False)

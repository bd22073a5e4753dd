"""wiam review."""

from __future__ import annotations

import json
import re
from datetime import date
from enum import Enum
from typing import Optional

import typer

from .. import schema, windows
from ..diagnostics import Report, printable
from ..model import Model
from ..loader import spec_root
from ..review import DUE_SOON, Status, changes, statuses
from ..spec_edit import EditError, add_repeated_block, write_in_place
from ..suggest import closest
from .common import (AtOption, EXIT_SPEC, DirArgument, FormatOption, OutputFormat, RecursiveOption, err, fail_usage,
                     moment, valid_model)


class FailOn(str, Enum):
    due = "due"
    overdue = "overdue"


def review_command(directory: str = DirArgument, recursive: bool = RecursiveOption,
                   fmt: OutputFormat = FormatOption, at: Optional[str] = AtOption,
                   fail_on: Optional[FailOn] = typer.Option(
                       None, "--fail-on", help="Exit 1 when a workload is overdue, or due or overdue (a CI gate)."),
                   approve: Optional[str] = typer.Option(None, "--approve", metavar="WORKLOAD",
                                                         help="Record a review of this workload in its file."),
                   by: Optional[str] = typer.Option(None, "--by", metavar="WHO", help="Who reviewed it (with --approve)."),
                   on: Optional[str] = typer.Option(None, "--on", metavar="YYYY-MM-DD",
                                                    help="The day of the review (with --approve); default: the day of --at.")) -> None:
    """List the workloads whose access review is due (within 14 days) or overdue under settings
    review_every, with owner, current access and the commits to their files since the last review;
    or, with --approve, write a review block into a workload's file (formatting kept)."""
    when = moment(at)
    model = valid_model(directory, recursive, fmt, Report(), when)
    if approve is not None:
        _approve(model, directory, approve, by, on, when.date(), fmt)
        return
    if by is not None or on is not None:
        fail_usage("--by and --on go with --approve WORKLOAD")
    every = model.settings.review_every
    if every is None:
        fail_usage('the spec sets no review interval: add settings { review_every = "90d" } to one spec file')
    listed = [s for s in statuses(model, every, when.date()) if s.state != "fresh"]
    found = changes(listed, spec_root(directory), when)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"at": windows.text(when), "review_every_days": every.days, "due_soon_days": DUE_SOON.days,
                               "workloads": [{**s.as_json(), "changes": _changes_json(found[s.workload])}
                                             for s in listed]}, indent=2, sort_keys=True))
    else:
        typer.echo(_text(listed, found, every.days), nl=False)
    failing = {FailOn.overdue: {"overdue"}, FailOn.due: {"due", "overdue"}}.get(fail_on, set())
    raise typer.Exit(EXIT_SPEC if any(s.state in failing for s in listed) else 0)


def _changes_json(changes) -> list | None:
    return None if changes is None else [c.__dict__ for c in changes]


def _text(listed: list[Status], changes: dict, days: int) -> str:
    if not listed:
        return f"no workload is due for review (every {days} days)\n"
    lines = []
    for s in listed:
        last = f"last reviewed {s.last.on} by {printable(s.last.by)}" if s.last else "never reviewed"
        due = f", due {s.due}" if s.due else ""
        lines.append(f"{s.state.upper()} {printable(s.workload)} (owner {printable(s.owner) or 'none'}): {last}{due}")
        lines.append(f"  file: {printable(s.file)}")
        lines += [f"  access: {printable(line)}" for line in s.access]
        lines += [f"  not counted: review by {printable(r.by)} dated {r.on}, after today" for r in s.future]
        found = changes[s.workload]
        if found is None:
            lines.append("  changes: unknown (the file is not in a git work tree)")
        elif not found:
            lines.append("  changes: none since the last review" if s.last else "  changes: none committed")
        else:
            lines += [f"  changed: {c.day} {c.commit} {printable(c.author)}: {printable(c.subject)}" for c in found]
    return "".join(line + "\n" for line in lines)


def _approve(model: Model, directory: str, name: str, by: Optional[str], on: Optional[str], today: date, fmt) -> None:
    if name not in model.workloads:
        close = closest(name, sorted(model.workloads))
        fail_usage(f"--approve {name}: no workload of that name" + (f"; did you mean {close!r}?" if close else ""))
    if by is None:
        fail_usage("--approve needs --by WHO: who reviewed the access")
    day = on if on is not None else today.isoformat()
    try:
        parsed = date.fromisoformat(day) if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", day) else None
    except ValueError:
        parsed = None
    if parsed is None:
        fail_usage(f"--on {day!r} is no day: write YYYY-MM-DD, e.g. 2026-12-02")
    if parsed > today:
        fail_usage(f"--on {day}: after the day of --at ({today}); a review is recorded on or after its day")
    fields = {"by": by, "on": day}
    path = ("workload", name)
    if not (by.isprintable() and by.strip()) or not schema.is_valid({"workload": {name: {**model.document.data["workload"][name], "review": [fields]}}}):
        fail_usage(f"--by {by!r}: who reviewed it is 1 to 128 visible characters")
    try:
        file, content = add_repeated_block(model, path, "review", fields)
        write_in_place(file, content, directory)
    except EditError as error:
        err.print(printable(str(error)), markup=False)
        raise typer.Exit(EXIT_SPEC) from None
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"workload": name, "review": fields, "file": file}, indent=2, sort_keys=True))
    else:
        typer.echo(f"review of {printable(name)} by {printable(by)} on {day} written to {printable(file)}")

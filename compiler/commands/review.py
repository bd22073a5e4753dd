"""wiam review."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Callable, Optional, TypeVar

import typer

from .. import schema, windows
from ..diagnostics import Report, printable
from ..diff import _git, repository_of
from ..loader import UsageError, spec_root
from ..model import Model
from ..record import spec_name
from ..review import DUE_SOON, Status, changes, recorded_changes, statuses
from ..store import Store, open_store
from ..spec_edit import EditError, add_repeated_block, write_in_place
from ..suggest import closest
from .common import (AtOption, EXIT_SPEC, DirArgument, FormatOption, OutputFormat, RecursiveOption, err, fail_usage,
                     moment, valid_model)
from .history import default_db


DbOption = typer.Option(None, "--db", metavar="PATH|URL",
                        help="The record wiam history writes (default: its default place, when a record is there).")


T = TypeVar("T")


@dataclass
class Record:
    """A spec folder's record, open."""
    store: Store
    spec: int
    head: str  # the last commit it processed
    behind: str | None  # why it lacks the branch's newest change to the folder; None when it has it

    def read(self, reading: Callable[[Store, int], T]) -> T:
        """reading(store, spec), the record closed after; exit 2 when its database fails."""
        try:
            return reading(self.store, self.spec)
        except self.store.failure as error:
            fail_usage(f"the record could not be read: {str(error).strip()}")
        finally:
            self.store.close()


def open_record(directory: str, db: str | None) -> Record | str:
    """The spec folder's record (--db, else the default place when one is there), or why there is
    none; exit 2 when --db names no record or cannot be read."""
    root = spec_root(directory)
    try:
        top, prefix = repository_of(root, root)
        where = db or default_db(root)
    except UsageError:
        return "the spec folder is not in a git repository"
    url = where.startswith(("postgresql://", "postgres://"))
    if not url and not os.path.isfile(where):
        if db is not None:
            fail_usage(f"--db {db}: no record there; wiam history --db {db} writes one")
        return "no record (wiam history writes one)"
    try:
        store = open_store(where)
    except UsageError as error:
        fail_usage(str(error))
    try:
        found = store.rows("SELECT id, head FROM specs WHERE name = ?", (spec_name(top, prefix),))
    except store.failure as error:
        fail_usage(f"the record could not be read: {str(error).strip()}")
    if not found or found[0][1] is None:
        store.close()
        return "the record holds no history of this folder yet (wiam history writes it)"
    (spec, head), = found
    try:  # a head that is no commit name (a record written by hand) never reaches git's arguments
        rewritten = not re.fullmatch(r"[0-9a-f]{40,64}", head) or \
            _git(["rev-list", "--count", f"HEAD..{head}", "--"], top).strip() != "0"
        later = not rewritten and _git(["rev-list", "-1", f"{head}..HEAD", "--", prefix or "."], top).strip()
    except UsageError:
        rewritten, later = True, False  # its head is not in this repository
    behind = ("the branch's history was rewritten since the record's last run" if rewritten else
              "the folder changed after the record's last run" if later else None)
    return Record(store, spec, head, behind and f"{behind} (wiam history brings it up to date)")


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
                                                    help="The day of the review (with --approve); default: the day of --at."),
                   db: Optional[str] = DbOption) -> None:
    """List the workloads whose access review is due (within 14 days) or overdue under settings
    review_every, with owner, current access and what changed since the last review (the access
    the record saw begin and end, when it is up to date; else the commits to their files); or, with
    --approve, write a review block into a workload's file (formatting kept)."""
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
    found, source = _changes(listed, directory, db, when)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"at": windows.text(when), "review_every_days": every.days, "due_soon_days": DUE_SOON.days,
                               "changes_from": source,
                               "workloads": [{**s.as_json(), "changes": _changes_json(found[s.workload])}
                                             for s in listed]}, indent=2, sort_keys=True))
    else:
        typer.echo(_text(listed, found, every.days, source), nl=False)
    failing = {FailOn.overdue: {"overdue"}, FailOn.due: {"due", "overdue"}}.get(fail_on, set())
    raise typer.Exit(EXIT_SPEC if any(s.state in failing for s in listed) else 0)


def _changes(listed: list[Status], directory: str, db: Optional[str], when) -> tuple[dict, dict]:
    """What changed since each review: the access the record saw begin and end when it holds the
    folder's newest change, else the commits to each file (git log); and which, and why."""
    found = open_record(directory, db) if listed or db else "no workload is listed"
    if isinstance(found, Record) and found.behind is None:
        return (found.read(lambda store, spec: recorded_changes(listed, store, spec, windows.text(when))),
                {"source": "record", "head": found.head, "why": None})
    if isinstance(found, Record):
        found.store.close()
        found = found.behind
    return changes(listed, spec_root(directory), when), {"source": "git", "head": None, "why": found}


def _changes_json(changes) -> list | None:
    return None if changes is None else [c.__dict__ for c in changes]


def _text(listed: list[Status], changes: dict, days: int, source: dict) -> str:
    if not listed:
        return f"no workload is due for review (every {days} days)\n"
    lines = [f"changes since each review: the access the record saw begin and end, through {source['head'][:12]}"
             if source["source"] == "record" else
             f"changes since each review: the commits to each workload's file (git log; {printable(source['why'])})"]
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
        elif source["source"] == "record":
            lines += [f"  {c.event}: {c.day} {c.commit[:12]} {printable(c.author)}: {printable(c.subject)}: "
                      f"{printable(c.access)}" for c in found]
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

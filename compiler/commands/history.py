"""wiam history."""

from __future__ import annotations

import csv
import io
import json
import os
from enum import Enum
from typing import Optional

import typer

from .. import windows
from ..cache import remember_valid
from ..diagnostics import printable
from ..diff import _git, repository_of
from ..loader import UsageError
from ..record import COMMIT_COLUMNS, INTERVAL_COLUMNS, commit_log, record, spec_of, timeline, utc_date
from ..store import open_store
from .common import DirArgument, OutOption, RecursiveOption, emit, err, fail_usage, refuse_spec_file


class HistoryFormat(str, Enum):
    text = "text"
    json = "json"
    csv = "csv"


def default_db(directory: str) -> str:
    """The record's default place: inside the repository's git folder, which no commit can write to
    (a pull request could commit a link where a work-tree path was) and no spec load reads."""
    common = _git(["rev-parse", "--path-format=absolute", "--git-common-dir"], directory).strip()
    return os.path.join(common, "wiam", "history.sqlite")


def _bounds(given: str | None, top: str, rows: list[dict], after: bool) -> set[int]:
    """The seqs of the recorded commits on the right side of --since (after) or --until: a revision
    (its first-parent history) or a UTC date (YYYY-MM-DD or a full time)."""
    if given is None:
        return {row["seq"] for row in rows}
    moment = utc_date(given)
    if moment is not None:
        bound = windows.text(moment)
        return {row["seq"] for row in rows if (row["date"] >= bound if after else row["date"] < bound)}
    if given.startswith("-"):
        fail_usage(f"{given}: not a revision or a date")
    span = [f"{given}..HEAD"] if after else [given]
    shas = set(_git(["rev-list", "--first-parent", *span, "--"], top).split())
    return {row["seq"] for row in rows if row["sha"] in shas}


def _cell(value):
    """A CSV cell a spreadsheet shows as text and a terminal prints as it is: controls escaped, and a
    cell a commit's author wrote that starts like a formula (= + - @) prefixed with a quote."""
    if not isinstance(value, str):
        return value
    shown = printable(value)
    return "'" + shown if shown[:1] in ("=", "+", "-", "@") else shown


def _csv(rows: list[dict], columns: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in columns])
    return out.getvalue()


def _commit_line(row: dict) -> str:
    verdict = (row["classification"] or "").upper() if row["valid"] else "INVALID (access carried from the last valid)"
    subject = row["message"].splitlines()[0] if row["message"] else ""
    found = f" {row['findings']} new findings" if row["findings"] else ""
    return printable(f"{row['date']} {row['sha'][:12]} {row['author']}: {verdict} +{row['began']} -{row['ended']}"
                     f"{found}  {subject}")


def _interval_lines(row: dict) -> list[str]:
    via = " (indirect)" if row["indirect"] else ""
    claims = f" when {row['conditions']}" if row["conditions"] else ""
    ended = (f"until {row['ended_date']} {row['ended_sha'][:12]} {row['ended_author']}: "
             f"{row['ended_message'].splitlines()[0] if row['ended_message'] else ''}" if row["ended_sha"]
             else "still held")
    return [printable(f"{row['issuer']} {row['subject']} -> {row['cloud']} {row['target']} {row['workload']} -> "
                      f"{row['permission']} on {row['resource']}{via}{claims}"),
            printable(f"  from {row['began_date']} {row['began_sha'][:12]} {row['began_author']}: "
                      f"{row['began_message'].splitlines()[0] if row['began_message'] else ''}"),
            f"  {printable(ended)}"]


def history(directory: str = DirArgument, recursive: bool = RecursiveOption,
            since: Optional[str] = typer.Option(None, "--since", metavar="REV|DATE",
                                                help="Show only commits after this revision, or from this UTC date."),
            until: Optional[str] = typer.Option(None, "--until", metavar="REV|DATE",
                                                help="Show only commits up to this revision, or before this UTC date."),
            db: Optional[str] = typer.Option(None, "--db", metavar="PATH|URL",
                                             help="The record: an SQLite file, or postgresql://... (default: "
                                                  "wiam/history.sqlite in the repository's git folder)."),
            workload: Optional[str] = typer.Option(None, "--workload", help="The timeline of this workload's access."),
            resource: Optional[str] = typer.Option(None, "--resource", help="The timeline of access to this resource."),
            fmt: HistoryFormat = typer.Option(HistoryFormat.text, "--format", "-f", help="Output format."),
            out: Optional[str] = OutOption) -> None:
    """Record every access tuple of the spec folder's first-parent git history as intervals, then
    print the commits or a timeline."""
    if workload is not None and resource is not None:
        fail_usage("give either --workload or --resource, not both")
    try:
        if not os.path.isdir(directory):
            raise UsageError(f"{directory}: not a folder; wiam history reads a spec folder in a git repository")
        top, _ = repository_of(directory, directory)
        where = db or default_db(directory)
        if not where.startswith(("postgresql://", "postgres://")):
            refuse_spec_file("--db", where, directory)
        store = open_store(where)
    except UsageError as error:
        fail_usage(str(error))
    try:
        outcome = record(directory, store, recursive, on_valid=remember_valid)
        spec = spec_of(store, outcome.spec)
        rows = commit_log(store, spec)
        chosen = _bounds(since, top, rows, True) & _bounds(until, top, rows, False)
        intervals = timeline(store, spec, workload, resource) if workload or resource else None
    except UsageError as error:
        fail_usage(str(error))
    except store.failure as error:
        fail_usage(f"the record could not be written: {str(error).strip()}")
    finally:
        store.close()
    if outcome.rebuilt_from is not None:
        err.print(printable(f"note: the history was rewritten (a force push): the record is rebuilt from "
                            f"{outcome.rebuilt_from[:12] or 'the first commit'}"), markup=False)
    err.print(f"note: {len(outcome.recorded)} new commits recorded ({len(outcome.invalid)} did not validate)",
              markup=False)
    seqs = {row["seq"]: row for row in rows if row["seq"] in chosen}
    if intervals is not None:
        lo, hi = min(seqs, default=0), max(seqs, default=0)  # the intervals that overlap the commits shown
        picked = [i for i in intervals if i["began"] <= hi and (i["ended"] is None or i["ended"] > lo)]
        content = (json.dumps({"spec": outcome.spec, "intervals": picked}, indent=2, ensure_ascii=False) + "\n"
                   if fmt is HistoryFormat.json else _csv(picked, INTERVAL_COLUMNS) if fmt is HistoryFormat.csv
                   else "".join(line + "\n" for i in picked for line in _interval_lines(i)) or "no access recorded\n")
    else:
        shown = list(seqs.values())
        content = (json.dumps({"spec": outcome.spec, "commits": shown}, indent=2, ensure_ascii=False) + "\n"
                   if fmt is HistoryFormat.json else _csv(shown, COMMIT_COLUMNS) if fmt is HistoryFormat.csv
                   else "".join(_commit_line(r) + "\n" for r in shown) or "no commit changed the spec folder\n")
    emit(content.encode(), out, directory)


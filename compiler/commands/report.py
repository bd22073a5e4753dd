"""wiam report."""

from __future__ import annotations

from typing import Optional

import typer

from .. import __version__, windows
from ..analysis import all_rules
from ..analysis import analyze as analyze_model
from ..diagnostics import Report
from ..graph import build_graph
from ..report import generated_at, record_timeline, report_data, workload_windows
from ..report import render as render_report
from ..review import described, statuses
from ..revision import spec_revision
from .common import (AtOption, RevOption, moment, DirArgument, OutputFormat, RecursiveOption, emit, places,
                     planned_revision, relabelled)
from .review import DbOption, Record, open_record


def report(directory: str = DirArgument, recursive: bool = RecursiveOption,
           out: str = typer.Option(..., "--out", "-o", help="The HTML file to write (atomically)."),
           at: Optional[str] = AtOption, rev: Optional[str] = RevOption, db: Optional[str] = DbOption) -> None:
    """A self-contained HTML audit report: summary, interactive access graph, findings, workloads, and
    the timeline of the record (wiam history) when there is one."""
    model, plans, source = planned_revision(directory, recursive, OutputFormat.text, Report(), moment(at, rev), rev)
    access = build_graph(model, plans)
    named = places(source, directory)
    findings = relabelled(analyze_model(model, access, plans), named)
    revision = {"commit": source.label.partition(":")[0], "dirty": False} if source else spec_revision(directory)
    meta = {"spec": directory, "revision": revision, "generated": generated_at(), "wiam": __version__,
            "at": windows.text(model.at)}
    every = model.settings.review_every
    reviews = {s.workload: described(s) for s in statuses(model, every, model.at.date())} if every else None
    emit(render_report(report_data(access, findings, all_rules(), meta, reviews, workload_windows(model),
                                   _timeline(directory, db), named)), out, directory)


def _timeline(directory: str, db: Optional[str]) -> dict | str:
    """The record's timeline, or why there is none."""
    found = open_record(directory, db)
    if not isinstance(found, Record):
        return found
    return found.read(lambda store, spec: record_timeline(store, spec, found.head, found.behind))

"""wiam graph."""

from __future__ import annotations

from enum import Enum
from typing import Optional

import typer

from .. import export
from ..diagnostics import Report
from ..graph import build_graph
from ..terraform import write_tree
from .common import AtOption, RevOption, moment, DirArgument, RecursiveOption, emit, fail_usage, kept, planned_spec, refuse_overlap


class GraphFormat(str, Enum):
    json = "json"
    graphml = "graphml"
    gexf = "gexf"
    dot = "dot"
    mermaid = "mermaid"
    cypher = "cypher"
    csv = "csv"


def graph(directory: str = DirArgument, recursive: bool = RecursiveOption,
          fmt: GraphFormat = typer.Option(GraphFormat.json, "--format", "-f", help="Export format."),
          out: Optional[str] = typer.Option(None, "--out", "-o",
                                            help="Write to this file (a folder for csv) instead of printing."),
          at: Optional[str] = AtOption, rev: Optional[str] = RevOption) -> None:
    """Export the access graph: issuers, subjects, workloads, principals, grants, permissions, resources."""
    model, plans = planned_spec(directory, recursive, fmt, Report(), moment(at, rev), rev)
    access = build_graph(model, plans)
    if fmt is GraphFormat.csv:
        if out is None:
            fail_usage("--format csv writes nodes.csv and relationships.csv: give the folder with --out")
        refuse_overlap(out, directory, recursive)
        try:
            kept(write_tree(out, export.to_csv(access.graph)), out)
        except OSError as error:
            fail_usage(f"cannot write {out}: {error.strerror or error}")
        return
    emit(getattr(export, f"to_{fmt.value}")(access.graph), out, directory)

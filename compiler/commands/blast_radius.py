"""wiam blast-radius."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .. import windows
from ..diagnostics import Report, printable
from ..findings import SEVERITIES
from ..graph import build_graph, describe_path
from ..query import exposure
from .common import AtOption, RevOption, moment, DirArgument, FormatOption, OutputFormat, RecursiveOption, fail_usage, planned_spec


def blast_radius_command(directory: str = DirArgument, recursive: bool = RecursiveOption,
                         issuer: Optional[str] = typer.Option(None, "--issuer", help="A compromised issuer, by name."),
                         subject: Optional[str] = typer.Option(None, "--subject", help="A compromised subject."),
                         workload: Optional[str] = typer.Option(None, "--workload", help="A compromised workload."),
                         repository: Optional[str] = typer.Option(None, "--repository",
                                                                  help="A compromised repository, OWNER/REPO."),
                         fmt: OutputFormat = FormatOption,
                         at: Optional[str] = AtOption, rev: Optional[str] = RevOption) -> None:
    """Everything reachable from a compromised issuer, subject, workload or repository, with paths."""
    given = {k: v for k, v in (("issuer", issuer), ("subject", subject), ("workload", workload),
                               ("repository", repository)) if v is not None}
    if len(given) != 1:
        fail_usage("give exactly one of --issuer, --subject, --workload, --repository")
    model, plans = planned_spec(directory, recursive, fmt, Report(), moment(at, rev), rev)
    (kind, value), = given.items()
    known = {"issuer": model.issuers, "workload": model.workloads}.get(kind)
    if known is not None and value not in known:
        fail_usage(f"no {kind} named {value!r} in the spec")
    access = build_graph(model, plans)
    found = exposure(access, given, model.at)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(found.as_json(), indent=2, ensure_ascii=False))
        return
    if found.note:
        typer.echo(printable(found.note))
        return
    summary, nodes = found.summary, access.graph.nodes
    typer.echo(f"{kind} {printable(value)} at {windows.text(model.at)}: {len(found.principals)} principals, "
               f"{len(found.permissions)} permissions ("
               + ", ".join(f"{summary[s]} {s}" for s in reversed(SEVERITIES) if summary[s]) + ")")
    for (cloud, target), items in found.by_target():
        typer.echo(f"{cloud} {target}:")
        for r in items:
            what = (f"{r.severity.upper()} {nodes[r.node]['label']} on {', '.join(r.resources) or '(no resource)'}"
                    if r.severity else f"principal {nodes[r.node]['label']} (workload {nodes[r.node]['workload']})")
            how = "own access" if r.hops == 0 else f"{r.hops} hop{'s' if r.hops > 1 else ''}"
            typer.echo(f"  {printable(what)} [{how}]")
            typer.echo(f"    {printable(describe_path(access, list(r.path)))}")

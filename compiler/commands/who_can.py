"""wiam who-can."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .. import windows
from ..diagnostics import Report, printable
from ..graph import build_graph, describe_path
from ..query import who_can
from .common import AtOption, RevOption, moment, DirArgument, FormatOption, OutputFormat, RecursiveOption, fail_usage, planned_spec


def who_can_command(directory: str = DirArgument, recursive: bool = RecursiveOption,
                    action: Optional[str] = typer.Option(None, "--action", "-a",
                                                         help="s3:GetObject, storage.objects.get or Microsoft.X/y/read."),
                    resource: Optional[str] = typer.Option(None, "--resource", help="An ARN, GCP full resource name "
                                                                                     "or Azure resource ID."),
                    role: Optional[str] = typer.Option(None, "--role", help="A GCP or Azure role, or an AWS managed policy."),
                    fmt: OutputFormat = FormatOption,
                    at: Optional[str] = AtOption, rev: Optional[str] = RevOption) -> None:
    """Which subjects and workloads reach an action, resource or role, and through which path."""
    if action is None and role is None and resource is None:
        fail_usage("give --action (with or without --resource), --role or --resource")
    if action is not None and role is not None:
        fail_usage("give either --action or --role, not both")
    model, plans = planned_spec(directory, recursive, fmt, Report(), moment(at, rev), rev)
    access = build_graph(model, plans)
    answers = who_can(access, action, resource, role, model.at)
    if fmt is OutputFormat.json:
        query = {"action": action, "resource": resource, "role": role}
        typer.echo(json.dumps({"at": windows.text(model.at), "query": query,
                               "answers": [a.as_json(access) for a in answers]}, indent=2, ensure_ascii=False))
        return
    if not answers:
        typer.echo(f"no subject reaches it at {windows.text(model.at)}")
        return
    nodes = access.graph.nodes
    for answer in answers:
        how = "directly" if answer.direct else f"through {answer.hops} other principal{'s' if answer.hops > 1 else ''}"
        window = answer.window(access)
        until = f", {windows.described(window)}" if window else ""
        typer.echo(printable(f"{nodes[answer.subject]['issuer']} {nodes[answer.subject]['subject']} "
                             f"(workload {answer.workload}), {how}{until}:"))
        typer.echo(f"  {printable(describe_path(access, list(answer.path)))}")

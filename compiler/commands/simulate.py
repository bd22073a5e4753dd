"""wiam simulate."""

from __future__ import annotations

import json
from enum import Enum
from typing import Optional

import typer

from .. import windows
from ..diagnostics import Report, printable, quote
from ..loader import UsageError
from ..simulate import read_claims, simulation
from .common import AtOption, RevOption, moment, EXIT_SPEC, DirArgument, FormatOption, OutputFormat, RecursiveOption, fail_usage, planned_spec


class Expectation(str, Enum):
    accepted = "accepted"
    refused = "refused"


def simulate(directory: str = DirArgument, recursive: bool = RecursiveOption,
             claims_file: Optional[str] = typer.Option(None, "--claims", help="A decoded JWT payload (JSON)."),
             token: Optional[str] = typer.Option(None, "--token", help="A raw JWT; its signature is not checked."),
             expect: Optional[Expectation] = typer.Option(None, "--expect",
                                                          help="Exit 1 unless the token is accepted (or refused) "
                                                               "somewhere."),
             fmt: OutputFormat = FormatOption,
             at: Optional[str] = AtOption, rev: Optional[str] = RevOption) -> None:
    """Which cloud principals would accept a token, what it could then reach, and why others refuse it."""
    try:
        claims = read_claims(claims_file, token)
    except UsageError as error:
        fail_usage(str(error))
    model, plans = planned_spec(directory, recursive, fmt, Report(), moment(at, rev), rev)
    result = simulation(model, claims, plans)
    nodes = result.access.graph.nodes
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
    elif result.accepted:
        typer.echo(f"accepted by {len(result.accepted)} principal{'s' if len(result.accepted) > 1 else ''}:")
        for verdict in result.accepted:
            typer.echo(f"  {verdict.cloud} {verdict.target}: {verdict.principal} (workload {verdict.workload})")
        typer.echo("it could then reach:")
        for r in result.ranked():
            typer.echo(f"  {r.severity.upper()} {nodes[r.grant]['cloud']} {nodes[r.grant]['target']}: "
                       f"{nodes[r.node]['label']} on {', '.join(r.resources) or '(no resource)'}"
                       + (f" [{r.hops} hop{'s' if r.hops > 1 else ''}]" if r.hops else ""))
    else:
        typer.echo(f"refused everywhere: no principal accepts sub {quote(claims['sub'])} from {quote(claims['iss'])}")
        for verdict in result.nearest:
            failed = [c.name for c in verdict.checks if not c.passed]
            typer.echo(f"  {verdict.cloud} {verdict.target}: {verdict.principal} (workload {verdict.workload}): "
                       f"passes {', '.join(verdict.passed) or 'nothing'}; fails {', '.join(failed)}")
            for reason in verdict.reasons:
                typer.echo(f"    {printable(reason)}")  # reasons quote certificates and claims
    if result.outside_window and fmt is not OutputFormat.json:
        typer.echo(f"refused at {windows.text(model.at)} by a time window:")
        for line in result.outside_window:
            typer.echo(f"  {printable(line)}")
    if expect is not None and (expect is Expectation.accepted) != bool(result.accepted):
        raise typer.Exit(EXIT_SPEC)

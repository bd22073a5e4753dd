"""wiam grant."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .. import jit, windows
from ..diagnostics import Report, SpecError, printable
from ..diff import diff_sides, read_side, to_text
from ..loader import UsageError
from ..spec_edit import EditError, add_block, write_in_place
from .common import (EXIT_SPEC, EXIT_USAGE, AtOption, Cloud, DirArgument, FormatOption, OutputFormat, RecursiveOption,
                     fail_lines, fail_spec, fail_usage, moment, valid_model)


def grant_command(workload: str = typer.Argument(..., help="The workload to grant to."),
                  directory: str = DirArgument,
                  cloud: Cloud = typer.Option(..., "--cloud", help="The cloud of the target."),
                  target: str = typer.Option(..., "--target", metavar="NAME", help="The target, by its name."),
                  actions: Optional[list[str]] = typer.Option(None, "--actions", help="An action (repeatable)."),
                  resources: Optional[list[str]] = typer.Option(None, "--resources",
                                                                help="A resource the actions are on (repeatable)."),
                  roles: Optional[list[str]] = typer.Option(None, "--roles", help="A role (repeatable)."),
                  resource: Optional[str] = typer.Option(None, "--resource", help="The resource the roles are on."),
                  scope: Optional[str] = typer.Option(None, "--scope", help="The scope the roles are on."),
                  length: str = typer.Option(..., "--for", metavar="DURATION",
                                             help=f"How long: 30m, 2h, 1h30m, 1d; at most {jit.MAX_FOR.days}d."),
                  reason: str = typer.Option(..., "--reason", help="Why the access is needed."),
                  ticket: Optional[str] = typer.Option(None, "--ticket", help="The ticket or incident it is for."),
                  recursive: bool = RecursiveOption, fmt: OutputFormat = FormatOption,
                  at: Optional[str] = AtOption) -> None:
    """Write a time-bound grant into the workload's own spec file: from --at (default now) for the
    time --for says, with its reason. Nothing is written unless the edited spec validates; then the
    diff a reviewer will see is printed."""
    start = moment(at)
    fields = {"actions": actions, "resources": resources, "roles": roles, "resource": resource, "scope": scope}
    try:
        asked = jit.request(workload, cloud.value, target, fields, start, length, reason, ticket)
    except UsageError as error:
        fail_usage(str(error))
    old = valid_model(directory, recursive, fmt, Report(), start)
    try:
        jit.refuse_conflicts(old, asked)
        file, content = add_block(old, asked.path[:2], "grant", asked.path[3:], asked.body())
        jit.validated(directory, recursive, {file: content}, start)
        write_in_place(file, content, directory)
    except UsageError as error:
        fail_lines(str(error), EXIT_USAGE)
    except EditError as error:
        fail_lines(str(error), EXIT_SPEC)
    except SpecError as error:
        fail_spec(error, fmt)
    new = valid_model(directory, recursive, fmt, Report(), start)
    change = diff_sides(read_side(old, "before", None), read_side(new, "after", None))
    written = new.workloads[workload]
    made = next(g for g in written.grants + written.closed if (g.cloud, g.target) == (asked.cloud, asked.target))
    window = windows.narrowest(written.window, made.window)  # what holds: the workload's window narrows it
    place = new.where(asked.path, key=True)
    if fmt is OutputFormat.json:
        shown = {"workload": workload, "cloud": asked.cloud, "target": asked.target, "file": file, "line": place.line,
                 "window": windows.as_json(window), "reason": reason, "ticket": ticket}
        typer.echo(json.dumps({"grant": shown, "diff": change.as_json()}, indent=2, ensure_ascii=False))
        return
    ticketed = f"; ticket {printable(ticket)}" if ticket is not None else ""
    typer.echo(f'wrote grant "{asked.cloud}" "{asked.target}" in workload "{workload}" to {printable(str(place))}\n'
               f"window: {windows.described(window)}; reason: {printable(reason)}{ticketed}\n")
    typer.echo(to_text(change), nl=False)

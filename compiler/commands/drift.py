"""wiam drift."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .. import registry
from ..diagnostics import Report
from ..drift import drift as find_drift
from ..drift import selected, to_text
from .common import (AtOption, moment, EXIT_SPEC, EXIT_UNREAD, Cloud, DirArgument, FormatOption, OutputFormat, RecursiveOption,
                     fail_usage, planned_spec, with_endpoints)


@with_endpoints
def drift(directory: str = DirArgument, recursive: bool = RecursiveOption,
          clouds: Optional[list[Cloud]] = typer.Option(None, "--cloud", help="Read only this cloud (repeatable)."),
          targets: Optional[list[str]] = typer.Option(None, "--target", metavar="NAME",
                                                      help="Read only this target, NAME or CLOUD.NAME (repeatable)."),
          allow_unread: bool = typer.Option(False, "--allow-unread", help="Exit 0, not 3, when a target cannot be read."),
          endpoints: dict[str, dict] = None, fmt: OutputFormat = FormatOption,
          at: Optional[str] = AtOption) -> None:
    """Compare what runs in the clouds with what the spec compiles to, read-only: missing, extra and
    changed objects per target. Credentials come from each SDK's default chain. Exit 1 on drift, 3
    when a target it was asked to read could not be read (--cloud and --target leave targets out)."""
    model, plans = planned_spec(directory, recursive, fmt, Report(), moment(at))
    try:
        keys = selected(model, {c.value for c in clouds} if clouds else None, targets)
    except ValueError as error:
        fail_usage(str(error))
    try:
        connections = {cloud: registry.get(cloud).live.connect(**endpoints[cloud])
                       for cloud in sorted({cloud for cloud, _ in keys})}
        results = find_drift(model, connections, targets=keys, plans=plans)
    except ImportError as error:
        fail_usage(f"the SDK for drift is not installed ({error.name}): pip install 'wiam[live]'")
    drifted, unread = any(r.drifted for r in results), any(r.unreadable for r in results)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"drifted": drifted, "unread": unread, "targets": [r.as_json() for r in results]},
                              indent=2, sort_keys=True))
    else:
        typer.echo(to_text(results), nl=False)
    # Drift is a finding about what runs, so it outranks an incomplete read; both are printed.
    raise typer.Exit(EXIT_SPEC if drifted else EXIT_UNREAD if unread and not allow_unread else 0)

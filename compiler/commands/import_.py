"""wiam import."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .. import registry
from ..diagnostics import Report, SpecError
from ..compile import load_valid_model
from ..importing import find, find_adoptable, propose, proposal_text, to_text, write, write_proposal
from ..loader import UsageError
from .common import (AtOption, moment, EXIT_SPEC, DirArgument, FormatOption, OutputFormat, RecursiveOption, fail_spec, fail_usage,
                     valid_model, with_endpoints)


@with_endpoints
def import_command(directory: str = DirArgument, recursive: bool = RecursiveOption,
                   targets: Optional[list[str]] = typer.Option(None, "--target", metavar="NAME",
                                                               help="Only this target, NAME or CLOUD.NAME (repeatable)."),
                   write_spec: bool = typer.Option(False, "--write", help="Add them to the spec files (else only print)."),
                   endpoints: dict[str, dict] = None, fmt: OutputFormat = FormatOption,
                   at: Optional[str] = AtOption) -> None:
    """Find the objects in the clouds that wiam did not create and that the spec's targets need (an
    AWS account's OIDC providers for the spec's issuers), and add them to the targets' settings
    (existing_oidc_providers), so that compiling reuses them instead of colliding with them. Propose a
    workload for each principal made outside wiam (AWS roles trusting the account's OIDC providers,
    GCP service accounts, Azure user-assigned identities) whose grant adopts it, and with --write add
    them as a new spec file (adopted.wiam.hcl). Credentials come from each SDK's default chain."""
    model = valid_model(directory, recursive, fmt, Report(), moment(at))
    connections: dict = {}

    def connect(cloud: str):
        if cloud not in connections:
            connections[cloud] = registry.get(cloud).live.connect(**endpoints[cloud])
        return connections[cloud]

    written = None
    try:
        adopted = find_adoptable(model, targets, connect)
        proposal = propose(model, adopted)
        if write_spec and proposal.workloads:
            written = write_proposal(proposal, directory, recursive)
            model = load_valid_model(directory, recursive, at=moment(at))  # its issuers may need providers imported
        found = find(model, targets, connect, adopting=True)
    except UsageError as error:
        fail_usage(str(error))
    except ImportError as error:
        fail_usage(f"the SDK for import is not installed ({error.name}): pip install 'wiam[live]'")
    except SpecError as error:
        fail_spec(error, fmt)
    if write_spec:
        try:
            write(model, found, directory, recursive)
        except SpecError as error:
            fail_spec(error, fmt)
    unread = [item for item in adopted if item.error]
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"targets": [item.as_json() for item in found], "written": write_spec,
                               "adopt": {"workloads": {k: list(v) for k, v in proposal.workloads.items()},
                                         "issuers": proposal.issuers, "text": proposal.text, "file": written,
                                         "unread": {f"{i.cloud}.{i.target}": i.error for i in unread}}},
                              indent=2, sort_keys=True))
    else:
        typer.echo(to_text(found, model) + proposal_text(proposal, adopted, written), nl=False)
    raise typer.Exit(EXIT_SPEC if any(item.error for item in found) or unread else 0)

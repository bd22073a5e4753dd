"""The `wiam` command line: the commands of wiam.commands, one module each. Exit codes: 0 success,
1 the spec failed, 2 a usage error; `wiam drift` also 3, a target it could not read."""

from __future__ import annotations

import gc
import sys

import typer

from .commands import catalog
from .commands.analyze import analyze
from .commands.blast_radius import blast_radius_command
from .commands.codeowners import codeowners_command
from .commands.compile import compile_command
from .commands.diff import diff_command
from .commands.discover import discover
from .commands.drift import drift
from .commands.grant import grant_command
from .commands.graph import graph
from .commands.history import history
from .commands.import_ import import_command
from .commands.prune import prune_command
from .commands.report import report
from .commands.review import review_command
from .commands.rules import rules
from .commands.simulate import simulate
from .commands.validate import validate
from .commands.who_can import who_can_command

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Compile workload identity specs into Terraform JSON for AWS, GCP and Azure.")
for name, command in (("validate", validate), ("compile", compile_command), ("analyze", analyze), ("graph", graph),
                      ("who-can", who_can_command), ("blast-radius", blast_radius_command), ("simulate", simulate),
                      ("diff", diff_command), ("report", report), ("drift", drift), ("import", import_command),
                      ("grant", grant_command), ("prune", prune_command), ("rules", rules), ("history", history)):
    app.command(name)(command)
app.command("review")(review_command)  # issue 22: access reviews and separation of duties
app.command("codeowners")(codeowners_command)
app.command("discover")(discover)  # issue 21: go secretless
app.add_typer(catalog.app, name="catalog")


def main() -> None:
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        gc.freeze()  # the exit's last collection would scan every catalog and model object only to free them

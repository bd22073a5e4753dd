"""wiam rules."""

from __future__ import annotations

import json
from enum import Enum

import typer

from ..analysis import all_rules
from ..analysis import output as analysis_output


class RulesFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


def rules(fmt: RulesFormat = typer.Option(RulesFormat.text, "--format", "-f", help="Output format.")) -> None:
    """The analysis rules: ID, severity, title, explanation and fix."""
    catalog = all_rules()
    if fmt is RulesFormat.markdown:
        typer.echo(analysis_output.rules_markdown(catalog), nl=False)
    elif fmt is RulesFormat.json:
        typer.echo(json.dumps([{"id": r.id, "name": r.name, "severity": r.severity, "title": r.title,
                                "explanation": r.explanation, "fix": r.fix} for r in catalog.values()], indent=2))
    else:
        for rule in catalog.values():
            typer.echo(f"{rule.id:<8} {rule.severity:<8} {rule.name}: {rule.title}")

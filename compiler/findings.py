"""What analysis rules are made of: rules, findings, and the context a rule reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable, Iterable

from .access import AccessGraph
from .diagnostics import Pos, printable
from .model import Model
from .plan import Plans

SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    message: str
    pos: Pos
    block: str
    workload: str | None = None
    path: tuple[str, ...] = ()  # node IDs in the access graph, where the finding is a path
    suppressed: str | None = None  # the reason given in the spec
    related: tuple[str, ...] = ()  # what an aggregated finding lists: graph node IDs or workload names

    def __post_init__(self) -> None:  # its text lands in SARIF and pull-request comments: printable only
        for name in ("message", "block", "suppressed"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, printable(getattr(self, name)))

    def sort_key(self) -> tuple:
        return (self.pos.file, self.pos.line, self.pos.column, self.rule, self.message)


@dataclass(frozen=True)
class Limits:
    """What the time-window rules measure against (analyze's options)."""
    expiring_within: timedelta = timedelta(hours=24)  # a window closing this soon after --at is reported
    max_break_glass: timedelta = timedelta(hours=12)  # the longest a break-glass window may hold


@dataclass
class Context:
    model: Model
    access: AccessGraph
    plans: Plans = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    shared: dict = field(default_factory=dict)  # what several rules compute of one run, computed once
    discovered: list = field(default_factory=list)  # (secretless.Credential, Pos) of the discovery file


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: str
    title: str
    explanation: str
    fix: str
    check: Callable[["Rule", Context], Iterable[Finding]] = field(repr=False, compare=False)

    def run(self, context: Context) -> Iterable[Finding]:
        return self.check(self, context)

    def finding(self, pos: Pos, block: str, message: str, workload: str | None = None,
                path: Iterable[str] = (), related: Iterable[str] = ()) -> Finding:
        return Finding(self.id, self.severity, message, pos, block, workload, tuple(path), related=tuple(related))


def rule(registry: list, id: str, name: str, severity: str, title: str, explanation: str, fix: str):
    """Register a check function, called as check(rule, context), as a rule in `registry`."""
    assert severity in SEVERITIES, severity

    def register(check):
        registry.append(Rule(id, name, severity, title, " ".join(explanation.split()), " ".join(fix.split()), check))
        return check
    return register

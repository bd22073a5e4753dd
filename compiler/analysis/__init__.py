"""Least-privilege analysis: a catalog of rules over the model and the access graph."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from .. import registry
from ..access import AccessGraph
from ..diagnostics import printable
from ..document import describe
from ..findings import SEVERITIES, Context, Finding, Limits, Rule
from ..model import Model
from ..plan import Plans
from .chains import RULES as CHAIN_RULES
from .jit import RULES as WINDOW_RULES
from .rules import RULES as GENERIC_RULES
from .x509 import RULES as X509_RULES

__all__ = ["SEVERITIES", "Finding", "Limits", "Rule", "all_rules", "analyze", "at_or_above", "disabled_blocks"]


@lru_cache(maxsize=1)
def all_rules() -> dict[str, Rule]:
    """Every rule by ID: the generic ones, then each cloud's."""
    rules = list(GENERIC_RULES) + WINDOW_RULES + X509_RULES + CHAIN_RULES
    for _, provider in registry.providers():
        rules.extend(provider.RULES)
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids)), "rule IDs must be unique"
    return {r.id: r for r in sorted(rules, key=lambda r: r.id)}


def analyze(model: Model, access: AccessGraph | None = None, plans: Plans | None = None,
            limits: Limits = Limits(), discovered: list | None = None) -> list[Finding]:
    """Every finding at the model's moment, sorted by place; those the spec suppresses carry the
    reason given. The graph is built from `plans` (planned here when not given); `discovered` is
    what the discovery file holds (discovery.load)."""
    from ..graph import build_graph  # here: validation imports this package for the rule IDs alone
    from ..planning import plan_model

    plans = plan_model(model) if plans is None else plans
    context = Context(model, access or build_graph(model, plans), plans, limits, discovered=discovered or [])
    with model.document.batch() as exact:  # rules point at attributes: each file is read once for them
        found = [(rule, finding) for rule in all_rules().values() for finding in rule.run(context)]
    findings = []
    for rule, finding in found:
        workload = model.workloads.get(finding.workload) if finding.workload else None
        reason = workload.suppress.get(rule.id) if workload else None
        findings.append(replace(finding, pos=exact.get(id(finding.pos), finding.pos), suppressed=reason))
    return sorted(set(findings), key=Finding.sort_key)


def at_or_above(findings: list[Finding], severity: str) -> list[Finding]:
    """Unsuppressed findings at or above a severity: what --fail-on counts."""
    floor = SEVERITIES.index(severity)
    return [f for f in findings if not f.suppressed and SEVERITIES.index(f.severity) >= floor]


def disabled_blocks(model: Model) -> list[dict]:
    """Every issuer, workload and identity whose kill switch is on, with its reason and place."""
    switched = [("issuer", ("issuer", name), issuer.disabled) for name, issuer in sorted(model.issuers.items())
                if issuer.disabled]
    for name, workload in sorted(model.workloads.items()):
        if workload.disabled:
            switched.append(("workload", ("workload", name), workload.disabled))
        switched += [("identity", ("workload", name, "identity", i.index), i.switched_off)
                     for i in workload.identities if i.switched_off]
    with model.document.batch() as exact:  # each file read once for the switches' positions
        asked = [model.where(path + ("disabled",)) for _, path, _ in switched]
    found = []
    for (kind, path, reason), pos in zip(switched, asked):
        pos = exact.get(id(pos), pos)
        found.append({"kind": kind, "block": describe(path), "reason": printable(reason), "file": pos.file,
                      "line": pos.line, "column": pos.column})
    return found

"""Planning: each target of a valid model planned by its cloud's provider, the cloud limits checked."""

from __future__ import annotations

from typing import Callable

from . import chains, registry
from .diagnostics import Report
from .document import describe
from .model import Model, Target
from .plan import Plans


def plan_model(model: Model, report: Report | None = None,
               on_target: Callable[[int, int], None] | None = None) -> Plans:
    """Every target's plan, with the cloud limits checked: what "valid" means. SpecError lists every
    breach. on_target(done, total) after each target (progress)."""
    report = report or Report()
    chains.check(model, report)
    report.raise_if_any()  # a plan needs the workloads its identities name
    values = chains.references(model)
    plans: Plans = {}
    for cloud, provider in registry.providers():
        for target in model.targets_of(cloud):
            _refuse_kinds(model, target, provider.KINDS, report)
            plans[(cloud, target.name)] = provider.plan(model, target, report)
            plans[(cloud, target.name)].references = values
            if on_target:
                on_target(len(plans), len(model.targets))
    report.raise_if_any()
    return plans


def _refuse_kinds(model: Model, target: Target, accepted: frozenset[str], report: Report) -> None:
    """An identity of a kind the target's cloud has no way to trust, on a workload granted there."""
    for workload, grant in model.grants_on(target):
        for identity in workload.identities:
            kind = identity.issuer.kind
            if kind not in accepted:
                clouds = [cloud for cloud, provider in registry.providers() if kind in provider.KINDS]
                report.error(identity.pos, describe(("workload", workload.name, "identity", identity.index)),
                             f"{target.cloud} target {target.name!r} cannot accept a {kind} identity "
                             f"(issuer {identity.issuer.name!r}): {target.cloud} has no way to trust it",
                             f"grant workload {workload.name!r} only in {' or '.join(clouds)}, or give the identity "
                             "its own workload" if clouds else f"no cloud accepts {kind} identities; remove the identity")

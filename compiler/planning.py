"""Planning: each target of a valid model planned by its cloud's provider, the cloud limits checked."""

from __future__ import annotations

from typing import Callable

from . import registry
from .diagnostics import Report
from .model import Model
from .plan import Plans


def plan_model(model: Model, report: Report | None = None,
               on_target: Callable[[int, int], None] | None = None) -> Plans:
    """Every target's plan, with the cloud limits checked: what "valid" means. SpecError lists every
    breach. on_target(done, total) after each target (progress)."""
    report = report or Report()
    plans: Plans = {}
    for cloud, provider in registry.providers():
        for target in model.targets_of(cloud):
            plans[(cloud, target.name)] = provider.plan(model, target, report)
            if on_target:
                on_target(len(plans), len(model.targets))
    report.raise_if_any()
    return plans

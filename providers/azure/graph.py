"""Azure in the access graph: managed identities, role assignments, and identity takeover."""

from __future__ import annotations

import bisect

from wiam.access import AccessGraph
from wiam.model import Model

from . import catalog
from .permissions import TAKEOVER, opening
from .plan import AzurePlan, ManagedIdentity
from .settings import CLOUD, GrantSettings, TargetSettings, scope_contains


def graph(plan: AzurePlan, access: AccessGraph) -> None:
    for identity in plan.identities:
        principal = plan.principals[identity.workload.name]
        node = access.principal(identity.workload, plan.spec, principal.kind, principal.name, principal.trust,
                                **principal.attributes)
        roles = list(identity.access.roles)
        grant_id = access.grant(node, identity.grant, roles=roles, scope=identity.access.scope,
                                subscription_wide=identity.access.subscription_wide,
                                unenforced=plan.unenforced.get(identity.workload.name), schedule=_schedule(identity))
        for role in roles:
            definition = catalog.definition(role)
            role_id = f"{CLOUD}:role:{definition.name if definition else role}"
            access.node(role_id, "role", definition.name if definition else role, cloud=CLOUD,
                        custom=definition is None, role_definition_id=definition.id if definition else None)
            access.edge(grant_id, role_id, "allows")
        scope_id = f"{CLOUD}:scope:{identity.access.scope}"
        access.node(scope_id, "resource", identity.access.scope, cloud=CLOUD)
        access.edge(grant_id, scope_id, "on")


def _schedule(identity: ManagedIdentity) -> dict | None:
    """The PIM schedule Azure holds the grant's role assignments to (None: plain, standing assignments)."""
    schedule = next((a.schedule for a in identity.assignments if a.schedule), None)
    if schedule is None:
        return None
    return {key: value for key, value in (("not_before", schedule.start), ("expires", schedule.end)) if value}


def link_principals(model: Model, access: AccessGraph) -> None:
    """A role at a scope holding another identity that can add credentials to it, or assign it."""
    by_id = sorted((other["resource_id"].lower(), other_id) for other_id, other in access.nodes_of("principal",
                                                                                                    cloud=CLOUD))
    keys = [key for key, _ in by_id]
    for grant_id, grant in access.nodes_of("grant", cloud=CLOUD):
        usable = opening(tuple(grant["roles"]))
        if not usable:
            continue
        holder = next(iter(access.graph.predecessors(grant_id)))
        scope = grant["scope"].rstrip("/").lower()
        # IDs inside the scope sort between it and the scope followed by "0", the character after "/".
        for key, other_id in by_id[bisect.bisect_left(keys, scope):bisect.bisect_left(keys, scope + "0")]:
            if other_id != holder and scope_contains(scope, key):
                access.edge(holder, other_id, "can_act_as", via=grant_id, permission=usable,
                            technique=TAKEOVER[usable])


def reach(grant: dict, target: dict, targets: dict[str, dict]) -> set[str]:
    """The Azure targets (by name, from their settings) whose identities a grant may act as: those
    whose resource group its scope holds, or lies in."""
    access = GrantSettings.of(grant, TargetSettings.of(target))
    if not opening(access.roles):
        return set()
    found = set()
    for name, other in targets.items():
        group = TargetSettings.of(other).group_id
        if scope_contains(access.scope, group) or scope_contains(group, access.scope):
            found.add(name)
    return found

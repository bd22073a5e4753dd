"""Azure in the access graph: managed identities, role assignments, and identity takeover."""

from __future__ import annotations

import bisect
from functools import lru_cache

from wiam.access import AccessGraph
from wiam.model import Model, Target

from . import catalog
from .terraform import DEFAULT_AUDIENCE, identity_name

# Operations at a scope that contains another identity which let the holder act as it, and how.
TAKEOVER = {
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write":
        "add a federated credential for a subject it controls",
    "Microsoft.Authorization/roleAssignments/write": "assign itself a role that can add federated credentials",
    "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action": "attach the identity to compute it controls",
}


def identity_resource_id(target: Target, workload: str) -> str:
    settings = target.settings
    return (f"/subscriptions/{settings['subscription_id']}/resourceGroups/{settings['resource_group']}"
            f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity_name(workload)}")


def grant_scope(target: Target, settings: dict) -> str:
    return _scope(target.settings, settings)


def _scope(target: dict, settings: dict) -> str:
    return settings.get("scope", f"/subscriptions/{target['subscription_id']}")


@lru_cache(maxsize=4096)
def _opening(roles: tuple[str, ...]) -> str | None:
    """The first operation by which roles let an identity act as another identity in their scope.
    Cached: grants repeat the same few role lists."""
    definitions = [d for d in map(catalog.definition, roles) if d]
    return next((op for op in TAKEOVER if any(d.allows(op) for d in definitions)), None)


def reach(settings: dict, target: dict, targets: dict[str, dict]) -> set[str]:
    """The Azure targets (by name, from their settings) whose identities a grant may act as: those
    whose resource group its scope holds, or lies in."""
    if not _opening(tuple(settings["roles"])):
        return set()
    scope = _scope(target, settings).rstrip("/").lower()
    found = set()
    for name, other in targets.items():
        group = f"/subscriptions/{other['subscription_id']}/resourceGroups/{other['resource_group']}".lower()
        if group == scope or group.startswith(scope + "/") or scope.startswith(group + "/"):
            found.add(name)
    return found


def scope_contains(scope: str, resource_id: str) -> bool:
    scope, resource_id = scope.rstrip("/").lower(), resource_id.lower()  # ARM IDs ignore case
    return resource_id == scope or resource_id.startswith(scope + "/")


def graph_target(model: Model, target: Target, access: AccessGraph) -> None:
    for workload, grant in model.grants_on(target):
        if not workload.identities:
            continue
        credentials = sorted(({"issuer": i.issuer.url, "subject": i.subject,
                               "audience": i.audience_for(DEFAULT_AUDIENCE)} for i in workload.active_identities),
                             key=lambda c: (c["issuer"], c["subject"]))
        resource_id = identity_resource_id(target, workload.name)
        node = access.principal(workload, target, "identity", identity_name(workload.name),
                                trust={"federated_credentials": credentials}, resource_id=resource_id)
        roles = list(dict.fromkeys(grant.settings["roles"]))
        scope = grant_scope(target, grant.settings)
        grant_id = access.grant(node, grant, roles=roles, scope=scope,
                                subscription_wide="scope" not in grant.settings)
        for role in roles:
            definition = catalog.definition(role)
            role_id = f"azure:role:{definition.name if definition else role}"
            access.node(role_id, "role", definition.name if definition else role, cloud="azure",
                        custom=definition is None, role_definition_id=definition.id if definition else None)
            access.edge(grant_id, role_id, "allows")
        access.node(f"azure:scope:{scope}", "resource", scope, cloud="azure")
        access.edge(grant_id, f"azure:scope:{scope}", "on")


def link_principals(model: Model, access: AccessGraph) -> None:
    """A role at a scope holding another identity that can add credentials to it, or assign it."""
    by_id = sorted((other["resource_id"].lower(), other_id) for other_id, other in access.nodes_of("principal",
                                                                                                    cloud="azure"))
    keys = [key for key, _ in by_id]
    for grant_id, grant in access.nodes_of("grant", cloud="azure"):
        usable = _opening(tuple(grant["roles"]))
        if not usable:
            continue
        holder = next(iter(access.graph.predecessors(grant_id)))
        scope = grant["scope"].rstrip("/").lower()
        # IDs inside the scope sort between it and the scope followed by "0", the character after "/".
        for key, other_id in by_id[bisect.bisect_left(keys, scope):bisect.bisect_left(keys, scope + "0")]:
            if other_id != holder and scope_contains(scope, key):
                access.edge(holder, other_id, "can_act_as", via=grant_id, permission=usable,
                            technique=TAKEOVER[usable])


def allows(node: dict, action: str) -> bool:
    """Whether a role node allows an operation (Microsoft.Provider/...), as a control or data action."""
    definition = catalog.definition(node["label"])
    return bool(definition) and (definition.allows(action) or definition.allows(action, data=True))


def covers(grant: dict, resource: str) -> bool:
    """Whether an ARM resource ID is within a grant node's scope."""
    return scope_contains(grant["scope"], resource)


def impact(node: dict) -> str:
    """How bad it is that an attacker holds this role: by the operations it allows."""
    definition = catalog.definition(node["label"])
    if definition is None:
        return "high"  # a custom role: its operations are not known here
    if definition.actions == ("*",) or any(definition.allows(op) for op in TAKEOVER):
        return "critical"
    granted = definition.actions + definition.data_actions
    return "high" if any(not a.lower().endswith("/read") for a in granted) else "medium"


def permission_set(label: str) -> frozenset[str] | None:
    """A built-in role's operation patterns (compared as written); None for a custom role."""
    definition = catalog.definition(label)
    return frozenset(definition.actions + tuple(f"data:{a}" for a in definition.data_actions)) if definition else None

"""Azure's permission vocabulary: grants name roles, which the built-in role catalog resolves to
operations; and the operations that let an identity act as another one."""

from __future__ import annotations

from functools import lru_cache

from wiam.model import Grant

from . import catalog
from .catalog import problem  # noqa: F401 - the protocol's name for the catalog's verdict on a role
from .settings import scope_contains

FIELD = "roles"

# Operations at a scope that contains another identity which let the holder act as it, and how.
TAKEOVER = {
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write":
        "add a federated credential for a subject it controls",
    "Microsoft.Authorization/roleAssignments/write": "assign itself a role that can add federated credentials",
    "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action": "attach the identity to compute it controls",
}


@lru_cache(maxsize=4096)
def opening(roles: tuple[str, ...]) -> str | None:
    """The first operation by which roles let an identity act as another identity in their scope.
    Cached: grants repeat the same few role lists."""
    definitions = [d for d in map(catalog.definition, roles) if d]
    return next((op for op in TAKEOVER if any(d.allows(op) for d in definitions)), None)


def _writes(definition: catalog.RoleDefinition) -> bool:
    return any(not a.lower().endswith("/read") for a in definition.actions + definition.data_actions)


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
    return "high" if _writes(definition) else "medium"


def permission_set(label: str) -> frozenset[str] | None:
    """A built-in role's operation patterns (compared as written); None for a custom role."""
    definition = catalog.definition(label)
    return frozenset(definition.actions + tuple(f"data:{a}" for a in definition.data_actions)) if definition else None


def writes(grant: Grant) -> bool:
    """Whether any role allows more than reading; custom roles count as writing."""
    return any(definition is None or _writes(definition) for definition in map(catalog.definition, grant.settings["roles"]))

"""GCP's permission vocabulary (wiam.provider.Permissions): grants name predefined or custom
roles, each a set of permissions (service.resource.verb) from the shipped catalog."""

from __future__ import annotations

from functools import lru_cache

from wiam.model import Grant

from . import catalog
from .catalog import problem
from .plan import relative_name

__all__ = ["BASIC_ROLES", "FIELD", "IMPERSONATION", "POOL_TAKEOVER", "allows", "covers", "grant_permissions", "impact",
           "permission_set", "problem", "writes"]

FIELD = "roles"  # the grant field whose entries the catalog checks

# Permissions on a service account that let the holder act as it, and how.
IMPERSONATION = {
    "iam.serviceAccounts.getAccessToken": "mint its access tokens",
    "iam.serviceAccountKeys.create": "create a key for it",
    "iam.serviceAccounts.signJwt": "sign JWTs as it",
    "iam.serviceAccounts.signBlob": "sign blobs as it",
    "iam.serviceAccounts.getOpenIdToken": "mint its ID tokens",
    "iam.serviceAccounts.implicitDelegation": "delegate through it",
    "iam.serviceAccounts.actAs": "attach it to compute it creates",
    "iam.serviceAccounts.setIamPolicy": "grant itself roles on it",
}
# Project-level permissions that take over every principal of the project's pool.
POOL_TAKEOVER = {
    "iam.googleapis.com/workloadIdentityPoolProviders.update": "rewrite the pool provider's attribute condition",
    "iam.googleapis.com/workloadIdentityPoolProviders.create": "add a provider to the pool for an issuer it controls",
    "resourcemanager.projects.setIamPolicy": "grant itself any role in the project",
}
BASIC_ROLES = frozenset({"roles/owner", "roles/editor"})
_READ_VERBS = ("get", "list", "search", "read", "query")


def grant_permissions(roles: list[str]) -> frozenset[str]:
    """The union of the predefined roles' permissions; custom roles add what wiam cannot see."""
    found: set[str] = set()
    for role in roles:
        found |= catalog.permissions(role) or frozenset()
    return frozenset(found)


def allows(node: dict, action: str) -> bool:
    """Whether a role node holds a permission (service.resource.verb)."""
    return action in (catalog.permissions(node["label"]) or ())


def covers(grant: dict, resource: str) -> bool:
    """Whether a grant node's resource (or project) is, or contains, a full resource name."""
    resource = relative_name(resource)
    if grant["project_wide"] and resource.startswith("projects/_/"):
        return True  # a bucket's project is not in its name: it may be this one
    return resource == grant["resource"] or resource.startswith(grant["resource"] + "/")


def impact(node: dict) -> str:
    """How bad it is that an attacker holds this role: by what its permissions allow."""
    permissions = catalog.permissions(node["label"])
    if permissions is None:
        return "high"  # a custom role: its permissions are not known here
    if node["label"] in BASIC_ROLES or permissions & (IMPERSONATION.keys() | POOL_TAKEOVER.keys()):
        return "critical"
    return "high" if not _reads_only(permissions) else "medium"


@lru_cache(maxsize=4096)
def _reads_only(permissions: frozenset[str]) -> bool:
    return all(permission.rsplit(".", 1)[-1].startswith(_READ_VERBS) for permission in permissions)


def permission_set(label: str) -> frozenset[str] | None:
    """A predefined role's permissions; None for a custom role."""
    return catalog.permissions(label)


def writes(grant: Grant) -> bool:
    """Whether any role grants a permission beyond reading; custom roles count as writing."""
    roles = grant.settings["roles"]
    if any(catalog.permissions(role) is None for role in roles):
        return True
    return not _reads_only(grant_permissions(roles))

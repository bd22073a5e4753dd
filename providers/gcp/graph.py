"""GCP in the access graph: service accounts or direct principals, role bindings, and impersonation."""

from __future__ import annotations

import re
from functools import lru_cache

from wiam.access import AccessGraph
from wiam.model import Model, Target

from . import catalog
from .terraform import POOL_DEFAULT_ID, WORKLOAD_IDENTITY_USER, principal, service_account_id

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
_SERVICE_ACCOUNT = re.compile(r"(?://iam\.googleapis\.com/)?projects/[^/]+/serviceAccounts/(?P<email>[^/]+)")


def service_account_email(target: Target, workload: str) -> str:
    return f"{service_account_id(workload)}@{target.settings['project_id']}.iam.gserviceaccount.com"


def grant_permissions(roles: list[str]) -> frozenset[str]:
    """The union of the predefined roles' permissions; custom roles add what wiam cannot see."""
    found: set[str] = set()
    for role in roles:
        found |= catalog.permissions(role) or frozenset()
    return frozenset(found)


def graph_target(model: Model, target: Target, access: AccessGraph) -> None:
    number = target.settings["project_number"]
    pool_id = target.settings.get("pool_id", POOL_DEFAULT_ID)
    project = target.settings["project_id"]
    for workload, grant in model.grants_on(target):
        if not workload.identities:
            continue
        bound = [i for i in workload.identities if not i.disabled]  # as compiled: see terraform.py
        members = sorted(principal(number, pool_id, i.subject) for i in bound)
        issuers = sorted({i.issuer.url for i in bound if not i.issuer.disabled})
        if grant.settings.get("mode", "service_account") == "service_account":
            email = service_account_email(target, workload.name)
            node = access.principal(workload, target, "service_account", email,
                                    trust={"issuers": issuers, "members": members, "role": WORKLOAD_IDENTITY_USER},
                                    email=email, resource=f"projects/{project}/serviceAccounts/{email}")
        else:
            node = access.principal(workload, target, "direct", f"{workload.name} (direct principals)",
                                    trust={"issuers": issuers, "members": members}, members=members)
        roles = list(dict.fromkeys(grant.settings["roles"]))
        resource = grant.settings.get("resource") or f"projects/{project}"
        grant_id = access.grant(node, grant, roles=roles, resource=resource,
                                project_wide="resource" not in grant.settings)
        for role in roles:
            permissions = catalog.permissions(role)
            access.node(f"gcp:role:{role}", "role", role, cloud="gcp", custom=permissions is None,
                        permissions=None if permissions is None else len(permissions))
            access.edge(grant_id, f"gcp:role:{role}", "allows")
        access.node(f"gcp:resource:{resource}", "resource", resource, cloud="gcp")
        access.edge(grant_id, f"gcp:resource:{resource}", "on")


@lru_cache(maxsize=4096)
def _openings(roles: tuple[str, ...], project_wide: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The permissions of roles that take over a project's pool (project-wide only), and those that
    impersonate service accounts. Cached: grants repeat the same few role lists."""
    permissions = grant_permissions(roles)
    return (tuple(p for p in POOL_TAKEOVER if p in permissions) if project_wide else (),
            tuple(p for p in IMPERSONATION if p in permissions))


def reach(settings: dict, target: dict, targets: dict[str, dict]) -> set[str]:
    """The GCP targets (by name, from their settings) whose principals a grant may act as: those of
    its own project when it is project-wide, else of the project of the service account it names."""
    project_wide = "resource" not in settings
    takeover, usable = _openings(tuple(settings["roles"]), project_wide)
    if not takeover and not usable:
        return set()
    if project_wide:
        project = target["project_id"]
    else:
        match = _SERVICE_ACCOUNT.fullmatch(settings["resource"])
        if not (usable and match):
            return set()
        project = match["email"].partition("@")[2].removesuffix(".iam.gserviceaccount.com")
    return {name for name, other in targets.items() if other["project_id"] == project}


def link_principals(model: Model, access: AccessGraph) -> None:
    """Impersonation of service accounts, and takeover of a project's workload identity pool."""
    by_project: dict[str, list[tuple[str, dict]]] = {}
    by_email: dict[str, str] = {}
    for other_id, other in access.nodes_of("principal", cloud="gcp"):
        by_project.setdefault(model.targets[("gcp", other["target"])].settings["project_id"], []).append(
            (other_id, other))
        if other["kind"] == "service_account":
            by_email[other["email"]] = other_id
    for grant_id, grant in access.nodes_of("grant", cloud="gcp"):
        takeover, usable = _openings(tuple(grant["roles"]), grant["project_wide"])
        if not takeover and not usable:
            continue  # most grants: nothing that reaches another principal
        holder = next(iter(access.graph.predecessors(grant_id)))
        project = model.targets[("gcp", grant["target"])].settings["project_id"]
        if grant["project_wide"]:  # every principal of the project (takeover) or its service accounts
            reached = [(other_id, takeover[0] if takeover else usable[0]) for other_id, other in
                       by_project.get(project, []) if takeover or other["kind"] == "service_account"]
        else:
            match = _SERVICE_ACCOUNT.fullmatch(grant["resource"])
            reached = [(by_email[match["email"]], usable[0])] if usable and match and match["email"] in by_email else []
        for other_id, permission in reached:
            if other_id != holder:
                access.edge(holder, other_id, "can_act_as", via=grant_id, permission=permission,
                            technique={**POOL_TAKEOVER, **IMPERSONATION}[permission])


def allows(node: dict, action: str) -> bool:
    """Whether a role node holds a permission (service.resource.verb)."""
    return action in (catalog.permissions(node["label"]) or ())


def covers(grant: dict, resource: str) -> bool:
    """Whether a grant node's resource (or project) is, or contains, a full resource name."""
    resource = re.sub(r"^//[a-z0-9.-]+\.googleapis\.com/", "", resource)
    if grant["project_wide"] and resource.startswith("projects/_/"):
        return True  # a bucket's project is not in its name: it may be this one
    return resource == grant["resource"] or resource.startswith(grant["resource"] + "/")


def impact(node: dict) -> str:
    """How bad it is that an attacker holds this role: by what its permissions allow."""
    permissions = catalog.permissions(node["label"])
    if permissions is None:
        return "high"  # a custom role: its permissions are not known here
    if node["label"] in ("roles/owner", "roles/editor") or permissions & (IMPERSONATION.keys() | POOL_TAKEOVER.keys()):
        return "critical"
    verbs = {p.rsplit(".", 1)[-1] for p in permissions}
    return "high" if any(not v.startswith(("get", "list", "search", "read", "query")) for v in verbs) else "medium"


def permission_set(label: str) -> frozenset[str] | None:
    """A predefined role's permissions; None for a custom role."""
    return catalog.permissions(label)

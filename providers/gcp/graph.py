"""GCP in the access graph: service accounts or direct principals, role bindings, and impersonation."""

from __future__ import annotations

from functools import lru_cache

from wiam.access import AccessGraph, target_id
from wiam.model import Model

from . import catalog, gke
from .permissions import IMPERSONATION, POOL_TAKEOVER, grant_permissions
from .plan import CLOUD, GCPPlan, service_account_of
from .settings import SERVICE_ACCOUNT, GrantSettings, TargetSettings, account_project


def graph(plan: GCPPlan, access: AccessGraph) -> None:
    for planned in plan.workloads:
        principal = plan.principals[planned.workload.name]
        node = access.principal(planned.workload, plan.spec, principal.kind, principal.name, trust=principal.trust,
                                **principal.attributes)
        grant_id = access.grant(node, planned.grant, roles=planned.roles, resource=planned.resource,
                                project_wide=planned.settings.project_wide)
        for role in planned.roles:
            permissions = catalog.permissions(role)
            access.node(f"gcp:role:{role}", "role", role, cloud=CLOUD, custom=permissions is None,
                        permissions=None if permissions is None else len(permissions))
            access.edge(grant_id, f"gcp:role:{role}", "allows")
        access.node(f"gcp:resource:{planned.resource}", "resource", planned.resource, cloud=CLOUD)
        access.edge(grant_id, f"gcp:resource:{planned.resource}", "on")


@lru_cache(maxsize=4096)
def _openings(roles: tuple[str, ...], project_wide: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The permissions of roles that take over a project's pool (project-wide only), and those that
    impersonate service accounts. Cached: grants repeat the same few role lists."""
    permissions = grant_permissions(roles)
    return (tuple(p for p in POOL_TAKEOVER if p in permissions) if project_wide else (),
            tuple(p for p in IMPERSONATION if p in permissions))


def reach(grant: dict, target: dict, targets: dict[str, dict]) -> set[str]:
    """The GCP targets (by name, from their settings) whose principals a grant may act as: those of
    its own project when it is project-wide, else of the project of the service account it names."""
    settings = GrantSettings.of(grant)
    takeover, usable = _openings(tuple(settings.roles), settings.project_wide)
    if not takeover and not usable:
        return set()
    if settings.project_wide:
        project = TargetSettings.of(target).project_id
    else:
        email = service_account_of(settings.resource)
        if not (usable and email):
            return set()
        project = account_project(email)
    return {name for name, other in targets.items() if TargetSettings.of(other).project_id == project}


def link_principals(model: Model, access: AccessGraph) -> None:
    """Impersonation of service accounts, and takeover of a project's workload identity pool; a target
    whose project a granted GKE identity's cluster is in gives it its number: it is used."""
    projects = {target.name: TargetSettings.of(target.settings).project_id for target in model.targets_of(CLOUD)}
    clusters = {dict(i.claims)["project_id"] for w in model.workloads.values() if w.grants
                for i in w.identities if gke.is_gke(i)}
    for name, project in sorted(projects.items()):
        if project in clusters:
            access.graph.nodes[target_id(CLOUD, name)]["used_for"] = "the project number of GKE clusters' pool"
    by_project: dict[str, list[tuple[str, dict]]] = {}
    by_email: dict[str, str] = {}
    for other_id, other in access.nodes_of("principal", cloud=CLOUD):
        by_project.setdefault(projects[other["target"]], []).append((other_id, other))
        if other["kind"] == SERVICE_ACCOUNT:
            by_email[other["email"]] = other_id
    for grant_id, grant in access.nodes_of("grant", cloud=CLOUD):
        takeover, usable = _openings(tuple(grant["roles"]), grant["project_wide"])
        if not takeover and not usable:
            continue  # most grants: nothing that reaches another principal
        holder = next(iter(access.graph.predecessors(grant_id)))
        if grant["project_wide"]:  # every principal of the project (takeover) or its service accounts
            reached = [(other_id, takeover[0] if takeover else usable[0]) for other_id, other in
                       by_project.get(projects[grant["target"]], []) if takeover or other["kind"] == SERVICE_ACCOUNT]
        else:
            email = service_account_of(grant["resource"])
            reached = [(by_email[email], usable[0])] if usable and email in by_email else []
        for other_id, permission in reached:
            if other_id != holder:
                access.edge(holder, other_id, "can_act_as", via=grant_id, permission=permission,
                            technique={**POOL_TAKEOVER, **IMPERSONATION}[permission])

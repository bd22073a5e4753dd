"""GCP analysis rules: basic roles, escalation permissions, project-wide grants and namespace-wide GKE principals."""

from __future__ import annotations

from functools import lru_cache

from wiam.findings import Context, Rule, rule
from wiam.document import describe
from wiam.model import Grant

from . import catalog, gke
from .permissions import BASIC_ROLES, IMPERSONATION, POOL_TAKEOVER

RULES: list[Rule] = []

BASIC_VIEWER = "roles/viewer"  # the third basic role, read-only: its own, lower-severity rule
ESCALATION_PERMISSIONS = frozenset(IMPERSONATION) | frozenset(POOL_TAKEOVER) | frozenset({
    "iam.roles.create", "iam.roles.update", "resourcemanager.folders.setIamPolicy",
    "resourcemanager.organizations.setIamPolicy", "storage.buckets.setIamPolicy",
    "secretmanager.secrets.setIamPolicy", "pubsub.topics.setIamPolicy", "cloudkms.cryptoKeys.setIamPolicy",
    "deploymentmanager.deployments.create", "cloudfunctions.functions.create", "cloudbuild.builds.create",
})
# Services whose resources take their own IAM policy (see RESOURCE_KINDS in plan.py).
RESOURCE_LEVEL_SERVICES = frozenset({"storage", "pubsub", "secretmanager", "bigquery", "artifactregistry",
                                     "cloudkms"})


def _role_findings(rule: Rule, context: Context, select):
    """A finding at each role of each GCP grant for which select(grant, role) returns a message."""
    for name, workload in sorted(context.model.workloads.items()):
        for grant in workload.grants:
            if grant.cloud != "gcp":
                continue
            for index, role in enumerate(grant.settings["roles"]):
                message = select(grant, role)
                if message:
                    yield rule.finding(context.model.where(grant.path + ("roles", index)), describe(grant.path),
                                       message, workload=name)


@rule(RULES, "GCP101", "basic-role", "critical", "Basic role (owner or editor)",
      """roles/owner and roles/editor hold thousands of permissions across every service of the
      project, and owner can change its IAM policy: a compromised pipeline owns the project.""",
      """Grant the predefined roles of the services the workload uses, on the resources it uses.""")
def _basic_roles(rule: Rule, context: Context):
    return _role_findings(rule, context, lambda grant, role: (
        f"{role} is a basic role with {len(catalog.permissions(role))} permissions" if role in BASIC_ROLES else None))


@rule(RULES, "GCP102", "privilege-escalation-permission", "high", "Role with privilege-escalation permissions",
      """The role lets the workload impersonate service accounts (token creation, keys, actAs), change
      IAM policies or custom roles, rewrite the workload identity pool's providers, or deploy code that
      runs as another service account.""",
      """Use a role without these permissions, or bind it on the one service account or resource that
      needs it rather than the project.""")
def _escalation_roles(rule: Rule, context: Context):
    return _role_findings(rule, context, _escalation)


def _escalation(grant: Grant, role: str) -> str | None:
    found = sorted(ESCALATION_PERMISSIONS & (catalog.permissions(role) or frozenset()))
    if not found or role in BASIC_ROLES:
        return None
    where = "the project" if "resource" not in grant.settings else grant.settings["resource"]
    return f"{role} on {where} allows {', '.join(found[:4])}" + (
        f" and {len(found) - 4} more" if len(found) > 4 else "")


@rule(RULES, "GCP103", "project-wide-grant", "medium", "Project-wide grant of a resource-level role",
      """The grant has no resource, so the role applies to every bucket, topic, secret, dataset,
      repository or key of the project, though these resources take their own IAM bindings.""",
      """Set resource to the full name of the resource the workload uses (for example
      projects/_/buckets/NAME).""")
def _project_wide(rule: Rule, context: Context):
    return _role_findings(rule, context, _resource_roles_project_wide)


def _resource_roles_project_wide(grant: Grant, role: str) -> str | None:
    if "resource" in grant.settings:
        return None
    services = _services(role)
    if services and services <= RESOURCE_LEVEL_SERVICES:
        return f"{role} applies to every {'/'.join(sorted(services))} resource of the project"
    return None


@lru_cache(maxsize=None)
def _services(role: str) -> frozenset[str]:
    """The services a predefined role's permissions are of, but for the project's own."""
    return frozenset(p.split(".")[0] for p in catalog.permissions(role) or ()
                     if not p.startswith("resourcemanager.projects."))


@rule(RULES, "GCP104", "basic-viewer-role", "medium", "Basic role roles/viewer",
      """roles/viewer reads the configuration and much of the data of every service of the project
      (thousands of permissions), far more than any one workload reads.""",
      """Grant the viewer or reader roles of the services the workload reads, on the resources it reads.""")
def _basic_viewer(rule: Rule, context: Context):
    return _role_findings(rule, context, lambda grant, role: (
        f"{role} is a basic role with {len(catalog.permissions(role))} permissions" if role == BASIC_VIEWER else None))


@rule(RULES, "GCP105", "project-admin-role", "medium", "Administrator role on the whole project",
      """An admin role (roles/<service>.admin, ...Admin) on the project manages every resource of its
      service there, configuration and data, including resources other workloads own. Reported when
      GCP101, GCP102 or GCP103 does not already report the role.""",
      """Grant the service's narrower role (user, editor, writer), or bind the admin role on the one
      resource the workload manages.""")
def _admin_roles(rule: Rule, context: Context):
    def select(grant, role):
        if "resource" in grant.settings or "admin" not in role.rsplit("/", 1)[-1].lower() or role in BASIC_ROLES \
                or _escalation(grant, role) or _resource_roles_project_wide(grant, role):
            return None
        return f"{role} administers its service across the project"
    return _role_findings(rule, context, select)


@rule(RULES, "GCP110", "gke-namespace-principal-set", "medium", "Every service account of a GKE namespace",
      """A gke identity with all_service_accounts = true binds the namespace's principal set: every
      Kubernetes service account of that namespace, in every cluster of the project, including ones
      created later by anyone who can create service accounts there, gets the workload's access.""",
      """Name the one Kubernetes service account the workload runs as (service_account = "...") instead
      of all_service_accounts.""")
def _gke_namespace_wide(rule: Rule, context: Context):
    for name, workload in sorted(context.model.workloads.items()):
        if not any(grant.cloud == "gcp" for grant in workload.grants):
            continue
        for identity in workload.identities:
            if gke.is_gke(identity) and gke.namespace_wide(identity):
                namespace = dict(identity.claims)["namespace"]
                yield rule.finding(context.model.where(identity_path(identity) + (gke.ALL_SERVICE_ACCOUNTS,)),
                                   describe(identity_path(identity)),
                                   f"every Kubernetes service account of namespace {namespace!r} "
                                   f"({identity.subject}) acts as workload {name!r}", workload=name)


def identity_path(identity) -> tuple:
    return ("workload", identity.workload, "identity", identity.index)

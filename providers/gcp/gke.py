"""GKE workloads (issuer kind gke): Workload Identity Federation for GKE, whose Google-managed pool
PROJECT_ID.svc.id.goog (of the cluster's project) names each Kubernetes service account. A workload's
roles are bound to that principal directly, or in service_account mode its account's
workloadIdentityUser is, to the member form GKE documents for that (serviceAccount:PROJECT_ID.svc.id.goog
[NS/SA]): no pool or provider is created. A namespace-wide principal set only when the identity asks
for it with all_service_accounts = true, and only bound directly (it has no such member form)."""

from __future__ import annotations

import re

from wiam.diagnostics import Report
from wiam.document import describe
from wiam.model import Grant, Identity, Model, Workload
from wiam.verdict import Check

KIND = "gke"
POOLS = "iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/{project}.svc.id.goog"
ALL_SERVICE_ACCOUNTS = "all_service_accounts"


def is_gke(identity: Identity) -> bool:
    return identity.issuer.kind == KIND


def is_member(member: str) -> bool:
    """Whether a member is of a GKE pool (pool IDs wiam gives hold no dot)."""
    return ".svc.id.goog/" in member or ".svc.id.goog[" in member


def namespace_wide(identity: Identity) -> bool:
    return dict(identity.claims).get(ALL_SERVICE_ACCOUNTS) is True


def project_numbers(model: Model) -> dict[str, str]:
    """Project ID -> number, from the spec's gcp targets (the principal identifiers need the number)."""
    return {t.settings["project_id"]: t.settings["project_number"] for t in model.targets_of("gcp")}


def member(identity: Identity, numbers: dict[str, str], impersonating: bool = False) -> str:
    """The principal (or, namespace-wide, the principal set) of the identity's Kubernetes service account;
    impersonating: as a service account's workloadIdentityUser binding names it."""
    fields = dict(identity.claims)
    project, namespace = fields["project_id"], fields["namespace"]
    if namespace_wide(identity):
        return f"principalSet://{POOLS.format(number=numbers[project], project=project)}/namespace/{namespace}"
    if impersonating:
        return f"serviceAccount:{project}.svc.id.goog[{namespace}/{fields['service_account']}]"
    return (f"principal://{POOLS.format(number=numbers[project], project=project)}/subject/ns/{namespace}"
            f"/sa/{fields['service_account']}")


def check(model: Model, grants: list[tuple[Workload, Grant]], impersonates, report: Report) -> bool:
    """Every cluster project is one a gcp target names (with its number), and a namespace is bound
    directly; False after an error. impersonates(grant): whether the grant is in service_account mode."""
    numbers, ok = project_numbers(model), True
    for workload, grant in grants:
        for identity in filter(is_gke, workload.identities):
            path = ("workload", identity.workload, "identity", identity.index)
            project = dict(identity.claims)["project_id"]
            if project not in numbers:
                report.error(model.where(path + ("project_id",)), describe(path),
                             f"project {project!r} is no gcp target's: its principals need the project's number",
                             f'declare target "gcp" "NAME" {{ project_id = "{project}", project_number = "..." }} '
                             "(it need not be granted on), or name the cluster's project of a gcp target")
                ok = False
            if namespace_wide(identity) and impersonates(grant):
                report.error(model.where(path + (ALL_SERVICE_ACCOUNTS,)), describe(path),
                             f"a namespace's service accounts cannot act as a service account "
                             f"({describe(grant.path)} is in service_account mode)",
                             'set mode = "direct" on the grant, or name one service_account')
                ok = False
    return ok


# A GKE cluster's tokens (its issuer, the cluster's resource URL) and their Kubernetes subject.
CLUSTER_ISSUER = re.compile(r"https://container\.googleapis\.com/v1/projects/(?P<project>[^/]+)/"
                            r"(?:locations|zones)/[^/]+/clusters/[^/]+")
KUBERNETES_SUBJECT = re.compile(r"system:serviceaccount:(?P<namespace>[^:]+):(?P<service_account>[^:]+)")


def token_members(claims: dict, numbers: dict[str, str]) -> tuple[Check, list[str]]:
    """Whether Google's pool of the cluster's project takes the token (a cluster of a project the spec
    names), and the principals it then is: its service account's, and its namespace's principal set."""
    issuer = CLUSTER_ISSUER.fullmatch(claims["iss"])
    subject = KUBERNETES_SUBJECT.fullmatch(claims["sub"])
    project = issuer and issuer["project"]
    known = Check("iss", bool(issuer and subject and project in numbers),
                  f"the token is from {claims['iss']!r} with sub {claims['sub']!r}; GKE's pools take a cluster's "
                  "(https://container.googleapis.com/v1/projects/PROJECT/locations/L/clusters/C) Kubernetes service "
                  f"accounts (system:serviceaccount:NS:SA), of the projects {sorted(numbers)!r}")
    if not known.passed:
        return known, []
    pool = POOLS.format(number=numbers[project], project=project)
    return known, [f"principal://{pool}/subject/ns/{subject['namespace']}/sa/{subject['service_account']}",
                   f"principalSet://{pool}/namespace/{subject['namespace']}",
                   f"serviceAccount:{project}.svc.id.goog[{subject['namespace']}/{subject['service_account']}]"]


def path_checks(found: tuple[Check, list[str]], members: set[str]) -> tuple[tuple[Check, ...], str | None]:
    """GKE's way to a principal bound to `members` (token_members' verdict and principals): its checks,
    and the member the token is there (None if it is none of them)."""
    known, principals = found
    bound = next((m for m in principals if m in members), None)
    return (known, Check("sub", bound is not None, f"the token is {principals!r}, the principal is bound "
                                                  f"to {sorted(members)!r}")), bound

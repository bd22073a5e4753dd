"""Live GCP, read-only: the workload identity pool and its providers (IAM REST API, which no
Python client library covers), service accounts and their IAM policies (google-cloud-iam, a gRPC
client), and the project's IAM policy (google-cloud-resource-manager). wiam's service accounts
are the ones whose ID starts with `wiam-`; its providers are the ones in its pool.

Bindings on single resources (buckets, topics, secrets...) live in each service's own API and
are not read: each target reports how many it leaves unchecked."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlparse

from wiam.chains import applied, as_planned
from wiam.diagnostics import Report
from wiam.issuers import UUID, OtherWorkload, identity_fields
from wiam.live import (BY_HTTP_STATUS, FAILED, NO_CREDENTIALS, REJECTED, UNREACHABLE, Adoptable, LiveObject, Proposed,
                       Trusted, Unreadable)
from wiam.model import Model, Target
from wiam.schema import grant_pattern

from .. import catalogs
from . import x509
from .federation import NamedMember
from .plan import (ATTRIBUTE_MAPPING, POOL_DESCRIPTION, PROJECT_MEMBER, WORKLOAD_IDENTITY_USER, Binding, GCPPlan,
                   plan as plan_target, subject_condition, window_expression)
from .settings import ACCOUNT_PREFIX, SERVICE_ACCOUNT, GrantSettings, TargetSettings

IAM_REST = "https://iam.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
TIMEOUT = 30  # seconds per call, retries included: an unreachable API fails the target, not hangs the run

@dataclass
class Connection:
    """Credentials from google-auth's default chain. `rest` and `grpc` replace Google's endpoints
    (an emulator on plain http gets anonymous credentials)."""
    credentials: Any
    problem: str | None = None
    rest: str | None = None
    grpc: str | None = None

    def iam(self):
        from google.cloud import iam_admin_v1
        if self.grpc:
            import grpc
            from google.cloud.iam_admin_v1.services.iam.transports import IAMGrpcTransport
            channel = grpc.insecure_channel(urlparse(self.grpc).netloc or self.grpc)
            return iam_admin_v1.IAMClient(transport=IAMGrpcTransport(channel=channel))
        return iam_admin_v1.IAMClient(credentials=self.credentials)

    def projects(self):
        from google.api_core.client_options import ClientOptions
        from google.cloud import resourcemanager_v3
        options = ClientOptions(api_endpoint=self.rest) if self.rest else None
        return resourcemanager_v3.ProjectsClient(credentials=self.credentials, transport="rest", client_options=options)

    def get(self, path: str, api: str = IAM_REST) -> dict:
        """A GET on a REST API (IAM's unless `api` says), raising Unreadable on refusal; None for 404."""
        from google.auth.transport.requests import AuthorizedSession
        response = AuthorizedSession(self.credentials).get(f"{self.rest or api}{path}", timeout=TIMEOUT)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            error = response.json().get("error", {}) if "json" in response.headers.get("Content-Type", "") else {}
            raise Unreadable(f"GET {path}: {response.status_code} {error.get('status', '')} {error.get('message', '')}".strip(),
                             BY_HTTP_STATUS.get(response.status_code, FAILED))
        return response.json()


def connect(rest: str | None = None, grpc: str | None = None) -> Connection:
    import google.auth
    from google.auth.credentials import AnonymousCredentials
    from google.auth.exceptions import DefaultCredentialsError
    if rest and rest.startswith("http://"):
        return Connection(AnonymousCredentials(), rest=rest, grpc=grpc)
    try:
        credentials, _ = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError as error:
        return Connection(None, problem=f"no Google credentials found ({error})", rest=rest, grpc=grpc)
    return Connection(credentials, rest=rest, grpc=grpc)


POLICY_VERSION = 3  # the version that shows conditional bindings as they are (1 renames their roles, drops conditions)


def granted(role: str, expression: str) -> str:
    """A role as drift compares it: with the expression of its condition (a window), if any."""
    return f"{role} when {expression}" if expression else role


def _policy(triples) -> dict[str, list[str]]:
    """(role, member, condition expression) triples as role (with its condition) -> members."""
    roles: dict[str, set] = {}
    for role, member, expression in triples:
        roles.setdefault(granted(role, expression), set()).add(member)
    return {role: sorted(members) for role, members in sorted(roles.items())}


def _provider_state(display_name, description, disabled, mapping, condition, issuer_uri, audiences,
                    store: dict | None = None, aws_account=None) -> dict:
    """A provider of type oidc by its issuer and audiences, one of type aws by its account; `store`: an
    X.509 provider's trust store (x509.store_state), which it has instead of an issuer."""
    source = {"aws_account": aws_account} if aws_account else {"issuer_uri": issuer_uri,
                                                                "allowed_audiences": sorted(audiences or [])}
    return {"display_name": display_name or "", "description": description or "", "disabled": bool(disabled),
            "attribute_mapping": dict(sorted((mapping or {}).items())), "attribute_condition": condition or "",
            **source, **({"x509": store} if store is not None else {})}


def expected(plan: GCPPlan) -> list[LiveObject]:
    found = []
    if plan.pool:  # wiam never disables the pool
        found.append(LiveObject("pool", plan.pool.pool_id, {
            "display_name": plan.pool.display_name, "description": plan.pool.description, "disabled": False}))
    found += [LiveObject("pool_provider", p.provider_id, _provider_state(
        p.display_name, p.description, p.disabled, p.attribute_mapping, p.attribute_condition,
        None if x509.expected_store(p) else p.issuer_uri, p.allowed_audiences, x509.expected_store(p), p.aws_account))
        for p in plan.providers]
    accounts = {w.account.email: w for w in plan.workloads if w.account}
    policies = {email: [_triple(b) for b in w.federation] for email, w in accounts.items()}
    project_roles: dict[str, list] = {}
    for binding in _bindings_of(plan):
        if _on_project(plan, binding):
            project_roles.setdefault(binding.grantee, []).append(granted(binding.role, window_expression(binding.window)))
        elif binding.account in policies:  # a role on one of the target's own service accounts
            policies[binding.account].append(_triple(binding))
    found += [LiveObject("service_account", w.account.account_id, {
        "display_name": w.account.display_name, "description": w.account.description,
        "iam_policy": _policy(policies[email])}) for email, w in accounts.items()]
    found += [LiveObject("project_member", member, {"roles": sorted(set(roles))})
              for member, roles in sorted(project_roles.items())]
    return found


def _named(plan: GCPPlan) -> tuple[dict[str, list], list]:
    """The planned conditions (by provider ID) and members that name a workload's managed identity,
    each with what it reads as once applied (chains.applied): its principal ID, a UUID, in its place."""
    conditions = {}
    for provider in plan.providers:
        keys = [s.key for s, _ in provider.admits if isinstance(s, OtherWorkload)]
        if keys:
            render = partial(subject_condition, provider.admits)
            conditions[provider.provider_id] = [(applied(render, keys, _UUID), provider.attribute_condition)]
    members = {b.grantee for w in plan.workloads for b in w.federation + w.bindings if isinstance(b.grantee, NamedMember)}
    return conditions, [(applied(m.written, [m.named.key], _UUID), m) for m in sorted(members)]


def _triple(binding: Binding) -> tuple[str, str, str]:
    return binding.role, binding.grantee, window_expression(binding.window)


def _bindings_of(plan: GCPPlan):
    return (binding for workload in plan.workloads for binding in workload.bindings)


def _on_project(plan: GCPPlan, binding: Binding) -> bool:
    """Whether a binding is in the target's own project's policy, which read() reads."""
    return binding.terraform_type == PROJECT_MEMBER and binding.arguments["project"] == plan.settings.project_id


def unchecked(plan: GCPPlan) -> int:
    """How many planned bindings drift cannot read: those on single resources (but the target's own
    service accounts) and on other projects."""
    accounts = {w.account.email for w in plan.workloads if w.account}
    return sum(1 for b in _bindings_of(plan) if not _on_project(plan, b) and b.account not in accounts)


@contextmanager
def _readable(what: str):
    from google.api_core.exceptions import DeadlineExceeded, GoogleAPICallError, RetryError, ServiceUnavailable
    from google.auth.exceptions import GoogleAuthError, TransportError
    from requests.exceptions import RequestException
    try:
        yield
    except (ServiceUnavailable, DeadlineExceeded, RetryError, TransportError, RequestException) as error:
        raise Unreadable(f"{what}: {error}", UNREACHABLE) from None
    except GoogleAPICallError as error:
        raise Unreadable(f"{what}: {error.code.name if hasattr(error.code, 'name') else error.code} {error.message}",
                         BY_HTTP_STATUS.get(error.code, FAILED)) from None
    except GoogleAuthError as error:  # e.g. a refresh token revoked or a key deleted
        raise Unreadable(f"{what}: {error}", REJECTED) from None


def read(plan: GCPPlan, expected: list[LiveObject], connection: Connection) -> list[LiveObject]:
    if connection.problem:
        raise Unreadable(connection.problem, NO_CREDENTIALS)
    settings = plan.settings
    pool_id = settings.pool_id
    pool_path = f"/v1/{settings.pool_name(settings.project_id)}"
    conditions, members = _named(plan)
    found = []
    with _readable("workload identity pool"):
        pool = connection.get(pool_path)
        if pool is not None and pool.get("state") != "DELETED":
            found.append(LiveObject("pool", pool_id, {"display_name": pool.get("displayName", ""),
                                                      "description": pool.get("description", ""),
                                                      "disabled": bool(pool.get("disabled", False))}))
            token = ""
            while True:
                page = connection.get(f"{pool_path}/providers?pageSize=100" + (f"&pageToken={token}" if token else ""))
                for provider in (page or {}).get("workloadIdentityPoolProviders", []):
                    if provider.get("state") == "DELETED":
                        continue
                    oidc = provider.get("oidc", {})
                    pid = provider["name"].rsplit("/", 1)[1]
                    condition = provider.get("attributeCondition")
                    if condition and pid in conditions:
                        condition = as_planned([condition], conditions[pid])[condition]
                    found.append(LiveObject("pool_provider", pid, _provider_state(
                        provider.get("displayName"), provider.get("description"), provider.get("disabled"),
                        provider.get("attributeMapping"), condition, oidc.get("issuerUri"),
                        oidc.get("allowedAudiences"), x509.live_store(provider.get("x509")),
                        provider.get("aws", {}).get("accountId"))))
                token = (page or {}).get("nextPageToken")
                if not token:
                    break
    wanted = {o.name for o in expected if o.kind == "service_account"}
    emails = set()
    with _readable("service accounts"):
        iam = connection.iam()
        for account in iam.list_service_accounts(request={"name": settings.project_name}, timeout=TIMEOUT):
            account_id = account.email.split("@", 1)[0]
            if account_id not in wanted and not account_id.startswith(ACCOUNT_PREFIX):
                continue
            emails.add(account.email)
            policy = iam.get_iam_policy(request={"resource": account.name, "options": {
                "requested_policy_version": POLICY_VERSION}}, timeout=TIMEOUT)
            placed = as_planned([m for b in policy.bindings for m in b.members], members)
            found.append(LiveObject("service_account", account_id, {
                "display_name": account.display_name, "description": account.description,
                "iam_policy": _policy((b.role, placed[m], b.condition.expression)
                                      for b in policy.bindings for m in b.members)}))
    pool_members = settings.members_prefix
    ours = {o.name for o in expected if o.kind == "project_member"}
    with _readable("project IAM policy"):
        policy = connection.projects().get_iam_policy(request={"resource": settings.project_name, "options": {
            "requested_policy_version": POLICY_VERSION}}, timeout=TIMEOUT)
    roles: dict[str, set] = {}
    placed = as_planned([m for b in policy.bindings for m in b.members], members)
    for binding in policy.bindings:
        for member in map(placed.get, binding.members):
            if member in ours or member.split(":", 1)[-1] in emails or member.startswith(pool_members):
                roles.setdefault(member, set()).add(granted(binding.role, binding.condition.expression))
    found += [LiveObject("project_member", member, {"roles": sorted(r)}) for member, r in sorted(roles.items())]
    return found



def role_records(connection: Connection) -> list[dict]:
    """Every predefined role with its permissions (roles.list, FULL view), as the REST API shapes them."""
    if connection.problem:
        raise Unreadable(connection.problem, NO_CREDENTIALS)
    from google.cloud import iam_admin_v1
    with _readable("roles.list"):
        roles = connection.iam().list_roles(request={"view": iam_admin_v1.RoleView.FULL, "page_size": 1000})
        return [{"name": role.name, "title": role.title, "stage": role.stage.name,
                 "includedPermissions": list(role.included_permissions)} for role in roles]


def importable(model: Model, target: Target, connection: Connection) -> dict[str, bool | Proposed]:
    """adopt_pool, where the spec does not say it and the project has the target's pool, made outside
    wiam (wiam's own carries its description); with a note where the pool holds a provider ID that
    wiam's plan gives its own (GCP refuses a second, and keeps a deleted one's for 30 days). A
    soft-deleted pool is not proposed: GCP keeps its ID from reuse until it is purged."""
    if "adopt_pool" in target.settings:
        return {"adopt_pool": False}
    if connection.problem:
        raise Unreadable(connection.problem, NO_CREDENTIALS)
    settings = TargetSettings.of(target.settings)
    name = settings.pool_name(settings.project_id)
    with _readable("workload identity pool"):
        pool = connection.get(f"/v1/{name}")
        if pool is None or pool.get("description") == POOL_DESCRIPTION:
            return {"adopt_pool": False}
        if pool.get("state") == "DELETED":
            return {"adopt_pool": Proposed(False, (
                f"pool {settings.pool_id} is deleted: GCP keeps its ID from reuse until it is purged, about 30 days "
                "after deletion; undelete it (gcloud iam workload-identity-pools undelete) and run import again, "
                "or choose another pool_id",))}
        held = {p["name"].rsplit("/", 1)[1] for p in _pages(connection, f"/v1/{name}/providers",
                                                             "workloadIdentityPoolProviders", "&showDeleted=true")}
    taken = sorted(held & {p.provider_id for p in plan_target(model, target, Report()).providers})
    return {"adopt_pool": Proposed(True, tuple(
        f"the pool holds provider {pid} (or held it in the last 30 days), an ID wiam's plan gives its own: GCP refuses "
        "a second; delete that provider and wait until it is purged, or give its issuer another name" for pid in taken))}


_UUID = UUID[1:-1]  # a managed identity's principal ID, unanchored

_POOL_SUBJECT = re.compile(r"principal://iam\.googleapis\.com/(projects/[^/]+/locations/global/workloadIdentityPools/[^/]+)"
                           r"/subject/(.+)")


def _pages(connection: Connection, path: str, key: str, query: str = "") -> list[dict]:
    found, token = [], ""
    while True:
        page = connection.get(f"{path}?pageSize=100{query}" + (f"&pageToken={token}" if token else "")) or {}
        found += page.get(key, [])
        token = page.get("nextPageToken")
        if not token:
            return found


def _pool_issuer(connection: Connection, pool: str) -> tuple[str, list[str]] | None:
    """(issuer URL, audiences) of a pool whose providers all map google.subject from sub and name
    their audiences, of one issuer: then a principal's subject is that issuer's sub. Else None."""
    providers = [p for p in _pages(connection, f"/v1/{pool}/providers", "workloadIdentityPoolProviders")
                 if p.get("state") != "DELETED" and not p.get("disabled")]
    urls = {p.get("oidc", {}).get("issuerUri") for p in providers}
    if (len(urls) != 1 or None in urls or any(p.get("attributeMapping") != ATTRIBUTE_MAPPING for p in providers)
            or any(not p["oidc"].get("allowedAudiences") for p in providers)):
        return None  # a provider's default audience is its own resource name, which wiam's would not be
    return urls.pop(), sorted({a for p in providers for a in p["oidc"]["allowedAudiences"]})


def adoptable(model: Model, target: Target, connection: Connection) -> list[Adoptable]:
    """The project's service accounts that wiam did not create (no wiam- prefix) and no grant of the
    target names: the pool subjects they trust through workloadIdentityUser (of pools whose providers
    wiam can say) as identities, their unconditional project roles as the grant's roles."""
    if connection.problem:
        raise Unreadable(connection.problem, NO_CREDENTIALS)
    settings = TargetSettings.of(target.settings)
    grants = [(w.name, GrantSettings.of(g.settings)) for w, g in model.grants_on(target)]
    taken = {s.account_id(name) for name, s in grants if s.mode == SERVICE_ACCOUNT}
    adopt = grant_pattern(__package__, "adopt")
    with _readable("service accounts"):
        iam = connection.iam()
        accounts = [a for a in iam.list_service_accounts(request={"name": settings.project_name}, timeout=TIMEOUT)
                    if a.email.split("@", 1)[0] not in taken and not a.email.startswith(ACCOUNT_PREFIX)]
        policies = {a.email: iam.get_iam_policy(request={"resource": a.name, "options": {
            "requested_policy_version": POLICY_VERSION}}, timeout=TIMEOUT) for a in accounts}
    with _readable("project IAM policy"):
        project = connection.projects().get_iam_policy(request={"resource": settings.project_name, "options": {
            "requested_policy_version": POLICY_VERSION}}, timeout=TIMEOUT)
    pools: dict[str, tuple[str, list[str]] | None] = {}
    found = []
    for account in sorted(accounts, key=lambda a: a.email):
        account_id, trusted, left = account.email.split("@", 1)[0], [], []
        with _readable("workload identity pool providers"):
            for binding in policies[account.email].bindings:
                for member in binding.members:
                    subject = _POOL_SUBJECT.fullmatch(member)
                    if binding.role == WORKLOAD_IDENTITY_USER and subject and not binding.condition.expression:
                        if subject[1] not in pools:
                            pools[subject[1]] = _pool_issuer(connection, subject[1])
                        if pools[subject[1]] is not None:
                            url, audiences = pools[subject[1]]
                            kind, fields = identity_fields(url, subject[2])
                            trusted += [Trusted(url, kind, fields, audience) for audience in audiences]
                            continue
                    left.append(f"{binding.role} for {member} on the service account")
        roles = sorted({b.role for b in project.bindings if f"serviceAccount:{account.email}" in b.members
                        and not b.condition.expression})
        left += [f"{b.role} on the project under condition {b.condition.expression!r}" for b in project.bindings
                 if f"serviceAccount:{account.email}" in b.members and b.condition.expression]
        refused = ("its ID is no service account ID wiam can keep" if not adopt.fullmatch(account_id) else
                   "it trusts no pool subject wiam can say" if not trusted else
                   "it holds no role on the project" if not roles else None)
        if not refused:
            left.append("its workloadIdentityUser members stay until removed: wiam adds its own pool's principals")
        found.append(Adoptable(account_id, tuple(trusted), None if refused else {"roles": roles}, "",
                               account.description or None, tuple(([refused] if refused else []) + left)))
    return found


def refresh_catalog(connect, folder: str | None, date: str) -> str:
    """Write the GCP role catalog from roles.list into `folder` (None: the shipped one); connect()
    makes the Connection."""
    records = role_records(connect())
    path = os.path.join(folder or os.path.dirname(catalogs.__file__), catalogs.GCP_FILE)
    catalogs.write(catalogs.gcp_catalog(records, "GCP IAM roles.list (view FULL)", date), path)
    return f"{len(records)} predefined roles written to {path}"

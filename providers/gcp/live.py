"""Live GCP, read-only: the workload identity pool and its providers (IAM REST API, which no
Python client library covers), service accounts and their IAM policies (google-cloud-iam, a gRPC
client), and the project's IAM policy (google-cloud-resource-manager). wiam's service accounts
are the ones whose ID starts with `wiam-`; its providers are the ones in its pool.

Bindings on single resources (buckets, topics, secrets...) live in each service's own API and
are not read: each target reports how many it leaves unchecked."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from wiam.live import BY_HTTP_STATUS, FAILED, NO_CREDENTIALS, REJECTED, UNREACHABLE, LiveObject, Unreadable
from wiam.model import Model, Target

from .. import catalogs
from .plan import PROJECT_MEMBER, Binding, GCPPlan, window_expression
from .settings import ACCOUNT_PREFIX

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

    def get(self, path: str) -> dict:
        """A GET on the IAM REST API, raising Unreadable on refusal; None for 404."""
        from google.auth.transport.requests import AuthorizedSession
        response = AuthorizedSession(self.credentials).get(f"{self.rest or IAM_REST}{path}", timeout=TIMEOUT)
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
                    aws_account=None) -> dict:
    """A provider of type oidc by its issuer and audiences, one of type aws by its account."""
    source = {"aws_account": aws_account} if aws_account else {"issuer_uri": issuer_uri,
                                                                "allowed_audiences": sorted(audiences or [])}
    return {"display_name": display_name or "", "description": description or "", "disabled": bool(disabled),
            "attribute_mapping": dict(sorted((mapping or {}).items())), "attribute_condition": condition or "",
            **source}


def expected(plan: GCPPlan) -> list[LiveObject]:
    found = []
    if plan.pool:  # wiam never disables the pool
        found.append(LiveObject("pool", plan.pool.pool_id, {
            "display_name": plan.pool.display_name, "description": plan.pool.description, "disabled": False}))
    found += [LiveObject("pool_provider", p.provider_id, _provider_state(
        p.display_name, p.description, p.disabled, p.attribute_mapping, p.attribute_condition, p.issuer_uri,
        p.allowed_audiences, p.aws_account)) for p in plan.providers]
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
                    found.append(LiveObject("pool_provider", provider["name"].rsplit("/", 1)[1], _provider_state(
                        provider.get("displayName"), provider.get("description"), provider.get("disabled"),
                        provider.get("attributeMapping"), provider.get("attributeCondition"), oidc.get("issuerUri"),
                        oidc.get("allowedAudiences"), provider.get("aws", {}).get("accountId"))))
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
            found.append(LiveObject("service_account", account_id, {
                "display_name": account.display_name, "description": account.description,
                "iam_policy": _policy((b.role, m, b.condition.expression) for b in policy.bindings for m in b.members)}))
    pool_members = settings.members_prefix
    ours = {o.name for o in expected if o.kind == "project_member"}
    with _readable("project IAM policy"):
        policy = connection.projects().get_iam_policy(request={"resource": settings.project_name, "options": {
            "requested_policy_version": POLICY_VERSION}}, timeout=TIMEOUT)
    roles: dict[str, set] = {}
    for binding in policy.bindings:
        for member in binding.members:
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


def importable(model: Model, target: Target, connection: Connection) -> dict[str, dict[str, str]]:
    """Nothing: a target's pool holds its own providers, none shared with what exists outside wiam."""
    return {}


def refresh_catalog(connect, folder: str | None, date: str) -> str:
    """Write the GCP role catalog from roles.list into `folder` (None: the shipped one); connect()
    makes the Connection."""
    records = role_records(connect())
    path = os.path.join(folder or os.path.dirname(catalogs.__file__), catalogs.GCP_FILE)
    catalogs.write(catalogs.gcp_catalog(records, "GCP IAM roles.list (view FULL)", date), path)
    return f"{len(records)} predefined roles written to {path}"

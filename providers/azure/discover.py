"""Azure discovery, read-only (GET on Microsoft Graph v1.0, plain HTTP with azure-identity's token):
the tenant's app registrations and service principals with client secrets (passwordCredentials) or
certificates (keyCredentials), each with its expiry, and the applications' federated identity
credentials, which wiam never makes (it federates user-assigned managed identities); and through Azure
Resource Manager, the federated credentials of the target's resource group's managed identities that
are not wiam's. Only metadata is kept: Graph never returns a secret after its creation, and its
`hint` (a secret's first three characters) is never read. Graph v1.0 gives no last use of a
credential: it says "not read"."""

from __future__ import annotations

from shlex import join
from urllib.parse import quote, urlparse

from wiam.live import BY_HTTP_STATUS, FAILED, UNREACHABLE, WRONG_ACCOUNT, Unreadable
from wiam.secretless import NOT_READ, Credential

from .live import MANAGED, Connection, EmulatorToken, _readable
from .plan import AzurePlan

GRAPH = "https://graph.microsoft.com"
SCOPE = f"{GRAPH}/.default"
TIMEOUT = (5, 30)  # connect, read: an unreachable Graph fails the target in seconds
_SELECT = "$select=id,appId,displayName,passwordCredentials,keyCredentials"
_KINDS = (("passwordCredentials", "azure-client-secret", ""), ("keyCredentials", "azure-certificate", "--cert"))
_NO_LAST_USE = f"{NOT_READ}: Graph v1.0 does not say"


class Graph:
    """GETs on Microsoft Graph, following @odata.nextLink only to the same host."""

    def __init__(self, connection: Connection):
        import requests
        self.base = (connection.graph or GRAPH).rstrip("/")
        plain = self.base.startswith("http://")  # an emulator: never a real token in the clear
        with _readable("Microsoft Graph token"):
            token = (EmulatorToken() if plain else connection.credential).get_token(SCOPE).token
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, url: str) -> dict:
        import requests
        if not url.startswith(self.base + "/") or urlparse(url).netloc != urlparse(self.base).netloc:
            raise Unreadable(f"Graph sent a next page on another host: {urlparse(url).netloc}")
        try:
            response = self.session.get(url, timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as error:
            raise Unreadable(f"Microsoft Graph: {type(error).__name__}", UNREACHABLE) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            code = error.get("code", "") if isinstance(error, dict) else "" if body is not None else "no JSON"
            raise Unreadable(f"GET {urlparse(url).path}: {response.status_code} {code}".rstrip(),
                             BY_HTTP_STATUS.get(response.status_code, FAILED))
        return body

    def pages(self, path: str) -> list[dict]:
        items, url, seen = [], f"{self.base}{path}", set()
        while url:
            if url in seen:
                raise Unreadable(f"Graph sent the page {urlparse(url).path} again")
            seen.add(url)
            page = self.get(url)
            items += page.get("value") or []
            url = page.get("@odata.nextLink")
        return items


def _credentials(target: str, holder: dict, kind: str, command: str) -> list[Credential]:
    """An application's or service principal's secrets and certificates."""
    name = f"{holder.get('displayName') or ''} (appId {holder.get('appId')})"
    found = []
    for field, credential_kind, flag in _KINDS:
        for item in holder.get(field) or []:
            found.append(Credential(
                credential_kind, "azure", owner=name, target=target, id=str(item.get("keyId")),
                created=item.get("startDateTime"), expires=item.get("endDateTime"), last_used=_NO_LAST_USE,
                status=f"{kind}'s {item.get('displayName') or 'unnamed'}", grants="the role assignments of its service principal",
                remove=join(["az", "ad", command, "credential", "delete", "--id", str(holder.get("appId")),
                             "--key-id", str(item.get("keyId")), *([flag] if flag else [])])))
    return found


def find(plan: AzurePlan, connection: Connection) -> list[Credential]:
    graph = Graph(connection)
    tenants = [o.get("id") for o in graph.pages("/v1.0/organization?$select=id")]
    if plan.settings.tenant_id not in tenants:
        raise Unreadable(f"the credentials are for tenant {', '.join(map(str, tenants)) or 'none'}, "
                         f"not {plan.settings.tenant_id}", WRONG_ACCOUNT)
    target = plan.spec.name
    found = []
    for app in graph.pages(f"/v1.0/applications?{_SELECT}"):
        found += _credentials(target, app, "application", "app")
        for federated in graph.pages(f"/v1.0/applications/{quote(str(app.get('id')), safe='')}/federatedIdentityCredentials"):
            holder = f"{app.get('displayName') or ''} (appId {app.get('appId')})"
            found.append(Credential(
                "azure-federated-credential", "azure", owner=holder, target=target,
                id=str(federated.get("id")), long_lived=False, last_used=_NO_LAST_USE,
                status=f"trusts {federated.get('issuer')} subject {federated.get('subject')}",
                grants="the role assignments of its service principal",
                remove=join(["az", "ad", "app", "federated-credential", "delete", "--id", str(app.get("appId")),
                             "--federated-credential-id", str(federated.get("id"))])))
    for principal in graph.pages(f"/v1.0/servicePrincipals?{_SELECT},servicePrincipalType"):
        if principal.get("servicePrincipalType") != "ManagedIdentity":  # Azure rotates those itself
            found += _credentials(target, principal, "service principal", "sp")
    return found + _identity_credentials(plan, connection)


def _identity_credentials(plan: AzurePlan, connection: Connection) -> list[Credential]:
    """The federated credentials of the resource group's managed identities that are not wiam's
    (neither tagged managed-by = wiam nor planned): drift reads only wiam's."""
    group, ours = plan.settings.resource_group, {i.name for i in plan.identities}
    found = []
    with _readable(f"managed identities in {group}"):
        msi = connection.identities(plan.settings.subscription_id)
        for identity in msi.user_assigned_identities.list_by_resource_group(group):
            if identity.name in ours or (identity.tags or {}).get(MANAGED[0]) == MANAGED[1]:
                continue
            for federated in msi.federated_identity_credentials.list(group, identity.name):
                found.append(Credential(
                    "azure-federated-credential", "azure", owner=identity.name, target=plan.spec.name,
                    id=federated.id, long_lived=False, last_used=_NO_LAST_USE,
                    status=f"managed identity's {federated.name} trusts {federated.issuer} subject {federated.subject}",
                    grants="the role assignments of the managed identity",
                    remove=join(["az", "identity", "federated-credential", "delete", "--name", federated.name,
                                 "--identity-name", identity.name, "--resource-group", group])))
    return found

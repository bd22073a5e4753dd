"""A local Azure Resource Manager answering the calls wiam reads, in the shapes of the public REST
references: Microsoft.ManagedIdentity userAssignedIdentities (list by resource group) and their
federatedIdentityCredentials (list), Microsoft.Authorization roleAssignments (list for
subscription), roleAssignmentSchedules (list for scope) and roleDefinitions (list, with $filter). Lists page through nextLink and
$skiptoken; errors use
ARM's {"error": {"code", "message"}}. `apply` fills it the way Terraform's azurerm provider would.

The same server answers Microsoft Graph v1.0 under /v1.0 for discovery: organization, applications and
servicePrincipals (with passwordCredentials' and keyCredentials' metadata; a secret's value is never
returned after its creation) and applications' federatedIdentityCredentials, paged by @odata.nextLink.
Every call, of any method, is logged."""

from __future__ import annotations

import json
import re
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlparse

from wiam.terraform import referenced
from local_server import serve
from wiam.providers.azure.catalog import role_guid

PAGE_SIZE = 2


class State:
    def __init__(self):
        self.subscriptions: dict[str, dict] = {}  # id -> {"identities": {(group, name): {...}}, "assignments": [...]}
        self.role_definitions: list[dict] = []
        self.forbidden: set[str] = set()
        self.applied_at = "2026-12-01T00:00:00Z"  # when `apply` runs: the start of a PIM schedule that sets none
        self.tenant = "00000000-0000-0000-0000-000000000000"  # the tenant Graph answers for
        self.applications: list[dict] = []  # Graph application objects, with "federated": [...]
        self.service_principals: list[dict] = []
        self.graph_forbidden = False  # Graph answers 403 Authorization_RequestDenied
        self.graph_repeats = False  # every Graph page's nextLink is the page itself (a server in a loop)
        self.calls: list[tuple[str, str]] = []  # (method, path) of every call, in order

    def subscription(self, subscription_id: str) -> dict:
        return self.subscriptions.setdefault(subscription_id, {"identities": {}, "assignments": [], "schedules": []})


def identity(subscription: str, group: str, name: str, location: str, tags: dict) -> dict:
    return {"id": f"/subscriptions/{subscription}/resourcegroups/{group}/providers/"
                  f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
            "name": name, "type": "Microsoft.ManagedIdentity/userAssignedIdentities", "location": location,
            "tags": tags, "properties": {"tenantId": "00000000-0000-0000-0000-000000000000",
                                         "principalId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"principal/{name}")),
                                         "clientId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"client/{name}"))},
            "credentials": {}}


def assignment(subscription: str, name: str, scope: str, role: str, principal_id: str, description: str = "",
               condition: str | None = None) -> dict:
    """A role assignment as ARM lists it; `condition`: an ABAC condition (version 2.0) it holds."""
    return {"id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"roleDefinitionId": f"/subscriptions/{subscription}/providers/Microsoft.Authorization/"
                                               f"roleDefinitions/{role}",
                           "principalId": principal_id, "principalType": "ServicePrincipal", "scope": scope,
                           "description": description,
                           **({"condition": condition, "conditionVersion": "2.0"} if condition else {})}}


def apply(state: State, resources: dict, subscription: str) -> None:
    account = state.subscription(subscription)
    made = {}
    for key, body in resources.get("azurerm_user_assigned_identity", {}).items():
        made[key] = identity(subscription, body["resource_group_name"], body["name"], body["location"],
                             body.get("tags", {}))
        account["identities"][(body["resource_group_name"], body["name"])] = made[key]
    reference = lambda text: made[referenced(text, "azurerm_user_assigned_identity")]  # noqa: E731
    for body in resources.get("azurerm_federated_identity_credential", {}).values():
        parent = reference(body["user_assigned_identity_id"])
        parent["credentials"][body["name"]] = {
            "id": f"{parent['id']}/federatedIdentityCredentials/{body['name']}", "name": body["name"],
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
            "properties": {"issuer": body["issuer"], "subject": body["subject"], "audiences": body["audience"]}}
    for body in resources.get("azapi_resource", {}).values():  # flexible credentials, as azapi PUTs them
        parent = reference(body["parent_id"])
        parent["credentials"][body["name"]] = {
            "id": f"{parent['id']}/federatedIdentityCredentials/{body['name']}", "name": body["name"],
            "type": body["type"].split("@")[0], "properties": body["body"]["properties"]}
    for body in resources.get("azurerm_role_assignment", {}).values():
        role = role_guid(body.get("role_definition_id") or body["role_definition_name"])
        account["assignments"].append(assignment(subscription, body["name"], body["scope"], role,
                                                 reference(body["principal_id"])["properties"]["principalId"],
                                                 body.get("description", "")))
    _apply_schedules(state, resources, subscription)


def _schedule(state: State, body: dict, principal_id: str) -> dict:
    """An active PIM assignment schedule as the roleAssignmentSchedules API shows one."""
    plan = body.get("schedule", {})
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{body['scope']}|{body['role_definition_id']}|{principal_id}"))
    return {"id": f"{body['scope']}/providers/Microsoft.Authorization/roleAssignmentSchedules/{name}", "name": name,
            "type": "Microsoft.Authorization/roleAssignmentSchedules",
            "properties": {"scope": body["scope"], "roleDefinitionId": body["role_definition_id"],
                           "principalId": principal_id, "principalType": "ServicePrincipal",
                           "assignmentType": "Assigned", "memberType": "Direct", "status": "Provisioned",
                           "startDateTime": plan.get("start_date_time", state.applied_at),
                           "endDateTime": plan.get("expiration", {}).get("end_date_time")}}


def _apply_schedules(state: State, resources: dict, subscription: str) -> None:
    """PIM active assignments, as `apply` writes them: each schedule, and the role assignment Azure keeps while it
    is in effect (the fake has no clock: always)."""
    account = state.subscription(subscription)
    principals = {i["name"]: i["properties"]["principalId"] for i in account["identities"].values()}
    names = {key: body["name"] for key, body in resources.get("azurerm_user_assigned_identity", {}).items()}
    for body in resources.get("azurerm_pim_active_role_assignment", {}).values():
        principal = principals[names[referenced(body["principal_id"], "azurerm_user_assigned_identity")]]
        made = _schedule(state, body, principal)
        account["schedules"].append(made)
        account["assignments"].append(assignment(subscription, made["name"], body["scope"],
                                                 role_guid(body["role_definition_id"]), principal))


def password(key_id: str, name: str, start: str, end: str) -> dict:
    """A client secret as Graph lists it: its value is only ever returned by addPassword."""
    return {"customKeyIdentifier": None, "displayName": name, "endDateTime": end, "hint": "Qx~",
            "keyId": key_id, "secretText": None, "startDateTime": start}


def certificate(key_id: str, name: str, start: str, end: str) -> dict:
    return {"customKeyIdentifier": "52D1C5D2A4C6D5E1F1E0C9B8A7B6C5D4E3F2A1B0", "displayName": name,
            "endDateTime": end, "key": None, "keyId": key_id, "startDateTime": start, "type": "AsymmetricX509Cert",
            "usage": "Verify"}


def application(name: str, passwords=(), certificates=(), federated=()) -> dict:
    app_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"app/{name}"))
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"object/{name}")), "appId": app_id, "displayName": name,
            "passwordCredentials": list(passwords), "keyCredentials": list(certificates),
            "federated": [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fic/{name}/{f['subject']}")), "name": f["name"],
                           "issuer": f["issuer"], "subject": f["subject"], "audiences": ["api://AzureADTokenExchange"]}
                          for f in federated]}


def service_principal(app: dict, kind: str = "Application", passwords=(), certificates=()) -> dict:
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp/{app['appId']}")), "appId": app["appId"],
            "displayName": app["displayName"], "servicePrincipalType": kind,
            "passwordCredentials": list(passwords), "keyCredentials": list(certificates)}


_SELECTABLE = {"id", "appId", "displayName", "passwordCredentials", "keyCredentials", "servicePrincipalType"}


def _in_version(credential: dict, api_version: str) -> dict:
    """A credential as an API version shows it: claimsMatchingExpression only from 2025-01-31-preview on."""
    if api_version >= "2025-01-31":
        return credential
    return {**credential, "properties": {k: v for k, v in credential["properties"].items()
                                         if k != "claimsMatchingExpression"}}


def _public(item: dict) -> dict:
    return {k: v for k, v in item.items() if k != "credentials"}


class Handler(BaseHTTPRequestHandler):
    state: State

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def _page(self, items: list, query: dict) -> None:
        start = int(query.get("$skiptoken", ["0"])[0])
        answer = {"value": items[start:start + PAGE_SIZE]}
        if start + PAGE_SIZE < len(items):
            base = urlparse(self.path)
            rest = {k: v[0] for k, v in query.items() if k != "$skiptoken"}
            answer["nextLink"] = (f"http://{self.headers['Host']}{base.path}?"
                                  + urlencode({**rest, "$skiptoken": start + PAGE_SIZE}))
        self._send(200, answer)

    def _graph(self, path: str, query: dict) -> None:
        if self.state.graph_forbidden:
            return self._send(403, {"error": {"code": "Authorization_RequestDenied",
                                              "message": "Insufficient privileges to complete the operation."}})
        selected = set(query.get("$select", [",".join(sorted(_SELECTABLE))])[0].split(","))
        shown = lambda item: {k: v for k, v in item.items() if k in selected}  # noqa: E731
        if path == "/v1.0/organization":
            return self._graph_page([{"id": self.state.tenant}], query)
        if path == "/v1.0/applications":
            return self._graph_page([shown(a) for a in self.state.applications], query)
        if path == "/v1.0/servicePrincipals":
            return self._graph_page([shown(p) for p in self.state.service_principals], query)
        found = re.fullmatch(r"/v1\.0/applications/([^/]+)/federatedIdentityCredentials", path)
        app = next((a for a in self.state.applications if found and a["id"] == found[1]), None)
        if app is not None:
            return self._graph_page(app["federated"], query)
        return self._send(404, {"error": {"code": "Request_ResourceNotFound", "message": f"{path} does not exist."}})

    def _graph_page(self, items: list, query: dict) -> None:
        start = int(query.get("$skiptoken", ["0"])[0])
        answer = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata", "value": items[start:start + PAGE_SIZE]}
        if start + PAGE_SIZE < len(items) or self.state.graph_repeats:
            rest = {k: v[0] for k, v in query.items() if k != "$skiptoken"}
            following = start if self.state.graph_repeats else start + PAGE_SIZE
            answer["@odata.nextLink"] = (f"http://{self.headers['Host']}{urlparse(self.path).path}?"
                                         + urlencode({**rest, "$skiptoken": following}))
        self._send(200, answer)

    def _refuse(self):  # discovery and drift only read: any other method is logged and refused
        self.state.calls.append((self.command, urlparse(self.path).path))
        self._send(405, {"error": {"code": "MethodNotAllowed", "message": f"{self.command} is not served"}})

    do_POST = do_PUT = do_PATCH = do_DELETE = _refuse

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        self.state.calls.append(("GET", url.path))
        if url.path.startswith("/v1.0/"):
            return self._graph(url.path, query)
        if "api-version" not in query:
            return self._send(400, {"error": {"code": "MissingApiVersionParameter",
                                              "message": "The api-version query parameter (?api-version=) is required."}})
        path = url.path
        if re.fullmatch(r"/providers/Microsoft\.Authorization/roleDefinitions", path, re.I):
            if "roleDefinitions" in self.state.forbidden:
                return self._send(403, {"error": {"code": "AuthorizationFailed", "message":
                                                  "The client does not have authorization to read role definitions."}})
            wanted = query.get("$filter", [""])[0]
            kinds = {"type eq 'BuiltInRole'": "BuiltInRole", "type eq 'CustomRole'": "CustomRole"}.get(wanted)
            return self._page([d for d in self.state.role_definitions
                               if kinds is None or d["properties"]["type"] == kinds], query)
        match = re.match(r"^/subscriptions/([^/]+)", path, re.I)
        if not match:
            return self._send(404, {"error": {"code": "NotFound", "message": path}})
        subscription = match[1]
        if subscription in self.state.forbidden:
            return self._send(403, {"error": {"code": "AuthorizationFailed", "message":
                                              f"The client does not have authorization to perform action over "
                                              f"scope '/subscriptions/{subscription}' or the scope is invalid."}})
        account = self.state.subscriptions.get(subscription)
        if account is None:
            return self._send(404, {"error": {"code": "SubscriptionNotFound",
                                              "message": f"The subscription '{subscription}' could not be found."}})
        rest = path[match.end():]
        found = re.fullmatch(r"/resourceGroups/([^/]+)/providers/Microsoft\.ManagedIdentity/userAssignedIdentities", rest, re.I)
        if found:
            group = found[1].lower()
            return self._page([_public(i) for (g, _), i in sorted(account["identities"].items()) if g.lower() == group],
                              query)
        found = re.fullmatch(r"/resourceGroups/([^/]+)/providers/Microsoft\.ManagedIdentity/userAssignedIdentities/"
                             r"([^/]+)/federatedIdentityCredentials(?:/([^/]+))?", rest, re.I)
        if found:
            item = account["identities"].get((found[1], found[2]))
            if item is None:
                return self._send(404, {"error": {"code": "ResourceNotFound", "message": f"{found[2]} was not found."}})
            credentials = [_in_version(c, query["api-version"][0]) for c in item["credentials"].values()]
            if found[3] is None:
                return self._page(credentials, query)
            one = [c for c in credentials if c["name"] == found[3]]
            return self._send(200, one[0]) if one else self._send(404, {"error": {
                "code": "NotFound", "message": f"{found[3]} was not found."}})
        if re.fullmatch(r"/providers/Microsoft\.Authorization/roleAssignments", rest, re.I):
            return self._page(account["assignments"], query)
        if re.fullmatch(r"/providers/Microsoft\.Authorization/roleAssignmentSchedules", rest, re.I):
            principal = re.fullmatch(r"principalId eq '([^']+)'", query.get("$filter", ["principalId eq '*'"])[0])
            if principal is None:
                return self._send(400, {"error": {"code": "InvalidFilter", "message": "The filter is not supported."}})
            return self._page([s for s in account["schedules"]
                               if principal[1] in ("*", s["properties"]["principalId"])], query)
        return self._send(404, {"error": {"code": "NotFound", "message": path}})


def fake_azure(state: State):
    return serve(Handler, state)

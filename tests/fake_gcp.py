"""A local server answering the GCP REST calls wiam reads, in the shapes of the public references:
IAM v1 `projects.serviceAccounts.list` and `getIamPolicy`, `roles.list` (FULL view),
`projects.locations.workloadIdentityPools.get` and `.providers.list`, and Resource Manager v3
`projects.getIamPolicy`, and for discovery `projects.serviceAccounts.keys.list` (keyTypes) and Policy
Analyzer's `activities.query` (serviceAccountKeyLastAuthentication). Errors use Google's JSON error
shape. Every REST call is logged (method and path). `apply` fills it the way Terraform's google
provider would from wiam's compiled resources."""

from __future__ import annotations

import hashlib
import json
import re
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

from wiam.terraform import referenced
from local_server import serve

PAGE_SIZE = 2  # small, so that every list is read across pages


class State:
    def __init__(self):
        self.projects: dict[str, dict] = {}  # project id -> {"number", "policy", "accounts", "pools"}
        self.roles: list[dict] = []
        self.forbidden: set[str] = set()  # project ids whose calls answer 403
        self.analyzer_off: set[str] = set()  # project ids where the Policy Analyzer API is not enabled
        self.calls: list[tuple[str, str]] = []  # (method, path) of every REST call, in order

    def project(self, project_id: str, number: str) -> dict:
        return self.projects.setdefault(project_id, {"number": number, "policy": {"version": 1, "etag": "BwXfake=",
                                                                                   "bindings": []},
                                                     "accounts": {}, "pools": {}, "activities": {}})


def _bind(policy: dict, role: str, member: str, condition: dict | None = None) -> None:
    """A member of the binding of (role, condition), as IAM keys bindings."""
    binding = next((b for b in policy["bindings"] if b["role"] == role and b.get("condition") == condition), None)
    if binding is None:
        policy["bindings"].append({"role": role, "members": [member], **({"condition": condition} if condition else {})})
    elif member not in binding["members"]:
        binding["members"].append(member)


def rendered(policy: dict, version: int) -> dict:
    """A policy as getIamPolicy answers for the requested version: below 3, each conditional
    binding loses its condition and its role is renamed `<role>_withcond_<hash>` (IAM's policy versions)."""
    if version >= 3:
        return {**policy, "version": 3 if any("condition" in b for b in policy["bindings"]) else policy["version"]}
    bindings = [{"role": b["role"] + "_withcond_" + hashlib.sha256(json.dumps(b["condition"]).encode()).hexdigest()[:20],
                 "members": b["members"]} if "condition" in b else b for b in policy["bindings"]]
    return {**policy, "version": 1, "bindings": bindings}


def apply(state: State, resources: dict, project_id: str, number: str) -> None:
    """Create what `terraform apply` would for one target's compiled resources."""
    project = state.project(project_id, number)
    emails = {}
    for body in resources.get("google_iam_workload_identity_pool", {}).values():
        pool_id = body["workload_identity_pool_id"]
        existing = project["pools"].get(pool_id, {})  # an adopted pool: updated in place, its providers kept
        project["pools"][pool_id] = {
            "name": f"projects/{number}/locations/global/workloadIdentityPools/{pool_id}",
            "displayName": body.get("display_name", ""), "description": body.get("description", ""),
            "state": "ACTIVE", "disabled": body.get("disabled", False), "providers": existing.get("providers", {})}
    for body in resources.get("google_iam_workload_identity_pool_provider", {}).values():
        pool_id, pid = next(iter(project["pools"])), body["workload_identity_pool_provider_id"]
        if "x509" in body:  # an X.509 provider: its trust store as the REST API writes it
            store = body["x509"]["trust_store"]
            source = {"x509": {"trustStore": {
                "trustAnchors": [{"pemCertificate": c["pem_certificate"]} for c in store["trust_anchors"]],
                "intermediateCas": [{"pemCertificate": c["pem_certificate"]} for c in store.get("intermediate_cas", [])]}}}
        elif "aws" in body:
            source = {"aws": {"accountId": body["aws"]["account_id"]}}
        else:
            source = {"oidc": {"issuerUri": body["oidc"]["issuer_uri"]}}
            if body["oidc"].get("allowed_audiences"):
                source["oidc"]["allowedAudiences"] = body["oidc"]["allowed_audiences"]
        project["pools"][pool_id]["providers"][pid] = {
            "name": f"projects/{number}/locations/global/workloadIdentityPools/{pool_id}/providers/{pid}",
            "displayName": body.get("display_name", ""), "description": body.get("description", ""),
            "state": "ACTIVE", "disabled": body.get("disabled", False),
            "attributeMapping": body["attribute_mapping"], "attributeCondition": body.get("attribute_condition", ""),
            **source}
    for key, body in resources.get("google_service_account", {}).items():
        email = f"{body['account_id']}@{project_id}.iam.gserviceaccount.com"
        emails[key] = email
        project["accounts"][email] = {
            "name": f"projects/{project_id}/serviceAccounts/{email}", "projectId": project_id,
            "uniqueId": str(100000000000000000000 + len(project["accounts"])), "email": email,
            "displayName": body.get("display_name", ""), "description": body.get("description", ""),
            "etag": "MDEwMjE5MjA=", "oauth2ClientId": str(200000000000000000000 + len(project["accounts"])),
            "policy": {"version": 1, "etag": "ACAB", "bindings": []}}
    for body in resources.get("google_service_account_iam_member", {}).values():
        account = referenced(body["service_account_id"], "google_service_account")
        _bind(project["accounts"][emails[account]]["policy"], body["role"], body["member"], body.get("condition"))
    for body in resources.get("google_project_iam_member", {}).values():
        member = re.sub(r"\$\{google_service_account\.([^.]+)\.email\}", lambda m: emails[m[1]], body["member"])
        _bind(project["policy"], body["role"], member, body.get("condition"))


def add_pool(state: State, project_id: str, pool_id: str, state_name: str = "ACTIVE",
             providers: dict[str, dict] | None = None) -> dict:
    """A pool made by hand (not by wiam's Terraform), with providers by ID as the REST API shows them."""
    project = state.projects[project_id]
    name = f"projects/{project['number']}/locations/global/workloadIdentityPools/{pool_id}"
    pool = project["pools"][pool_id] = {
        "name": name, "displayName": "CI", "description": "made by hand", "state": state_name, "disabled": False,
        "providers": {pid: {"name": f"{name}/providers/{pid}", "state": "ACTIVE", **body}
                      for pid, body in (providers or {}).items()}}
    return pool


def add_key(state: State, project_id: str, email: str, key_id: str, created: str, expires: str,
            kind: str = "USER_MANAGED", disabled: bool = False, used: str | None = None) -> dict:
    """A key of an account as keys.list shows it (no private key data), and its last
    authentication as Activity Analyzer records it, if `used`."""
    project = state.projects[project_id]
    key = {"name": f"projects/{project_id}/serviceAccounts/{email}/keys/{key_id}", "validAfterTime": created,
           "validBeforeTime": expires, "keyAlgorithm": "KEY_ALG_RSA_2048", "keyOrigin": "GOOGLE_PROVIDED",
           "keyType": kind, **({"disabled": True} if disabled else {})}
    project["accounts"][email].setdefault("keys", []).append(key)
    if used:
        full = f"//iam.googleapis.com/{key['name']}"
        project["activities"][full] = {
            "fullResourceName": full, "activityType": "serviceAccountKeyLastAuthentication",
            "observationPeriod": {"startTime": "2026-09-01T07:00:00Z", "endTime": "2026-12-01T07:00:00Z"},
            "activity": {"lastAuthenticatedTime": used, "serviceAccountKey": {
                "fullResourceName": full, "projectNumber": project["number"]}}}
    return key


def add_account(state: State, project_id: str, account_id: str, display_name: str = "") -> str:
    """A service account made by hand (not by wiam's Terraform); its email."""
    project = state.projects[project_id]
    email = f"{account_id}@{project_id}.iam.gserviceaccount.com"
    project["accounts"][email] = {
        "name": f"projects/{project_id}/serviceAccounts/{email}", "projectId": project_id,
        "uniqueId": str(300000000000000000000 + len(project["accounts"])), "email": email,
        "displayName": display_name, "description": "", "etag": "MDEwMjE5MjA=",
        "oauth2ClientId": str(400000000000000000000 + len(project["accounts"])),
        "policy": {"version": 1, "etag": "ACAB", "bindings": []}}
    return email


def _page(items: list, query: dict, key: str) -> dict:
    start = int(query.get("pageToken", ["0"])[0] or 0)
    size = int(query.get("pageSize", [PAGE_SIZE])[0] or PAGE_SIZE)
    size = min(size, PAGE_SIZE)
    answer = {key: items[start:start + size]} if items[start:start + size] else {}
    if start + size < len(items):
        answer["nextPageToken"] = str(start + size)
    return answer


def _public(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in ("policy", "providers", "keys")}


class Handler(BaseHTTPRequestHandler):
    state: State

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, reason: str, message: str) -> None:
        self._send(status, {"error": {"code": status, "message": message, "status": reason}})

    def _route(self, method: str) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        path = url.path
        self.state.calls.append((method, path))
        body = {}
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
        if method == "GET" and path == "/v1/roles":
            return self._send(200, _page(self.state.roles, query, "roles"))
        match = re.match(r"^/v[13]/projects/([^/:]+)", path)
        if not match:
            return self._error(404, "NOT_FOUND", f"no route for {path}")
        project_key = match[1]
        project_id = next((pid for pid, p in self.state.projects.items() if project_key in (pid, p["number"])), None)
        if project_key in self.state.forbidden or project_id in self.state.forbidden:
            return self._error(403, "PERMISSION_DENIED", f"Permission denied on resource project {project_key}.")
        if project_id is None:
            return self._error(404, "NOT_FOUND", f"project {project_key} not found")
        project = self.state.projects[project_id]
        rest = path[match.end():]
        if method == "POST" and rest == ":getIamPolicy" and path.startswith("/v3/"):
            version = int(body.get("options", {}).get("requestedPolicyVersion", 0))
            return self._send(200, rendered(project["policy"], version))
        if method == "GET" and rest == "/serviceAccounts":
            return self._send(200, _page([_public(a) for a in project["accounts"].values()], query, "accounts"))
        found = re.match(r"^/serviceAccounts/([^/:]+)/keys$", rest)
        if method == "GET" and found:
            account = project["accounts"].get(found[1])
            if account is None:
                return self._error(404, "NOT_FOUND", f"Service account {found[1]} does not exist.")
            kinds = set(query.get("keyTypes", []))
            return self._send(200, {"keys": [k for k in account.get("keys", []) if not kinds or k["keyType"] in kinds]})
        if method == "GET" and rest == "/locations/global/activityTypes/serviceAccountKeyLastAuthentication/activities:query":
            if project_id in self.state.analyzer_off:
                return self._error(403, "PERMISSION_DENIED", "Policy Analyzer API has not been used in project "
                                                             f"{project['number']} before or it is disabled.")
            return self._send(200, _page(list(project["activities"].values()), query, "activities"))
        found = re.match(r"^/serviceAccounts/([^/:]+):getIamPolicy$", rest)
        if method == "POST" and found:
            account = project["accounts"].get(found[1])
            return self._send(200, account["policy"]) if account else self._error(404, "NOT_FOUND", "no account")
        found = re.match(r"^/locations/global/workloadIdentityPools/([^/]+)(/providers)?$", rest)
        if method == "GET" and found:
            pool = project["pools"].get(found[1])
            if pool is None:
                return self._error(404, "NOT_FOUND", f"Requested entity was not found: pool {found[1]}")
            if found[2]:  # soft-deleted providers only with showDeleted=true
                shown = [p for p in pool["providers"].values()
                         if p.get("state") != "DELETED" or query.get("showDeleted") == ["true"]]
                return self._send(200, _page(shown, query, "workloadIdentityPoolProviders"))
            return self._send(200, _public(pool))
        return self._error(404, "NOT_FOUND", f"no route for {method} {path}")

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")


def fake_gcp(state: State):
    return serve(Handler, state)


@contextmanager
def fake_iam_grpc(state: State):
    """The IAM Admin API over gRPC (google-cloud-iam has no REST transport for it), answering with
    the library's own message types from the same state."""
    from concurrent import futures

    import grpc
    from google.cloud.iam_admin_v1 import types
    from google.iam.v1 import iam_policy_pb2, policy_pb2
    from google.type import expr_pb2

    def context_project(name: str, context):
        project_id = name.split("/")[1]
        if project_id in state.forbidden:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, f"Permission denied on resource project {project_id}.")
        if project_id not in state.projects:
            context.abort(grpc.StatusCode.NOT_FOUND, f"project {project_id} not found")
        return state.projects[project_id]

    def list_accounts(request, context):
        project = context_project(request.name, context)
        page = _page([_public(a) for a in project["accounts"].values()],
                     {"pageToken": [request.page_token], "pageSize": [request.page_size or PAGE_SIZE]}, "accounts")
        return types.ListServiceAccountsResponse(
            accounts=[types.ServiceAccount(name=a["name"], project_id=a["projectId"], unique_id=a["uniqueId"],
                                           email=a["email"], display_name=a["displayName"],
                                           description=a["description"], oauth2_client_id=a["oauth2ClientId"])
                      for a in page.get("accounts", [])], next_page_token=page.get("nextPageToken", ""))

    def account_policy(request, context):
        project = context_project(request.resource, context)
        account = project["accounts"].get(request.resource.rsplit("/", 1)[1])
        if account is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such service account")
        policy = rendered(account["policy"], request.options.requested_policy_version)
        return policy_pb2.Policy(version=policy["version"], etag=b"ACAB", bindings=[
            policy_pb2.Binding(role=b["role"], members=b["members"], condition=expr_pb2.Expr(**b.get("condition", {})))
            for b in policy["bindings"]])

    def list_roles(request, context):
        page = _page(state.roles, {"pageToken": [request.page_token], "pageSize": [request.page_size or PAGE_SIZE]},
                     "roles")
        full = request.view == types.RoleView.FULL
        return types.ListRolesResponse(roles=[types.Role(
            name=r["name"], title=r.get("title", ""), description=r.get("description", ""),
            included_permissions=r.get("includedPermissions", []) if full else [],
            stage=types.Role.RoleLaunchStage[r.get("stage", "GA")]) for r in page.get("roles", [])],
            next_page_token=page.get("nextPageToken", ""))

    def unary(function, request_type, response_type):
        deserialize = getattr(request_type, "deserialize", None) or request_type.FromString
        serialize = getattr(response_type, "serialize", None) or response_type.SerializeToString
        return grpc.unary_unary_rpc_method_handler(function, request_deserializer=deserialize,
                                                   response_serializer=serialize)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("google.iam.admin.v1.IAM", {
        "ListServiceAccounts": unary(list_accounts, types.ListServiceAccountsRequest, types.ListServiceAccountsResponse),
        "GetIamPolicy": unary(account_policy, iam_policy_pb2.GetIamPolicyRequest, policy_pb2.Policy),
        "ListRoles": unary(list_roles, types.ListRolesRequest, types.ListRolesResponse),
    })])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop(None)

"""GCP discovery, read-only (GET, and Resource Manager's getIamPolicy): the project's service accounts
that are not wiam's, and every user-managed key of any of them (projects.serviceAccounts.keys.list,
keyTypes=USER_MANAGED), with each key's last authentication where Policy Analyzer's Activity
Analyzer answers (activity type serviceAccountKeyLastAuthentication). That API is often not enabled,
or not granted: a key's last use then says "not read", and the target still counts as read."""

from __future__ import annotations

from shlex import join
from urllib.parse import quote

from wiam.live import NO_CREDENTIALS, Unreadable
from wiam.secretless import NOT_READ, Credential

from .live import IAM_REST, POLICY_VERSION, TIMEOUT, Connection, _readable
from .plan import GCPPlan
from .settings import ACCOUNT_PREFIX

POLICY_ANALYZER = "https://policyanalyzer.googleapis.com"
KEY_ACTIVITY = "serviceAccountKeyLastAuthentication"
_IAM_NAME = "//iam.googleapis.com/"  # full resource names prefix what keys.list calls a key's name


def _pages(connection: Connection, path: str, key: str, api: str = IAM_REST) -> list[dict]:
    items, token, seen, separator = [], "", set(), "&" if "?" in path else "?"
    while True:
        page = connection.get(path + (f"{separator}pageToken={quote(token)}" if token else ""), api) or {}
        items += page.get(key, [])
        token = page.get("nextPageToken")
        if not token:
            return items
        if token in seen:
            raise Unreadable(f"GET {path}: the page token {token[:20]!r} came again")
        seen.add(token)


def last_authentications(connection: Connection, project: str) -> dict[str, str] | str:
    """Each key's last authentication by its full resource name, or why they were not read."""
    path = (f"/v1/projects/{project}/locations/global/activityTypes/{KEY_ACTIVITY}/activities:query"
            "?pageSize=1000")
    try:
        activities = _pages(connection, path, "activities", POLICY_ANALYZER)
    except Unreadable as error:
        return f"{NOT_READ}: Policy Analyzer answered {error}"
    return {a.get("fullResourceName", ""): (a.get("activity") or {}).get("lastAuthenticatedTime", "")
            for a in activities}


def _roles(connection: Connection, project_name: str) -> dict[str, list[str]]:
    """The project's roles of each service account, by email."""
    with _readable("project IAM policy"):
        policy = connection.projects().get_iam_policy(request={"resource": project_name, "options": {
            "requested_policy_version": POLICY_VERSION}}, timeout=TIMEOUT)
    roles: dict[str, set] = {}
    for binding in policy.bindings:
        for member in binding.members:
            if member.startswith("serviceAccount:"):
                roles.setdefault(member.split(":", 1)[1], set()).add(binding.role)
    return {email: sorted(found) for email, found in roles.items()}


def _grants(roles: list[str]) -> str:
    return f"roles {', '.join(roles)} on the project" if roles else "no roles on the project"


def _key(target: str, email: str, key: dict, used, grants: str) -> Credential:
    key_id = key["name"].rsplit("/", 1)[-1]
    last = used if isinstance(used, str) else used.get(_IAM_NAME + key["name"]) or "none recorded by Activity Analyzer"
    return Credential(
        "gcp-service-account-key", "gcp", owner=email, target=target,
        id=key["name"], created=key.get("validAfterTime"),
        expires=None if key.get("validBeforeTime", "").startswith("9999-") else key.get("validBeforeTime"),
        last_used=last, status="disabled" if key.get("disabled") else "enabled", grants=grants,
        remove=join(["gcloud", "iam", "service-accounts", "keys", "delete", key_id, f"--iam-account={email}"]))


def find(plan: GCPPlan, connection: Connection) -> list[Credential]:
    if connection.problem:
        raise Unreadable(connection.problem, NO_CREDENTIALS)
    settings, target = plan.settings, plan.spec.name
    ours = {w.account.email for w in plan.workloads if w.account}
    own_domain = f"@{settings.project_id}.iam.gserviceaccount.com"  # not Google's default accounts
    with _readable("service accounts"):
        accounts = _pages(connection, f"/v1/{settings.project_name}/serviceAccounts?pageSize=100", "accounts")
        keys = {a["email"]: (connection.get(f"/v1/{a['name']}/keys?keyTypes=USER_MANAGED") or {}).get("keys", [])
                for a in accounts}
    roles = _roles(connection, settings.project_name)
    with _readable("Policy Analyzer activities"):
        used = last_authentications(connection, settings.project_id) if any(keys.values()) else {}
    found = []
    for account in accounts:
        email = account["email"]
        grants = _grants(roles.get(email, []))
        found += [_key(target, email, key, used, grants) for key in keys[email]]
        wiams = email in ours or email.split("@", 1)[0].startswith(ACCOUNT_PREFIX)
        if not wiams and email.endswith(own_domain):
            found.append(Credential(
                "gcp-service-account", "gcp", owner=email, target=target,
                id=account.get("uniqueId", email), long_lived=False,
                status="disabled" if account.get("disabled") else "enabled", grants=grants,
                remove=join(["gcloud", "iam", "service-accounts", "delete", email])))
    return found

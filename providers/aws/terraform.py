"""AWS: IAM OIDC providers, roles with web-identity trust policies, inline and managed policies."""

from __future__ import annotations

import re

from wiam.diagnostics import Report
from wiam.document import describe
from wiam.model import Identity, Model, Target, Workload
from wiam.names import case_clash, fit_name, short_hash, slug, terraform_name
from wiam.terraform import Module, one_or_list, policy_json, ref

CLOUD = "aws"
TERRAFORM_PROVIDER = ("aws", "hashicorp/aws", ">= 6.0, < 7.0")
DEFAULT_AUDIENCE = "sts.amazonaws.com"

# Documented IAM quotas (IAM and AWS STS quotas page).
ROLE_NAME_MAX = 64
TRUST_POLICY_DEFAULT = 2048
INLINE_POLICY_MAX = 10240  # aggregate inline policy size per role, whitespace not counted
MANAGED_POLICIES_DEFAULT = 10
SESSION_MIN, SESSION_MAX = 3600, 43200
ROLES_PER_ACCOUNT_MAX = 5000
OIDC_PROVIDERS_PER_ACCOUNT = 100
CLIENT_IDS_PER_PROVIDER = 100
ROLE_DESCRIPTION_MAX = 1000
_ROLE_DESCRIPTION_CHARS = re.compile(r"[\t\n\r\x20-\x7e\xa1-\xff]*")

CONDITION_OPERATORS = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
    "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
    "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
    "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals",
    "ArnNotLike", "Null",
}


def valid_condition_operator(operator: str) -> bool:
    base = re.sub(r"^(ForAllValues|ForAnyValue):", "", operator)
    if base.endswith("IfExists") and base != "NullIfExists":
        base = base[: -len("IfExists")]
    return base in CONDITION_OPERATORS


def parse_duration(value) -> int | None:
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", value)
    if not match or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def role_name(workload: str) -> str:
    return fit_name(f"wiam-{workload}", ROLE_NAME_MAX, allowed=r"\w+=,.@-")


def oidc_provider_arn(partition: str, account_id: str, host_path: str) -> str:
    return f"arn:{partition}:iam::{account_id}:oidc-provider/{host_path}"


def iam_literal(text: str) -> str:
    """`text` matched as itself in a policy condition: IAM reads `${...}` there as a policy variable
    (`${*}` is a `*`), and `${$}` is its way to write a `$`."""
    return text.replace("${", "${$}{")


def trust_policy(provider_arns: dict[str, str], identities: list[Identity]) -> dict:
    """One Allow statement per issuer and audience, pinning aud and the exact sub values of the active
    identities; disabled subjects (and disabled issuers, whole) get an explicit Deny, which wins."""
    groups: dict[tuple[str, str], list[str]] = {}
    denied: dict[str, set[str]] = {}
    issuers = {i.issuer.name: i.issuer for i in identities}
    for identity in identities:
        if identity.active:
            groups.setdefault((identity.issuer.name, identity.audience_for(DEFAULT_AUDIENCE)), []).append(
                identity.subject)
        else:
            denied.setdefault(identity.issuer.name, set()).add(identity.subject)
    statements = []
    for (issuer_name, audience), subjects in sorted(groups.items()):
        issuer = issuers[issuer_name]
        statements.append({
            "Effect": "Allow",
            "Principal": {"Federated": provider_arns[issuer_name]},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{issuer.host_path}:aud": iam_literal(audience),
                f"{issuer.host_path}:sub": one_or_list([iam_literal(s) for s in sorted(set(subjects))]),
            }},
        })
    # Sids must be unique within a policy.
    for number, (issuer_name, subjects) in enumerate(sorted(denied.items()), 1):
        issuer = issuers[issuer_name]
        statement = {"Sid": f"WiamDisabled{number}", "Effect": "Deny", "Principal": {"Federated": provider_arns[issuer_name]},
                     "Action": "sts:AssumeRoleWithWebIdentity"}
        if not issuer.disabled:  # a disabled issuer is refused whole
            statement["Condition"] = {"StringEquals": {
                f"{issuer.host_path}:sub": one_or_list([iam_literal(s) for s in sorted(subjects)])}}
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def inline_policy(settings: dict) -> dict | None:
    actions = list(dict.fromkeys(settings.get("actions", [])))
    if not actions or "resources" not in settings:
        return None
    statement = {
        "Sid": "WiamGrant",
        "Effect": "Allow",
        "Action": one_or_list(actions),
        "Resource": one_or_list(list(dict.fromkeys(settings["resources"]))),
    }
    if settings.get("conditions"):
        statement["Condition"] = settings["conditions"]
    return {"Version": "2012-10-17", "Statement": [statement]}



def _check_grant(model: Model, target: Target, workload: Workload, settings: dict, path: tuple, report: Report):
    block = describe(path)
    if settings.get("actions") and "resources" not in settings:
        report.error(model.where(path, key=True), block, "actions need resources",
                     'add resources = ["arn:..."] (the ARNs the actions apply to)')
    for operator in sorted(settings.get("conditions", {})):
        if not valid_condition_operator(operator):
            report.error(model.where(path + ("conditions", operator), key=True), block,
                         f"unknown IAM condition operator {operator!r}",
                         "use an IAM operator such as StringEquals, StringLike, ArnLike, Bool, IpAddress "
                         "(optionally with IfExists, ForAllValues: or ForAnyValue:)")
    partition = target.settings.get("partition", "aws")
    arns = [("managed_policies", i, arn) for i, arn in enumerate(settings.get("managed_policies", []))]
    if "permissions_boundary" in settings:
        arns.append(("permissions_boundary", None, settings["permissions_boundary"]))
    arns += [("resources", i, arn) for i, arn in enumerate(settings.get("resources", [])) if arn != "*"]
    for field, index, arn in arns:
        if arn.split(":")[1] != partition:
            where = path + ((field, index) if index is not None else (field,))
            report.error(model.where(where), block, f"{arn!r} is not in the target's partition {partition!r}",
                         f"use arn:{partition}:... or set partition on the target")
    quota = target.settings.get("managed_policies_quota", MANAGED_POLICIES_DEFAULT)
    count = len(set(settings.get("managed_policies", [])))
    if count > quota:
        report.error(model.where(path + ("managed_policies",), key=True), block,
                     f"{count} managed policies; a role takes at most {quota} (IAM quota)",
                     "merge policies, move actions to the inline policy, or raise the quota (at most 20) "
                     "and declare it with managed_policies_quota on the target")
    if "max_session_duration" in settings:
        seconds = parse_duration(settings["max_session_duration"])
        if seconds is None or not SESSION_MIN <= seconds <= SESSION_MAX:
            report.error(model.where(path + ("max_session_duration",)), block,
                         f"max_session_duration {settings['max_session_duration']!r} is outside 1 to 12 hours",
                         "use 3600 to 43200 seconds, e.g. \"1h\" or \"12h\"")
    description = workload.description
    if description and (len(description) > ROLE_DESCRIPTION_MAX or not _ROLE_DESCRIPTION_CHARS.fullmatch(description)):
        report.error(model.where(("workload", workload.name, "description")), describe(("workload", workload.name)),
                     "this description cannot be an IAM role description (Latin-1 printable text only)",
                     "remove characters outside Latin-1 from the description")


def compile_target(model: Model, target: Target, module: Module, report: Report) -> dict[str, dict]:
    account = target.settings["account_id"]
    partition = target.settings.get("partition", "aws")
    alias = f"aws.{target.name}"
    module.require(*TERRAFORM_PROVIDER)
    module.provider("aws", {"alias": target.name, "region": target.settings.get("region", "us-east-1"),
                            "allowed_account_ids": [account]})
    grants = model.grants_on(target)
    existing = target.settings.get("existing_oidc_providers", {})
    for issuer_name in sorted(existing):
        if issuer_name not in model.issuers:
            report.error(model.where(target.path + ("existing_oidc_providers", issuer_name), key=True),
                         describe(target.path), f"no issuer named {issuer_name!r}",
                         "existing_oidc_providers maps issuer names to provider ARNs")

    # Which issuers (and audiences) this account must trust.
    audiences: dict[str, set[str]] = {}
    for workload, _ in grants:
        for identity in workload.identities:
            audiences.setdefault(identity.issuer.name, set()).add(identity.audience_for(DEFAULT_AUDIENCE))

    provider_arns: dict[str, str] = {}
    provider_addresses: dict[str, str] = {}
    for issuer_name in sorted(audiences):
        issuer = model.issuers[issuer_name]
        if issuer_name in existing:
            arn = existing[issuer_name]
            where = model.where(target.path + ("existing_oidc_providers", issuer_name))
            if arn.split(":")[4] != account:
                report.error(where, describe(target.path), f"{arn!r} is not in account {account}",
                             "use the ARN of the OIDC provider in this target's account")
            if arn.split("oidc-provider/", 1)[1] != issuer.host_path:
                report.error(where, describe(target.path),
                             f"{arn!r} is not the provider of issuer {issuer_name!r} ({issuer.url})",
                             f"use the ARN ending in oidc-provider/{issuer.host_path}")
            provider_arns[issuer_name] = arn
            continue
        if len(audiences[issuer_name]) > CLIENT_IDS_PER_PROVIDER:
            report.error(issuer.pos, describe(("issuer", issuer_name)),
                         f"{len(audiences[issuer_name])} audiences for one AWS OIDC provider; the limit is "
                         f"{CLIENT_IDS_PER_PROVIDER}", "use fewer distinct audiences")
        provider_arns[issuer_name] = oidc_provider_arn(partition, account, issuer.host_path)
        provider_addresses[issuer_name] = module.resource(
            "aws_iam_openid_connect_provider", terraform_name(target.name, issuer_name),
            {"provider": alias, "url": issuer.url, "client_id_list": sorted(audiences[issuer_name]),
             "tags": {"managed-by": "wiam", "wiam-issuer": issuer_name}})
    if len(provider_addresses) > OIDC_PROVIDERS_PER_ACCOUNT:
        report.error(target.pos, describe(target.path),
                     f"{len(provider_addresses)} OIDC providers in one account; IAM allows {OIDC_PROVIDERS_PER_ACCOUNT}",
                     "reuse providers through existing_oidc_providers or spread issuers over accounts")
    if len(grants) > ROLES_PER_ACCOUNT_MAX:
        report.error(target.pos, describe(target.path),
                     f"{len(grants)} roles in one account; IAM allows at most {ROLES_PER_ACCOUNT_MAX}",
                     "spread the workloads over several accounts")

    outputs: dict[str, dict] = {}
    roles: dict[str, str] = {}  # IAM role names are unique regardless of case
    for workload, grant in grants:
        _check_grant(model, target, workload, grant.settings, grant.path, report)
        if not workload.identities:
            continue
        first = case_clash(roles, role_name(workload.name), workload.name)
        if first:
            report.error(workload.pos, describe(("workload", workload.name)),
                         f"role {role_name(workload.name)!r} clashes with {role_name(first)!r} of workload {first!r}: "
                         f"IAM role names are not distinguished by case (account {account})",
                         "rename one of the two workloads")
        outputs[workload.name] = _compile_role(model, target, workload, grant.settings, grant.path, module,
                                               provider_arns, provider_addresses, report)
    return outputs


def _compile_role(model, target, workload, settings, path, module, provider_arns, provider_addresses, report):
    alias = f"aws.{target.name}"
    name = terraform_name(target.name, workload.name)
    trust = policy_json(trust_policy(provider_arns, workload.identities))
    quota = target.settings.get("trust_policy_quota", TRUST_POLICY_DEFAULT)
    if len(trust) > quota:
        report.error(workload.pos, describe(("workload", workload.name)),
                     f"the trust policy for target \"{target.name}\" is {len(trust)} characters; "
                     f"the account's limit is {quota}",
                     "split the identities over several workloads, or raise the role trust policy quota "
                     "(at most 4096) and declare it with trust_policy_quota on the target")
    role = {
        "provider": alias,
        "name": role_name(workload.name),
        "assume_role_policy": trust,
        "tags": workload.tags(),
    }
    used = sorted({i.issuer.name for i in workload.identities} & set(provider_addresses))
    if used:
        role["depends_on"] = [provider_addresses[i] for i in used]
    if workload.description:
        role["description"] = workload.description
    if "max_session_duration" in settings:
        role["max_session_duration"] = parse_duration(settings["max_session_duration"])
    if "permissions_boundary" in settings:
        role["permissions_boundary"] = settings["permissions_boundary"]
    role_address = module.resource("aws_iam_role", name, role)
    policy = inline_policy(settings)
    if policy is not None:
        text = policy_json(policy)
        if len(text) > INLINE_POLICY_MAX:
            report.error(model.where(path, key=True), describe(path),
                         f"the inline policy is {len(text)} characters; IAM allows {INLINE_POLICY_MAX} per role",
                         "use wildcards that stay least-privilege, fewer resources, or managed_policies")
        module.resource("aws_iam_role_policy", name, {
            "provider": alias, "name": "wiam-grant", "role": ref(f"{role_address}.id"), "policy": text})
    for arn in sorted(set(settings.get("managed_policies", []))):
        attachment = terraform_name(name, f"{slug(arn.rsplit('/', 1)[-1])}_{short_hash(arn, length=6)}")
        module.resource("aws_iam_role_policy_attachment", attachment, {
            "provider": alias, "role": ref(f"{role_address}.name"), "policy_arn": arn})
    return {"role_arn": ref(f"{role_address}.arn")}


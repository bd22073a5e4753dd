"""AWS: IAM OIDC providers, roles with web-identity trust policies, inline and managed policies."""

from __future__ import annotations

import re
from dataclasses import dataclass

from wiam.diagnostics import Report
from wiam.document import describe
from wiam.model import Identity, Model, Target, Workload, host_path, normalised_url
from wiam.names import ObjectName, fit_name, free_name, short_hash, slug, terraform_name
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


@dataclass(frozen=True)
class OidcProvider:
    """The one IAM OIDC provider of an issuer URL in an account, shared by the issuers naming that URL."""

    url: str  # as the first issuer (by name) writes it
    arn: str
    issuers: tuple[str, ...]  # sorted; the first names the Terraform resource
    existing: bool  # given by existing_oidc_providers, not created here

    @property
    def host_path(self) -> str:
        """How IAM names the provider (its ARN) and its condition keys."""
        return self.arn.split("oidc-provider/", 1)[1]


def oidc_providers(model: Model, target: Target, issuer_names, report: Report | None = None) -> dict[str, OidcProvider]:
    """Each issuer's provider in the target's account. IAM takes one provider per URL, so issuers whose
    URLs normalise alike share one; with `report`, what makes sharing impossible is an error."""
    existing = target.settings.get("existing_oidc_providers", {})
    account, partition = target.settings["account_id"], target.settings.get("partition", "aws")
    groups: dict[str, list[str]] = {}
    for name in sorted(set(issuer_names)):
        groups.setdefault(normalised_url(model.issuers[name].url), []).append(name)
    providers: dict[str, OidcProvider] = {}
    for url, names in sorted(groups.items()):
        entries = {n: existing[n] for n in names if n in existing}  # issuer -> ARN, in name order
        first = model.issuers[names[0]]
        arn = next(iter(entries.values()), None)
        provider = OidcProvider(first.url, arn or oidc_provider_arn(partition, account, first.host_path),
                                tuple(names), arn is not None)
        providers.update(dict.fromkeys(names, provider))
        if report is not None:
            _check_sharing(model, target, provider, url, entries, report)
    return providers


def _check_sharing(model: Model, target: Target, provider: OidcProvider, url: str, entries: dict[str, str],
                   report: Report) -> None:
    account = target.settings["account_id"]
    issuers = [model.issuers[n] for n in provider.issuers]
    shared = f"issuers {', '.join(repr(i.name) for i in issuers)} all name {url}"
    for name, arn in entries.items():
        where = model.where(target.path + ("existing_oidc_providers", name))
        if arn.split(":")[4] != account:
            report.error(where, describe(target.path), f"{arn!r} is not in account {account}",
                         "use the ARN of the OIDC provider in this target's account")
        if normalised_url("https://" + arn.split("oidc-provider/", 1)[1]) != url:
            report.error(where, describe(target.path), f"{arn!r} is not the provider of issuer {name!r} ({url})",
                         f"use the ARN ending in oidc-provider/{host_path(url)}")
        if arn != provider.arn:
            report.error(where, describe(target.path),
                         f"{shared}, which has one OIDC provider per account, but existing_oidc_providers maps "
                         f"{name!r} to {arn!r} and {provider.issuers[0]!r}'s provider is {provider.arn!r}",
                         "map every issuer of this URL to the one provider ARN")
    disabled = [i for i in issuers if i.disabled]
    if disabled and len(disabled) < len(issuers):
        enabled = next(i for i in issuers if not i.disabled)
        report.error(enabled.pos, describe(("issuer", enabled.name)),
                     f"{shared} (one AWS OIDC provider, the same tokens), but only "
                     f"{', '.join(repr(i.name) for i in disabled)} is disabled: {enabled.name!r} would still admit "
                     f"the tokens the kill switch means to refuse", "disable every issuer of this URL, or none")


def iam_literal(text: str) -> str:
    """`text` as a literal in an IAM condition value, where `${` starts a policy variable and the
    variable `${$}` is a literal `$`."""
    return text.replace("${", "${$}{")


def trust_policy(providers: dict[str, OidcProvider], identities: list[Identity]) -> dict:
    """One Allow statement per OIDC provider and audience, pinning aud and the exact sub values of the
    active identities; disabled subjects (and disabled issuers, whole) get an explicit Deny, which wins."""
    groups: dict[tuple[str, str], list[str]] = {}
    denied: dict[str, set[str]] = {}
    by_arn: dict[str, tuple[OidcProvider, bool]] = {}
    for identity in identities:
        provider = providers[identity.issuer.name]
        by_arn[provider.arn] = provider, bool(identity.issuer.disabled)  # alike for issuers of one URL
        if identity.active:
            groups.setdefault((provider.arn, identity.audience_for(DEFAULT_AUDIENCE)), []).append(identity.subject)
        else:
            denied.setdefault(provider.arn, set()).add(identity.subject)
    statements = []
    for (arn, audience), subjects in sorted(groups.items()):
        keys = by_arn[arn][0].host_path
        statements.append({
            "Effect": "Allow",
            "Principal": {"Federated": arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{keys}:aud": iam_literal(audience),
                f"{keys}:sub": one_or_list([iam_literal(s) for s in sorted(set(subjects))]),
            }},
        })
    # Sids must be unique within a policy.
    for number, (arn, subjects) in enumerate(sorted(denied.items()), 1):
        provider, issuer_disabled = by_arn[arn]
        statement = {"Sid": f"WiamDisabled{number}", "Effect": "Deny", "Principal": {"Federated": arn},
                     "Action": "sts:AssumeRoleWithWebIdentity"}
        if not issuer_disabled:  # a disabled issuer is refused whole
            statement["Condition"] = {"StringEquals": {
                f"{provider.host_path}:sub": one_or_list([iam_literal(s) for s in sorted(subjects)])}}
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
        report.error(model.where(path + ("actions",), key=True), block, "actions need resources",
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

    # Which issuers (and audiences) this account must trust: one provider per URL, audiences united.
    audiences: dict[str, set[str]] = {}
    for workload, _ in grants:
        for identity in workload.identities:
            audiences.setdefault(identity.issuer.name, set()).add(identity.audience_for(DEFAULT_AUDIENCE))
    providers = oidc_providers(model, target, audiences, report)
    provider_addresses: dict[str, str] = {}
    for provider in sorted(set(providers.values()), key=lambda p: p.issuers):
        if provider.existing:
            continue
        first = model.issuers[provider.issuers[0]]
        client_ids = sorted(set().union(*(audiences[n] for n in provider.issuers)))
        if len(client_ids) > CLIENT_IDS_PER_PROVIDER:
            report.error(first.pos, describe(("issuer", first.name)),
                         f"{len(client_ids)} audiences for one AWS OIDC provider (of {normalised_url(first.url)}); "
                         f"the limit is {CLIENT_IDS_PER_PROVIDER}", "use fewer distinct audiences")
        address = module.resource(
            "aws_iam_openid_connect_provider", terraform_name(target.name, first.name),
            {"provider": alias, "url": provider.url, "client_id_list": client_ids,
             "tags": {"managed-by": "wiam", "wiam-issuer": first.name}})
        provider_addresses.update(dict.fromkeys(provider.issuers, address))
    if len(set(provider_addresses.values())) > OIDC_PROVIDERS_PER_ACCOUNT:
        report.error(target.pos, describe(target.path),
                     f"{len(set(provider_addresses.values()))} OIDC providers in one account; IAM allows {OIDC_PROVIDERS_PER_ACCOUNT}",
                     "reuse providers through existing_oidc_providers or spread issuers over accounts")
    if len(grants) > ROLES_PER_ACCOUNT_MAX:
        report.error(target.pos, describe(target.path),
                     f"{len(grants)} roles in one account; IAM allows at most {ROLES_PER_ACCOUNT_MAX}",
                     "spread the workloads over several accounts")

    outputs: dict[str, dict] = {}
    for workload, grant in grants:
        _check_grant(model, target, workload, grant.settings, grant.path, report)
        if not workload.identities:
            continue
        outputs[workload.name] = _compile_role(model, target, workload, grant.settings, grant.path, module,
                                               providers, provider_addresses, report)
    return outputs


def _compile_role(model, target, workload, settings, path, module, providers, provider_addresses, report):
    alias = f"aws.{target.name}"
    name = terraform_name(target.name, workload.name)
    trust = policy_json(trust_policy(providers, workload.identities))
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
        role["depends_on"] = sorted({provider_addresses[i] for i in used})
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
        module.resource("aws_iam_role_policy_attachment", free_name(
            attachment, module.resources.get("aws_iam_role_policy_attachment", {}), arn), {
            "provider": alias, "role": ref(f"{role_address}.name"), "policy_arn": arn})
    return {"role_arn": ref(f"{role_address}.arn")}


def object_names(model: Model, target: Target) -> list[ObjectName]:
    """Role names, which IAM holds unique per account without regard to case."""
    scope = ("account", target.settings["account_id"])
    return [ObjectName.of_grant(grant, "IAM role name", scope, role_name(workload.name), True)
            for workload, grant in model.grants_on(target)]


def places(settings: dict) -> list[tuple[str, str, tuple]]:
    """The cloud objects a target manages alone: IAM (roles, OIDC providers) is one per account."""
    return [("account", "account_id", (settings["account_id"],))]

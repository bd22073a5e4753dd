"""AWS analysis rules: wildcards, administrative policies, privilege-escalation and exposing actions."""

from __future__ import annotations

from cloudsplaining.shared.constants import (ACTIONS_THAT_RETURN_CREDENTIALS, PRIVILEGE_ESCALATION_METHODS,
                                             READ_ONLY_DATA_EXFILTRATION_ACTIONS)

from wiam.findings import Context, Rule, rule
from wiam.document import describe
from wiam.model import Grant

from . import catalog
from .graph import COMPUTE_WITH_ROLE, policy_variables
from .permissions import ADMIN_POLICIES, allowed_actions
from .settings import CLOUD

RULES: list[Rule] = []

# Known IAM privilege escalation methods (Rhino Security Labs' list and its successors): each of
# these alone lets a principal raise its own permissions or act as another principal. The
# combinations come from cloudsplaining's list (what checkov's CKV_AWS_286 reads).
ESCALATION_ACTIONS = frozenset({
    "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:AttachRolePolicy", "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy", "iam:PutRolePolicy", "iam:PutUserPolicy", "iam:PutGroupPolicy",
    "iam:UpdateAssumeRolePolicy", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
    "iam:AddUserToGroup", "iam:CreateServiceLinkedRole", "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary", "lambda:UpdateFunctionCode", "lambda:AddPermission",
})

_ESCALATION_LOWER = frozenset(action.lower() for action in ESCALATION_ACTIONS)  # methods these already explain

# Actions that hand out credentials or read secrets and data (cloudsplaining's lists, which checkov's
# CKV_AWS_287 and CKV_AWS_288 use), lower-case as IAM compares them.
EXPOSING_ACTIONS = frozenset(a.lower() for a in [*ACTIONS_THAT_RETURN_CREDENTIALS, *READ_ONLY_DATA_EXFILTRATION_ACTIONS])

# Policy variables whose value the role's session fixes (its account, ARN, tags, federated provider),
# lower-case as IAM compares keys; every other key (aws:UserAgent, aws:SourceIp, aws:RequestTag/...,
# service keys) comes from the request, so the caller picks the resource. (aws:userid ends in the
# session name the caller picks, after the role's own ID: it stays within the role's namespace.)
PRINCIPAL_KEYS = frozenset({"aws:principalaccount", "aws:principalarn", "aws:principalorgid", "aws:principaltype",
                            "aws:userid", "aws:username", "aws:federatedprovider"})


def _grants(context: Context):
    for name, workload in sorted(context.model.workloads.items()):
        for grant in workload.grants:
            if grant.cloud == CLOUD:
                yield name, grant


def _at(context: Context, grant: Grant, field: str, index: int | None = None):
    path = grant.path + ((field, index) if index is not None else (field,))
    return context.model.where(path), describe(grant.path)


@rule(RULES, "AWS101", "wildcard-action", "high", "Wildcard action",
      """`*` or `service:*` allows every action of every service, or of one service, including the
      ones AWS adds later. Least privilege names the actions the workload calls.""",
      """List the actions the workload needs (CloudTrail or IAM Access Analyzer's policy generation shows
      which ones it calls).""")
def _wildcard_actions(rule: Rule, context: Context):
    for name, grant in _grants(context):
        for index, action in enumerate(grant.settings.get("actions", [])):
            if action == "*" or action.endswith(":*"):
                count = len(catalog.expand(action))
                yield rule.finding(*_at(context, grant, "actions", index),
                                   f"action {action!r} allows {count} actions", workload=name)


@rule(RULES, "AWS102", "wildcard-resource-on-write", "medium", "Write access on every resource",
      """`Resource: "*"` with write, tagging or permissions-management actions lets the workload change
      every such resource in the account, not only its own.""",
      """Name the ARNs the actions apply to; keep `*` only for actions that take no resource (wiam
      already leaves those out of this finding).""")
def _wildcard_resources(rule: Rule, context: Context):
    for name, grant in _grants(context):
        resources = grant.settings.get("resources", [])
        if "*" not in resources:
            continue
        risky = sorted(action for action, level in allowed_actions(grant).items()
                       if level in catalog.WRITE_LEVELS and not catalog.takes_only_wildcard_resource(action))
        if risky:
            shown = ", ".join(risky[:3]) + (f" and {len(risky) - 3} more" if len(risky) > 3 else "")
            yield rule.finding(*_at(context, grant, "resources", resources.index("*")),
                               f'Resource "*" with write actions {shown}', workload=name)


@rule(RULES, "AWS103", "administrative-policy", "critical", "Administrative managed policy",
      """AdministratorAccess, PowerUserAccess and IAMFullAccess give control of the whole account (or of
      its IAM, which amounts to the same): a compromised pipeline owns the account.""",
      """Replace the managed policy with an inline grant of the actions and resources the workload needs.""")
def _admin_policies(rule: Rule, context: Context):
    for name, grant in _grants(context):
        for index, arn in enumerate(grant.settings.get("managed_policies", [])):
            policy = arn.rsplit("/", 1)[-1]
            if arn.split(":")[4] == "aws" and policy in ADMIN_POLICIES:
                yield rule.finding(*_at(context, grant, "managed_policies", index),
                                   f"managed policy {policy} is administrative", workload=name)


@rule(RULES, "AWS104", "privilege-escalation-action", "high", "Privilege-escalation action",
      """These actions let a principal raise its own permissions or act as another principal: new
      policy versions, attaching or writing policies, rewriting trust policies, creating credentials,
      iam:PassRole with an action that starts compute or on any role, sts:AssumeRole on any role,
      and the published combinations (cloudsplaining's list of privilege escalation methods).""",
      """Remove the action, or scope it to ARNs that cannot lead to more access (and add a permissions
      boundary to the role).""")
def _escalation_actions(rule: Rule, context: Context):
    for name, grant in _grants(context):
        actions = allowed_actions(grant)
        resources = grant.settings.get("resources", [])
        found = sorted(ESCALATION_ACTIONS.intersection(actions))
        lowered = {action.lower() for action in actions}
        found += [f"{method} ({' + '.join(steps)})" for method, steps in sorted(PRIVILEGE_ESCALATION_METHODS.items())
                  if lowered.issuperset(steps) and not _ESCALATION_LOWER.intersection(steps)]
        compute = sorted(COMPUTE_WITH_ROLE.intersection(actions))
        if "iam:PassRole" in actions and compute:
            found.append(f"iam:PassRole with {compute[0]}")
        elif "iam:PassRole" in actions and "*" in resources:
            found.append('iam:PassRole on "*"')  # any role, to whatever compute the workload reaches later
        if "sts:AssumeRole" in actions and "*" in resources:
            found.append('sts:AssumeRole on "*"')
        if found:
            yield rule.finding(context.model.where(grant.path, key=True), describe(grant.path),
                               "allows " + ", ".join(found), workload=name)


def _every_resource(context: Context):
    """AWS grants with Resource "*", with the actions they allow."""
    for name, grant in _grants(context):
        resources = grant.settings.get("resources", [])
        if "*" in resources:
            yield name, grant, resources.index("*"), allowed_actions(grant)


def _shown(actions: list[str]) -> str:
    return ", ".join(actions[:3]) + (f" and {len(actions) - 3} more" if len(actions) > 3 else "")


@rule(RULES, "AWS105", "exposing-action-on-every-resource", "high", "Credentials or secrets readable everywhere",
      """`Resource: "*"` with actions that return credentials (sts:AssumeRole, iam:CreateAccessKey,
      redshift:GetClusterCredentials...) or read secrets and data (secretsmanager:GetSecretValue,
      ssm:GetParameter, s3:GetObject) exposes every such credential, secret or object in the account.""",
      """Name the ARNs of the secrets, parameters, objects or roles the workload reads.""")
def _exposing_actions(rule: Rule, context: Context):
    for name, grant, index, actions in _every_resource(context):
        exposing = sorted(a for a in actions if a.lower() in EXPOSING_ACTIONS)
        if exposing:
            yield rule.finding(*_at(context, grant, "resources", index),
                               f'Resource "*" with {_shown(exposing)}', workload=name)


@rule(RULES, "AWS106", "wildcard-resource-on-read", "low", "Read access on every resource",
      """`Resource: "*"` with read or list actions that can name their resources lets the workload read
      every such resource in the account, not only its own (AWS105 reports the exposing ones).""",
      """Name the ARNs the actions apply to; keep `*` only for actions that take no resource.""")
def _wildcard_reads(rule: Rule, context: Context):
    for name, grant, index, actions in _every_resource(context):
        reads = sorted(a for a, level in actions.items() if level not in catalog.WRITE_LEVELS and
                       a.lower() not in EXPOSING_ACTIONS and not catalog.takes_only_wildcard_resource(a))
        if reads:
            yield rule.finding(*_at(context, grant, "resources", index),
                               f'Resource "*" with read actions {_shown(reads)}', workload=name)


def variable_key(variable: str) -> str:
    """The condition key of a policy variable `${key}` or `${key, 'default'}`, lower-case."""
    return variable.removeprefix("${").removesuffix("}").split(",", 1)[0].strip().lower()


def fixed_by_session(key: str, hosts: set[str]) -> bool:
    """Whether a key's value is the principal's, not the request's: the keys above, its tags, and the
    sub and aud of its OIDC providers (which the trust policy pins)."""
    return key in PRINCIPAL_KEYS or key.startswith("aws:principaltag/") or key in {
        f"{host}:{claim}" for host in hosts for claim in ("sub", "aud")}


@rule(RULES, "AWS107", "request-chosen-policy-variable", "high", "Resource named by the request",
      """A policy variable in a resource ARN is replaced with the request's value for its key. Keys such
      as aws:UserAgent, aws:SourceIp or aws:RequestTag/... are what the caller sends, so the ARN matches
      any resource at that place, like `*`: `arn:aws:iam::ACCOUNT:role/${aws:UserAgent}` is every
      role. wiam's graph reads every variable as `*`; this finding names the ones the caller chooses.""",
      """Use a variable the principal fixes (${aws:PrincipalTag/...}, ${aws:PrincipalAccount}, the
      OIDC provider's sub), name the resource, or write `${$}` for a literal `$`.""")
def _request_variables(rule: Rule, context: Context):
    for name, grant in _grants(context):
        hosts = {i.issuer.host_path.lower() for i in context.model.workloads[name].identities}
        for index, arn in enumerate(grant.settings.get("resources", [])):
            chosen = [v for v in policy_variables(arn) if not fixed_by_session(variable_key(v), hosts)]
            if chosen:
                yield rule.finding(*_at(context, grant, "resources", index),
                                   f"{arn!r}: {', '.join(chosen)} comes with the request, not from the "
                                   "principal, so the caller picks the resource", workload=name)

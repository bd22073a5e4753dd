"""AWS analysis rules: wildcards, administrative policies and privilege-escalation actions."""

from __future__ import annotations

from wiam.analysis.core import Context, Rule, rule
from wiam.document import describe
from wiam.model import Grant

from . import catalog
from .graph import COMPUTE_WITH_ROLE, expanded_actions

RULES: list[Rule] = []

ADMIN_POLICIES = frozenset({"AdministratorAccess", "IAMFullAccess", "PowerUserAccess"})
# Known IAM privilege escalation methods (Rhino Security Labs' list and its successors): each of
# these alone lets a principal raise its own permissions or act as another principal.
ESCALATION_ACTIONS = frozenset({
    "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:AttachRolePolicy", "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy", "iam:PutRolePolicy", "iam:PutUserPolicy", "iam:PutGroupPolicy",
    "iam:UpdateAssumeRolePolicy", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
    "iam:AddUserToGroup", "iam:CreateServiceLinkedRole", "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary", "lambda:UpdateFunctionCode", "lambda:AddPermission",
})


def writes(grant: Grant) -> bool:
    """Whether a grant allows any action above Read and List, or attaches managed policies."""
    levels = set(expanded_actions(grant.settings).values())
    return bool(levels & catalog.WRITE_LEVELS) or bool(grant.settings.get("managed_policies"))


def _grants(context: Context):
    for name, workload in sorted(context.model.workloads.items()):
        for grant in workload.grants:
            if grant.cloud == "aws":
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
        risky = sorted(action for action, level in expanded_actions(grant.settings).items()
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
      iam:PassRole with an action that starts compute, and sts:AssumeRole on any role.""",
      """Remove the action, or scope it to ARNs that cannot lead to more access (and add a permissions
      boundary to the role).""")
def _escalation_actions(rule: Rule, context: Context):
    for name, grant in _grants(context):
        actions = expanded_actions(grant.settings)
        resources = grant.settings.get("resources", [])
        found = sorted(ESCALATION_ACTIONS.intersection(actions))
        compute = sorted(COMPUTE_WITH_ROLE.intersection(actions))
        if "iam:PassRole" in actions and compute:
            found.append(f"iam:PassRole with {compute[0]}")
        if "sts:AssumeRole" in actions and "*" in resources:
            found.append('sts:AssumeRole on "*"')
        if found:
            yield rule.finding(context.model.where(grant.path, key=True), describe(grant.path),
                               "allows " + ", ".join(found), workload=name)

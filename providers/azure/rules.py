"""Azure analysis rules: privileged roles, escalation operations and subscription-wide assignments."""

from __future__ import annotations

from wiam.findings import Context, Rule, rule
from wiam.document import describe

from . import catalog
from .permissions import TAKEOVER
from .settings import CLOUD

RULES: list[Rule] = []

PRIVILEGED_ROLES = frozenset({"Owner", "Contributor", "User Access Administrator",
                              "Role Based Access Control Administrator"})
ESCALATION_OPERATIONS = tuple(TAKEOVER) + ("Microsoft.Authorization/roleDefinitions/write",
                                           "Microsoft.Authorization/elevateAccess/Action")


def _role_findings(rule: Rule, context: Context, select):
    """A finding at each role of each Azure grant for which select(grant, definition) returns a message."""
    for name, workload in sorted(context.model.workloads.items()):
        for grant in workload.grants:
            if grant.cloud != CLOUD:
                continue
            for index, role in enumerate(grant.settings["roles"]):
                definition = catalog.definition(role)
                message = select(grant, definition) if definition else None
                if message:
                    yield rule.finding(context.model.where(grant.path + ("roles", index)), describe(grant.path),
                                       message, workload=name)


@rule(RULES, "AZ101", "privileged-role", "critical", "Privileged administrator role",
      """Owner and Contributor manage every resource in scope; Owner, User Access Administrator and
      Role Based Access Control Administrator can also assign roles, which gives any access at all.""",
      """Assign the service's own narrower built-in role (for example Storage Blob Data Contributor) at
      the resource the workload uses.""")
def _privileged_roles(rule: Rule, context: Context):
    return _role_findings(rule, context, lambda grant, definition: (
        f"{definition.name} is a privileged administrator role" if definition.name in PRIVILEGED_ROLES else None))


@rule(RULES, "AZ102", "privilege-escalation-operation", "high", "Role with privilege-escalation operations",
      """The role can write role assignments or role definitions, add federated credentials to managed
      identities, or assign identities to compute: each lets the workload act as other identities or
      give itself more access.""",
      """Use a role without these operations, or assign it at the one resource that needs it.""")
def _escalation_roles(rule: Rule, context: Context):
    def select(grant, definition):
        found = [op for op in ESCALATION_OPERATIONS if definition.allows(op)]
        if not found or definition.name in PRIVILEGED_ROLES:
            return None
        return f"{definition.name} allows {', '.join(found)}"
    return _role_findings(rule, context, select)


@rule(RULES, "AZ103", "subscription-wide-assignment", "medium", "Role assigned on the whole subscription",
      """The assignment has no scope, so it covers every resource group and resource of the
      subscription, including ones created later.""",
      """Set scope to the resource group or resource the workload uses.""")
def _subscription_wide(rule: Rule, context: Context):
    for name, workload in sorted(context.model.workloads.items()):
        for grant in workload.grants:
            scope = grant.settings.get("scope", "")
            if grant.cloud == CLOUD and scope.rstrip("/").count("/") <= 2:
                yield rule.finding(context.model.where(grant.path + (("scope",) if scope else ()), key=not scope),
                                   describe(grant.path), "roles " + ", ".join(grant.settings["roles"]) +
                                   " apply to the whole subscription", workload=name)

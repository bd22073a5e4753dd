"""Azure: user-assigned managed identities, exact federated identity credentials, role assignments."""

from __future__ import annotations

import re
import uuid

from wiam.diagnostics import Report
from wiam.document import describe
from wiam.model import Model, Target
from wiam.names import case_clash, fit_name, short_hash, slug, terraform_name
from wiam.terraform import Module, ref

CLOUD = "azure"
TERRAFORM_PROVIDER = ("azurerm", "hashicorp/azurerm", ">= 4.0, < 5.0")
DEFAULT_AUDIENCE = "api://AzureADTokenExchange"

# Documented limits (Microsoft Entra workload identity federation and Azure RBAC docs).
CREDENTIALS_PER_IDENTITY = 20
SUBJECT_MAX = 600
ISSUER_MAX = 600
IDENTITY_NAME_MIN, IDENTITY_NAME_MAX = 3, 128
CREDENTIAL_NAME_MIN, CREDENTIAL_NAME_MAX = 3, 120
ROLE_ASSIGNMENTS_PER_SUBSCRIPTION = 4000
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ROLE_DEFINITION_ID = re.compile(r"(/subscriptions/[0-9a-fA-F-]{36})?/providers/Microsoft\.Authorization/"
                                 r"roleDefinitions/" + _GUID.pattern)
_ROLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ()./&+_-]{0,126}[A-Za-z0-9)]|[A-Za-z0-9]")
# Names are stable across runs and machines: assignment names derive from this namespace.
_ASSIGNMENT_NAMESPACE = uuid.UUID("5a0c6a52-7f2e-4be4-9d64-3e0c5f0f7a11")


def identity_name(workload: str) -> str:
    return fit_name(f"wiam-{workload}", IDENTITY_NAME_MAX, min_length=IDENTITY_NAME_MIN, allowed="a-zA-Z0-9_-")


def credential_name(issuer: str, subject: str, audience: str) -> str:
    return fit_name(f"{issuer}-{short_hash(issuer, subject, audience, length=12)}", CREDENTIAL_NAME_MAX,
                    min_length=CREDENTIAL_NAME_MIN, allowed="a-zA-Z0-9_-")


def role_reference(role: str, subscription_id: str) -> tuple[str, str] | None:
    """("role_definition_id", id) or ("role_definition_name", name) for a role as written."""
    if _GUID.fullmatch(role):
        return "role_definition_id", (f"/subscriptions/{subscription_id}/providers/"
                                      f"Microsoft.Authorization/roleDefinitions/{role.lower()}")
    if _ROLE_DEFINITION_ID.fullmatch(role):
        return "role_definition_id", role
    if role.startswith("/") or not _ROLE_NAME.fullmatch(role):
        return None
    return "role_definition_name", role


def compile_target(model: Model, target: Target, module: Module, report: Report) -> dict[str, dict]:
    settings = target.settings
    subscription = settings["subscription_id"]
    alias = f"azurerm.{target.name}"
    module.require(*TERRAFORM_PROVIDER)
    module.provider("azurerm", {"alias": target.name, "features": {}, "subscription_id": subscription,
                                "tenant_id": settings["tenant_id"]})
    outputs: dict[str, dict] = {}
    assignments = 0
    names: dict[str, str] = {}  # Azure resource names are unique regardless of case
    for workload, grant in model.grants_on(target):
        if not workload.identities:
            continue
        first = case_clash(names, identity_name(workload.name), workload.name)
        if first:
            report.error(workload.pos, describe(("workload", workload.name)),
                         f"identity {identity_name(workload.name)!r} clashes with {identity_name(first)!r} of workload "
                         f"{first!r}: Azure resource names are not distinguished by case "
                         f"(resource group {settings['resource_group']})", "rename one of the two workloads")
        base = terraform_name(target.name, workload.name)
        identity = module.resource("azurerm_user_assigned_identity", base, {
            "provider": alias, "name": identity_name(workload.name), "resource_group_name": settings["resource_group"],
            "location": settings["location"], "tags": workload.tags()})
        if len(workload.identities) > CREDENTIALS_PER_IDENTITY:
            report.error(workload.pos, describe(("workload", workload.name)),
                         f"{len(workload.identities)} subjects; an Azure managed identity takes at most "
                         f"{CREDENTIALS_PER_IDENTITY} federated credentials",
                         f"split the identities over several workloads of at most {CREDENTIALS_PER_IDENTITY}")
        previous = None
        for item in sorted(workload.identities, key=lambda i: (i.issuer.name, i.subject)):
            block = describe(("workload", workload.name, "identity", item.index))
            if len(item.subject) > SUBJECT_MAX:
                report.error(item.pos, block, f"the subject is {len(item.subject)} characters; Azure allows {SUBJECT_MAX}",
                             "shorten the names that make up the subject")
            if len(item.issuer.url) > ISSUER_MAX:
                report.error(item.issuer.pos, describe(("issuer", item.issuer.name)),
                             f"the issuer URL is {len(item.issuer.url)} characters; Azure allows {ISSUER_MAX}",
                             "use a shorter issuer URL")
            if not item.active:
                continue  # kill switch: the credential goes; the identity and its role assignments stay
            audience = item.audience_for(DEFAULT_AUDIENCE)
            body = {
                "provider": alias,
                "name": credential_name(item.issuer.name, item.subject, audience),
                "resource_group_name": settings["resource_group"],
                "parent_id": ref(f"{identity}.id"),
                "audience": [audience],
                "issuer": item.issuer.url,
                "subject": item.subject,
            }
            if previous:
                body["depends_on"] = [previous]  # Azure rejects concurrent credential writes on one identity
            previous = module.resource("azurerm_federated_identity_credential",
                                       terraform_name(base, short_hash(item.issuer.name, item.subject, audience)), body)
        scope = grant.settings.get("scope", f"/subscriptions/{subscription}")
        for role in dict.fromkeys(grant.settings["roles"]):
            reference = role_reference(role, subscription)  # validation rejected roles without one
            assignments += 1
            module.resource("azurerm_role_assignment", terraform_name(base, f"{slug(role)}_{short_hash(scope, role, length=6)}"), {
                "provider": alias,
                "name": str(uuid.uuid5(_ASSIGNMENT_NAMESPACE, "\x00".join((subscription, workload.name, scope, role)))),
                "scope": scope,
                reference[0]: reference[1],
                "principal_id": ref(f"{identity}.principal_id"),
                "principal_type": "ServicePrincipal",
                "description": f"wiam workload {workload.name}",
            })
        outputs[workload.name] = {"client_id": ref(f"{identity}.client_id"),
                                  "tenant_id": ref(f"{identity}.tenant_id")}
    if assignments > ROLE_ASSIGNMENTS_PER_SUBSCRIPTION:
        report.error(target.pos, describe(target.path),
                     f"{assignments} role assignments in one subscription; Azure allows {ROLE_ASSIGNMENTS_PER_SUBSCRIPTION}",
                     "spread workloads over subscriptions or assign at fewer scopes")
    return outputs

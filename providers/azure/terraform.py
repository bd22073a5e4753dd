"""Azure's plan as Terraform: the azurerm provider of the target (and azapi's, for flexible
credentials), then each managed identity, its federated credentials and its role assignments (plain,
or PIM schedules where a window applies)."""

from __future__ import annotations

from wiam.chains import resolved
from wiam.terraform import Expr, Module, provider_alias

from . import flexible
from .plan import IDENTITY, TICKET_SYSTEM, Assignment, AzurePlan, Credential
from .settings import AZAPI_PROVIDER, TERRAFORM_PROVIDER, assignment_id, credential_id


def configure(plan: AzurePlan, module: Module) -> None:
    settings = plan.settings
    module.require(*TERRAFORM_PROVIDER)
    module.provider(TERRAFORM_PROVIDER[0], {"alias": plan.target, "features": {},
                                            "subscription_id": settings.subscription_id,
                                            "tenant_id": settings.tenant_id})


def emit(plan: AzurePlan, module: Module) -> None:
    settings = plan.settings
    configure(plan, module)
    if any(c.claims for i in plan.identities for c in i.credentials):
        module.require(*AZAPI_PROVIDER)
        module.provider(AZAPI_PROVIDER[0], {"alias": plan.target, "subscription_id": settings.subscription_id,
                                           "tenant_id": settings.tenant_id})
    for identity in plan.identities:
        module.resource(IDENTITY, identity.resource, {
            "provider": plan.alias, "name": identity.name, "resource_group_name": settings.resource_group,
            "location": settings.location, "tags": identity.tags})
        if identity.adopted:  # terraform-provider-azurerm docs/r/user_assigned_identity: the resource ID
            module.adopt(identity.address, identity.resource_id, plan.alias)
        parent, principal = identity.attribute("id"), identity.attribute("principal_id")
        for credential in identity.credentials:
            if credential.claims:
                body = _flexible(plan.target, credential, parent)
            else:  # not the deprecated parent_id: azurerm reads both from the ID, so old state plans no replacement
                body = {"provider": plan.alias, "name": credential.name, "user_assigned_identity_id": parent,
                        "audience": list(credential.audiences), "issuer": credential.issuer,
                        "subject": resolved(credential.subject, plan.references)}
            if credential.after:
                body["depends_on"] = [credential.after]
            address = module.resource(credential.kind, credential.resource, body)
            if credential.adopted:  # never a flexible one: the plan refuses those
                module.adopt(address, credential_id(identity.resource_id, credential.name), plan.alias)
        for assignment in identity.assignments:
            address = module.resource(assignment.kind, assignment.resource, _assignment(plan.alias, assignment, principal))
            if assignment.adopted:  # never a PIM schedule: the plan refuses those
                module.adopt(address, assignment_id(assignment.scope, assignment.name), plan.alias)


def _assignment(alias: str, assignment: Assignment, principal: Expr) -> dict:
    if assignment.schedule is None:
        return {"provider": alias, "name": assignment.name, "scope": assignment.scope,
                assignment.reference[0]: assignment.reference[1], "principal_id": principal,
                "principal_type": "ServicePrincipal", "description": assignment.description}
    # azurerm docs/r/pim_active_role_assignment: no name or description (Azure names the schedule), the
    # role by definition ID only; an unset start is the apply's moment, an unset expiration never ends.
    schedule = assignment.schedule
    body = {"provider": alias, "scope": assignment.scope, "role_definition_id": assignment.reference[1],
            "principal_id": principal, "justification": schedule.justification,
            "schedule": {**({"start_date_time": schedule.start} if schedule.start else {}),
                         **({"expiration": {"end_date_time": schedule.end}} if schedule.end else {})}}
    if schedule.ticket:
        body["ticket"] = {"number": schedule.ticket, "system": TICKET_SYSTEM}
    return body


def _flexible(target: str, credential: Credential, parent: Expr) -> dict:
    """A flexible credential as an azapi_resource (azapi docs/resources/resource.md); `subject` is absent:
    Entra takes it or claimsMatchingExpression, never both."""
    return {"provider": provider_alias(AZAPI_PROVIDER[0], target), "type": flexible.TYPE, "name": credential.name,
            "parent_id": parent, "body": {"properties": {
                "issuer": credential.issuer, "audiences": list(credential.audiences),
                "claimsMatchingExpression": {"value": credential.expression,
                                             "languageVersion": flexible.LANGUAGE_VERSION}}}}

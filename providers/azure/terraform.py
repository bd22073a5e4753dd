"""Azure's plan as Terraform: the azurerm provider of the target, then each managed identity, its
federated credentials and its role assignments (plain, or PIM schedules where a window applies)."""

from __future__ import annotations

from wiam.terraform import Expr, Module

from .plan import CREDENTIAL, IDENTITY, TICKET_SYSTEM, Assignment, AzurePlan
from .settings import TERRAFORM_PROVIDER


def emit(plan: AzurePlan, module: Module) -> None:
    settings = plan.settings
    module.require(*TERRAFORM_PROVIDER)
    module.provider(TERRAFORM_PROVIDER[0], {"alias": plan.target, "features": {},
                                            "subscription_id": settings.subscription_id,
                                            "tenant_id": settings.tenant_id})
    for identity in plan.identities:
        module.resource(IDENTITY, identity.resource, {
            "provider": plan.alias, "name": identity.name, "resource_group_name": settings.resource_group,
            "location": settings.location, "tags": identity.tags})
        parent, principal = identity.attribute("id"), identity.attribute("principal_id")
        for credential in identity.credentials:
            body = {"provider": plan.alias, "name": credential.name, "resource_group_name": settings.resource_group,
                    "parent_id": parent, "audience": list(credential.audiences),
                    "issuer": credential.issuer, "subject": credential.subject}
            if credential.after:
                body["depends_on"] = [credential.after]
            module.resource(CREDENTIAL, credential.resource, body)
        for assignment in identity.assignments:
            module.resource(assignment.kind, assignment.resource, _assignment(plan.alias, assignment, principal))


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

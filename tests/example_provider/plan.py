"""What a target of the example cloud holds: one principal per granted workload, trusting exact
(issuer, subject, audience) triples, and one binding of its permissions."""

from __future__ import annotations

from dataclasses import dataclass, field

from wiam.diagnostics import Report
from wiam.document import describe
from wiam.model import Grant, Model, Target, Workload
from wiam.names import ObjectName, terraform_name
from wiam.plan import Principal, TargetPlan
from wiam.terraform import Expr, provider_alias, ref

from .settings import CLOUD, DEFAULT_AUDIENCE, TERRAFORM_PROVIDER, GrantSettings, TargetSettings, principal_name

KIND = "principal"
PRINCIPAL, BINDING = "example_principal", "example_binding"  # Terraform resource types
MAX_SUBJECTS = 10  # the example cloud's limit of trusted subjects per principal


@dataclass(frozen=True)
class Binding:
    """One workload's principal and grant on the target, as Terraform names them."""

    workload: Workload
    grant: Grant
    settings: GrantSettings
    resource: str  # the Terraform name of both the principal and the binding
    principal_id: Expr


@dataclass(kw_only=True)
class ExamplePlan(TargetPlan):
    block: Target
    settings: TargetSettings
    alias: str  # of the Terraform provider configuration
    bindings: dict[str, Binding] = field(default_factory=dict)  # by workload


def plan(model: Model, target: Target, report: Report) -> ExamplePlan:
    settings = TargetSettings.of(target.settings)
    result = ExamplePlan(CLOUD, target.name, block=target, settings=settings, alias=provider_alias(TERRAFORM_PROVIDER[0], target.name))
    for workload, grant in model.grants_on(target):
        trusted = sorted({(i.issuer.url, i.subject, i.audience_for(DEFAULT_AUDIENCE))
                          for i in workload.active_identities})
        if len(trusted) > MAX_SUBJECTS:
            report.error(workload.pos, describe(("workload", workload.name)),
                         f"{len(trusted)} subjects; an example principal trusts at most {MAX_SUBJECTS}",
                         f"split the identities over several workloads of at most {MAX_SUBJECTS}")
        resource = terraform_name(target.name, workload.name)
        result.principals[workload.name] = Principal(
            CLOUD, target.name, workload.name, KIND, principal_name(workload.name),
            {"subjects": [{"issuer": iss, "subject": sub, "audience": aud} for iss, sub, aud in trusted]},
            {"account": settings.account})
        result.bindings[workload.name] = Binding(workload, grant, GrantSettings.of(grant.settings), resource,
                                                 ref(f"{PRINCIPAL}.{resource}.id"))
        result.outputs[workload.name] = {"principal_id": result.bindings[workload.name].principal_id}
    return result


def object_names(model: Model, target: Target) -> list[ObjectName]:
    """Principal names, unique per account and compared exactly."""
    scope = ("account", TargetSettings.of(target.settings).account)
    return [ObjectName.of_grant(grant, "principal name", scope, principal_name(workload.name), False)
            for workload, grant in model.grants_on(target)]

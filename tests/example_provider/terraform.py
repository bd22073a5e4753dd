"""The example plan as Terraform: a mapping, without decisions."""

from __future__ import annotations

from wiam.terraform import Module

from .plan import BINDING, PRINCIPAL, ExamplePlan
from .settings import TERRAFORM_PROVIDER


def emit(plan: ExamplePlan, module: Module) -> None:
    module.require(*TERRAFORM_PROVIDER)
    module.provider(TERRAFORM_PROVIDER[0], {"alias": plan.target, "account": plan.settings.account})
    for workload, binding in plan.bindings.items():
        principal = plan.principals[workload]
        module.resource(PRINCIPAL, binding.resource, {
            "provider": plan.alias, "name": principal.name, "trusted_subjects": principal.trust["subjects"],
            "tags": binding.workload.tags()})
        module.resource(BINDING, binding.resource, {
            "provider": plan.alias, "principal_id": binding.principal_id,
            "permissions": list(binding.settings.permissions), "resources": list(binding.settings.resources)})


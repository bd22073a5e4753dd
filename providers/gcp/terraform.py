"""GCP's Terraform: the plan's pool, providers, service accounts and IAM members, as resources."""

from __future__ import annotations

from wiam.terraform import Module, ref

from .plan import Binding, GCPPlan
from .settings import TERRAFORM_PROVIDER



def configure(plan: GCPPlan, module: Module) -> None:
    module.require(*TERRAFORM_PROVIDER)
    module.provider("google", {"alias": plan.target, "project": plan.settings.project_id})


def emit(plan: GCPPlan, module: Module) -> None:
    configure(plan, module)
    if plan.pool is None:
        return
    project = plan.settings.project_id
    module.resource(plan.pool.terraform_type, plan.pool.name, {
        "provider": plan.alias, "project": project, "workload_identity_pool_id": plan.pool.pool_id,
        "display_name": plan.pool.display_name, "description": plan.pool.description})
    for provider in plan.providers:
        oidc = {"issuer_uri": provider.issuer_uri}
        if provider.allowed_audiences:
            oidc["allowed_audiences"] = provider.allowed_audiences
        source = {"aws": {"account_id": provider.aws_account}} if provider.aws_account else {"oidc": oidc}
        module.resource(provider.terraform_type, provider.name, {
            "provider": plan.alias, "project": project,
            "workload_identity_pool_id": ref(f"{plan.pool.address}.workload_identity_pool_id"),
            "workload_identity_pool_provider_id": provider.provider_id, "display_name": provider.display_name,
            "description": provider.description, "attribute_mapping": provider.attribute_mapping,
            "attribute_condition": provider.attribute_condition, "disabled": provider.disabled, **source})
    for workload in plan.workloads:
        if workload.account:
            account = workload.account
            module.resource(account.terraform_type, account.name, {
                "provider": plan.alias, "project": project, "account_id": account.account_id,
                "display_name": account.display_name, "description": account.description})
        for binding in workload.federation + workload.bindings:
            _binding(plan.alias, binding, module)


def _binding(alias: str, binding: Binding, module: Module) -> None:
    body = {"provider": alias, **binding.arguments, "role": binding.role, "member": binding.member}
    condition = binding.condition
    if condition:  # the `condition` block of every google_*_iam_member (title, description, expression)
        body["condition"] = {"title": condition.title, "description": condition.description,
                             "expression": condition.expression}
    if binding.depends_on is not None:
        body["depends_on"] = binding.depends_on
    module.resource(binding.terraform_type, binding.name, body)

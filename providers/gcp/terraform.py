"""GCP's Terraform: the plan's pool, providers, service accounts and IAM members, as resources."""

from __future__ import annotations

from wiam.chains import References
from wiam.issuers import OtherWorkload
from wiam.terraform import Module, ref

from . import x509
from .federation import NamedMember
from .plan import Binding, GCPPlan, PoolProvider, subject_condition
from .settings import TERRAFORM_PROVIDER


def configure(plan: GCPPlan, module: Module) -> None:
    module.require(*TERRAFORM_PROVIDER)
    module.provider("google", {"alias": plan.target, "project": plan.settings.project_id})


def emit(plan: GCPPlan, module: Module) -> None:
    configure(plan, module)
    project = plan.settings.project_id
    if plan.pool is not None:  # none for GKE's identities alone, which are of Google's pool
        _pool(plan, module)
    for workload in plan.workloads:
        if workload.account:
            account = workload.account
            module.resource(account.terraform_type, account.name, {
                "provider": plan.alias, "project": project, "account_id": account.account_id,
                "display_name": account.display_name, "description": account.description})
            if account.adopted:  # terraform-provider-google docs/r/google_service_account: the import ID
                module.adopt(account.address, f"{plan.settings.project_name}/serviceAccounts/{account.email}", plan.alias)
        for binding in workload.federation + workload.bindings:
            _binding(plan, binding, module)


def _pool(plan: GCPPlan, module: Module) -> None:
    project = plan.settings.project_id
    module.resource(plan.pool.terraform_type, plan.pool.name, {
        "provider": plan.alias, "project": project, "workload_identity_pool_id": plan.pool.pool_id,
        "display_name": plan.pool.display_name, "description": plan.pool.description})
    if plan.settings.adopt_pool:  # terraform-provider-google docs/r/iam_workload_identity_pool: the import ID
        module.adopt(plan.pool.address, plan.settings.pool_name(project), plan.alias)
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
            "attribute_condition": _condition(provider, plan.references), "disabled": provider.disabled,
            **(x509.block(provider) or source)})


def _condition(provider: PoolProvider, references: References) -> str:
    """The attribute condition, a template where a subject names a workload's managed identity."""
    if not any(isinstance(subject, OtherWorkload) for subject, _ in provider.admits):
        return provider.attribute_condition
    return subject_condition(provider.admits, references)


def _binding(plan: GCPPlan, binding: Binding, module: Module) -> None:
    member = binding.member
    if isinstance(member, NamedMember):
        member = member.written(plan.references)
    body = {"provider": plan.alias, **binding.arguments, "role": binding.role, "member": member}
    condition = binding.condition
    if condition:  # the `condition` block of every google_*_iam_member (title, description, expression)
        body["condition"] = {"title": condition.title, "description": condition.description,
                             "expression": condition.expression}
    if binding.depends_on:  # none where no provider of the target admits the member (GKE's)
        body["depends_on"] = binding.depends_on
    module.resource(binding.terraform_type, binding.name, body)

"""AWS Terraform: the plan's OIDC providers and roles as resources, as planned."""

from __future__ import annotations

from wiam.chains import References, document_text
from wiam.terraform import Module, policy_json, ref

from . import roles_anywhere
from .pod_identity import ASSOCIATION_KIND, ChainRole, chain_policy
from .plan import INLINE_POLICY_NAME, OIDC_PROVIDER_KIND, ROLE_KIND, AWSPlan, Role
from .settings import TERRAFORM_PROVIDER


def emit(plan: AWSPlan, module: Module) -> None:
    module.require(*TERRAFORM_PROVIDER)
    module.provider(TERRAFORM_PROVIDER[0], {"alias": plan.target, "region": plan.settings.region,
                                            "allowed_account_ids": [plan.settings.account_id]})
    for created in plan.oidc_providers:
        module.resource(OIDC_PROVIDER_KIND, created.resource, {
            "provider": plan.alias, "url": created.provider.url, "client_id_list": created.client_ids,
            "tags": created.tags})
    for role in plan.roles:
        _emit_role(plan.alias, role, plan.references, module)
    for chain in plan.chain_roles:
        _emit_chain(plan.alias, chain, module)
    roles_anywhere.emit(plan.alias, plan.trust_anchors, [
        (role.resource, roles_anywhere.profile_name(role.name), role.address, role.tags)
        for role in plan.roles if any(map(roles_anywhere.handles, role.workload.identities))], module)


def _emit_role(alias: str, role: Role, references: References, module: Module) -> None:
    body = {"provider": alias, "name": role.name, "assume_role_policy": document_text(role.trust, references),
            "tags": role.tags}
    if role.depends_on:
        body["depends_on"] = role.depends_on
    optional = {"description": role.description, "max_session_duration": role.max_session_duration,
                "permissions_boundary": role.permissions_boundary}
    body.update((key, value) for key, value in optional.items() if value is not None)
    module.resource(ROLE_KIND, role.resource, body)
    if role.adopted:  # terraform-provider-aws docs/r/iam_role: imported by the role name
        module.adopt(role.address, role.name, alias)
    if role.inline_policy is not None:
        address = module.resource("aws_iam_role_policy", role.resource, {
            "provider": alias, "name": role.policy_name, "role": ref(f"{role.address}.id"),
            "policy": role.inline_policy})
        if role.settings.adopt_policy is not None:  # docs/r/iam_role_policy: imported as role_name:policy_name
            module.adopt(address, f"{role.name}:{role.policy_name}", alias)
    # An attachment the adopted role holds already needs no import block: AttachRolePolicy of an attached
    # policy succeeds and changes nothing, so Terraform creates it over the existing one, which it then
    # holds once in state (the provider's create is that call alone, then a read).
    for attachment in role.attachments:
        module.resource("aws_iam_role_policy_attachment", attachment.resource, {
            "provider": alias, "role": ref(f"{role.address}.name"), "policy_arn": attachment.arn})
    for association in role.associations:
        cluster, namespace, service_account = association.key
        module.resource(ASSOCIATION_KIND, association.resource, {
            "provider": alias, "cluster_name": cluster, "namespace": namespace, "service_account": service_account,
            "role_arn": ref(f"{role.address}.arn"), "tags": role.tags})


def _emit_chain(alias: str, chain: ChainRole, module: Module) -> None:
    """A chain role, its policy and its association, whose target role (another module's) is a literal ARN."""
    address = f"{ROLE_KIND}.{chain.resource}"
    module.resource(ROLE_KIND, chain.resource, {"provider": alias, "name": chain.name,
                                               "assume_role_policy": policy_json(chain.trust), "tags": chain.tags})
    module.resource("aws_iam_role_policy", chain.resource, {
        "provider": alias, "name": INLINE_POLICY_NAME, "role": ref(f"{address}.id"),
        "policy": policy_json(chain_policy(chain))})
    cluster, namespace, service_account = chain.association.key
    module.resource(ASSOCIATION_KIND, chain.association.resource, {
        "provider": alias, "cluster_name": cluster, "namespace": namespace, "service_account": service_account,
        "role_arn": ref(f"{address}.arn"), "target_role_arn": chain.target_role_arn, "tags": chain.tags})

"""Azure in cloud-to-cloud chains: a managed identity trusts a Google service account's ID token with
an ordinary federated credential (issuer https://accounts.google.com, subject the account's unique
ID: Microsoft Entra "Workload identity federation", Google Cloud as an external IdP); what a managed
identity is to other clouds: its principal (object) ID, which Azure assigns when it is created."""

from __future__ import annotations

from wiam.model import Model, Target
from wiam.names import terraform_name
from wiam.plan import TargetPlan
from wiam.provider import Chain
from wiam.terraform import ref

from . import terraform
from .plan import IDENTITY


def _principal_id(model: Model, target: Target, workload: str) -> str:
    return ref(f"{IDENTITY}.{terraform_name(target.name, workload)}.principal_id")


def _lookup(plan: TargetPlan, workload: str) -> tuple[str, str, dict, str]:
    """The identity read by name (azurerm docs/d/user_assigned_identity)."""
    identity = next(i for i in plan.identities if i.workload.name == workload)
    return (IDENTITY, identity.resource, {"provider": plan.alias, "name": identity.name,
                                          "resource_group_name": plan.settings.resource_group}, "principal_id")


CHAINS = {"azure_managed_identity": Chain("principal_id", _principal_id, lookup=_lookup, configure=terraform.configure)}
# Azure's own identities get roles directly; an AWS role's outbound tokens come from an issuer URL per
# account that exists only once the account enables it (iam:EnableOutboundWebIdentityFederation): not yet.
KINDS = frozenset({"gcp_service_account"})

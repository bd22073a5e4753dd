"""Microsoft Entra workload identity federation, judged on the compiled credentials: a federated
identity credential of the managed identity whose issuer and subject equal the token's exactly and
whose audiences hold the token's audience."""

from __future__ import annotations

from wiam.graph import principal_id
from wiam.model import Model
from wiam.names import terraform_name
from wiam.simulate import Verdict, audiences, distance

from .terraform import identity_name


def _credential_reasons(credential: dict, claims: dict) -> list[str]:
    reasons = []
    if credential["issuer"] != claims["iss"]:
        reasons.append(f"iss: the token is from {claims['iss']!r}, the credential trusts {credential['issuer']!r}")
    if credential["subject"] != claims["sub"]:
        reasons.append(f"sub: the token has {claims['sub']!r}, the credential expects {credential['subject']!r}")
    if not set(audiences(claims)) & set(credential["audience"]):
        reasons.append(f"aud: the token has {audiences(claims)!r}, the credential expects {credential['audience']!r}")
    return reasons


def simulate(model: Model, module: dict, claims: dict) -> list[Verdict]:
    credentials = module.get("resource", {}).get("azurerm_federated_identity_credential", {}).values()
    verdicts = []
    for target in model.targets_of("azure"):
        for workload, _ in model.grants_on(target):
            if not workload.identities:
                continue
            parent = f"${{azurerm_user_assigned_identity.{terraform_name(target.name, workload.name)}.id}}"
            checked = [_credential_reasons(c, claims) for c in credentials if c["parent_id"] == parent]
            reasons = min(checked, key=distance, default=["the identity has no federated credential (every one is disabled)"])
            verdicts.append(Verdict("azure", target.name, workload.name, identity_name(workload.name),
                                    principal_id("azure", "identity", target.name, workload.name), not reasons,
                                    tuple(reasons)))
    return verdicts

"""Microsoft Entra workload identity federation, judged on the compiled credentials: a federated
identity credential of the managed identity whose issuer and subject equal the token's exactly and
whose audiences hold the token's audience."""

from __future__ import annotations

from wiam.access import principal_id
from wiam.model import Model
from wiam.names import terraform_name
from wiam.verdict import Check, Verdict, audiences, closest

from .terraform import identity_name

NO_CREDENTIAL = Check("enabled", False, "the identity has no federated credential (every one is disabled)")


def _credential_checks(credential: dict, claims: dict) -> tuple[Check, ...]:
    return (
        Check("iss", credential["issuer"] == claims["iss"],
              f"the token is from {claims['iss']!r}, the credential trusts {credential['issuer']!r}"),
        Check("sub", credential["subject"] == claims["sub"],
              f"the token has {claims['sub']!r}, the credential expects {credential['subject']!r}"),
        Check("aud", bool(set(audiences(claims)) & set(credential["audience"])),
              f"the token has {audiences(claims)!r}, the credential expects {credential['audience']!r}"),
    )


def simulate(model: Model, module: dict, claims: dict) -> list[Verdict]:
    credentials = module.get("resource", {}).get("azurerm_federated_identity_credential", {}).values()
    verdicts = []
    for target in model.targets_of("azure"):
        for workload, _ in model.grants_on(target):
            if not workload.identities:
                continue
            parent = f"${{azurerm_user_assigned_identity.{terraform_name(target.name, workload.name)}.id}}"
            paths = [_credential_checks(c, claims) for c in credentials if c["parent_id"] == parent]
            verdicts.append(Verdict("azure", target.name, workload.name, identity_name(workload.name),
                                    principal_id("azure", "identity", target.name, workload.name),
                                    closest(paths, NO_CREDENTIAL)))
    return verdicts

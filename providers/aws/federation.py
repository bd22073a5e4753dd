"""AWS in cloud-to-cloud chains: roles trusting a Google service account's ID tokens (STS knows
Google itself: the Federated principal accounts.google.com, no OIDC provider), and what an AWS role
is to other clouds (its ARN, known at compile time: the name and account are the spec's)."""

from __future__ import annotations

import json

from wiam.issuers import KINDS, OtherWorkload
from wiam.model import Identity, Model, Target
from wiam.provider import Chain

from .settings import DEFAULT_AUDIENCE, TargetSettings, role_name

GOOGLE = "accounts.google.com"  # the Federated principal and condition-key prefix STS gives Google
GOOGLE_KIND = "gcp_service_account"

# STS reads a Google ID token that has an azp claim (a service account's has it: its unique ID) with
# accounts.google.com:aud matching azp and accounts.google.com:oaud the token's aud (IAM User Guide,
# reference_policies_iam-condition-keys.html, "Available keys for AWS web identity federation").
GOOGLE_KEYS = {"aud": "azp", "oaud": "aud", "sub": "sub"}


def by_google(identity: Identity) -> bool:
    return identity.issuer.kind == GOOGLE_KIND


ENTRA_KIND = "azure_managed_identity"  # Entra's tokens: an IAM OIDC provider of the tenant's issuer, as any


def by_oidc_provider(identity: Identity) -> bool:
    """Whether AWS trusts the identity through an IAM OIDC provider of its issuer (not through a
    service principal, as EKS Pod Identity and Roles Anywhere, nor STS's own Google)."""
    return KINDS[identity.issuer.kind].takes_url or identity.issuer.kind == ENTRA_KIND


def google_statements(identities: list[Identity], literal, window_conditions) -> list[dict]:
    """One Allow per active identity pinning azp and sub to the account's unique ID and the token's aud
    to the identity's audience, within its window; a Deny of the disabled ones' sub (the kill switch)."""
    statements, denied = [], sorted({literal(i.subject) for i in identities if not i.active})
    for identity in sorted((i for i in identities if i.active), key=lambda i: (i.subject, i.index)):
        subject = literal(identity.subject)
        equals = {f"{GOOGLE}:aud": subject, f"{GOOGLE}:oaud": literal(identity.audience_for(DEFAULT_AUDIENCE)),
                  f"{GOOGLE}:sub": subject}
        statements.append({"Effect": "Allow", "Principal": {"Federated": GOOGLE},
                           "Action": "sts:AssumeRoleWithWebIdentity",
                           "Condition": {"StringEquals": equals, **window_conditions(identity.window)}})
    if denied:
        statements.append({"Sid": "WiamDisabledGoogle", "Effect": "Deny", "Principal": {"Federated": GOOGLE},
                           "Action": "sts:AssumeRoleWithWebIdentity",
                           "Condition": {"StringEquals": {f"{GOOGLE}:sub": denied[0] if len(denied) == 1 else denied}}})
    return statements


def token_field(provider: str, key: str, claims: dict) -> str:
    """The token field STS compares with the condition key `<provider>:<key>`."""
    return GOOGLE_KEYS.get(key, key) if provider == GOOGLE and "azp" in claims else key


def _unpinned(statement: dict) -> tuple:
    """What a trust statement is apart from its condition values."""
    return (statement["Effect"], json.dumps(statement.get("Principal")), statement.get("Action"),
            {operator: sorted(block) for operator, block in statement.get("Condition", {}).items()}.__repr__())


def masked(live: dict, expected: dict, markers: set[str]) -> dict:
    """A live canonical trust policy with the values of named workloads' principals (IDs another cloud
    assigned, unknown here) written as the expected markers (workload:NAME): in a statement like an
    expected one, the values of a condition key the expected statement lacks, exactly as many as its
    markers there, are taken for them. Any other difference stays, and is drift."""
    statements, taken = list(live["Statement"]), set()
    for wanted in expected["Statement"]:
        blocks = {(op, key): values for op, block in wanted.get("Condition", {}).items() for key, values in block.items()}
        if not any(markers.intersection(values) for values in blocks.values()):
            continue
        for index, found in enumerate(statements):
            if index in taken or _unpinned(found) != _unpinned(wanted):
                continue
            have = {(op, key): values for op, block in found["Condition"].items() for key, values in block.items()}
            if all(len(set(have[k]) - set(v)) == len(markers.intersection(v)) and set(v) - markers <= set(have[k])
                   for k, v in blocks.items()):
                statements[index], taken = wanted, taken | {index}
                break
    return {**live, "Statement": sorted(statements, key=lambda s: json.dumps(s, sort_keys=True))}


def markers(trust: dict) -> set[str]:
    """The named-workload subjects a planned trust policy holds."""
    return {value for statement in trust["Statement"] for block in statement.get("Condition", {}).values()
            for values in block.values() for value in (values if isinstance(values, list) else [values])
            if isinstance(value, OtherWorkload)}


def _role_arn(model: Model, target: Target, workload: str) -> str:
    return TargetSettings.of(target.settings).role_arn(role_name(workload))


CHAINS = {"aws_role": Chain("role_arn", _role_arn)}

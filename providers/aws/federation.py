"""AWS in cloud-to-cloud chains: roles trusting a Google service account's ID tokens (STS knows
Google itself: the Federated principal accounts.google.com, no OIDC provider), and what an AWS role
is to other clouds (its ARN, known at compile time: the name and account are the spec's)."""

from __future__ import annotations

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


def _role_arn(model: Model, target: Target, workload: str) -> str:
    return TargetSettings.of(target.settings).role_arn(role_name(workload))


CHAINS = {"aws_role": Chain("role_arn", _role_arn)}

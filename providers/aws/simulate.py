"""AWS STS AssumeRoleWithWebIdentity, judged on the planned roles: the token's issuer must be the
role's federated OIDC provider (whose client ID list holds the audience), an Allow statement's
StringEquals conditions must hold for aud, sub and every pinned claim, and no Deny statement may match."""

from __future__ import annotations

import re

from wiam.diagnostics import quote
from wiam.verdict import Check, Verdict, audiences, closest

from .plan import AWSPlan
from .settings import CLOUD

NO_SUBJECT = Check("sub", False, "the role trusts no subject (every identity is disabled)")


def iam_value(text: str) -> str:
    """The string IAM compares, its special-character variables resolved (iam_literal's inverse)."""
    return re.sub(r"\$\{([$*?])\}", r"\1", text)


def _shown(values) -> str:
    values = values if isinstance(values, list) else [values]
    return ", ".join(quote(v) for v in values[:3]) + (f" and {len(values) - 3} more" if len(values) > 3 else "")


def _statement_checks(statement: dict, host: str, claims: dict, client_ids: dict[str, list[str]]) -> list[Check]:
    """Every comparison of one statement, the issuer included: a refusal shows all that differ."""
    provider = statement["Principal"]["Federated"].split("oidc-provider/", 1)[1]
    checks = [Check("iss", provider == host, f"the token is from {claims['iss']!r}, the role trusts https://{provider}")]
    for key, expected in statement.get("Condition", {}).get("StringEquals", {}).items():
        claim = key.rsplit(":", 1)[1]
        wanted = [iam_value(v) for v in (expected if isinstance(expected, list) else [expected])]
        value = claims.get(claim)  # a token's other claims may be any JSON: only a string can be equal
        present = audiences(claims) if claim == "aud" else [value] if isinstance(value, str) else []
        has = _shown(present) if present else f"no {claim} claim" if value is None else f"a non-string {claim}"
        checks.append(Check(claim, bool(set(wanted) & set(present)), f"the token has {has}, the role expects {_shown(wanted)}"))
    if provider in client_ids and not set(audiences(claims)) & set(client_ids[provider]) and all(
            c.passed for c in checks if c.name == "aud"):
        checks.append(Check("aud", False, f"{_shown(audiences(claims))} is not a client ID of the OIDC provider "
                                          f"({_shown(client_ids[provider])})"))
    return checks


def simulate(plan: AWSPlan, claims: dict) -> list[Verdict]:
    host = claims["iss"].removeprefix("https://").rstrip("/")
    client_ids = {p.provider.host_path: p.client_ids for p in plan.oidc_providers}
    verdicts = []
    for role in plan.roles:
        allows, denied = [], False
        for statement in role.trust["Statement"]:
            checks = _statement_checks(statement, host, claims, client_ids)
            if statement["Effect"] == "Deny":
                denied = denied or all(c.passed for c in checks)
            else:
                allows.append(checks)
        enabled = Check("enabled", not denied, f"{claims['sub']!r} is refused by the kill switch "
                                               "(an explicit Deny in the trust policy)")
        principal = plan.principals[role.workload.name]
        verdicts.append(Verdict(CLOUD, plan.target, principal.workload, principal.name, principal.node,
                                closest([tuple(a) + (enabled,) for a in allows], NO_SUBJECT)))
    return verdicts

"""AWS STS AssumeRoleWithWebIdentity, judged on the planned roles: the token's issuer must be the
role's federated OIDC provider (whose client ID list holds the audience), an Allow statement's
StringEquals conditions must hold for aud, sub and every pinned claim and its window at the plan's
moment, and no Deny statement may match; the role's permissions too hold only inside their window."""

from __future__ import annotations

import re

from datetime import datetime

from wiam import windows
from wiam.diagnostics import quote
from wiam.model import Window
from wiam.verdict import Check, Verdict, audiences, closest

from . import federation, pod_identity, roles_anywhere
from .plan import CURRENT_TIME, FROM, UNTIL, AWSPlan
from .settings import CLOUD

NO_SUBJECT = Check("sub", False, "the role trusts no subject (every identity is disabled)")


def iam_value(text: str) -> str:
    """The string IAM compares, its special-character variables resolved (iam_literal's inverse)."""
    return re.sub(r"\$\{([$*?])\}", r"\1", text)


def _shown(values) -> str:
    values = values if isinstance(values, list) else [values]
    return ", ".join(quote(v) for v in values[:3]) + (f" and {len(values) - 3} more" if len(values) > 3 else "")


def statement_window(condition: dict) -> Window:
    """The window a trust statement's Date conditions on aws:CurrentTime bound, as the plan writes them."""
    bound = {operator: windows.parse(condition[operator][CURRENT_TIME])
             for operator in (FROM, UNTIL) if CURRENT_TIME in condition.get(operator, {})}
    return Window(bound.get(FROM), bound.get(UNTIL))


def time_check(window: Window, at: datetime, what: str) -> list[Check]:
    """Whether `at` is inside the window (no check when it is unbounded)."""
    return [Check("time", windows.holds(window, at), f"{what} {windows.described(window)}; the token is presented "
                                                     f"at {windows.text(at)}")] if window else []


def _statement_checks(statement: dict, host: str, claims: dict, client_ids: dict[str, list[str]],
                      at: datetime) -> list[Check]:
    """Every comparison of one statement, the issuer included: a refusal shows all that differ."""
    provider = statement["Principal"]["Federated"].split("oidc-provider/", 1)[-1]  # accounts.google.com: none
    checks = [Check("iss", provider == host, f"the token is from {claims['iss']!r}, the role trusts https://{provider}")]
    for key, expected in statement.get("Condition", {}).get("StringEquals", {}).items():
        claim = key.rsplit(":", 1)[1]
        wanted = [iam_value(v) for v in (expected if isinstance(expected, list) else [expected])]
        claim = federation.token_field(provider, claim, claims)
        value = claims.get(claim)  # a token's other claims may be any JSON: only a string can be equal
        present = audiences(claims) if claim == "aud" else [value] if isinstance(value, str) else []
        has = _shown(present) if present else f"no {claim} claim" if value is None else f"a non-string {claim}"
        checks.append(Check(claim, bool(set(wanted) & set(present)), f"the token has {has}, the role expects {_shown(wanted)}"))
    if provider in client_ids and not set(audiences(claims)) & set(client_ids[provider]) and all(
            c.passed for c in checks if c.name == "aud"):
        checks.append(Check("aud", False, f"{_shown(audiences(claims))} is not a client ID of the OIDC provider "
                                          f"({_shown(client_ids[provider])})"))
    return checks + time_check(statement_window(statement.get("Condition", {})), at, "the role admits this subject")


def statement_principal(statement: dict) -> str | None:
    return statement["Principal"].get("AWS")


def simulate(plan: AWSPlan, claims: dict) -> list[Verdict]:
    host = claims["iss"].removeprefix("https://").rstrip("/")
    client_ids = {p.provider.host_path: p.client_ids for p in plan.oidc_providers}
    at = plan.at or windows.current()  # a plan is of a model resolved at one moment; this is for bare ones
    verdicts = []
    for role in plan.roles:
        allows, denied = [], False
        own = pod_identity.association_check(role.arn, role.associations, plan.settings.cluster_arn, claims)
        # EKS's first hop, into a chain role of the cluster's account, stands for the granted role's
        # statement trusting that role (the second hop, which pins only its ARN).
        chained = {c.arn for c in role.chains}
        judged = [(s, own) for s in role.trust["Statement"] if statement_principal(s) not in chained] + [
            (s, pod_identity.association_check(c.arn, [c.association], lambda _, c=c: c.cluster_arn, claims))
            for c in role.chains for s in c.trust["Statement"]]
        for statement, association in judged:
            service = statement["Principal"].get("Service")
            if service == pod_identity.SERVICE:
                checks = pod_identity.statement_checks(statement, claims) + [association] + time_check(
                    statement_window(statement.get("Condition", {})), at, "the role admits this service account")
            elif service == roles_anywhere.SERVICE:  # an X.509-SVID chain
                checks = roles_anywhere.checks(statement, plan.trust_anchors, claims, at) + time_check(
                    statement_window(statement.get("Condition", {})), at, "the role admits this subject")
            else:
                checks = _statement_checks(statement, host, claims, client_ids, at)
            if statement["Effect"] == "Deny":
                denied = denied or all(c.passed for c in checks)
            else:
                allows.append(checks)
        enabled = Check("enabled", not denied, f"{claims['sub']!r} is refused by the kill switch "
                                               "(an explicit Deny in the trust policy)")
        permitted = tuple(time_check(role.window, at, "the role's permissions hold"))
        principal = plan.principals[role.workload.name]
        verdicts.append(Verdict(CLOUD, plan.target, principal.workload, principal.name, principal.node,
                                closest([tuple(a) + (enabled,) + permitted for a in allows], NO_SUBJECT)))
    return verdicts

"""Whether an example principal accepts a token: one of its trusted triples equals the token's
issuer and subject exactly, and its audience is among the token's."""

from __future__ import annotations

from wiam.verdict import Check, Verdict, audiences, closest

from .plan import ExamplePlan
from .settings import CLOUD

NO_SUBJECT = Check("enabled", False, "the principal trusts no subject (every one is disabled)")


def _checks(trusted: dict, claims: dict) -> tuple[Check, ...]:
    return (
        Check("iss", trusted["issuer"] == claims["iss"],
              f"the token is from {claims['iss']!r}, the principal trusts {trusted['issuer']!r}"),
        Check("sub", trusted["subject"] == claims["sub"],
              f"the token has {claims['sub']!r}, the principal expects {trusted['subject']!r}"),
        Check("aud", trusted["audience"] in audiences(claims),
              f"the token has {audiences(claims)!r}, the principal expects {trusted['audience']!r}"),
    )


def simulate(plan: ExamplePlan, claims: dict) -> list[Verdict]:
    return [Verdict(CLOUD, plan.target, workload, principal.name, principal.node,
                    closest([_checks(t, claims) for t in principal.trust["subjects"]], NO_SUBJECT))
            for workload, principal in plan.principals.items()]

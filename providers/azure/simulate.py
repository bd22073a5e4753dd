"""Microsoft Entra workload identity federation, judged on the planned credentials: a federated
identity credential of the managed identity whose issuer and subject equal the token's exactly and
whose audiences hold the token's audience; a flexible one's claimsMatchingExpression, `eq` on each
claim, holds too. The plan is made at Model.at: an identity whose window is still to come has no
credential yet, and says so."""

from __future__ import annotations

from wiam import windows
from wiam.verdict import Check, Verdict, audiences, closest

from .plan import AzurePlan, Credential, Pending

NO_CREDENTIAL = Check("enabled", False, "the identity has no federated credential (every one is disabled)")


def _credential_checks(credential: Credential, claims: dict) -> tuple[Check, ...]:
    expected = list(credential.audiences)
    return (
        Check("iss", credential.issuer == claims["iss"],
              f"the token is from {claims['iss']!r}, the credential trusts {credential.issuer!r}"),
        Check("sub", credential.subject == claims["sub"],
              f"the token has {claims['sub']!r}, the credential expects {credential.subject!r}"),
        Check("aud", bool(set(audiences(claims)) & set(expected)),
              f"the token has {audiences(claims)!r}, the credential expects {expected!r}"),
        *(Check(name, claims.get(name) == value,
                (f"the token has {claims[name]!r}" if name in claims else f"the token has no {name!r} claim")
                + f", the flexible credential expects {value!r}") for name, value in credential.claims),
    )


def _pending_checks(pending: Pending, claims: dict) -> tuple[Check, ...]:
    return _credential_checks(pending.credential, claims) + (
        Check("window", False, f"the identity's window opens at {windows.text(pending.opens)}; its credential is "
                               f"written by the first compile applied from then on"),)


def simulate(plan: AzurePlan, claims: dict) -> list[Verdict]:
    verdicts = []
    for identity in plan.identities:
        principal = plan.principals[identity.workload.name]
        paths = [_credential_checks(c, claims) for c in identity.credentials]
        paths += [_pending_checks(p, claims) for p in identity.pending]
        verdicts.append(Verdict(plan.cloud, plan.target, principal.workload, principal.name, principal.node,
                                closest(paths, NO_CREDENTIAL)))
    return verdicts

"""GCP workload identity federation, judged on the planned pool: an enabled provider of the token's
issuer whose allowed audiences (or, by default, its own resource name) hold the audience and whose
attribute_condition (CEL, evaluated with cel-python) admits the claims; then its attribute_mapping's
google.subject (assertion.sub, by default) gives the principal:// member, which must be bound on the service account
(workloadIdentityUser) or, in direct mode, on the granted resource."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from wiam.issuers import claim_holds
from wiam.verdict import Check, Verdict, audiences, closest
from wiam.windows import described, holds, text

from . import federation, gke, x509
from .plan import ATTRIBUTE_MAPPING, CLOUD, GCPPlan, PoolProvider, Term, WorkloadPlan
from .settings import TargetSettings

NO_PROVIDER = Check("iss", False, "the pool has no provider")


@lru_cache(maxsize=1)
def _cel():
    import celpy  # builds its grammar when imported: only simulate needs it

    return celpy, celpy.Environment()


@lru_cache(maxsize=1024)
def _program(condition: str):
    celpy, environment = _cel()
    extract = lambda text, template: celpy.celtypes.StringType(federation.extract(text, template))  # noqa: E731
    return environment.program(environment.compile(condition), functions={"extract": extract})


def condition_admits(condition: str, claims: dict) -> bool:
    celpy, _ = _cel()
    try:
        return bool(_program(condition).evaluate({"assertion": celpy.json_to_cel(claims)}))
    except celpy.CELEvalError:
        return False  # GCP refuses a token whose condition fails to evaluate


def default_audiences(settings: TargetSettings, provider_id: str) -> list[str]:
    name = settings.provider_name(provider_id)
    return [f"//{name}", f"https://{name}"]


def _claim_checks(pid: str, term: Term, claims: dict) -> tuple[Check, ...]:
    """One check per claim a term requires with the token's subject (exact string equality, as the CEL)."""
    return tuple(Check(name, claim_holds(name, value, claims.get(name)),
                       (f"the token has {claims[name]!r}" if name in claims else f"the token has no {name!r} claim")
                       + f", provider {pid} requires {value!r}" + (f" with sub {term[0]!r}" if term[0] else ""))
                 for name, value in term[1])


def _condition_checks(provider: PoolProvider, claims: dict) -> tuple[Check, ...]:
    """The attribute condition's verdict (the real CEL decides); when it refuses a subject it admits
    with some claims, the claims of the closest such term say which failed."""
    pid = provider.provider_id
    admitted = condition_admits(provider.attribute_condition, claims)
    explained = [_claim_checks(pid, term, claims) for term in provider.admits if term[0] in (None, claims["sub"])]
    closest_claims = min(explained, key=lambda checks: sum(not c.passed for c in checks), default=())
    if not admitted and not all(c.passed for c in closest_claims):
        return closest_claims
    return (Check("claims", admitted,
                  f"the attribute_condition of provider {pid} does not admit the token (sub {claims['sub']!r})"),)


def _provider_checks(provider: PoolProvider, claims: dict, settings: TargetSettings,
                     at: datetime | None) -> tuple[Check, ...]:
    pid = provider.provider_id
    allowed = provider.allowed_audiences or default_audiences(settings, pid)
    return (
        *(x509.source_checks(provider, claims, at) or (
            Check("iss", provider.issuer_uri == claims["iss"],
                  f"the token is from {claims['iss']!r}, provider {pid} trusts {provider.issuer_uri!r}"),
            Check("aud", bool(set(audiences(claims)) & set(allowed)),
                  f"the token has {audiences(claims)!r}, provider {pid} allows {allowed!r}"),
            *([Check("account", claims.get("account") == provider.aws_account,
                     f"the caller is of AWS account {claims.get('account')!r}, provider {pid} admits "
                     f"{provider.aws_account!r}")] if provider.aws_account else []))),
        *_condition_checks(provider, claims),
        Check("enabled", not provider.disabled, f"provider {pid} is disabled (kill switch)"),
    )


def _bound_subjects(members: set[str], settings: TargetSettings) -> list[str]:
    prefix = settings.principal("")
    return sorted(m.removeprefix(prefix) for m in members if m.startswith(prefix))


def mapped_subject(provider: PoolProvider, claims: dict) -> str | None:
    """The google.subject the provider's attribute_mapping gives the token (CEL), None if it fails."""
    celpy, _ = _cel()
    try:
        subject = _program(provider.attribute_mapping["google.subject"]).evaluate({"assertion": celpy.json_to_cel(claims)})
    except celpy.CELEvalError:
        return None  # GCP refuses a token it cannot map
    return str(subject) if isinstance(subject, str) else None


def _mapped(provider: PoolProvider, claims: dict, settings: TargetSettings) -> str | None:
    """The member a token becomes through a provider, None if the provider cannot map it."""
    subject = mapped_subject(provider, claims)
    return None if subject is None else settings.principal(subject)


def _bound(provider: PoolProvider, claims: dict, members: set[str], settings: TargetSettings) -> Check:
    """The provider maps google.subject (assertion.sub, + the suffix of the claims it checks): the
    member the token becomes through it."""
    subject = mapped_subject(provider, claims)
    mapped = (f", provider {provider.provider_id} maps it to {subject!r}"
              if provider.attribute_mapping != ATTRIBUTE_MAPPING else "")
    return Check("sub", _mapped(provider, claims, settings) in members,
                 f"the token has {claims['sub']!r}{mapped}, the principal is bound to "
                 f"{_bound_subjects(members, settings)!r}")


def _window_checks(planned: WorkloadPlan, member: str, at: datetime | None) -> tuple[Check, ...]:
    """The IAM conditions on the token's way at the plan's moment: the account's workloadIdentityUser
    binding of its member (service_account mode), then the roles of what it acts as (one window each)."""
    if at is None:
        return ()
    if planned.account:
        ways = [("trust window", [b for b in planned.federation if b.grantee == member][:1]),
                ("grant window", planned.bindings[:1])]
    else:
        ways = [("window", [b for b in planned.bindings if b.grantee == member][:1])]
    return tuple(Check(name, False, f"{binding.role} is bound {described(binding.window)} (IAM condition "
                                    f"{binding.condition.expression}); the token is presented at {text(at)}")
                 for name, bindings in ways for binding in bindings
                 if binding.window and not holds(binding.window, at))


def simulate(plan: GCPPlan, claims: dict) -> list[Verdict]:
    settings = plan.settings
    providers = [(p, _provider_checks(p, claims, settings, plan.at)) for p in plan.providers]
    pooled = gke.token_members(claims, plan.projects)
    planned = {w.workload.name: w for w in plan.workloads}
    verdicts = []
    for workload, principal in plan.principals.items():
        members = set(principal.trust["members"])
        if not members:
            continue  # nothing of this workload is bound: every identity is disabled
        paths = [checks + (_bound(p, claims, members, settings),)
                 + _window_checks(planned[workload], _mapped(p, claims, settings), plan.at) for p, checks in providers]
        if pooled[1] or any(map(gke.is_member, members)):  # GKE's token, or GKE's principals
            checks, member = gke.path_checks(pooled, members)
            paths.append(checks + _window_checks(planned[workload], member, plan.at))
        checks = closest(paths, NO_PROVIDER)
        verdicts.append(Verdict(CLOUD, plan.target, workload, principal.name, principal.node, checks))
    return verdicts

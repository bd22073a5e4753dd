"""GCP workload identity federation, judged on the compiled pool: an enabled provider of the token's
issuer whose allowed audiences (or, by default, its own resource name) hold the audience and whose
attribute_condition (CEL, evaluated with cel-python) admits the claims; then google.subject =
assertion.sub gives the principal:// member, which must be bound on the service account
(workloadIdentityUser) or, in direct mode, on the granted resource."""

from __future__ import annotations

from functools import lru_cache

from wiam.access import principal_id
from wiam.model import Model
from wiam.names import terraform_name
from wiam.verdict import Check, Verdict, audiences, closest

from .graph import service_account_email
from .terraform import WORKLOAD_IDENTITY_USER, POOL_DEFAULT_ID, principal

NO_PROVIDER = Check("iss", False, "the pool has no provider")


@lru_cache(maxsize=1)
def _cel():
    import celpy  # builds its grammar when imported: only simulate needs it

    return celpy, celpy.Environment()


@lru_cache(maxsize=1024)
def _program(condition: str):
    _, environment = _cel()
    return environment.program(environment.compile(condition))


def condition_admits(condition: str, claims: dict) -> bool:
    celpy, _ = _cel()
    try:
        return bool(_program(condition).evaluate({"assertion": celpy.json_to_cel(claims)}))
    except celpy.CELEvalError:
        return False  # GCP refuses a token whose condition fails to evaluate


def default_audiences(number: str, pool_id: str, provider_id: str) -> list[str]:
    name = f"iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/{pool_id}/providers/{provider_id}"
    return [f"//{name}", f"https://{name}"]


def _provider_checks(provider: dict, claims: dict, number: str, pool_id: str) -> tuple[Check, ...]:
    pid = provider["workload_identity_pool_provider_id"]
    allowed = provider["oidc"].get("allowed_audiences") or default_audiences(number, pool_id, pid)
    return (
        Check("iss", provider["oidc"]["issuer_uri"] == claims["iss"],
              f"the token is from {claims['iss']!r}, provider {pid} trusts {provider['oidc']['issuer_uri']!r}"),
        Check("aud", bool(set(audiences(claims)) & set(allowed)),
              f"the token has {audiences(claims)!r}, provider {pid} allows {allowed!r}"),
        Check("claims", condition_admits(provider["attribute_condition"], claims),
              f"the attribute_condition of provider {pid} does not admit the token (sub {claims['sub']!r})"),
        Check("enabled", not provider.get("disabled"), f"provider {pid} is disabled (kill switch)"),
    )


def _bound_subjects(members: set[str], number: str, pool_id: str) -> list[str]:
    prefix = principal(number, pool_id, "")
    return sorted(m.removeprefix(prefix) for m in members if m.startswith(prefix))


def simulate(model: Model, module: dict, claims: dict) -> list[Verdict]:
    resources = module.get("resource", {})
    verdicts = []
    for target in model.targets_of("gcp"):
        number = target.settings["project_number"]
        pool_id = target.settings.get("pool_id", POOL_DEFAULT_ID)
        alias = f"google.{target.name}"
        providers = [_provider_checks(p, claims, number, pool_id)
                     for p in resources.get("google_iam_workload_identity_pool_provider", {}).values()
                     if p["provider"] == alias]
        for workload, grant in model.grants_on(target):
            base = terraform_name(target.name, workload.name)
            if grant.settings.get("mode", "service_account") == "service_account":
                members = {b["member"] for b in resources.get("google_service_account_iam_member", {}).values()
                           if b["service_account_id"] == f"${{google_service_account.{base}.name}}"
                           and b["role"] == WORKLOAD_IDENTITY_USER}
                label, node = service_account_email(target, workload.name), principal_id(
                    "gcp", "service_account", target.name, workload.name)
            else:
                members = {b["member"] for kind, bindings in resources.items() if kind.endswith("_iam_member")
                           for name, b in bindings.items() if name.startswith(base + "__")}
                label, node = f"{workload.name} (direct principals)", principal_id("gcp", "direct", target.name,
                                                                                   workload.name)
            if not members:
                continue  # nothing of this workload is bound: every identity is disabled
            # The pool maps google.subject = assertion.sub: the member is the token's subject, whichever
            # provider admitted it.
            bound = Check("sub", principal(number, pool_id, claims["sub"]) in members,
                          f"the token has {claims['sub']!r}, the principal is bound to "
                          f"{_bound_subjects(members, number, pool_id)!r}")
            checks = closest([p + (bound,) for p in providers], NO_PROVIDER)
            verdicts.append(Verdict("gcp", target.name, workload.name, label, node, checks))
    return verdicts

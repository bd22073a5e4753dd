"""GCP workload identity federation, judged on the compiled pool: an enabled provider of the token's
issuer whose allowed audiences (or, by default, its own resource name) hold the audience and whose
attribute_condition (CEL, evaluated with cel-python) admits the claims; then google.subject =
assertion.sub gives the principal:// member, which must be bound on the service account
(workloadIdentityUser) or, in direct mode, on the granted resource."""

from __future__ import annotations

from functools import lru_cache

from wiam.graph import principal_id
from wiam.model import Model
from wiam.names import terraform_name
from wiam.simulate import Verdict, audiences, distance

from .graph import service_account_email
from .terraform import WORKLOAD_IDENTITY_USER, POOL_DEFAULT_ID, principal

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


def _provider_reasons(provider: dict, claims: dict, number: str, pool_id: str) -> list[str]:
    if provider["oidc"]["issuer_uri"] != claims["iss"]:
        return [f"iss: the token is from {claims['iss']!r}, provider "
                f"{provider['workload_identity_pool_provider_id']} trusts {provider['oidc']['issuer_uri']!r}"]
    reasons = []
    if provider.get("disabled"):
        reasons.append(f"provider {provider['workload_identity_pool_provider_id']} is disabled (kill switch)")
    allowed = provider["oidc"].get("allowed_audiences") or default_audiences(
        number, pool_id, provider["workload_identity_pool_provider_id"])
    if not set(audiences(claims)) & set(allowed):
        reasons.append(f"aud: the token has {audiences(claims)!r}, the provider allows {allowed!r}")
    if not condition_admits(provider["attribute_condition"], claims):
        reasons.append(f"sub: the attribute_condition of provider {provider['workload_identity_pool_provider_id']} "
                       f"does not admit {claims['sub']!r}")
    return reasons


def simulate(model: Model, module: dict, claims: dict) -> list[Verdict]:
    resources = module.get("resource", {})
    verdicts = []
    for target in model.targets_of("gcp"):
        number = target.settings["project_number"]
        pool_id = target.settings.get("pool_id", POOL_DEFAULT_ID)
        alias = f"google.{target.name}"
        checked = [_provider_reasons(p, claims, number, pool_id)
                   for p in resources.get("google_iam_workload_identity_pool_provider", {}).values()
                   if p["provider"] == alias]
        nearest = min(checked, key=distance, default=["the pool has no provider"])
        member = principal(number, pool_id, claims["sub"]) if [] in checked else None
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
            if member is None:
                reasons = nearest
            elif member not in members:
                reasons = [f"sub: {claims['sub']!r} is admitted by the pool, but not bound to this principal"]
            else:
                reasons = []
            verdicts.append(Verdict("gcp", target.name, workload.name, label, node, not reasons, tuple(reasons)))
    return verdicts

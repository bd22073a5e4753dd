"""AWS STS AssumeRoleWithWebIdentity, judged on the compiled roles: the token's issuer must be the
role's federated OIDC provider (whose client ID list holds the audience), an Allow statement's
StringEquals conditions must hold for aud and sub, and no Deny statement may match."""

from __future__ import annotations

import json

from wiam.graph import principal_id
from wiam.model import Model
from wiam.names import terraform_name
from wiam.simulate import Verdict, audiences, distance

from .terraform import role_name


def _shown(values) -> str:
    values = values if isinstance(values, list) else [values]
    return ", ".join(repr(v) for v in values[:3]) + (f" and {len(values) - 3} more" if len(values) > 3 else "")


def _statement_reasons(statement: dict, host: str, claims: dict, client_ids: dict[str, list[str]]) -> list[str]:
    provider = statement["Principal"]["Federated"].split("oidc-provider/", 1)[1]
    if provider != host:
        return [f"iss: the token is from {claims['iss']!r}, the role trusts https://{provider}"]
    reasons = []
    for key, expected in statement.get("Condition", {}).get("StringEquals", {}).items():
        claim = key.rsplit(":", 1)[1]
        wanted = expected if isinstance(expected, list) else [expected]
        present = audiences(claims) if claim == "aud" else [claims.get(claim)]
        if not set(wanted) & set(present):
            reasons.append(f"{claim}: the token has {_shown(present)}, the role expects {_shown(wanted)}")
    if (provider in client_ids and not set(audiences(claims)) & set(client_ids[provider])
            and not any(r.startswith("aud:") for r in reasons)):
        reasons.append(f"aud: {_shown(audiences(claims))} is not a client ID of the OIDC provider "
                       f"({_shown(client_ids[provider])})")
    return reasons


def simulate(model: Model, module: dict, claims: dict) -> list[Verdict]:
    resources = module.get("resource", {})
    roles = resources.get("aws_iam_role", {})
    host = claims["iss"].removeprefix("https://").rstrip("/")
    verdicts = []
    for target in model.targets_of("aws"):
        client_ids = {p["url"].removeprefix("https://").rstrip("/"): p["client_id_list"]
                      for p in resources.get("aws_iam_openid_connect_provider", {}).values()
                      if p["provider"] == f"aws.{target.name}"}
        for workload, _ in model.grants_on(target):
            role = roles.get(terraform_name(target.name, workload.name))
            if role is None:
                continue
            allow, deny = None, False
            for statement in json.loads(role["assume_role_policy"])["Statement"]:
                reasons = _statement_reasons(statement, host, claims, client_ids)
                if statement["Effect"] == "Deny":
                    deny = deny or not reasons
                elif allow is None or distance(reasons) < distance(allow):
                    allow = reasons
            if deny:
                reasons = [f"sub: {claims['sub']!r} is refused by the kill switch (an explicit Deny in the trust policy)"]
            else:
                reasons = allow if allow is not None else ["the role trusts no subject (every identity is disabled)"]
            verdicts.append(Verdict("aws", target.name, workload.name, role_name(workload.name),
                                    principal_id("aws", "role", target.name, workload.name), not reasons,
                                    tuple(reasons)))
    return verdicts

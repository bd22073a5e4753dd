"""Entra's flexible federated identity credentials (preview): which issuers and claims they may match,
and the claimsMatchingExpression wiam writes for them, `eq` only (Microsoft Entra Workload ID,
"Flexible federated identity credentials (preview)", ms.date 2026-09-18)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from wiam.model import Identity, normalised_url

# The ARM type whose API version carries claimsMatchingExpression (added in 2025-01-31-preview; the GA
# 2024-11-30 lacks it), written through azapi: azurerm has no flexible credentials.
RESOURCE = "azapi_resource"
TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2025-01-31-preview"
LANGUAGE_VERSION = 1  # "languageVersion should always be set to 1"
QUOTE = "'"  # the grammar's comparand delimiter, and its escape character (semantics undocumented)


@dataclass(frozen=True)
class Platform:
    """An issuer Entra matches flexible credentials for, by its URL."""

    name: str
    url: re.Pattern
    claims: tuple[str, ...]  # claims beyond sub an expression may match, each with `eq`
    required: tuple[str, ...]  # one of these must be matched too, if any


PLATFORMS = (
    Platform("GitHub", re.compile(r"https://token\.actions\.githubusercontent\.com"),
             ("job_workflow_ref", "repository_id", "repository_owner_id"), ("repository_id", "repository_owner_id")),
    # gitlab.com, and gitlab.<name>.com or .ca "where example can be any string"; mutable subjects need project_id,
    # and every GitLab subject (project_path:...) is one.
    Platform("GitLab", re.compile(r"https://gitlab(\.[a-z0-9-]+)?\.(com|ca)"), ("project_id",), ("project_id",)),
    Platform("Terraform Cloud", re.compile(r"https://app(\.eu)?\.terraform\.io"), (), ()),
)
ISSUERS = ("https://token.actions.githubusercontent.com, https://gitlab.com (or gitlab.<name>.com/.ca), "
           "https://app.terraform.io and https://app.eu.terraform.io")


def platform(url: str) -> Platform | None:
    where = normalised_url(url)
    return next((p for p in PLATFORMS if p.url.fullmatch(where)), None)


def expression(subject: str, claims: tuple[tuple[str, str], ...]) -> str:
    """`claims['sub'] eq '<subject>' and claims['<claim>'] eq '<value>' ...`, claims in the order given.
    No value holds a quote (problems() refuses them), so none needs escaping."""
    return " and ".join(f"claims['{name}'] eq '{value}'" for name, value in (("sub", subject), *claims))


def matched(found: Platform, item: Identity) -> tuple[tuple[str, str], ...]:
    """The claims beyond sub the credential matches, sorted: the identity's conditions, and its own fields that
    name a claim the platform matches (an immutable GitHub subject's repository_id), which the token carries."""
    fields = {name: value for name, value in item.claims if name in found.claims and isinstance(value, str)}
    return tuple(sorted({**fields, **dict(item.conditions)}.items()))


def problems(found: Platform | None, subject: str,
             claims: tuple[tuple[str, str], ...]) -> list[tuple[str, str, str | None]]:
    """Why a flexible credential cannot check these claims: (the claim at fault, "" for none, why, fix;
    None where the way out is the one of exact credentials)."""
    if found is None:
        return [(name, f"flexible credentials match only tokens of {ISSUERS}", None) for name, _ in claims]
    could = ", ".join(("sub", *found.claims))
    found_problems = [(name, f"a flexible credential for {found.name} tokens checks only {could}", None)
                      for name, _ in claims if name not in found.claims]
    if found.required and not set(found.required) & {name for name, _ in claims}:
        found_problems.append(("", f"Azure requires a flexible credential for {found.name} tokens to match "
                                   f"{' or '.join(found.required)} besides sub",
                               f"pin {found.required[0]} = \"<its numeric ID>\" in claims"))
    return found_problems + [
        (name, f"the value of {name} holds a single quote, which Entra's expression language treats as an escape "
               "character in a way its documentation does not define",
         "pin values without single quotes (the subject is made of this identity's fields)")
        for name, value in (("sub", subject), *claims) if QUOTE in value and name in ("sub", *found.claims)]

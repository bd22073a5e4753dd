"""Issuer kinds: their default URLs, the identity fields each takes, and the exact subject each
identity pins. Every subject format lives here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

GITHUB_URL = "https://token.actions.githubusercontent.com"


@dataclass(frozen=True)
class IssuerKind:
    name: str
    default_url: str | None
    required: tuple[str, ...]
    optional: tuple[str, ...]
    subject: Callable[[dict[str, Any]], str]
    # Fields of which exactly one must be set, if any.
    one_of: tuple[str, ...] = ()
    together: tuple[str, ...] = ()  # all or none

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.one_of + self.optional


def github_repo_part(repository: str, owner_id: str | None = None, repository_id: str | None = None) -> str:
    """`OWNER/REPO`, or the immutable form `OWNER@OWNER_ID/REPO@REPO_ID` that newer
    repositories use (github/docs, "Immutable subject claims")."""
    if owner_id and repository_id:
        owner, repo = repository.split("/", 1)
        return f"{owner}@{owner_id}/{repo}@{repository_id}"
    return repository


def _github(fields: dict[str, Any]) -> str:
    repo = github_repo_part(fields["repository"], fields.get("owner_id"), fields.get("repository_id"))
    if "ref" in fields:
        return f"repo:{repo}:ref:{fields['ref']}"
    if "environment" in fields:
        return f"repo:{repo}:environment:{fields['environment']}"
    return f"repo:{repo}:pull_request"


def _gitlab(fields: dict[str, Any]) -> str:
    return f"project_path:{fields['project_path']}:ref_type:{fields['ref_type']}:ref:{fields['ref']}"


def _kubernetes(fields: dict[str, Any]) -> str:
    return f"system:serviceaccount:{fields['namespace']}:{fields['service_account']}"


def _terraform_cloud(fields: dict[str, Any]) -> str:
    return (f"organization:{fields['organization']}:project:{fields['project']}"
            f":workspace:{fields['workspace']}:run_phase:{fields['run_phase']}")


KINDS: dict[str, IssuerKind] = {
    kind.name: kind
    for kind in (
        IssuerKind("github_actions", GITHUB_URL, ("repository",), ("owner_id", "repository_id"), _github,
                   one_of=("ref", "environment", "pull_request"), together=("owner_id", "repository_id")),
        IssuerKind("gitlab_ci", "https://gitlab.com", ("project_path", "ref_type", "ref"), (), _gitlab),
        IssuerKind("kubernetes", None, ("namespace", "service_account"), (), _kubernetes),
        IssuerKind("spiffe", None, ("spiffe_id",), (), lambda f: f["spiffe_id"]),
        IssuerKind("terraform_cloud", "https://app.terraform.io",
                   ("organization", "project", "workspace", "run_phase"), (), _terraform_cloud),
        IssuerKind("generic_oidc", None, ("subject",), ("audience",), lambda f: f["subject"]),
    )
}


def issuer_url(kind: str, url: str | None, enterprise_slug: str | None) -> str | None:
    """The issuer URL: as given, or the kind's default (GitHub Enterprise adds its slug)."""
    if url:
        return url  # exactly as the iss claim reads: AKS issuers end in a slash
    default = KINDS[kind].default_url
    if default and enterprise_slug:
        return f"{default}/{enterprise_slug}"
    return default

"""Issuer kinds: their default URLs, the identity fields each takes, the exact subject each identity
pins, and what a kind's fields mean (refs, repositories, untrusted triggers). Every subject format
and every rule about one kind lives here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass
import re
from typing import Any, Callable
from urllib.parse import urlsplit

GITHUB_URL = "https://token.actions.githubusercontent.com"
GHES_TOKEN_PATH = "/_services/token"  # GitHub Enterprise Server's issuer: https://HOST/_services/token
CIRCLECI_URL = "https://oidc.circleci.com/org/{organization_id}"
DEFAULT_BRANCHES = frozenset({"main", "master"})
BRANCH_PUSHERS = "which anyone who can push a branch may write"


@dataclass(frozen=True)
class CodeHost:
    """The Terraform provider that sets the subject template of a kind's repositories, so that the
    template the host puts in tokens and the one the clouds pin come from one spec."""
    title: str  # as people name the host
    provider: tuple[str, str, str]  # Terraform local name, source, version constraint
    resource: str  # its per-repository template resource
    template: Callable[[str, tuple[str, ...]], dict]  # that resource for (REPO, subject_claims; () the default)
    config: Callable[[str], dict]  # the provider configuration for an owner
    default_template: tuple[str, ...]  # the subject_claims that give the kind's default subject


@dataclass(frozen=True)
class IssuerKind:
    name: str
    default_url: str | None
    required: tuple[str, ...]
    optional: tuple[str, ...]
    subject: Callable[[dict[str, Any]], str]
    # Fields of which exactly one must be set, if any.
    one_of: tuple[str, ...] = ()
    immutable_ids: tuple[str, ...] = ()  # IDs that pin the subject where names could be reused: all or none
    repository: str | None = None  # the field naming the source repository, if any
    enterprise: bool = False  # whether the issuer takes an enterprise_slug (in its default URL)
    # (message, fix) when a ref is written in a form the issuer's subjects never carry, else None
    ref_problem: Callable[[str], tuple[str, str] | None] = lambda ref: None
    # what untrusted code obtains the subject through (e.g. pull requests), else None
    untrusted: Callable[[dict[str, Any]], str | None] = lambda fields: None
    # The claims its tokens carry beyond iss, sub and aud, which `claims` may pin; None: any claim.
    claims: frozenset[str] | None = frozenset()
    # The subject an issuer's subject_claims template gives (keys, fields, claims), if the kind has
    # templates; raises TemplateError naming a key the identity gives no value for.
    templated: Callable[[tuple[str, ...], dict[str, Any], dict[str, str]], str] | None = None
    # the branch a subject is pinned by (a ref anyone with push access moves), else None
    branch: Callable[[dict[str, Any]], str | None] = lambda fields: None
    # claims or fields that pin the workflow or the repository's immutable ID beyond a branch
    workflow_pins: tuple[str, ...] = ()
    code_host: CodeHost | None = None  # where manage_subject_claims sets the repositories' template
    # how a pull request's job obtains the subject (fields, pinned claims, subject_claims), else None
    pull_requests: Callable[[dict[str, Any], dict[str, str], tuple[str, ...]], str | None] = lambda f, c, t: None
    # the repository (OWNER/REPO) of the reusable workflow a pinned claim names, else None
    workflow_repository: Callable[[dict[str, str]], str | None] = lambda claims: None
    # (message, fix) when the issuer URL is not of the kind's form, else None
    url_problem: Callable[[str], tuple[str, str] | None] = lambda url: None
    # fields of other kinds this kind refuses with a fix of their own: (field, fix)
    refused: tuple[tuple[str, str], ...] = ()
    # whether the issuer names its organization (organization_id), its default URL's and audience's value
    organization: bool = False
    # (claim, prefix) where the kind's sub does not pin an identity (CircleCI's names the user who
    # started the run): the claim carries the first required field and pins it, no cloud compares sub,
    # and the identity's subject is the name of its principal, prefix + that value.
    pinned_by: tuple[str, str] | None = None
    # False: the kind's issuer has no URL users write (the cloud names the authority itself); its
    # Issuer.url is default_url, formatted with issuer_fields, a label for display and diffs.
    takes_url: bool = True
    issuer_fields: tuple[str, ...] = ()  # issuer-block fields the kind requires (e.g. tenant_id); others refuse them
    # (field, pattern, hint): identity fields whose form depends on the kind (project_id: a UUID for CircleCI)
    patterns: tuple[tuple[str, str, str], ...] = ()
    # what the issuer's audience must name where tokens have no audience a cloud could default to, else None
    audience_hint: str | None = None

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
    return f"repo:{repo}:{_github_context(fields)}"


class TemplateError(ValueError):
    """A subject_claims key that the identity gives no value for: the key."""


# GitHub Actions tokens' claims beyond iss, sub and aud (github/docs, "OpenID Connect reference").
GITHUB_CLAIMS = frozenset({
    "actor", "actor_id", "base_ref", "check_run_id", "enterprise", "enterprise_id", "environment", "event_name",
    "head_ref", "job_workflow_ref", "job_workflow_sha", "ref", "ref_type", "repository", "repository_id",
    "repository_owner", "repository_owner_id", "repository_visibility", "run_attempt", "run_id", "run_number",
    "runner_environment", "sha", "workflow", "workflow_ref", "workflow_sha",
})


def _github_context(fields: dict[str, Any]) -> str:
    """The part of GitHub's default subject after the repository: what triggered the job."""
    if "ref" in fields:
        return f"ref:{fields['ref']}"
    if "environment" in fields:
        return f"environment:{fields['environment']}"
    return "pull_request"


def _github_templated(keys: tuple[str, ...], fields: dict[str, Any], claims: dict[str, str]) -> str:
    """A customised GitHub subject: each key as `key:value` in the template's order, `repo` as the
    repository (with its IDs when immutable), `context` as the default subject's trigger; a `:` inside a
    value is written %3A, as GitHub writes it (github/docs, "Customizing the subject claims")."""
    parts = []
    for key in keys:
        if key == "repo":
            value = github_repo_part(fields["repository"], fields.get("owner_id"), fields.get("repository_id"))
            parts.append(f"repo:{value}")
        elif key == "context":
            parts.append(_github_context(fields))
        elif key in claims or isinstance(fields.get(key), str):
            parts.append(f"{key}:" + (claims.get(key) or fields[key]).replace(":", "%3A"))
        else:
            raise TemplateError(key)
    return ":".join(parts)


# GitHub's default subject as a subject_claims template: its keys, in order (github/docs).
GITHUB_DEFAULT_TEMPLATE = ("repo", "context")


def _github_template(repository: str, keys: tuple[str, ...]) -> dict:
    """Checked against integrations/terraform-provider-github, github/resource_github_actions_repository_oidc_
    subject_claim_customization_template.go: repository (the name, 1-100 characters) and use_default are
    required; include_claim_keys must stay unset when use_default is true."""
    if not keys:
        return {"repository": repository, "use_default": True}
    return {"repository": repository, "use_default": False, "include_claim_keys": list(keys)}


# `owner`: the provider's argument for the organization or user (website/docs/index.html.markdown).
GITHUB_HOST = CodeHost("GitHub", ("github", "integrations/github", ">= 6.0, < 7.0"),
                       "github_actions_repository_oidc_subject_claim_customization_template", _github_template,
                       lambda owner: {"owner": owner}, GITHUB_DEFAULT_TEMPLATE)


def carried(keys: tuple[str, ...]) -> frozenset[str]:
    """The claims a templated subject carries, which need no check of their own."""
    return frozenset(keys) - {"repo", "context"}


def _github_ref(ref: str) -> tuple[str, str] | None:
    if ref.startswith(("refs/heads/", "refs/tags/")):
        return None
    return (f"ref {ref!r} is not a full Git ref",
            f"GitHub subjects carry the full ref: write refs/heads/{ref} or refs/tags/{ref}")


def _github_branch(fields: dict[str, Any]) -> str | None:
    ref = fields.get("ref", "")
    return ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None


def _github_untrusted(fields: dict[str, Any]) -> str | None:
    branch = _github_branch(fields)
    if branch is not None and branch not in DEFAULT_BRANCHES:
        return f"branch {branch!r}, {BRANCH_PUSHERS}"
    return None


# Keys that, carried in a subject or pinned, tie it to a trigger a pull request's job does not have.
GITHUB_TRIGGERS = ("context", "ref", "environment")
PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target"})


def _github_pull_requests(fields: dict[str, Any], claims: dict[str, str], template: tuple[str, ...]) -> str | None:
    """How a pull request's job obtains the subject: its trigger is pull_request, event_name is pinned to
    a pull request event, or neither the subject nor a pinned claim ties it to a ref, an environment or
    an event (a subject_claims template without `context` carries no trigger); None if it cannot."""
    keys = template or GITHUB_DEFAULT_TEMPLATE
    event = claims.get("event_name")
    if event is not None:
        return f"event_name {event!r}" if event in PULL_REQUEST_EVENTS else None
    if "context" in keys:
        return "the pull_request trigger" if fields.get("pull_request") is True else None
    if any(key in keys or key in claims for key in GITHUB_TRIGGERS):
        return None
    return "subject_claims that carry no trigger (context, ref or environment)"


def _github_workflow_repository(claims: dict[str, str]) -> str | None:
    """OWNER/REPO of a pinned job_workflow_ref (`OWNER/REPO/.github/workflows/FILE@REF`)."""
    owner, _, rest = claims.get("job_workflow_ref", "").partition("/")
    repo = rest.split("/", 1)[0]
    return f"{owner}/{repo}" if owner and repo else None


def _ghes_url(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    # The server's iss is https://HOST/_services/token: credentials or a port make another issuer.
    if (parts.path == GHES_TOKEN_PATH and parts.hostname and parts.netloc.lower() == parts.hostname
            and not parts.query and not parts.fragment):
        return None
    host = parts.hostname or "HOST"
    return (f"url {url!r} is not a GitHub Enterprise Server issuer (https://HOST{GHES_TOKEN_PATH})",
            f"set url = \"https://{host}{GHES_TOKEN_PATH}\", the iss claim of the server's tokens")


# Immutable subjects (OWNER@ID/REPO@ID) are github.com's only (github/docs, "Immutable subject claims").
_GHES_NO_IDS = ("GitHub Enterprise Server subjects carry no IDs (no immutable subjects); pin the repository's "
                "ID as a claim instead, claims = { repository_id = \"...\" }, in clouds that check it")


# CircleCI OIDC tokens' claims beyond iss, sub and aud, less the project ID that project_id pins
# (circleci-docs, "Using OpenID Connect tokens in jobs").
CIRCLECI_PROJECT_CLAIM = "oidc.circleci.com/project-id"
CIRCLECI_CLAIMS = frozenset({
    "oidc.circleci.com/context-ids", "oidc.circleci.com/ssh-rerun", "oidc.circleci.com/vcs-origin",
    "oidc.circleci.com/vcs-ref",
})
CIRCLECI_PRINCIPAL = "project:"
# Claims whose token value is no string, by name, and how a pinned value matches it: "bool", the
# pinned "true" or "false" is the boolean; "list", the pinned value is one of the list's.
CLAIM_TYPES = {"oidc.circleci.com/ssh-rerun": "bool", "oidc.circleci.com/context-ids": "list"}
BOOLEANS = ("true", "false")


def claim_holds(name: str, pinned: str, value: Any) -> bool:
    """Whether a token's claim value matches the value pinned for it."""
    kind = CLAIM_TYPES.get(name)
    if kind == "bool":
        return value is (pinned == "true")
    if kind == "list":
        return isinstance(value, list) and pinned in value
    return value == pinned


# GitLab CI ID tokens' claims (docs.gitlab.com, "OpenID Connect (OIDC) Authentication Using ID Tokens").
GITLAB_CLAIMS = frozenset({
    "namespace_id", "namespace_path", "project_id", "project_path", "user_id", "user_login", "user_email",
    "user_access_level", "pipeline_id", "pipeline_source", "job_id", "ref", "ref_type", "ref_path", "ref_protected",
    "environment", "environment_protected", "deployment_tier", "environment_action", "runner_id",
    "runner_environment", "sha", "ci_config_ref_uri", "ci_config_sha", "project_visibility",
})
# HCP Terraform workload identity tokens' claims (developer.hashicorp.com, "Workload identity").
TERRAFORM_CLOUD_CLAIMS = frozenset({
    "terraform_organization_id", "terraform_organization_name", "terraform_project_id", "terraform_project_name",
    "terraform_workspace_id", "terraform_workspace_name", "terraform_full_workspace", "terraform_run_id",
    "terraform_run_phase",
})


def _gitlab_ref(ref: str) -> tuple[str, str] | None:
    if not ref.startswith("refs/"):
        return None
    return f"ref {ref!r} is a full Git ref", "GitLab subjects carry the short branch or tag name, e.g. main"


def _gitlab_untrusted(fields: dict[str, Any]) -> str | None:
    if fields.get("ref_type") == "branch" and fields.get("ref") not in DEFAULT_BRANCHES:
        return f"branch {fields.get('ref')!r}, {BRANCH_PUSHERS}"
    return None


def _gitlab(fields: dict[str, Any]) -> str:
    return f"project_path:{fields['project_path']}:ref_type:{fields['ref_type']}:ref:{fields['ref']}"


def _kubernetes(fields: dict[str, Any]) -> str:
    return f"system:serviceaccount:{fields['namespace']}:{fields['service_account']}"


def _gke(fields: dict[str, Any]) -> str:
    """A Kubernetes service account in its project's pool, or (all_service_accounts) its whole namespace."""
    namespace = f"{fields['project_id']}.svc.id.goog/ns/{fields['namespace']}"
    return namespace if fields.get("all_service_accounts") else f"{namespace}/sa/{fields['service_account']}"


def _terraform_cloud(fields: dict[str, Any]) -> str:
    return (f"organization:{fields['organization']}:project:{fields['project']}"
            f":workspace:{fields['workspace']}:run_phase:{fields['run_phase']}")


UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
GCP_PROJECT = r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"
GCP_PROJECT_HINT = "a Google Cloud project ID: 6-30 lowercase letters, digits and hyphens, starting with a letter"
OTHER_WORKLOAD = "workload:"  # the subject of an identity that names another workload instead of an ID


class OtherWorkload(str):
    """The subject `workload:NAME` of an identity that names another workload instead of an ID: its text
    keys diffs and records; its type tells the compiler to write the other workload's principal there
    (chains.py), which no subject a user writes can be mistaken for. `kind`: whose principal (one
    workload may be named by identities of several kinds, one principal each)."""

    kind: str

    def __new__(cls, workload: str, kind: str) -> OtherWorkload:
        made = super().__new__(cls, OTHER_WORKLOAD + workload)
        made.kind = kind
        return made

    def __reduce__(self):  # copies (copy, pickle) keep the kind
        return OtherWorkload, (self.workload, self.kind)

    @property
    def workload(self) -> str:
        return self.removeprefix(OTHER_WORKLOAD)

    @property
    def key(self) -> tuple[str, str]:
        """What its value is kept by: one per kind and workload."""
        return self.kind, self.workload


def _other(id_field: str, kind: str) -> Callable[[dict[str, Any]], str]:
    """The subject of a kind whose identity names either an ID or another workload of the spec (whose
    principal the compiled trust refers to by Terraform reference): the ID, or workload:NAME."""
    return lambda f: f[id_field] if id_field in f else OtherWorkload(f["workload"], kind)


def _eks_pod(f: dict[str, Any]) -> str:
    """A cluster of another account (cluster_target) is another cluster than the granted account's of its name."""
    where = f"target/{f['cluster_target']}/" if "cluster_target" in f else ""
    return f"{where}cluster/{f['cluster']}/ns/{f['namespace']}/sa/{f['service_account']}"


# What GitHub Actions and GitHub Enterprise Server share: subjects, templates, refs, triggers, claims.
_GITHUB_LIKE = dict(one_of=("ref", "environment", "pull_request"), repository="repository", ref_problem=_github_ref,
                    untrusted=_github_untrusted, claims=GITHUB_CLAIMS, templated=_github_templated,
                    branch=_github_branch, workflow_pins=("job_workflow_ref", "repository_id"),
                    pull_requests=_github_pull_requests, workflow_repository=_github_workflow_repository)

KINDS: dict[str, IssuerKind] = {
    kind.name: kind
    for kind in (
        IssuerKind("github_actions", GITHUB_URL, ("repository",), ("owner_id", "repository_id"), _github,
                   immutable_ids=("owner_id", "repository_id"), enterprise=True, code_host=GITHUB_HOST,
                   **_GITHUB_LIKE),
        IssuerKind("github_enterprise_server", None, ("repository",), (), _github, url_problem=_ghes_url,
                   refused=(("owner_id", _GHES_NO_IDS), ("repository_id", _GHES_NO_IDS)), **_GITHUB_LIKE),
        IssuerKind("circleci", CIRCLECI_URL, ("project_id",), (), lambda f: CIRCLECI_PRINCIPAL + f["project_id"],
                   claims=CIRCLECI_CLAIMS, organization=True, pinned_by=(CIRCLECI_PROJECT_CLAIM, CIRCLECI_PRINCIPAL),
                   patterns=(("project_id", UUID, "a CircleCI project ID is a lowercase UUID (Project Settings > Overview)"),)),
        IssuerKind("gitlab_ci", "https://gitlab.com", ("project_path", "ref_type", "ref"), (), _gitlab,
                   repository="project_path", ref_problem=_gitlab_ref, untrusted=_gitlab_untrusted,
                   claims=GITLAB_CLAIMS),
        IssuerKind("kubernetes", None, ("namespace", "service_account"), (), _kubernetes),
        IssuerKind("spiffe", None, ("spiffe_id",), (), lambda f: f["spiffe_id"]),
        IssuerKind("terraform_cloud", "https://app.terraform.io",
                   ("organization", "project", "workspace", "run_phase"), (), _terraform_cloud,
                   claims=TERRAFORM_CLOUD_CLAIMS),
        IssuerKind("generic_oidc", None, ("subject",), ("audience",), lambda f: f["subject"], claims=None),
        # Workloads the clouds identify themselves (issue 20): no issuer URL, one cloud or several.
        IssuerKind("eks_pod_identity", "pods.eks.amazonaws.com", ("cluster", "namespace", "service_account"),
                   ("cluster_target",),
                   _eks_pod, takes_url=False),
        IssuerKind("gke", "container.googleapis.com", ("project_id", "namespace"), (), _gke,
                   one_of=("all_service_accounts", "service_account"), takes_url=False,
                   patterns=(("project_id", GCP_PROJECT, GCP_PROJECT_HINT),)),
        IssuerKind("gcp_service_account", "https://accounts.google.com", (), (), _other("unique_id", "gcp_service_account"),
                   one_of=("workload", "unique_id"), takes_url=False),
        # A managed identity's token for an app (the resource it asks for) is a v1.0 token unless the app's
        # manifest asks for v2.0 (accessTokenAcceptedVersion): iss https://sts.windows.net/TENANT/, aud the app
        # ID URI, sub = oid = the identity's principal ID (Entra ID "Access token claims reference").
        IssuerKind("azure_managed_identity", "https://sts.windows.net/{tenant_id}/", (), (),
                   _other("principal_id", "azure_managed_identity"), one_of=("workload", "principal_id"), takes_url=False,
                   issuer_fields=("tenant_id",),
                   audience_hint="the application ID URI of the Entra app the identity asks tokens for "
                                 "(e.g. api://wiam-federation), which the token's aud carries"),
        IssuerKind("aws_role", "sts.amazonaws.com", (), (), _other("role_arn", "aws_role"), one_of=("workload", "role_arn"),
                   takes_url=False),
        IssuerKind("spiffe_x509", "x509", ("spiffe_id",), (), lambda f: f["spiffe_id"], takes_url=False,
                   issuer_fields=("trust_bundle_file",)),
    )
}
# The kinds whose tokens are OIDC JWTs of an issuer URL: what a cloud's OIDC federation accepts.
OIDC_KINDS = frozenset(name for name, kind in KINDS.items() if kind.takes_url)


def issuer_url(kind: str, url: str | None, enterprise_slug: str | None,
               organization_id: str | None = None, fields: dict[str, str] | None = None) -> str | None:
    """The issuer URL: as given, or the kind's default (GitHub Enterprise adds its slug, CircleCI
    names the organization, a kind's issuer_fields fill theirs; None without it)."""
    if url:
        return url  # exactly as the iss claim reads: AKS issuers end in a slash
    default = KINDS[kind].default_url
    if KINDS[kind].issuer_fields:
        return default.format(**(fields or {}))
    if KINDS[kind].organization:
        return default.format(organization_id=organization_id) if organization_id else None
    if default and enterprise_slug:
        return f"{default}/{enterprise_slug}"
    return default


# The kind that trusts each CI system's jobs, for the draft spec of `wiam discover --repo`.
CI_SYSTEM_KINDS = {"github": "github_actions", "gitlab": "gitlab_ci"}


# How subjects read as identities' fields: GitHub Actions' default template (github/docs "OpenID
# Connect reference", example subject claims) and Kubernetes service accounts' tokens.
_GITHUB_SUBJECT = re.compile(r"repo:(?P<repository>[^:/]+/[^:]+):(?:ref:(?P<ref>refs/.+)|environment:(?P<environment>[^:]+)"
                             r"|(?P<pull_request>pull_request))")
_KUBERNETES_SUBJECT = re.compile(r"system:serviceaccount:(?P<namespace>[^:]+):(?P<service_account>[^:]+)")


def identity_fields(url: str, subject: str) -> tuple[str, dict[str, Any]]:
    """(issuer kind, identity fields) that give exactly `subject` for the issuer at `url`: a GitHub
    Actions identity at GitHub's URL, a Kubernetes one elsewhere, where the subject reads as one;
    else a generic_oidc one (wiam import)."""
    github = KINDS["github_actions"].default_url == url.rstrip("/")
    kind, match = ("github_actions", _GITHUB_SUBJECT.fullmatch(subject)) if github else (
        "kubernetes", _KUBERNETES_SUBJECT.fullmatch(subject))
    if match:
        fields = {k: (True if k == "pull_request" else v) for k, v in match.groupdict().items() if v is not None}
        if KINDS[kind].subject(fields) == subject and _valid_fields(fields):
            return kind, fields
    return "generic_oidc", {"subject": subject}


def _valid_fields(fields: dict[str, Any]) -> bool:
    """Whether identity fields match the schema's patterns for them (a repository is OWNER/REPO...)."""
    from .schema import CORE_FILE, packaged  # the schema module imports the registry, which imports this
    properties = packaged("wiam.schemas", CORE_FILE)["$defs"]["identity"]["properties"]
    return all(re.fullmatch(properties[key]["pattern"], value) for key, value in fields.items()
               if isinstance(value, str) and "pattern" in properties[key])

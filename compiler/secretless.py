"""Long-lived credentials that `wiam discover` finds, in CI files or in clouds, and their text, JSON
and SARIF forms. One dataclass for both sides: a CI scan finds a secret's use at a file position, a
cloud reader finds a key on a principal; both say what should replace it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .analysis.output import INFORMATION_URI, SARIF_SCHEMA, artifact_uri
from .diagnostics import Pos, printable

# What each kind of long-lived credential is, for the text output and SARIF's rule descriptions.
KINDS = {
    "aws-access-key": "a long-lived AWS access key",
    "gcp-service-account-key": "a long-lived GCP service account key",
    "azure-client-secret": "a long-lived Azure client secret",
    # Found in the clouds only (wiam.discovery): certificates, and identities outside the spec.
    "azure-certificate": "a long-lived Azure application certificate",
    "aws-role": "an AWS role trusting outside its account that the spec does not manage",
    "gcp-service-account": "a GCP service account the spec does not manage",
    "azure-federated-credential": "an Azure application's federated credential the spec does not manage",
}
NEVER_USED = "never"  # the cloud says the credential has not been used (last_used)
NOT_READ = "not read"  # the cloud may know, but wiam did not or could not ask (last_used, with why)


@dataclass(frozen=True)
class Credential:
    kind: str  # a key of KINDS
    cloud: str  # the provider registry's name: aws, gcp or azure
    where: str = ""  # file:line:column of the secret's use, or the cloud and target that hold the key
    what: str = ""  # how it is used or held, e.g. "input aws-access-key-id from secrets.AWS_KEY"
    replacement: str = ""  # what to use instead: the workflow change, the role or provider
    owner: str = ""  # the CI job, or the principal the key belongs to
    pos: Pos | None = None  # set when `where` is a file position (SARIF's location)
    age_days: int | None = None  # cloud keys: days since it was created
    last_used: str | None = None  # cloud keys: ISO date of its last use, NEVER_USED or NOT_READ (with why)
    # Cloud discovery (wiam.discovery): what the discovery file keeps of each, metadata only.
    target: str = ""  # the spec's target whose account, project or tenant holds it
    id: str = ""  # the cloud's identifier (access key ID, key name, keyId GUID, ARN), never a secret
    created: str | None = None  # UTC, YYYY-MM-DDTHH:MM:SSZ
    expires: str | None = None
    last_used_by: str = ""  # where it was last used, as the cloud says (service and region)
    status: str = ""  # e.g. Active, disabled, the principals a role trusts
    grants: str = ""  # what its holder may do, as the replacing grant needs it
    remove: str = ""  # the cloud CLI command that deletes it, shell-quoted
    long_lived: bool = True  # a key or secret (not a trust relationship): WIAM030 reports it

    def __post_init__(self) -> None:  # CI files and cloud names are hostile: printable text only
        assert self.kind in KINDS, self.kind
        for name in ("where", "what", "owner", "last_used", "target", "id", "created", "expires", "last_used_by",
                     "status", "grants", "remove"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, printable(getattr(self, name)))
        object.__setattr__(self, "replacement", "\n".join(map(printable, self.replacement.split("\n"))))

    def sort_key(self) -> tuple:
        return (self.pos or Pos("", 0, 0), self.where, self.kind, self.what)

    def key(self) -> tuple:
        """What names a cloud-held one: a later discovery finds it again under the same key."""
        return (self.cloud, self.target, self.kind, self.owner, self.id)


def ordered(found: list[Credential]) -> list[Credential]:
    return sorted(set(found), key=Credential.sort_key)


def as_json(credential: Credential) -> dict:
    data = asdict(credential)
    data["pos"] = None if credential.pos is None else {"file": credential.pos.file, "line": credential.pos.line,
                                                       "column": credential.pos.column}
    return data


def to_text(found: list[Credential]) -> str:
    lines = []
    for credential in found:
        owner = f" in {credential.owner}" if credential.owner else ""
        lines += [f"{credential.where}: {KINDS[credential.kind]}{owner}: {credential.what}", "  replace with:",
                  *(f"    {line}" for line in credential.replacement.split("\n"))]
    return "\n".join(lines) + ("\n" if lines else "")


def to_sarif(found: list[Credential], version: str) -> dict:
    """One SARIF result per secret use at its file position; a cloud-held key, which has none, at
    no location (its object is named in the message)."""
    kinds = sorted({c.kind for c in found})
    results = []
    for credential in found:
        result: dict = {"ruleId": credential.kind, "ruleIndex": kinds.index(credential.kind), "level": "error",
                        "message": {"text": f"{credential.what}; replace: {credential.replacement}"}}
        if credential.pos is not None:
            result["locations"] = [{"physicalLocation": {
                "artifactLocation": {"uri": artifact_uri(credential.pos.file), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": max(credential.pos.line, 1), "startColumn": max(credential.pos.column, 1)},
            }}]
        else:
            result["message"]["text"] = f"{credential.where}: {result['message']['text']}"
        results.append(result)
    rules = [{"id": kind, "name": kind, "shortDescription": {"text": f"{KINDS[kind]} is in use"},
              "help": {"text": "replace it with OIDC workload identity federation: wiam discover proposes the spec"},
              "defaultConfiguration": {"level": "error"},
              "properties": {"security-severity": "8.0", "tags": ["security", "secrets", "iam"]}} for kind in kinds]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "wiam", "version": version, "informationUri": INFORMATION_URI, "rules": rules}},
        "results": results}]}


@dataclass(frozen=True)
class CiLogins:
    """How CI files log in to one cloud with a long-lived secret, and what replaces that: each
    provider's `ci` module holds one (the CI scan knows no cloud by name)."""

    kind: str  # the Credential kind a login with a secret is
    actions: dict[str, frozenset[str]]  # GitHub action (owner/name, lower case) -> its inputs that take a secret
    inputs: frozenset[str]  # inputs of any action that take one (lower case, '-' for '_')
    variables: frozenset[str]  # environment and CI variables that hold a secret
    scripts: tuple[str, ...]  # regular expressions of shell commands that log in with a secret
    github: str  # the step that logs in with OIDC instead (YAML, under the job's steps)
    gitlab: str  # the job's lines that log in with an ID token instead (YAML, under the job)

"""GCP settings as typed values, with their defaults, and every name wiam derives from them: pool
and provider IDs, service accounts, principal:// members. Planning, the diff's reach, validation's
places and names, and live reads all take them from here."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from wiam.model import Model, Target
from wiam.names import ObjectName, fit_name

TERRAFORM_PROVIDER = ("google", "hashicorp/google", ">= 6.0, < 8.0")
POOL_DEFAULT_ID = "wiam-pool"
SERVICE_ACCOUNT, DIRECT = "service_account", "direct"  # grant modes, and the principal kinds they give
ID_MIN, ID_MAX = 4, 32  # pool and provider IDs
SERVICE_ACCOUNT_ID_MIN, SERVICE_ACCOUNT_ID_MAX = 6, 30
ACCOUNT_PREFIX = "wiam-"  # of every service account ID wiam gives
ACCOUNT_DOMAIN = ".iam.gserviceaccount.com"  # after the project ID in a service account's email


@dataclass(frozen=True)
class TargetSettings:
    project_id: str
    project_number: str
    pool_id: str = POOL_DEFAULT_ID
    adopt_pool: bool = False  # the pool exists already: Terraform imports it

    @classmethod
    def of(cls, raw: dict[str, Any]) -> TargetSettings:
        return cls(raw["project_id"], raw["project_number"], raw.get("pool_id", POOL_DEFAULT_ID),
                   raw.get("adopt_pool", False))

    @property
    def project_name(self) -> str:
        return f"projects/{self.project_id}"

    def pool_name(self, project: str) -> str:
        """The pool's resource name under a project ID or number (the API takes either)."""
        return f"projects/{project}/locations/global/workloadIdentityPools/{self.pool_id}"

    @cached_property
    def members_prefix(self) -> str:
        """What every principal of the pool starts with."""
        return f"principal://iam.googleapis.com/{self.pool_name(self.project_number)}/"

    def principal(self, subject: str) -> str:
        """The member a token of this subject becomes (google.subject as its provider maps it)."""
        return f"{self.members_prefix}subject/{subject}"

    def provider_name(self, provider_id: str) -> str:
        return f"iam.googleapis.com/{self.pool_name(self.project_number)}/providers/{provider_id}"

    def service_account_email(self, account_id: str) -> str:
        return f"{account_id}@{self.project_id}{ACCOUNT_DOMAIN}"


def account_project(email: str) -> str:
    """The project ID of a service account's email (service_account_email's inverse)."""
    return email.partition("@")[2].removesuffix(ACCOUNT_DOMAIN)


@dataclass(slots=True)
class GrantSettings:
    roles: list[str]
    resource: str | None = None  # a full resource name; None: the project
    mode: str = SERVICE_ACCOUNT
    adopt: str | None = None  # the ID of an existing service account the grant's takes over

    @classmethod
    def of(cls, raw: dict[str, Any]) -> GrantSettings:
        return cls(raw["roles"], raw.get("resource"), raw.get("mode", SERVICE_ACCOUNT), raw.get("adopt"))

    def account_id(self, workload: str) -> str:
        """The service account of a workload's grant: the one it adopts, else wiam's own ID for it."""
        return self.adopt or service_account_id(workload)

    @property
    def project_wide(self) -> bool:
        return self.resource is None


def service_account_id(workload: str) -> str:
    return fit_name(f"{ACCOUNT_PREFIX}{workload}", SERVICE_ACCOUNT_ID_MAX, min_length=SERVICE_ACCOUNT_ID_MIN,
                    allowed="a-z0-9-", lower=True)


def provider_id(issuer: str, audience_tag: str, chunk: int) -> str:
    suffix = (f"-{audience_tag}" if audience_tag else "") + (f"-{chunk + 1}" if chunk else "")
    base = fit_name(issuer, ID_MAX - len(suffix), min_length=ID_MIN, allowed="a-z0-9-", lower=True)
    if base.startswith("gcp-"):
        base = fit_name("p" + base, ID_MAX - len(suffix), allowed="a-z0-9-")
    return base + suffix


def object_names(model: Model, target: Target) -> list[ObjectName]:
    """Service account IDs, unique per project (which targets with other pools may share)."""
    scope = ("project", TargetSettings.of(target.settings).project_id)
    grants = [(workload, grant, GrantSettings.of(grant.settings)) for workload, grant in model.grants_on(target)]
    return [ObjectName.of_grant(grant, "service account ID", scope, settings.account_id(workload.name), False)
            for workload, grant, settings in grants if settings.mode == SERVICE_ACCOUNT]


def places(settings: dict) -> list[tuple[str, str, tuple]]:
    """A target manages its pool alone, and the project is named by ID or by number."""
    pool_id = TargetSettings.of(settings).pool_id
    return [("project and pool", field, (settings[field], pool_id)) for field in ("project_id", "project_number")]

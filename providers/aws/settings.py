"""AWS settings as typed values with their defaults, and every name and ARN derived from them: plan,
reach, places, object_names and live all read them here, so they cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wiam.model import Model, Target
from wiam.names import ObjectName, fit_name

CLOUD = "aws"
TERRAFORM_PROVIDER = ("aws", "hashicorp/aws", ">= 6.2, < 7.0")  # 6.2: target_role_arn
DEFAULT_AUDIENCE = "sts.amazonaws.com"  # the client ID STS expects when a token names no other
ROLE_NAME_MAX = 64


def role_name(workload: str) -> str:
    return fit_name(f"wiam-{workload}", ROLE_NAME_MAX, allowed=r"\w+=,.@-")


def grant_role_name(workload: str, raw: dict[str, Any]) -> str:
    """The role of a workload's grant: the one it adopts, else wiam's own name for it."""
    return raw.get("adopt") or role_name(workload)


def _known(cls, raw: dict[str, Any]) -> dict[str, Any]:
    """The settings of `raw` that are fields of `cls` (the schema allows no others)."""
    return {name: raw[name] for name in cls.__dataclass_fields__ if name in raw}


@dataclass(frozen=True)
class TargetSettings:
    account_id: str
    partition: str = "aws"
    region: str = "us-east-1"
    existing_oidc_providers: dict[str, str] = field(default_factory=dict)  # issuer -> provider ARN
    trust_policy_quota: int = 2048  # IAM's default role trust policy length
    managed_policies_quota: int = 10  # IAM's default managed policies per role

    @classmethod
    def of(cls, raw: dict[str, Any]) -> TargetSettings:
        return cls(**_known(cls, raw))

    def role_arn(self, role: str) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{role}"

    def cluster_arn(self, cluster: str) -> str:
        """An EKS cluster of the target's account and region."""
        return f"arn:{self.partition}:eks:{self.region}:{self.account_id}:cluster/{cluster}"

    def oidc_provider_arn(self, host_path: str) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:oidc-provider/{host_path}"


@dataclass(frozen=True)
class GrantSettings:
    """A grant as written; None where the spec leaves a setting out and that absence means something."""

    actions: list[str] = field(default_factory=list)
    resources: list[str] | None = None  # actions need resources
    conditions: dict[str, dict] | None = None
    managed_policies: list[str] | None = None
    permissions_boundary: str | None = None
    max_session_duration: int | str | None = None  # seconds, or a duration such as "1h"
    adopt: str | None = None  # the name of an existing role the grant's role takes over
    # The adopted role's existing inline policy that wiam's takes over (by name, imported): IAM keeps
    # inline policies of other names, and their permissions, beside wiam's.
    adopt_policy: str | None = None

    @classmethod
    def of(cls, raw: dict[str, Any]) -> GrantSettings:
        return cls(**_known(cls, raw))


def object_names(model: Model, target: Target) -> list[ObjectName]:
    """Role names, which IAM holds unique per account without regard to case."""
    scope = ("account", TargetSettings.of(target.settings).account_id)
    return [ObjectName.of_grant(grant, "IAM role name", scope, grant_role_name(workload.name, grant.settings),
                                True)
            for workload, grant in model.grants_on(target)]


def places(settings: dict) -> list[tuple[str, str, tuple]]:
    """The cloud objects a target manages alone: IAM (roles, OIDC providers) is one per account."""
    return [("account", "account_id", (TargetSettings.of(settings).account_id,))]

"""The example cloud's settings, typed, with their defaults: what plan, reach, places and object
names read, so that no default is written twice."""

from __future__ import annotations

from dataclasses import dataclass

CLOUD = "example"
TERRAFORM_PROVIDER = (CLOUD, "example-corp/example", ">= 1.0, < 2.0")  # (local name, source, constraint)
DEFAULT_AUDIENCE = "example:wiam"  # what its token exchange expects when the spec names no audience
EVERYTHING = "*"  # a grant's resources when it names none


@dataclass(frozen=True)
class TargetSettings:
    account: str

    @classmethod
    def of(cls, raw: dict) -> TargetSettings:
        return cls(raw["account"])


@dataclass(frozen=True)
class GrantSettings:
    permissions: tuple[str, ...]
    resources: tuple[str, ...] = (EVERYTHING,)

    @classmethod
    def of(cls, raw: dict) -> GrantSettings:
        return cls(tuple(dict.fromkeys(raw["permissions"])),
                   tuple(dict.fromkeys(raw.get("resources", cls.resources))))


def principal_name(workload: str) -> str:
    return f"wiam-{workload}"


def places(settings: dict) -> list[tuple[str, str, tuple]]:
    """Principal names are unique per account: one target per account."""
    return [("account", "account", (TargetSettings.of(settings).account,))]

"""The example cloud's permissions: three levels, each including the ones below it."""

from __future__ import annotations

from wiam.model import Grant

from .settings import EVERYTHING, GrantSettings

FIELD = "permissions"
INCLUDES = {"read": frozenset({"read"}), "write": frozenset({"read", "write"}),
            "admin": frozenset({"read", "write", "admin"})}
IMPACT = {"read": "medium", "write": "high", "admin": "critical"}


def problem(entry: str) -> tuple[str, str] | None:
    if entry in INCLUDES:
        return None
    return f"the example cloud has no permission {entry!r}", f"use one of: {', '.join(INCLUDES)}"


def allows(node: dict, action: str) -> bool:
    return action in INCLUDES.get(node["label"], ())


def covers(grant: dict, resource: str) -> bool:
    return EVERYTHING in grant["resources"] or resource in grant["resources"]


def impact(node: dict) -> str:
    return IMPACT.get(node["label"], "high")  # an unknown permission: assume the worst but one


def permission_set(label: str) -> frozenset[str] | None:
    return INCLUDES.get(label)


def writes(grant: Grant) -> bool:
    return any(p != "read" for p in GrantSettings.of(grant.settings).permissions)

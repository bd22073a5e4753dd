"""GCP predefined roles and their permissions, from the catalog shipped in providers/catalogs."""

from __future__ import annotations

import re
from functools import lru_cache

from wiam.providers import catalogs
from wiam.suggest import closest

CUSTOM_ROLE = re.compile(r"(projects|organizations)/[^/]+/roles/[A-Za-z0-9_.]+")


def roles() -> dict[str, dict]:
    return catalogs.load(catalogs.GCP_FILE)["roles"]


@lru_cache(maxsize=1)
def _sorted_roles() -> tuple[str, ...]:
    return tuple(sorted(roles()))


def source() -> str:
    data = catalogs.load(catalogs.GCP_FILE)
    return f"GCP role catalog of {data['date']}"


@lru_cache(maxsize=None)
def permissions(role: str) -> frozenset[str] | None:
    """A predefined role's permissions; None for a custom role (wiam cannot see into it). Kept: rules
    ask again for every grant, and basic roles hold thousands."""
    entry = roles().get(role)
    return frozenset(entry["permissions"]) if entry else None


def problem(entry: str) -> tuple[str, str] | None:
    """Why a grant's role is not known, or None: a predefined role or a custom role's full name."""
    if CUSTOM_ROLE.fullmatch(entry) or entry in roles():
        return None
    close = closest(entry, _sorted_roles())
    return (f"{entry!r} is not a predefined GCP role ({source()})",
            (f"did you mean {close!r}? " if close else "") +
            "use a predefined role, a custom role's full name (projects/P/roles/R), or list it in custom")

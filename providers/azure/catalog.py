"""Azure built-in roles and their actions, from the catalog shipped in providers/catalogs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from wiam.providers import catalogs
from wiam.suggest import closest

from .settings import role_reference

_GUID_AT_END = re.compile(r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")


@dataclass(frozen=True)
class RoleDefinition:
    name: str
    id: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    data_actions: tuple[str, ...]
    not_data_actions: tuple[str, ...]

    def allows(self, operation: str, data: bool = False) -> bool:
        """Whether the role grants an operation, the way Azure RBAC evaluates Actions and NotActions."""
        granted, excluded = ((self.data_actions, self.not_data_actions) if data
                             else (self.actions, self.not_actions))
        return (any(_matches(pattern, operation) for pattern in granted)
                and not any(_matches(pattern, operation) for pattern in excluded))


@lru_cache(maxsize=None)
def _pattern(pattern: str) -> re.Pattern:
    # `*` matches any text; built-in roles write `identities/*/assign/action` for `identities/assign/action`.
    parts = [re.escape(part) for part in pattern.split("/*/")]
    return re.compile("/(?:.*/)?".join(part.replace(r"\*", ".*") for part in parts), re.IGNORECASE)


def _matches(pattern: str, operation: str) -> bool:
    return _pattern(pattern).fullmatch(operation) is not None  # RBAC operation names ignore case


def _roles() -> dict[str, dict]:
    return catalogs.load(catalogs.AZURE_FILE)["roles"]


@lru_cache(maxsize=1)
def _folded_names() -> dict[str, str]:
    return {name.lower(): name for name in _roles()}


@lru_cache(maxsize=1)
def _sorted_names() -> tuple[str, ...]:
    return tuple(sorted(_roles()))


@lru_cache(maxsize=1)
def _names_by_id() -> dict[str, str]:
    return {entry["id"]: name for name, entry in _roles().items()}


def source() -> str:
    return f"Azure built-in role catalog of {catalogs.load(catalogs.AZURE_FILE)['date']}"


def role_guid(role: str) -> str:
    """A role's definition GUID, from a GUID or role definition ID, or a built-in name through the
    catalog; a name the catalog does not know comes back as it is."""
    found = _GUID_AT_END.search(role)
    if found:
        return found[1].lower()
    entry = _roles().get(role)
    return entry["id"] if entry else role


def definition(role: str) -> RoleDefinition | None:
    """A built-in role by name, GUID or role definition ID; None for a custom role."""
    entry_name = role if role in _roles() else _names_by_id().get(role_guid(role))
    if entry_name is None:
        return None
    entry = _roles()[entry_name]
    return RoleDefinition(entry_name, entry["id"], tuple(entry["actions"]), tuple(entry["notActions"]),
                          tuple(entry["dataActions"]), tuple(entry["notDataActions"]))


def problem(entry: str) -> tuple[str, str] | None:
    """Role names must be built-in; GUIDs and IDs that are not built-in are custom roles."""
    role = entry
    if role_reference(role, "") is None:
        return (f"{role!r} is neither a role name nor a role definition ID",
                "use a built-in role name such as \"Storage Blob Data Reader\", a role definition GUID, "
                "or /providers/Microsoft.Authorization/roleDefinitions/<GUID>")
    if _GUID_AT_END.search(role) or role in _roles():
        return None
    close = _folded_names().get(role.lower()) or closest(role, _sorted_names())
    return (f"{role!r} is not an Azure built-in role ({source()})",
            (f"did you mean {close!r}? " if close else "") +
            "use a built-in role name, a role definition ID for a custom role, or list it in custom")

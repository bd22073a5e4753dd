"""Azure's settings, typed, and every default and derived name of its objects: what the plan, the
diff's reach, object_names, places and live read, so that they cannot disagree."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field

from wiam.names import fit_name, short_hash

CLOUD = "azure"
# 4.65.0 first takes azurerm_federated_identity_credential's user_assigned_identity_id (5.0 drops parent_id);
# 4.75.0 fails every in-place change of a credential's subject, issuer or audience ("requires import").
TERRAFORM_PROVIDER = ("azurerm", "hashicorp/azurerm", ">= 4.65, != 4.75.0, < 5.0")
# For flexible credentials: v2 takes `body` as an object; 2.4.0 first embeds the 2025-01-31-preview schema.
AZAPI_PROVIDER = ("azapi", "Azure/azapi", ">= 2.4, < 3.0")
DEFAULT_AUDIENCE = "api://AzureADTokenExchange"

# Documented limits of names (Microsoft Entra workload identity federation, managed identities).
IDENTITY_NAME_MIN, IDENTITY_NAME_MAX = 3, 128
CREDENTIAL_NAME_MIN, CREDENTIAL_NAME_MAX = 3, 120

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ROLE_DEFINITION_ID = re.compile(r"(/subscriptions/[0-9a-fA-F-]{36})?/providers/Microsoft\.Authorization/"
                                 r"roleDefinitions/" + _GUID.pattern)
_ROLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ()./&+_-]{0,126}[A-Za-z0-9)]|[A-Za-z0-9]")
# Names are stable across runs and machines: assignment names derive from this namespace.
_ASSIGNMENT_NAMESPACE = uuid.UUID("5a0c6a52-7f2e-4be4-9d64-3e0c5f0f7a11").bytes


@dataclass(frozen=True)
class TargetSettings:
    tenant_id: str
    subscription_id: str
    resource_group: str
    location: str
    flexible_credentials: bool = False  # claims beyond the subject through flexible credentials (preview)
    pim: bool = False  # windowed role assignments as PIM schedules (needs Entra ID P2 or ID Governance)

    @classmethod
    def of(cls, raw: dict) -> TargetSettings:
        return cls(raw["tenant_id"], raw["subscription_id"], raw["resource_group"], raw["location"],
                   raw.get("flexible_credentials", False), raw.get("pim", False))

    @property
    def subscription_scope(self) -> str:
        return f"/subscriptions/{self.subscription_id}"

    @property
    def group_id(self) -> str:
        return f"{self.subscription_scope}/resourceGroups/{self.resource_group}"

    @property
    def place(self) -> tuple[str, str]:
        """The resource group as Azure compares it: names and GUIDs without regard to case."""
        return self.subscription_id.lower(), self.resource_group.lower()

    def identity_id(self, identity: str) -> str:
        """The resource ID of the managed identity named `identity`."""
        return f"{self.group_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}"


@dataclass  # not frozen: made per grant, and frozen dataclasses cost four times as much to build
class GrantSettings:
    roles: tuple[str, ...]  # as written, each once
    scope: str  # the whole subscription unless the grant names a scope
    subscription_wide: bool  # the grant names no scope
    adopt: str | None = None  # the name of an existing managed identity the grant's takes over
    # The adopted identity's existing federated credentials (name -> the subject it holds) and role
    # assignments (role as written -> its GUID) that the plan's take over: Azure refuses a second of each.
    adopt_credentials: dict[str, str] = field(default_factory=dict)
    adopt_assignments: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: dict, target: TargetSettings) -> GrantSettings:
        wide = "scope" not in raw
        return cls(tuple(dict.fromkeys(raw["roles"])), target.subscription_scope if wide else raw["scope"], wide,
                   raw.get("adopt"), raw.get("adopt_credentials", {}), raw.get("adopt_assignments", {}))


def identity_name(workload: str) -> str:
    return fit_name(f"wiam-{workload}", IDENTITY_NAME_MAX, min_length=IDENTITY_NAME_MIN, allowed="a-zA-Z0-9_-")


def grant_identity_name(workload: str, raw: dict) -> str:
    """The managed identity of a workload's grant: the one it adopts, else wiam's own name for it."""
    return raw.get("adopt") or identity_name(workload)


def credential_name(issuer: str, subject: str, audience: str) -> str:
    return fit_name(f"{issuer}-{short_hash(issuer, subject, audience, length=12)}", CREDENTIAL_NAME_MAX,
                    min_length=CREDENTIAL_NAME_MIN, allowed="a-zA-Z0-9_-")


def assignment_name(subscription: str, workload: str, scope: str, role: str) -> str:
    """A role assignment's name, the GUID Azure requires: uuid.uuid5 in the namespace, spelled out so
    that the namespace's bytes are made once, not per assignment (a spec has thousands)."""
    name = "\x00".join((subscription, workload, scope, role)).encode()
    return str(uuid.UUID(bytes=hashlib.sha1(_ASSIGNMENT_NAMESPACE + name).digest()[:16], version=5))


def credential_id(identity_id: str, name: str) -> str:
    """A federated credential's resource ID: azurerm_federated_identity_credential's import ID (its docs)."""
    return f"{identity_id}/federatedIdentityCredentials/{name}"


def assignment_id(scope: str, name: str) -> str:
    """A role assignment's resource ID: azurerm_role_assignment's import ID (its docs, for any scope)."""
    return f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"


def role_reference(role: str, subscription_id: str) -> tuple[str, str] | None:
    """("role_definition_id", id) or ("role_definition_name", name) for a role as written."""
    if _GUID.fullmatch(role):
        return "role_definition_id", (f"/subscriptions/{subscription_id}/providers/"
                                      f"Microsoft.Authorization/roleDefinitions/{role.lower()}")
    if _ROLE_DEFINITION_ID.fullmatch(role):
        return "role_definition_id", role
    if role.startswith("/") or not _ROLE_NAME.fullmatch(role):
        return None
    return "role_definition_name", role


def scope_contains(scope: str, resource_id: str) -> bool:
    scope, resource_id = scope.rstrip("/").lower(), resource_id.lower()  # ARM IDs ignore case
    return resource_id == scope or resource_id.startswith(scope + "/")

"""The AWS permission vocabulary (wiam.provider.Permissions): IAM actions, managed policies and ARNs."""

from __future__ import annotations

import fnmatch

from wiam.model import Grant

from . import catalog
from .catalog import problem
from .graph import arn_matches
from .settings import GrantSettings

FIELD = "actions"  # the grant field whose entries the catalog checks

__all__ = ["ADMIN_POLICIES", "FIELD", "allowed_actions", "allows", "covers", "impact", "permission_set", "problem", "writes"]


def allowed_actions(grant: Grant) -> dict[str, str]:
    """Every catalogued action a grant allows, with its access level."""
    return catalog.expanded(GrantSettings.of(grant.settings).actions)


def writes(grant: Grant) -> bool:
    """Whether a grant allows any action above Read and List, or attaches managed policies."""
    levels = set(allowed_actions(grant).values())
    return bool(levels & catalog.WRITE_LEVELS) or bool(GrantSettings.of(grant.settings).managed_policies)


def allows(node: dict, action: str) -> bool:
    """Whether an action node (a pattern) or managed policy node allows an IAM action (service:Action)."""
    if ":" not in action:
        return False
    if node.get("kind") == "managed_policy":
        return node["arn"].endswith(":iam::aws:policy/AdministratorAccess")  # others: contents not modelled
    return fnmatch.fnmatchcase(action.lower(), node["label"].lower())  # IAM action names ignore case


def covers(grant: dict, resource: str) -> bool:
    """Whether a grant node's resources match an ARN; managed policies count as any resource."""
    patterns = grant["resources"] + (["*"] if grant.get("managed_policies") else [])
    return resource.startswith("arn:") and any(arn_matches(p, resource) for p in patterns)


_LEVEL_IMPACT = {"Permissions management": "critical", "Write": "high", "Tagging": "medium", "Read": "medium",
                 "List": "low"}
ADMIN_POLICIES = frozenset({"AdministratorAccess", "IAMFullAccess", "PowerUserAccess"})  # control of the account


def impact(node: dict) -> str:
    """How bad it is that an attacker holds this action or managed policy."""
    if node.get("kind") == "managed_policy":
        return "critical" if node["label"] in ADMIN_POLICIES else "high"  # other contents: not modelled
    return _LEVEL_IMPACT.get(node.get("access_level"), "high")  # custom actions: assume the worst but one


def permission_set(label: str) -> frozenset[str] | None:
    """The actions an action pattern allows; None for what the catalog cannot expand (managed policies)."""
    return frozenset(catalog.expand(label)) or None

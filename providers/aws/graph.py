"""AWS in the access graph: IAM roles, their grants, and the ways one role can become another."""

from __future__ import annotations

import re
from functools import lru_cache

from wiam.access import AccessGraph, target_id
from wiam.model import Model

from . import catalog, pod_identity
from .plan import AWSPlan
from .settings import CLOUD, GrantSettings, TargetSettings

# Actions that create compute which runs as a passed role: with iam:PassRole they act as that role.
COMPUTE_WITH_ROLE = frozenset({
    "ec2:RunInstances", "lambda:CreateFunction", "lambda:UpdateFunctionConfiguration", "ecs:RunTask",
    "ecs:RegisterTaskDefinition", "glue:CreateDevEndpoint", "glue:CreateJob", "cloudformation:CreateStack",
    "codebuild:CreateProject", "sagemaker:CreateNotebookInstance", "sagemaker:CreateTrainingJob",
    "datapipeline:CreatePipeline", "states:CreateStateMachine",
})
# Actions on another role that let a principal act as it, and how.
TAKEOVER = {
    "sts:AssumeRole": "assume the role (sts:AssumeRole)",
    "iam:UpdateAssumeRolePolicy": "rewrite the role's trust policy, then assume it (iam:UpdateAssumeRolePolicy)",
}


# IAM resource patterns: `*` is any run of characters (across ':' and '/'), `?` one character, and a
# policy variable `${key}` or `${key, 'default'}` (a quote doubled inside quotes) whatever the request
# holds for it, so anything; `${*}`, `${?}` and `${$}` are those characters. An unclosed `${` runs to
# the end, so every `${` is read as a variable: the graph may over-report reach, never under-report it.
_SPECIAL = re.compile(r"\$\{(?:'(?:[^']|'')*(?:'|$)|[^}'])*(?:\}|$)|[*?]")
_LITERAL_VARIABLES = {"${*}": "*", "${?}": "?", "${$}": "$"}


def _pieces(pattern: str) -> list[tuple[str, bool]]:
    """A resource pattern as (text, literal) pieces; the others are `?` (one character), `*` and
    variables (any text)."""
    pieces, last = [], 0
    for match in _SPECIAL.finditer(pattern):
        token = match.group()
        pieces.append((pattern[last:match.start()], True))
        pieces.append((_LITERAL_VARIABLES[token], True) if token in _LITERAL_VARIABLES else (token, False))
        last = match.end()
    pieces.append((pattern[last:], True))
    return [piece for piece in pieces if piece[0]]


def policy_variables(pattern: str) -> list[str]:
    """The policy variables of a resource pattern (not the literal ones), as written."""
    return [text for text, literal in _pieces(pattern) if not literal and text.startswith("${")]


def literal_prefix(pattern: str) -> str:
    """What every ARN a pattern matches starts with: its text up to the first wildcard or variable."""
    prefix = []
    for text, literal in _pieces(pattern):
        if not literal:
            break
        prefix.append(text)
    return "".join(prefix)


@lru_cache(maxsize=4096)
def _arn_pattern(pattern: str) -> re.Pattern:
    # Each run between two stars is matched atomically at its first place, as fnmatch does: the first
    # place leaves the most room for the rest, and `*a*a*a...` cannot backtrack exponentially.
    runs = [""]
    for text, literal in _pieces(pattern):
        if literal or text == "?":
            runs[-1] += re.escape(text) if literal else "."
        else:
            runs.append("")
    if len(runs) == 1:
        return re.compile(runs[0], re.DOTALL)
    head, *middle, tail = runs
    return re.compile(head + "".join(f"(?>.*?{run})" for run in middle) + ".*" + tail, re.DOTALL)


def arn_matches(pattern: str, arn: str) -> bool:
    return _arn_pattern(pattern).fullmatch(arn) is not None


def graph(plan: AWSPlan, access: AccessGraph) -> None:
    for role in plan.roles:
        principal = plan.principals[role.workload.name]
        node_id = access.principal(role.workload, plan.block, principal.kind, principal.name, trust=principal.trust,
                                   **principal.attributes)
        settings = role.settings
        actions = catalog.expanded(settings.actions)
        node = access.grant(node_id, role.grant, actions=settings.actions, resources=settings.resources or [],
                            conditions=settings.conditions, managed_policies=settings.managed_policies,
                            access_level=catalog.access_level(actions))
        for pattern in dict.fromkeys(settings.actions):
            matched = catalog.expand(pattern)
            access.edge(node, access.node(f"{CLOUD}:action:{pattern}", "action", pattern, cloud=CLOUD,
                                          access_level=catalog.access_level(matched), matches=len(matched)), "allows")
        for arn in dict.fromkeys(settings.managed_policies or ()):
            access.edge(node, access.node(f"{CLOUD}:policy:{arn}", "role", arn.rsplit("/", 1)[-1], cloud=CLOUD,
                                          kind="managed_policy", arn=arn), "allows")
        for arn in dict.fromkeys(settings.resources or ()):
            access.edge(node, access.node(f"{CLOUD}:resource:{arn}", "resource", arn, cloud=CLOUD), "on")


@lru_cache(maxsize=4096)
def _opening(patterns: tuple[str, ...]) -> tuple[str, str] | None:
    """(permission, technique) by which action patterns let a role assume, take over or pass another,
    if any. Cached: grants repeat the same few action lists."""
    actions = catalog.expanded(patterns)
    takeover = next((a for a in TAKEOVER if a in actions), None)
    if takeover:
        return takeover, TAKEOVER[takeover]
    compute = sorted(COMPUTE_WITH_ROLE.intersection(actions)) if "iam:PassRole" in actions else []
    return ("iam:PassRole", f"pass the role to new compute ({compute[0]})") if compute else None


def reach(grant: dict, target: dict, targets: dict[str, dict]) -> set[str]:
    """The AWS targets (by name, from their settings) whose roles a grant may act as: those whose
    role ARNs agree with a resource pattern up to its first wildcard or variable. A superset, never less."""
    settings = GrantSettings.of(grant)
    if not _opening(tuple(settings.actions)):
        return set()
    literals = [literal_prefix(pattern) for pattern in settings.resources or ()]
    found = set()
    for name, other in targets.items():
        prefix = TargetSettings.of(other).role_arn("")
        if any(prefix.startswith(literal) or literal.startswith(prefix) for literal in literals):
            found.add(name)
    return found


def link_principals(model: Model, access: AccessGraph) -> None:
    """Role chaining: a grant that lets one role assume, take over or pass another role. A target
    whose account holds a granted Pod Identity's cluster (cluster_target) holds its chain role: it is used."""
    clusters = {pod_identity.cluster_target(i, g.target) for w in model.workloads.values() for g in w.grants
                if g.cloud == CLOUD for i in w.identities if pod_identity.is_pod(i)}
    for target in model.targets_of(CLOUD):
        if target.name in clusters:
            access.graph.nodes[target_id(CLOUD, target.name)]["used_for"] = "the EKS Pod Identity chain roles"
    roles = access.nodes_of("principal", cloud=CLOUD)
    for grant_id, grant in access.nodes_of("grant", cloud=CLOUD):
        opening = _opening(tuple(grant["actions"]))
        if not opening:
            continue  # most grants: nothing that reaches another role, so no need to match ARNs
        permission, technique = opening
        holder = next(iter(access.graph.predecessors(grant_id)))
        for role_id, role in roles:
            if role_id != holder and any(arn_matches(p, role["arn"]) for p in grant["resources"]):
                access.edge(holder, role_id, "can_act_as", via=grant_id, permission=permission, technique=technique)

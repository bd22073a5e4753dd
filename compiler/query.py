"""Who can reach an action, a resource or a role, and through which path."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from .graph import AccessGraph

# The edges along which control flows from a subject to the grants it ends up holding.
_CONTROL = frozenset({"authenticates", "federates", "can_act_as", "holds"})


@dataclass(frozen=True)
class Answer:
    subject: str  # node ID
    workload: str  # the workload the subject authenticates as
    principal: str  # node ID of the principal that holds the grant
    grant: str  # node ID
    path: tuple[str, ...]  # subject -> workload -> principal(s) -> grant -> matched action or role
    hops: int  # can_act_as edges on the path: 0 is direct access

    @property
    def direct(self) -> bool:
        return self.hops == 0


def matching_grants(access: AccessGraph, action: str | None = None, resource: str | None = None,
                    role: str | None = None) -> dict[str, str | None]:
    """Grant node -> the action or role node that matched (None when only a resource was asked)."""
    from providers import PROVIDERS  # each cloud reads its own action and resource syntax

    graph = access.graph
    found: dict[str, str | None] = {}
    for grant_id, grant in access.nodes_of("grant"):
        provider = PROVIDERS[grant["cloud"]]
        if resource is not None and not provider.covers(grant, resource):
            continue
        allowed = sorted(n for n in graph.successors(grant_id) if graph.nodes[n]["type"] in ("action", "role"))
        if role is not None:
            hits = [n for n in allowed if role.lower() in (graph.nodes[n]["label"].lower(),
                                                           str(graph.nodes[n].get("arn", "")).lower())]
        elif action is not None:
            hits = [n for n in allowed if provider.allows(graph.nodes[n], action)]
        else:
            hits = [None]
        if hits:
            found[grant_id] = hits[0]
    return found


def who_can(access: AccessGraph, action: str | None = None, resource: str | None = None,
            role: str | None = None) -> list[Answer]:
    """Every subject that reaches a matching grant, directly or through other principals."""
    graph = access.graph
    control = nx.subgraph_view(graph, filter_edge=lambda u, v, k: k in _CONTROL)
    backwards = control.reverse(copy=False)
    answers: dict[tuple[str, str], Answer] = {}
    for grant_id, evidence in sorted(matching_grants(access, action, resource, role).items()):
        for node, reverse_path in nx.single_source_shortest_path(backwards, grant_id).items():
            if graph.nodes[node]["type"] != "subject":
                continue
            path = tuple(reversed(reverse_path)) + ((evidence,) if evidence else ())
            hops = sum(1 for u, v in zip(path, path[1:]) if graph.has_edge(u, v, "can_act_as"))
            answer = Answer(node, graph.nodes[path[1]]["label"], path[-3 if evidence else -2], grant_id, path, hops)
            key = (node, grant_id)
            if key not in answers or len(path) < len(answers[key].path):
                answers[key] = answer
    return sorted(answers.values(), key=lambda a: (a.workload, a.subject, a.hops, a.grant))

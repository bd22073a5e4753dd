"""Who can reach an action, a resource or a role, and through which path; what a compromise reaches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import networkx as nx

from . import registry, windows
from .access import AccessGraph
from .findings import SEVERITIES
from .graph import reachable
from .model import Window

# The edges along which control flows from a subject to the grants it ends up holding.
_CONTROL = frozenset({"authenticates", "federates", "can_act_as", "chains_to", "holds"})
HOPS = frozenset({"can_act_as", "chains_to"})  # edges by which a principal becomes another


@dataclass(frozen=True)
class Answer:
    subject: str  # node ID
    workload: str  # the workload the subject authenticates as
    principal: str  # node ID of the principal that holds the grant
    grant: str  # node ID
    path: tuple[str, ...]  # subject -> workload -> principal(s) -> grant -> matched action or role
    hops: int  # can_act_as and chains_to edges on the path: 0 is direct access

    @property
    def direct(self) -> bool:
        return self.hops == 0

    def window(self, access: AccessGraph) -> Window:
        """When the path holds: its identity's window (within its workload's) and its grant's."""
        graph = access.graph
        return windows.narrowest(windows.from_json(graph[self.path[0]][self.path[1]]["authenticates"].get("window")),
                                 windows.from_json(graph.nodes[self.grant].get("window")))

    def as_json(self, access: AccessGraph) -> dict:
        nodes = access.graph.nodes
        window = windows.as_json(self.window(access))
        return {"subject": nodes[self.subject]["subject"], "issuer": nodes[self.subject]["issuer"],
                "workload": self.workload, "principal": nodes[self.principal]["label"],
                "cloud": nodes[self.grant]["cloud"], "target": nodes[self.grant]["target"], "direct": self.direct,
                "hops": self.hops, "path": list(self.path), "path_labels": [nodes[n]["label"] for n in self.path],
                **({"window": window} if window else {})}


def matching_grants(access: AccessGraph, action: str | None = None, resource: str | None = None,
                    role: str | None = None) -> dict[str, str | None]:
    """Grant node -> the action or role node that matched (None when only a resource was asked)."""
    graph = access.graph
    found: dict[str, str | None] = {}
    for grant_id, grant in access.nodes_of("grant"):
        permissions = registry.get(grant["cloud"]).permissions
        if resource is not None and not permissions.covers(grant, resource):
            continue
        allowed = sorted(n for n in graph.successors(grant_id) if graph.nodes[n]["type"] in ("action", "role"))
        if role is not None:
            hits = [n for n in allowed if role.lower() in (graph.nodes[n]["label"].lower(),
                                                           str(graph.nodes[n].get("arn", "")).lower())]
        elif action is not None:
            hits = [n for n in allowed if permissions.allows(graph.nodes[n], action)]
        else:
            hits = [None]
        if hits:
            found[grant_id] = hits[0]
    return found


def outside(access: AccessGraph, at: datetime | None) -> tuple[list[str], list[tuple[str, str]]]:
    """The grant nodes and authenticates edges whose windows do not hold at `at` (none when no `at`):
    at that moment no path goes through them."""
    if at is None:
        return [], []
    grants = sorted(n for n, d in access.nodes_of("grant") if not windows.holds(windows.from_json(d.get("window")), at))
    edges = sorted((u, v) for u, v, d in access.graph.edges(data=True)
                   if d["relation"] == "authenticates" and not windows.holds(windows.from_json(d.get("window")), at))
    return grants, edges


def at_moment(graph: nx.DiGraph, closed: tuple[list[str], list[tuple[str, str]]]) -> nx.DiGraph:
    """The graph (the access graph or one of its `only` views) without what `outside` found; itself
    when nothing is outside, so specs without windows search as fast as before."""
    grants, edges = closed
    if not grants and not edges:
        return graph
    graph = graph.copy()
    graph.remove_nodes_from(grants)
    graph.remove_edges_from([(u, v, "authenticates") for u, v in edges] if graph.is_multigraph() else edges)
    return graph


def who_can(access: AccessGraph, action: str | None = None, resource: str | None = None,
            role: str | None = None, at: datetime | None = None) -> list[Answer]:
    """Every subject that reaches a matching grant, directly or through other principals, at `at`
    (windows that do not hold then are no path) or whenever when no `at`."""
    graph = access.graph
    backwards = at_moment(access.only(*_CONTROL), outside(access, at)).reverse(copy=False)
    answers: dict[tuple[str, str], Answer] = {}
    for grant_id, evidence in sorted(matching_grants(access, action, resource, role).items()):
        if grant_id not in backwards:
            continue
        for node, reverse_path in nx.single_source_shortest_path(backwards, grant_id).items():
            if graph.nodes[node]["type"] != "subject":
                continue
            path = tuple(reversed(reverse_path)) + ((evidence,) if evidence else ())
            hops = sum(1 for u, v in zip(path, path[1:]) if HOPS & graph[u][v].keys())
            answer = Answer(node, graph.nodes[path[1]]["label"], path[-3 if evidence else -2], grant_id, path, hops)
            key = (node, grant_id)
            if key not in answers or len(path) < len(answers[key].path):
                answers[key] = answer
    return sorted(answers.values(), key=lambda a: (a.workload, a.subject, a.hops, a.grant))


@dataclass(frozen=True)
class Reached:
    node: str  # a principal, or the action or role a reached grant allows
    path: tuple[str, ...]  # from the starting point
    hops: int  # can_act_as and chains_to edges on the path: 0 is the start's own access
    severity: str | None = None  # for permissions: how bad it is in an attacker's hands
    grant: str | None = None
    resources: tuple[str, ...] = ()


def starting_points(access: AccessGraph, issuer: str | None = None, subject: str | None = None,
                    workload: str | None = None, repository: str | None = None) -> list[str]:
    """The graph nodes a compromise starts from: an issuer, every subject with this text (from any
    issuer), a workload, or every subject pinned to a repository (GitHub or GitLab)."""
    graph = access.graph
    if issuer is not None:
        return [n for n in (f"issuer:{issuer}",) if n in graph]
    if workload is not None:
        return [n for n in (f"workload:{workload}",) if n in graph]
    if subject is not None:
        return sorted(n for n, d in access.nodes_of("subject") if d["subject"] == subject)
    wanted = (repository or "").lower()
    return sorted(n for n, d in access.nodes_of("subject") if str(d.get("repository", "")).lower() == wanted)


def blast_radius(access: AccessGraph, starts: list[str], at: datetime | None = None) -> list[Reached]:
    """Every principal and permission reachable from the starting points, with the shortest path, at
    `at` (windows that do not hold then are no path) or whenever when no `at`."""
    graph = access.graph
    open_graph = at_moment(graph, outside(access, at))
    paths: dict[str, list[str]] = {}
    for start in starts:
        for node, path in reachable(access, start, open_graph).items():
            if node not in paths or len(path) < len(paths[node]):
                paths[node] = path

    def hops(path) -> int:
        return sum(1 for u, v in zip(path, path[1:]) if HOPS & graph[u][v].keys())

    reached = []
    for node, path in sorted(paths.items()):
        data = graph.nodes[node]
        if data["type"] == "principal":
            reached.append(Reached(node, tuple(path), hops(path)))
        elif data["type"] == "grant":
            resources = tuple(sorted(graph.nodes[r]["label"] for r in graph.successors(node)
                                     if graph.nodes[r]["type"] == "resource"))
            for allowed in sorted(graph.successors(node)):
                if graph.nodes[allowed]["type"] in ("action", "role"):
                    severity = registry.get(data["cloud"]).permissions.impact(graph.nodes[allowed])
                    reached.append(Reached(allowed, (*path, allowed), hops(path), severity, node, resources))
    return reached


@dataclass
class Exposure:
    """A compromise's blast radius as it is shown: the principals and permissions it reaches."""
    access: AccessGraph
    start: dict[str, str]  # the starting point as given: {"issuer": name} and so on
    starts: list[str]  # its nodes
    principals: list[Reached]
    permissions: list[Reached]
    at: datetime | None = None  # the moment it is for: windows that do not hold then reach nothing

    @property
    def summary(self) -> dict[str, int]:
        return {severity: sum(1 for r in self.permissions if r.severity == severity) for severity in SEVERITIES}

    @property
    def note(self) -> str | None:
        """Why it reaches nothing, when it does not."""
        nodes = self.access.graph.nodes
        (kind, value), = self.start.items()
        if not self.starts:
            return f"no identity names {kind} {value!r}: it reaches nothing"
        if self.principals or self.permissions:
            return None
        disabled = sorted({nodes[n]["disabled"] for n in self.starts if nodes[n].get("disabled")})
        when = f" at {windows.text(self.at)}" if self.at else ""
        return "it reaches nothing" + (f" (disabled: {'; '.join(disabled)})" if disabled else "") + when

    def by_target(self) -> list[tuple[tuple[str, str], list[Reached]]]:
        """(cloud, target) in order, each with its principals first, then its permissions, worst first."""
        nodes = self.access.graph.nodes
        groups: dict[tuple[str, str], list[Reached]] = {}
        for r in self.principals + self.permissions:
            data = nodes[r.grant] if r.severity else nodes[r.node]
            groups.setdefault((data["cloud"], data["target"]), []).append(r)
        return [(key, sorted(items, key=lambda r: (r.severity is not None, -SEVERITIES.index(r.severity or "low"),
                                                   r.hops)))
                for key, items in sorted(groups.items())]

    def as_json(self) -> dict:
        nodes = self.access.graph.nodes

        def item(r: Reached) -> dict:
            data = nodes[r.node]
            entry = {"id": r.node, "label": data["label"], "cloud": data.get("cloud"), "hops": r.hops,
                     "path": list(r.path), "path_labels": [nodes[n]["label"] for n in r.path]}
            if r.severity:
                grant = nodes[r.grant]
                entry.update(cloud=grant["cloud"], target=grant["target"], workload=grant["workload"],
                             severity=r.severity, resources=list(r.resources))
            else:
                entry.update(target=data["target"], workload=data["workload"])
            return entry
        return {**({"at": windows.text(self.at)} if self.at else {}), "start": self.start, "start_nodes": self.starts, "note": self.note, "summary": self.summary,
                "principals": [item(r) for r in self.principals], "permissions": [item(r) for r in self.permissions]}


def exposure(access: AccessGraph, start: dict[str, str], at: datetime | None = None) -> Exposure:
    """The blast radius of one starting point, {"issuer"|"subject"|"workload"|"repository": value}, at `at`."""
    starts = starting_points(access, **start)
    reached = blast_radius(access, starts, at)
    return Exposure(access, start, starts, [r for r in reached if access.graph.nodes[r.node]["type"] == "principal"],
                    [r for r in reached if r.severity], at)

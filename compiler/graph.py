"""The access graph: who (issuer, subject) becomes which cloud principal, and what it may do where.

Nodes have a `type`; edges have a `relation` (also their key in the MultiDiGraph):

    issuer  -issues->          subject
    subject -authenticates->   workload      (the identity block that names the subject)
    workload -federates->      principal     (trust: the exact condition the cloud checks)
    principal -in->            target
    principal -holds->         grant         (one per workload grant on a target)
    grant   -allows->          action | role
    grant   -on->              resource
    principal -can_act_as->    principal     (indirect: role chaining, impersonation, takeover)

Edges only point the way access flows, so everything reachable from a node is what it can get to.
Providers add the cloud part (principals, grants and indirect edges); this module the rest.
"""

from __future__ import annotations

import networkx as nx

from .diagnostics import Pos
from .model import Grant, Identity, Model, Target, Workload

NODE_TYPES = ("issuer", "subject", "workload", "target", "principal", "grant", "action", "role", "resource")
RELATIONS = ("issues", "authenticates", "federates", "in", "holds", "allows", "on", "can_act_as")


def issuer_id(name: str) -> str:
    return f"issuer:{name}"


def subject_id(identity: Identity) -> str:
    return f"subject:{identity.issuer.name}:{identity.subject}"


def workload_id(name: str) -> str:
    return f"workload:{name}"


def target_id(cloud: str, name: str) -> str:
    return f"target:{cloud}:{name}"


def principal_id(cloud: str, kind: str, target: str, workload: str) -> str:
    return f"{cloud}:{kind}:{target}:{workload}"


def place(pos: Pos) -> dict:
    """Where a node comes from in the spec, as scalar attributes."""
    return {"file": pos.file, "line": pos.line, "column": pos.column} if pos.line else {}


class AccessGraph:
    """A networkx MultiDiGraph with typed helpers; `graph` is the plain networkx object."""

    def __init__(self) -> None:
        self.graph = nx.MultiDiGraph()
        self._views: dict[frozenset, nx.DiGraph] = {}

    def only(self, *relations: str) -> nx.DiGraph:
        """The edges of these relations as a plain DiGraph, built once: networkx's filtered views
        count their nodes on every search, which is quadratic over many searches."""
        key = frozenset(relations)
        if key not in self._views:
            view = nx.DiGraph()
            view.add_edges_from((u, v) for u, v, k in self.graph.edges(keys=True) if k in key)
            self._views[key] = view
        return self._views[key]

    def node(self, node_id: str, node_type: str, label: str, **attributes) -> str:
        assert node_type in NODE_TYPES, node_type
        if node_id in self.graph:
            self.graph.nodes[node_id].update({k: v for k, v in attributes.items() if v is not None})
        else:
            self.graph.add_node(node_id, type=node_type, label=label,
                                **{k: v for k, v in attributes.items() if v is not None})
        return node_id

    def edge(self, source: str, target: str, relation: str, **attributes) -> None:
        assert relation in RELATIONS, relation
        self._views.clear()
        self.graph.add_edge(source, target, key=relation, relation=relation,
                            **{k: v for k, v in attributes.items() if v is not None})

    def principal(self, workload: Workload, target: Target, kind: str, label: str, trust: dict, **attributes) -> str:
        """A workload's cloud principal on a target, federated from the workload with `trust` (the
        exact conditions the cloud checks, as deployed)."""
        node_id = principal_id(target.cloud, kind, target.name, workload.name)
        self.node(node_id, "principal", label, cloud=target.cloud, target=target.name, kind=kind,
                  workload=workload.name, owner=workload.owner or None, environment=workload.environment or None,
                  **attributes)
        self.edge(workload_id(workload.name), node_id, "federates", trust=trust)
        self.edge(node_id, target_id(target.cloud, target.name), "in")
        return node_id

    def grant(self, principal: str, grant: Grant, **attributes) -> str:
        """The node of one grant block, held by the principal it applies to."""
        node_id = f"grant:{grant.cloud}:{grant.target}:{grant.workload}"
        self.node(node_id, "grant", f"{grant.cloud} {grant.target} grant of {grant.workload}", cloud=grant.cloud,
                  target=grant.target, workload=grant.workload, **attributes, **place(grant.pos))
        self.edge(principal, node_id, "holds")
        return node_id

    def nodes_of(self, node_type: str, **match) -> list[tuple[str, dict]]:
        return [(n, data) for n, data in self.graph.nodes(data=True)
                if data["type"] == node_type and all(data.get(k) == v for k, v in match.items())]


def build_graph(model: Model) -> AccessGraph:
    from wiam.providers import PROVIDERS  # providers build on AccessGraph, so they load after this module

    access = AccessGraph()
    for name, issuer in sorted(model.issuers.items()):
        access.node(issuer_id(name), "issuer", name, kind=issuer.kind, url=issuer.url, disabled=issuer.disabled,
                    **place(issuer.pos))
    for (cloud, name), target in sorted(model.targets.items()):
        access.node(target_id(cloud, name), "target", f"{cloud} {name}", cloud=cloud,
                    **{k: v for k, v in target.settings.items() if isinstance(v, (str, int))}, **place(target.pos))
    active_subjects = {subject_id(i) for w in model.workloads.values() for i in w.active_identities}
    for name, workload in sorted(model.workloads.items()):
        access.node(workload_id(name), "workload", name, owner=workload.owner or None,
                    environment=workload.environment or None, description=workload.description or None,
                    disabled=workload.disabled, **place(workload.pos))
        for identity in workload.identities:
            claims = dict(identity.claims)
            subject = access.node(subject_id(identity), "subject", identity.subject, issuer=identity.issuer.name,
                                  subject=identity.subject,
                                  repository=claims.get("repository") or claims.get("project_path"))
            access.edge(issuer_id(identity.issuer.name), subject, "issues")
            if identity.active:  # a disabled subject authenticates as nothing: the kill switch
                access.edge(subject, workload_id(name), "authenticates", identity=identity.index + 1,
                            audience=identity.audience, **place(identity.pos))
            elif subject not in active_subjects:
                access.node(subject, "subject", identity.subject,
                            disabled=identity.disabled or f"issuer {identity.issuer.name}: {identity.issuer.disabled}")
    for cloud, provider in sorted(PROVIDERS.items()):
        for target in model.targets_of(cloud):
            provider.graph_target(model, target, access)
        provider.link_principals(model, access)
    return access


def reachable(access: AccessGraph, start: str) -> dict[str, list[str]]:
    """Every node reachable from `start`, with one shortest path (node IDs) to it."""
    paths = nx.single_source_shortest_path(access.graph, start)
    return {node: path for node, path in paths.items() if node != start}


def describe_path(access: AccessGraph, path: list[str]) -> str:
    """`a -relation-> b -relation-> c`, with labels, for people."""
    parts = [access.graph.nodes[path[0]]["label"]]
    for source, target in zip(path, path[1:]):
        relations = sorted(access.graph[source][target])
        parts.append(f"-{relations[0]}-> {access.graph.nodes[target]['label']}")
    return " ".join(parts)

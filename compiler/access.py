"""The access graph's types: who (issuer, subject) becomes which cloud principal, and what it may do where.

Nodes have a `type`; edges have a `relation` (also their key in the MultiDiGraph):

    issuer  -issues->          subject
    subject -authenticates->   workload      (the identity block that names the subject)
    workload -federates->      principal     (trust: the exact condition the cloud checks)
    principal -in->            target
    principal -holds->         grant         (one per workload grant on a target)
    grant   -allows->          action | role
    grant   -on->              resource
    principal -can_act_as->    principal     (indirect: role chaining, impersonation, takeover)
    principal -chains_to->     subject       (cross-cloud: its own tokens are another workload's identity)

Edges only point the way access flows, so everything reachable from a node is what it can get to.
Providers add the cloud part (principals, grants and indirect edges); graph.py the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import windows
from .diagnostics import Pos
from .model import Grant, Identity, Target, Workload

if TYPE_CHECKING:
    import networkx as nx

NODE_TYPES = ("issuer", "subject", "workload", "target", "principal", "grant", "action", "role", "resource")
RELATIONS = ("issues", "authenticates", "federates", "in", "holds", "allows", "on", "can_act_as", "chains_to")


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


def grant_id(grant: Grant) -> str:
    return f"grant:{grant.cloud}:{grant.target}:{grant.workload}"


def place(pos: Pos) -> dict:
    """Where a node comes from in the spec, as scalar attributes."""
    return {"file": pos.file, "line": pos.line, "column": pos.column} if pos.line else {}


class AccessGraph:
    """A networkx MultiDiGraph with typed helpers; `graph` is the plain networkx object."""

    def __init__(self) -> None:
        import networkx as nx  # here: validating and compiling, which load every provider, build no graph

        self.graph = nx.MultiDiGraph()
        self._views: dict[frozenset, nx.DiGraph] = {}

    def only(self, *relations: str) -> nx.DiGraph:
        """The edges of these relations as a plain DiGraph, built once: networkx's filtered views
        count their nodes on every search, which is quadratic over many searches."""
        key = frozenset(relations)
        if key not in self._views:
            import networkx as nx

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
        node_id = grant_id(grant)
        self.node(node_id, "grant", f"{grant.cloud} {grant.target} grant of {grant.workload}", cloud=grant.cloud,
                  target=grant.target, workload=grant.workload, window=windows.as_json(grant.window) or None,
                  **attributes, **place(grant.pos))
        self.edge(principal, node_id, "holds")
        return node_id

    def nodes_of(self, node_type: str, **match) -> list[tuple[str, dict]]:
        return [(n, data) for n, data in self.graph.nodes(data=True)
                if data["type"] == node_type and all(data.get(k) == v for k, v in match.items())]

"""The access graph of a spec: the core's part (issuers, subjects, workloads, targets), then each
cloud's (principals, grants, indirect edges) from its plan. The types are in access.py."""

from __future__ import annotations

import networkx as nx

from . import chains, registry, windows
from .access import AccessGraph, issuer_id, place, subject_id, target_id, workload_id
from .issuers import KINDS
from .planning import plan_model
from .model import Model
from .plan import Plans


def build_graph(model: Model, plans: Plans | None = None) -> AccessGraph:
    """The access graph of a valid model, from its plans (planned here when not given)."""
    plans = plan_model(model) if plans is None else plans
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
            repository = KINDS[identity.issuer.kind].repository
            subject = access.node(subject_id(identity), "subject", identity.subject, issuer=identity.issuer.name,
                                  subject=identity.subject, repository=dict(identity.claims).get(repository))
            access.edge(issuer_id(identity.issuer.name), subject, "issues")
            if identity.active:  # a disabled subject authenticates as nothing: the kill switch
                # None (left out) without claims: graphs of specs without claims stay as they were
                access.edge(subject, workload_id(name), "authenticates", identity=identity.index + 1,
                            audience=identity.audience, conditions=dict(identity.conditions) or None,
                            window=windows.as_json(identity.window) or None, **place(identity.pos))
            elif subject not in active_subjects:
                access.node(subject, "subject", identity.subject,
                            disabled=identity.disabled or f"issuer {identity.issuer.name}: {identity.issuer.disabled}")
    for (cloud, _), plan in plans.items():
        registry.get(cloud).graph(plan, access)
    for _, provider in registry.providers():
        provider.link_principals(model, access)
    chains.link_graph(model, plans, access)
    return access


def reachable(access: AccessGraph, start: str, graph: nx.MultiDiGraph | None = None) -> dict[str, list[str]]:
    """Every node reachable from `start` (in `graph`, a part of the access graph, if given), with one
    shortest path (node IDs) to it."""
    paths = nx.single_source_shortest_path(access.graph if graph is None else graph, start)
    return {node: path for node, path in paths.items() if node != start}


def describe_path(access: AccessGraph, path: list[str]) -> str:
    """`a -relation-> b -relation-> c`, with labels, for people."""
    parts = [access.graph.nodes[path[0]]["label"]]
    for source, target in zip(path, path[1:]):
        relations = sorted(access.graph[source][target])
        parts.append(f"-{relations[0]}-> {access.graph.nodes[target]['label']}")
    return " ".join(parts)

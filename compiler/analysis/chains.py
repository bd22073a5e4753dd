"""Rules on cloud-to-cloud chains: whoever controls the start of a chain holds its end."""

from __future__ import annotations

from .. import chains
from ..access import grant_id, subject_id
from ..document import describe
from ..findings import Context, Rule, rule
from ..suggest import listed
from .jit import PRIVILEGED, grant_severity

RULES: list[Rule] = []


def _origins(named: dict[str, str], workload: str) -> list[str]:
    """The chain of workloads ending in `workload`, from its start: each names the next one's
    predecessor (chains.check refuses cycles)."""
    path = [workload]
    while path[-1] in named:
        path.append(named[path[-1]])
    return path[::-1]


@rule(RULES, "WIAM030", "cross-cloud-chain-to-privileged", "high", "Cross-cloud chain into privileged access",
      """A workload is trusted as another workload's own cloud identity (workload = "..."), and holds
      access rated high or critical. Whoever controls any subject at the start of the chain, in whatever
      cloud, holds that access, through every hop: the privileged grant's review is only as strong as
      the weakest trust on the way.""",
      """Give the privileged access to a workload of its own that no chain reaches, narrow the grant, or
      make sure every subject at the chain's start is as tightly pinned (protected branch, environment,
      reviewed workflow) as the privileged access needs.""")
def _chains_to_privileged(rule: Rule, context: Context):
    model = context.model
    links = [link for link in chains.links(model) if link.identity.active]
    named = {link.workload.name: link.other for link in links}
    chained = [link.identity for link in links]
    for link in links:
        rated = [(grant_severity(context, g), g) for g in link.workload.grants]
        grants = sorted((g for severity, g in rated if severity in PRIVILEGED), key=lambda g: (g.cloud, g.target))
        if not grants:
            continue
        privileged = [f"{g.cloud} {g.target} ({grant_severity(context, g)})" for g in grants]
        path = _origins(named, link.workload.name)
        starts = sorted((i for i in model.workloads[path[0]].active_identities if i not in chained),
                        key=lambda i: i.subject)
        subjects = [repr(i.subject) for i in starts]
        import networkx as nx  # here: validation imports the rules for their IDs alone, and builds no graph

        graph = context.access.graph
        nodes = nx.shortest_path(graph, subject_id(starts[0]), grant_id(grants[0])) if starts else ()
        hops = " -> ".join(f"{name} ({', '.join(sorted({g.cloud for g in model.workloads[name].grants}))})"
                           for name in path)
        yield rule.finding(model.where(("workload", link.workload.name, "identity", link.identity.index, "workload")),
                           describe(("workload", link.workload.name, "identity", link.identity.index)),
                           f"workload {link.workload.name!r} holds access rated {listed(privileged, len(privileged))}"
                           f" through the chain {hops}, which starts at "
                           f"{listed(subjects, len(subjects)) if subjects else 'no active subject'}",
                           workload=link.workload.name, path=nodes, related=path[:-1])

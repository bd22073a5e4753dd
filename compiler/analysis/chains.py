"""Rules on cloud-to-cloud chains: whoever controls the start of a chain holds its end."""

from __future__ import annotations

from .. import chains
from ..access import grant_id, subject_id
from ..document import describe
from ..findings import Context, Rule, rule
from ..issuers import OtherWorkload
from ..suggest import listed
from .jit import PRIVILEGED, grant_severity

RULES: list[Rule] = []


def _origins(named: dict[str, str], workload: str) -> list[str]:
    """The chain of workloads ending in `workload`, from its start (or from where it comes back: a role
    ARN written out may close a circle that names alone cannot)."""
    path = [workload]
    while path[-1] in named and named[path[-1]] not in path:
        path.append(named[path[-1]])
    return path[::-1]


@rule(RULES, "WIAM026", "cross-cloud-chain-to-privileged", "high", "Cross-cloud chain into privileged access",
      """A workload is trusted as another workload's own cloud identity (workload = "...", or the ID
      of its principal written out, such as its role's ARN), and holds
      access rated high or critical. Whoever controls any subject at the start of the chain, in whatever
      cloud, holds that access, through every hop: the privileged grant's review is only as strong as
      the weakest trust on the way.""",
      """Give the privileged access to a workload of its own that no chain reaches, narrow the grant, or
      make sure every subject at the chain's start is as tightly pinned (protected branch, environment,
      reviewed workflow) as the privileged access needs.""")
def _chains_to_privileged(rule: Rule, context: Context):
    model = context.model
    found = chains.sources(model, context.plans)
    named = {identity.workload: principal.workload for identity, principal in found}
    chained = [identity for identity, _ in found]
    for identity, _ in found:
        workload = model.workloads[identity.workload]
        rated = [(grant_severity(context, g), g) for g in workload.grants]
        grants = sorted((g for severity, g in rated if severity in PRIVILEGED), key=lambda g: (g.cloud, g.target))
        if not grants:
            continue
        privileged = [f"{g.cloud} {g.target} ({grant_severity(context, g)})" for g in grants]
        path = _origins(named, workload.name)
        starts = sorted((i for i in model.workloads[path[0]].active_identities if i not in chained),
                        key=lambda i: i.subject)
        subjects = [repr(i.subject) for i in starts]
        import networkx as nx  # here: validation imports the rules for their IDs alone, and builds no graph

        graph = context.access.graph
        nodes = nx.shortest_path(graph, subject_id(starts[0]), grant_id(grants[0])) if starts else ()
        hops = " -> ".join(f"{name} ({', '.join(sorted({g.cloud for g in model.workloads[name].grants}))})"
                           for name in path)
        where = ("workload", workload.name, "identity", identity.index)
        pos = model.where(where + ("workload",)) if isinstance(identity.subject, OtherWorkload) else identity.pos
        yield rule.finding(pos, describe(where),
                           f"workload {workload.name!r} holds access rated {listed(privileged, len(privileged))}"
                           f" through the chain {hops}, which starts at "
                           f"{listed(subjects, len(subjects)) if subjects else 'no active subject'}",
                           workload=workload.name, path=nodes, related=path[:-1])

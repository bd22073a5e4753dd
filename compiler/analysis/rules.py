"""Rules that hold for every cloud: paths in the access graph, subjects, environments, unused blocks."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .. import registry
from ..access import issuer_id, target_id, workload_id
from ..document import describe
from ..findings import Context, Rule, rule
from ..issuers import KINDS, carried
from ..suggest import LISTED, listed

if TYPE_CHECKING:
    import networkx as nx

    from ..model import Identity, Model, Workload

RULES: list[Rule] = []

# Spellings of the same environment, so "production" matches "prod".
_ENVIRONMENTS = {"prod": "prod", "production": "prod", "prd": "prod", "live": "prod",
                 "staging": "staging", "stage": "staging", "stg": "staging", "preprod": "staging",
                 "dev": "dev", "development": "dev", "test": "test", "testing": "test", "qa": "test",
                 "sandbox": "sandbox"}


def environment_of(text: str) -> str | None:
    """The environment a name points at (`payments-prod` -> prod), if any word of it names one."""
    found = {_ENVIRONMENTS[w] for w in re.split(r"[^a-z0-9]+", text.lower()) if w in _ENVIRONMENTS}
    return found.pop() if len(found) == 1 else None


def reachable(view: nx.DiGraph) -> tuple[dict[str, int], dict[str, int]]:
    """Each node's bit (1 << its index in the view), and the nodes it reaches as a bitset. Through the
    strongly connected components: the view's edges times a machine word per 64 nodes, where a search
    from every node would cost nodes times edges."""
    import networkx as nx  # here: validation reads the rule IDs and builds no graph

    bit = {node: 1 << i for i, node in enumerate(view)}
    components = nx.condensation(view)
    below: dict[int, int] = {}  # a component's members and all they reach
    reach: dict[int, int] = {}  # what each member reaches: its own component too when that is a cycle
    for component in reversed(list(nx.topological_sort(components))):
        members = components.nodes[component]["members"]
        onward = 0
        for successor in components.succ[component]:
            onward |= below[successor]
        inside = sum(bit[m] for m in members)
        reach[component] = onward | inside if len(members) > 1 else onward
        below[component] = onward | inside
    mapping = components.graph["mapping"]
    return bit, {node: reach[mapping[node]] for node in view}


def _nearest(view: nx.DiGraph, start: str, wanted) -> tuple[list[tuple[int, str]], dict[str, str]]:
    """The nearest LISTED nodes for which wanted(node) holds, as (hops, node) sorted, and the search tree:
    a breadth-first search that stops after the level where it has found enough."""
    parent, level, found, hops = {start: start}, [start], [], 0
    while level and len(found) < LISTED:
        hops += 1
        following = []
        for node in level:
            for successor in view.succ[node]:
                if successor not in parent:
                    parent[successor] = node
                    following.append(successor)
                    if wanted(successor):
                        found.append((hops, successor))
        level = following
    return sorted(found)[:LISTED], parent


@rule(RULES, "WIAM001", "escalation-path", "high", "A workload can act as another workload's principal",
      """A grant lets this workload's principal assume, impersonate or take over the principal of another
      workload, directly or through a chain. Whoever controls this workload's subjects then holds the
      other workload's access too, which its own grants do not show. One finding per principal: how many
      principals it reaches, the nearest listed first.""",
      """Remove the permission that opens the path (the first hop's grant), or narrow its resources so
      they exclude other workloads' principals.""")
def _escalation_paths(rule: Rule, context: Context):
    access, model = context.access, context.model
    view = access.only("can_act_as")
    nodes = access.graph.nodes
    bit, reach = reachable(view)
    owned: dict[str, int] = {}  # each workload's principals, as a bitset
    for node in view:
        owned[nodes[node]["workload"]] = owned.get(nodes[node]["workload"], 0) | bit[node]
    for name, workload in sorted(model.workloads.items()):
        if not workload.active_identities:
            continue  # no subject can become this workload (disabled): its paths lead nowhere now
        for principal in sorted(p for p in access.graph.successors(workload_id(name)) if p in view):
            count = (reach[principal] & ~owned[name]).bit_count()
            if not count:
                continue
            nearest, parent = _nearest(view, principal, lambda node: nodes[node]["workload"] != name)
            path = [nearest[0][1]]
            while path[-1] != principal:
                path.append(parent[path[-1]])
            path.reverse()
            first = access.graph.get_edge_data(path[0], path[1])["can_act_as"]
            grant = nodes[first["via"]]
            shown = [f"{nodes[node]['cloud']} principal {nodes[node]['label']!r} of workload "
                     f"{nodes[node]['workload']!r} ({n} hop{'s' if n > 1 else ''})" for n, node in nearest]
            where = ("workload", name, "grant", grant["cloud"], grant["target"])
            yield rule.finding(model.where(where, key=True), describe(where),
                               f"workload {name!r} can act as {count} principal{'s' if count > 1 else ''} of "
                               f"other workloads through {nodes[principal]['label']!r}: {listed(shown, count)} "
                               f"(nearest first hop: {first['technique']})", workload=name,
                               path=[workload_id(name), *path], related=[node for _, node in nearest])


def _privileged(workload, context: Context) -> list[str]:
    """Why a workload's access matters: its production environment, its write access; [] if neither
    (computed once a run: several rules ask)."""
    key = ("privileged", workload.name)
    if key not in context.shared:
        context.shared[key] = _privileges(workload)
    return context.shared[key]


def _privileges(workload) -> list[str]:
    privileged = []
    if environment_of(workload.environment) == "prod":
        privileged.append(f"environment {workload.environment!r}")
    writes = [f"{g.cloud} {g.target}" for g in workload.grants if registry.get(g.cloud).permissions.writes(g)]
    if writes:
        privileged.append("write access on " + listed(writes))  # repeated per identity: capped
    return privileged


@rule(RULES, "WIAM002", "untrusted-trigger-on-privileged", "high",
      "Feature-branch subject on a production or write workload",
      """A subject for a branch other than the default one is controlled by anyone who can push a
      branch. On a production workload, or one with write access, it lets unreviewed code use that
      access. Subjects that pull requests obtain are WIAM010's.""",
      """Pin the subject to the default branch, a protected tag or a GitHub environment with required
      reviewers; give other branches a separate read-only workload.""")
def _untrusted_triggers(rule: Rule, context: Context):
    for name, workload in sorted(context.model.workloads.items()):
        privileged = _privileged(workload, context)
        if not privileged:
            continue
        for identity in workload.active_identities:
            trigger = None if _pull_requests(identity) else KINDS[identity.issuer.kind].untrusted(dict(identity.claims))
            if trigger:
                yield rule.finding(identity.pos, describe(("workload", name, "identity", identity.index)),
                                   f"subject {identity.subject!r} admits {trigger}, on a workload with "
                                   f"{' and '.join(privileged)}", workload=name)


@rule(RULES, "WIAM003", "shared-subject", "medium", "One subject acts as several workloads",
      """The same issuer and subject are named by more than one workload, so one CI job or pod holds the
      union of their access and the workloads cannot be told apart in audit logs.""",
      """Give each workload its own subject (a GitHub environment, another service account), or merge
      the workloads into one.""")
def _shared_subjects(rule: Rule, context: Context):
    workloads = context.model.workloads
    owners: dict[tuple[str, str], list] = {}
    for name, workload in sorted(workloads.items()):
        for identity in workload.active_identities:
            owners.setdefault((identity.issuer.name, identity.subject), []).append(identity)
    for (issuer, subject), identities in sorted(owners.items()):
        names = sorted({i.workload for i in identities})
        if len(names) < 2:
            continue
        # One finding per subject, at a workload that does not suppress it: suppressed only if all do.
        identity = min(identities, key=lambda i: (rule.id in workloads[i.workload].suppress, i.workload, i.index))
        yield rule.finding(identity.pos, describe(("workload", identity.workload, "identity", identity.index)),
                           f"subject {subject!r} of issuer {issuer!r} is named by {len(names)} workloads: "
                           f"{listed([repr(n) for n in names[:LISTED]], len(names))}", workload=identity.workload,
                           related=names[:LISTED])


@rule(RULES, "WIAM004", "environment-mismatch", "medium", "Identity from another environment",
      """The workload's environment differs from the environment its subject points at (a GitHub
      environment, a namespace, a Terraform workspace or a branch named after another environment),
      so a staging or development pipeline can use production access, or the other way round.""",
      """Use the subject of the matching environment, or correct the workload's environment.""")
def _environment_mismatches(rule: Rule, context: Context):
    for name, workload in sorted(context.model.workloads.items()):
        expected = environment_of(workload.environment) if workload.environment else None
        if not expected:
            continue
        for identity in workload.active_identities:
            for claim, value in identity.claims:
                if claim in KINDS[identity.issuer.kind].immutable_ids or not isinstance(value, str):
                    continue
                actual = environment_of(value)
                if actual and actual != expected:
                    yield rule.finding(identity.pos, describe(("workload", name, "identity", identity.index)),
                                       f"{claim} {value!r} points at environment {actual!r}, but workload "
                                       f"{name!r} is {workload.environment!r}", workload=name)
                    break


@rule(RULES, "WIAM005", "mutable-github-subject", "low", "GitHub subject pinned by names, not IDs",
      """The subject names the owner and repository. If the repository is renamed, deleted or
      transferred, someone who creates a repository with the old name gets its subject. GitHub can
      issue immutable subjects that carry the owner and repository IDs instead.""",
      """Move without an outage: accept a second identity with owner_id and repository_id (from the
      GitHub API) beside this one, switch the repository to immutable subjects, then drop this one
      (docs/language.md, "Moving to immutable GitHub subjects"). The message gives the IDs when
      another identity in the spec carries them.""")
def _mutable_github_subjects(rule: Rule, context: Context):
    known = _known_ids(context.model)
    for name, workload in sorted(context.model.workloads.items()):
        migrating = _migrating(workload)  # WIAM009's: the immutable twin is there already
        for identity in workload.active_identities:
            kind, claims = KINDS[identity.issuer.kind], dict(identity.claims)
            if kind.immutable_ids and not _immutable(identity) and identity.index not in migrating:
                repository = claims.get(kind.repository)
                ids = ", ".join(f'{k} = "{v}"' for k, v in known.get(repository, ()))
                given = f"; its IDs are known: {ids}" if ids else ""
                yield rule.finding(identity.pos, describe(("workload", name, "identity", identity.index)),
                                   f"subject {identity.subject!r} pins repository {repository!r} by name{given}",
                                   workload=name)


def _known_ids(model: Model) -> dict[str, tuple[tuple[str, str], ...]]:
    """Each repository's immutable IDs, from the first identity (by workload, then index) carrying them."""
    known: dict[str, tuple[tuple[str, str], ...]] = {}
    for _, workload in sorted(model.workloads.items()):
        for identity in workload.identities:
            if _immutable(identity):
                kind, fields = KINDS[identity.issuer.kind], dict(identity.claims)
                known.setdefault(fields[kind.repository], tuple((k, fields[k]) for k in kind.immutable_ids))
    return known


@rule(RULES, "WIAM006", "unused-target", "low", "Target with no grants",
      """No workload grants anything on this target, so it compiles to a provider block and nothing
      else: often a leftover, or a typo in a grant's target name. A target other targets need (a GKE
      cluster's project, for its number; an EKS cluster's account, for Pod Identity's chain role) is used.""",
      """Remove the target, or add the grants meant for it.""")
def _unused_targets(rule: Rule, context: Context):
    for (cloud, name), target in sorted(context.model.targets.items()):
        node = target_id(cloud, name)
        # used_for: what another target's principals need of it (its provider says, e.g. a project's number)
        if not context.access.graph.nodes[node].get("used_for") and not any(
                data["relation"] == "in" for *_, data in context.access.graph.in_edges(node, data=True)):
            yield rule.finding(target.pos, describe(target.path), f"no workload uses {cloud} target {name!r}")


@rule(RULES, "WIAM007", "unused-issuer", "low", "Issuer no identity uses",
      """No identity names this issuer. If its cloud providers exist elsewhere, they trust an issuer
      that nothing here needs.""",
      """Remove the issuer, or add the identities meant for it.""")
def _unused_issuers(rule: Rule, context: Context):
    for name, issuer in sorted(context.model.issuers.items()):
        if not context.access.graph.out_degree(issuer_id(name)):
            yield rule.finding(issuer.pos, describe(("issuer", name)), f"no identity uses issuer {name!r}")


@rule(RULES, "WIAM008", "branch-only-github-subject", "low",
      "Production or write workload pinned by a branch alone",
      """The subject names a branch, which moves: every workflow file on that branch, and every change
      merged into it, gets the workload's access, and nothing pins which workflow runs or which
      repository (by immutable ID) it is. On a production workload, or one with write access, one
      workflow's access is every workflow's.""",
      """Pin the workflow or the immutable IDs: claims = { job_workflow_ref =
      "OWNER/REPO/.github/workflows/FILE@REF" } (or carry it in the subject with subject_claims), or
      owner_id and repository_id.""")
def _branch_only_subjects(rule: Rule, context: Context):
    for name, workload in sorted(context.model.workloads.items()):
        privileged = _privileged(workload, context)
        migrating = _migrating(workload) if privileged else {}  # their immutable twins pin the IDs
        for identity in workload.active_identities if privileged else ():
            kind, fields = KINDS[identity.issuer.kind], dict(identity.claims)
            branch = None if identity.index in migrating else kind.branch(fields)
            pinned = fields.keys() | dict(identity.conditions).keys() | carried(identity.issuer.subject_claims)
            if branch is not None and not pinned & set(kind.workflow_pins):
                yield rule.finding(identity.pos, describe(("workload", name, "identity", identity.index)),
                                   f"subject {identity.subject!r} is pinned by branch {branch!r} alone, on a "
                                   f"workload with {' and '.join(privileged)}: pin the workflow or the immutable "
                                   "IDs", workload=name)


def _immutable(identity: Identity) -> bool:
    """Whether the identity's subject carries its kind's immutable IDs."""
    ids = KINDS[identity.issuer.kind].immutable_ids
    return bool(ids) and set(ids) <= dict(identity.claims).keys()


def _migrating(workload: Workload) -> dict[int, Identity]:
    """Each active identity by name whose immutable twin (same issuer, same fields but the IDs) the
    workload also accepts, by index: the twin."""
    def key(identity):
        ids = KINDS[identity.issuer.kind].immutable_ids
        return identity.issuer.name, tuple((k, v) for k, v in identity.claims if k not in ids)

    immutable = {key(i): i for i in workload.active_identities if _immutable(i)}
    return {i.index: immutable[key(i)] for i in workload.active_identities
            if KINDS[i.issuer.kind].immutable_ids and not _immutable(i) and key(i) in immutable}


@rule(RULES, "WIAM009", "immutable-subject-migration", "low",
      "GitHub repository accepted by its mutable and its immutable subject",
      """The workload accepts the same repository and trigger twice: by the subject that names the owner
      and repository and by the immutable one that carries their IDs, the window that moves a
      repository to immutable subjects without an outage. While the mutable subject is accepted,
      whoever gets the old name after a rename or transfer (which moves the repository itself to
      immutable subjects) can obtain it and the workload's access.""",
      """Drop the identity without IDs once the repository issues immutable subjects (its OIDC settings,
      or a rename or transfer) and a run has used the immutable identity. Disable it first (disabled =
      true with a reason): removing those lines restores it.""")
def _migrations(rule: Rule, context: Context):
    for name, workload in sorted(context.model.workloads.items()):
        by_index = {i.index: i for i in workload.identities}
        for index, twin in sorted(_migrating(workload).items()):
            identity, kind = by_index[index], KINDS[twin.issuer.kind]
            repository = dict(identity.claims).get(kind.repository)
            yield rule.finding(identity.pos, describe(("workload", name, "identity", index)),
                               f"workload {name!r} accepts repository {repository!r} by name, {identity.subject!r}, "
                               f"and by ID, {twin.subject!r} (identity #{twin.index + 1}): whoever gets the name "
                               f"{repository!r} after a rename or transfer can obtain the first; drop this identity "
                               "once the repository issues immutable subjects and a run has used the other",
                               workload=name)


def _pull_requests(identity: Identity) -> str | None:
    """How a pull request's job obtains the identity's subject, else None."""
    return KINDS[identity.issuer.kind].pull_requests(dict(identity.claims), dict(identity.pinned),
                                                     identity.issuer.subject_claims)


@rule(RULES, "WIAM010", "pull-request-subject-on-privileged", "high",
      "Pull request subject on a production or write workload, no other repository's workflow pinned",
      """A subject that a pull request's job obtains (the pull_request trigger, event_name pinned to a
      pull request event, or subject_claims that carry no trigger) is controlled by whoever opens a
      pull request: they write the workflow that runs. On a production workload, or one with write
      access, that is unreviewed code with that access, unless the token is pinned to a reusable
      workflow of another repository (job_workflow_ref), whose steps the pull request cannot change. A
      pin to a workflow of the same repository proves nothing: the pull request can change it. A job
      that names an environment gets the environment's subject, on a pull request too; whether it may
      is the environment's deployment branches and reviewers, which wiam does not read, so environment
      subjects are not reported. (WIAM002 reported pull_request subjects before: a suppression of them
      moves to WIAM010.)""",
      """Pin a reusable workflow of another repository: claims = { job_workflow_ref =
      "OWNER/OTHER-REPO/.github/workflows/FILE@REF" }; or give pull requests a separate read-only
      workload.""")
def _pull_request_subjects(rule: Rule, context: Context):
    for name, workload in sorted(context.model.workloads.items()):
        privileged = _privileged(workload, context)
        for identity in workload.active_identities if privileged else ():
            how = _pull_requests(identity)
            if how is None:
                continue
            kind = KINDS[identity.issuer.kind]
            repository = str(dict(identity.claims).get(kind.repository, ""))
            pinned = kind.workflow_repository(dict(identity.pinned))
            if pinned is not None and pinned.lower() != repository.lower():
                continue  # GitHub names are case-insensitive: the same repository in other case is no pin
            pin = (f"its job_workflow_ref names a workflow of {repository!r} itself, which a pull request can change"
                   if pinned else "no job_workflow_ref pins a reusable workflow of another repository")
            yield rule.finding(identity.pos, describe(("workload", name, "identity", identity.index)),
                               f"subject {identity.subject!r} is obtained by any pull request's job through {how}, "
                               f"on a workload with {' and '.join(privileged)}, and {pin}", workload=name)


@rule(RULES, "WIAM030", "long-lived-credential", "medium", "Long-lived credential still in a target",
      """The last discovery (wiam discover --save, the discovery file beside the spec) found a key,
      client secret or certificate in one of the spec's targets. It works for whoever holds a copy until
      it is deleted or expires, wherever they run, where a federated identity's token lasts an hour and
      is issued only to the exact subject. Reported until a later discovery no longer finds it.""",
      """Follow wiam discover --plan: add the workload that replaces it, switch its caller to the
      federated identity, watch the credential go unused, delete it, then run wiam discover --save.""")
def _long_lived(rule: Rule, context: Context):
    from ..discovery import last_use, replacement  # here: validation imports the rules for their IDs alone
    from ..secretless import KINDS

    for credential, pos in context.discovered:  # their text is printable already (Credential)
        if credential.long_lived:
            yield rule.finding(pos, f'{credential.kind} "{credential.id}"',
                               f'{KINDS[credential.kind]} "{credential.id}" of "{credential.owner}" in '
                               f'{credential.cloud} target "{credential.target}" ({last_use(credential)}) was there '
                               f"at the last discovery: replace it with {replacement(credential, context.model)}")

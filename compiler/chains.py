"""Cloud-to-cloud chains: an identity that names another workload (`workload = "NAME"`) instead of
an ID is that workload's own principal in the cloud issuing its kind's tokens (its service account,
managed identity or role). Here: which principal that is, the checks on naming it, the value the
trust pins (a Terraform reference where the cloud assigns the ID on creation) and the access
graph's link from that principal to the identity's subject."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Any

from . import registry
from .access import AccessGraph, subject_id
from .diagnostics import Report
from .document import describe
from .issuers import OtherWorkload
from .model import Identity, Model, Target, Workload
from .plan import Plans, Principal, TargetPlan
from .provider import Chain
from .terraform import Expr, Module, escape, escape_tree, policy_json, ref

CHAIN = "the token of its own cloud identity"  # the technique of a chain's chains_to edge


@dataclass(frozen=True)
class Link:
    """An identity naming another workload, and where that workload's principal is."""

    workload: Workload  # whose identity it is
    identity: Identity
    other: str  # the workload named
    cloud: str  # the cloud that issues the kind's tokens


def issuing_cloud(kind: str) -> str | None:
    """The cloud whose principals carry tokens of `kind` to other clouds, if any (a provider's CHAINS)."""
    return next((cloud for cloud, provider in registry.providers() if kind in provider.CHAINS), None)


def links(model: Model) -> list[Link]:
    """Every identity of the spec that names another workload, in workload and identity order."""
    found = []
    for name in sorted(model.workloads):
        for identity in model.workloads[name].identities:
            if isinstance(identity.subject, OtherWorkload):
                found.append(Link(model.workloads[name], identity, identity.subject.workload,
                                  issuing_cloud(identity.issuer.kind)))
    return found


def _source(model: Model, other: str, cloud: str) -> Target | None:
    """The one target of `cloud` the workload `other` is granted on, if exactly one."""
    workload = model.workloads.get(other)
    targets = sorted({g.target for g in workload.grants if g.cloud == cloud}) if workload else []
    return model.targets[(cloud, targets[0])] if len(targets) == 1 else None


def check(model: Model, report: Report) -> None:
    """A named workload exists, is not the identity's own, has one principal in the issuing cloud, and
    no chain of names comes back to where it started."""
    named: dict[tuple[str, str], tuple] = {}  # (workload, the workload it names) -> where
    for link in links(model):
        path = ("workload", link.workload.name, "identity", link.identity.index)
        where, block = model.where(path + ("workload",)), describe(path)
        other = model.workloads.get(link.other)
        if other is None:
            report.error(where, block, f"no workload named {link.other!r}",
                         f"name a workload of this spec, or pin the ID itself ({_id_field(link)})")
        elif link.other == link.workload.name:
            report.error(where, block, f"workload {link.other!r} names itself",
                         "name the workload whose cloud identity calls this one")
        elif _source(model, link.other, link.cloud) is None:
            count = len({g.target for g in other.grants if g.cloud == link.cloud})
            report.error(where, block,
                         f"workload {link.other!r} has {'no' if not count else count} {link.cloud} "
                         f"principal{'s' if count > 1 else ''}: a {link.identity.issuer.kind} identity is the "
                         f"{link.cloud} identity of the workload it names",
                         f"grant workload {link.other!r} on exactly one {link.cloud} target"
                         if count else f"grant workload {link.other!r} on a {link.cloud} target, or pin the ID "
                         f"itself ({_id_field(link)})")
        elif refusal := _chain(link).refusal(model, _source(model, link.other, link.cloud), link.other):
            report.error(where, block, *refusal)
        else:
            named.setdefault((link.workload.name, link.other), (where, block))
    graph: dict[str, list[str]] = {}
    for source, other in sorted(named):
        graph.setdefault(source, []).append(other)
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        around = error.args[1][:-1]  # graphlib gives the cycle with its first node again at the end
        at = around.index(min(around))
        around = around[at:] + around[:at]
        # graphlib walks the edges backwards: each node names the one before it
        around = [around[0]] + around[:0:-1]
        report.error(*named[(around[0], around[1])],
                     "a chain of workloads that comes back to itself: " + " -> ".join(around + [around[0]]),
                     "break the cycle: each workload's trust needs the other's principal created first")


def _chain(link: Link) -> Chain:
    return registry.get(link.cloud).CHAINS[link.identity.issuer.kind]


def _id_field(link: Link) -> str:
    return _chain(link).id_field


def principal_value(model: Model, subject: OtherWorkload) -> str:
    """What the trust pins for a named workload: its principal's ID as the issuing cloud's tokens carry
    it, a Terraform reference (an Expr) when the cloud assigns it on creation."""
    cloud = issuing_cloud(subject.kind)
    return registry.get(cloud).CHAINS[subject.kind].value(model, _source(model, subject.workload, cloud),
                                                          subject.workload)


References = dict[tuple[str, str], str]  # by OtherWorkload.key: the principal's value


def references(model: Model) -> References:
    """Each named workload's value, by kind and workload (worked out once per model: every target's
    plan asks)."""
    if model._references is None:
        model._references = {link.identity.subject.key: principal_value(model, link.identity.subject)
                             for link in links(model)}
    return model._references


def resolved(value: Any, values: References) -> Any:
    """`value` with each named-workload subject (by type, never by text) its principal's value."""
    if isinstance(value, OtherWorkload):
        return values[value.key]
    if isinstance(value, dict):
        return {resolved(k, values): resolved(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [resolved(v, values) for v in value]
    return value


def document_text(document: dict, values: References) -> str:
    """A policy document as its compact JSON: a Terraform template (Expr), the rest escaped, where a
    named workload's value is a reference; else the plain text, escaped on output like any string."""
    filled = resolved(document, values) if values else document
    return Expr(policy_json(escape_tree(filled))) if _has_expr(filled) else policy_json(filled)


def template(parts: list[str]) -> str:
    """Text joined from parts, a Terraform template (Expr) with every other part escaped where some
    part is one (a named workload's value); else the plain text, escaped on output like any string."""
    if not any(isinstance(p, Expr) for p in parts):
        return "".join(parts)
    written = [p if isinstance(p, Expr) else escape(p) for p in parts]
    for index, part in enumerate(written[:-1]):
        # literal `$`s just before a reference would make `$${`, Terraform's escape: write them as one
        if not isinstance(parts[index], Expr) and written[index + 1].startswith("${"):
            run = len(part) - len(part.rstrip("$"))
            if run:
                written[index] = part[:-run] + '${"' + "$" * run + '"}'
    return Expr("".join(written))


_STANDING = Expr("\x00")  # where a value stands in applied(): no escaped part holds a NUL


def applied(render: Callable[[References], str], keys: Iterable[tuple[str, str]], value: str) -> re.Pattern:
    """What text `render` writes reads as once Terraform applies it (drift compares a named principal
    by its place): the escaped parts as Terraform renders them, a `value` (a regex of the principal's
    ID) where a named workload's stands."""
    parts = render(dict.fromkeys(keys, _STANDING)).split(_STANDING)
    return re.compile(f"(?:{value})".join(re.escape(_LITERAL.sub(_literal, p)) for p in parts))


# What template() writes around references, read in one pass as Terraform does: its escapes, and runs of `$`
_LITERAL = re.compile(r'\$\$\{|%%\{|\$\{"(\$+)"\}')


def _literal(match: re.Match) -> str:
    return match[1] or match[0][1:]


def as_planned(texts: Iterable[str], planned: list[tuple[re.Pattern, str]]) -> dict[str, str]:
    """Each live text as the plan has it where it is one planned text as applied (applied), each planned
    text at most once, so that a second principal in its place still reads as drift; else as it is."""
    found, left = {}, list(planned)
    for text in sorted(set(texts)):
        match = next((entry for entry in left if entry[0].fullmatch(text)), None)
        if match is not None:
            left.remove(match)
        found[text] = match[1] if match else text
    return found


def _has_expr(value: Any) -> bool:
    if isinstance(value, Expr):
        return True
    if isinstance(value, dict):
        return any(_has_expr(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_expr(v) for v in value)
    return False


def read_across(model: Model, plans: Plans) -> None:
    """--split writes a root module per target, where a reference into another target's module cannot
    resolve: a trust naming a workload whose principal is a reference reads it there with a data
    source (so that module is applied first)."""
    for link in links(model):
        if not isinstance(principal_value(model, link.identity.subject), Expr):
            continue
        source = plans[(link.cloud, _source(model, link.other, link.cloud).name)]
        kind, name, _, attribute = _chain(link).lookup(source, link.other)
        for grant in link.workload.grants:
            plan = plans[(grant.cloud, grant.target)]
            plan.references = {**plan.references, link.identity.subject.key: ref(f"data.{kind}.{name}.{attribute}")}
            entry = (link.identity.issuer.kind, source, link.other)
            if entry not in plan.lookups:
                plan.lookups.append(entry)


def emit_lookups(plan: TargetPlan, module: Module) -> None:
    """The data sources (and their targets' provider configurations) read_across gave the plan."""
    configured = set()
    for kind, source, workload in plan.lookups:
        chain = registry.get(source.cloud).CHAINS[kind]
        if (source.cloud, source.target) not in configured:
            chain.configure(source, module)
            configured.add((source.cloud, source.target))
        data_kind, name, body, _ = chain.lookup(source, workload)
        module.read(data_kind, name, body)


def _known(model: Model, plans: Plans) -> dict[tuple[str, str], Principal]:
    """The principals whose ID is known at compile time (an AWS role's ARN), by (kind, that ID): an
    identity pinning it literally is that principal too."""
    found = {}
    for (cloud, target), plan in sorted(plans.items()):
        for kind, chain in registry.get(cloud).CHAINS.items():
            for workload, principal in sorted(plan.principals.items()):
                value = chain.value(model, model.targets[(cloud, target)], workload)
                if not isinstance(value, Expr):
                    found[(kind, value)] = principal
    return found


def sources(model: Model, plans: Plans) -> list[tuple[Identity, Principal]]:
    """Each active identity that is a principal's own tokens, with that principal: one naming its
    workload, or pinning its compile-time ID (a role's ARN written out). In workload order."""
    known, found = _known(model, plans), []
    for name in sorted(model.workloads):
        for identity in model.workloads[name].active_identities:
            subject = identity.subject
            if isinstance(subject, OtherWorkload):
                cloud = issuing_cloud(subject.kind)
                principal = plans[(cloud, _source(model, subject.workload, cloud).name)].principals.get(subject.workload)
            else:
                principal = known.get((identity.issuer.kind, subject))
            if principal is not None:
                found.append((identity, principal))
    return found


def link_graph(model: Model, plans: Plans, access: AccessGraph) -> None:
    """A principal chains to the subject of each identity that is its own tokens (sources)."""
    for identity, principal in sources(model, plans):
        if principal.node in access.graph and subject_id(identity) in access.graph:
            access.edge(principal.node, subject_id(identity), "chains_to", kind=identity.issuer.kind, technique=CHAIN)

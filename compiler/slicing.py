"""The slice of two specs a diff has to read when they differ in workloads only.

Both specs hold the same issuers and targets and differ in the workloads `changed`. A slice is a set
of workload names, the same on both sides; the diff of the two slices equals the diff of the two
specs when the slice holds:
- the changed workloads;
- every workload granted on a target a changed workload is granted on, on either side: the
  target's limits, its use (WIAM006) and its principals are then whole;
- the ancestors of the changed workloads: workloads with a grant that may act as a principal of a
  changed workload or of another ancestor (their subjects' indirect access changes);
- everything the slice's workloads may act as: every workload granted on a target a grant of
  theirs may reach (providers' `reach`), so each slice workload's chains are whole;
- every workload that names a subject a slice workload names (shared subjects: one subject's
  access is the union of its workloads');
- for each issuer a changed workload names, one other workload naming it, so that its use
  (WIAM007) is seen.
Everything else is the same on both sides, so it adds as much to each and drops out of the diff.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import registry
from .issuers import KINDS

Key = tuple[str, str]  # (cloud, target) or (issuer, subject)


@dataclass
class Index:
    """What a slice needs to know of one spec's workloads, read from its (valid) document."""
    granted: dict[str, set[Key]] = field(default_factory=dict)  # workload -> targets it is granted on
    on_target: dict[Key, set[str]] = field(default_factory=dict)  # target -> workloads granted on it
    subjects: dict[str, set[Key]] = field(default_factory=dict)  # workload -> (issuer, subject) it names
    named_by: dict[Key, set[str]] = field(default_factory=dict)  # (issuer, subject) -> workloads
    issuers: dict[str, set[str]] = field(default_factory=dict)  # workload -> issuers it names
    used_by: dict[str, set[str]] = field(default_factory=dict)  # issuer -> workloads naming it
    reach: dict[str, set[Key]] = field(default_factory=dict)  # workload -> targets it may act in (if any)


def index(data: dict, names=None) -> Index:
    """The index of the workloads `names` (all by default) of a spec's data."""
    issuers, targets, workloads = data.get("issuer", {}), data.get("target", {}), data.get("workload", {})
    found = Index()
    for name in workloads if names is None else names:
        body = workloads[name]
        subjects = {(fields["issuer"], KINDS[issuers[fields["issuer"]]["kind"]].subject(fields))
                    for fields in body.get("identity", [])}
        found.subjects[name] = subjects
        for subject in subjects:
            found.named_by.setdefault(subject, set()).add(name)
        found.issuers[name] = {issuer for issuer, _ in subjects}
        for issuer in found.issuers[name]:
            found.used_by.setdefault(issuer, set()).add(name)
        granted, reached = set(), set()
        for cloud, per_target in body.get("grant", {}).items():
            for target, settings in per_target.items():
                granted.add((cloud, target))
                found.on_target.setdefault((cloud, target), set()).add(name)
                reached |= {(cloud, other) for other in
                            registry.get(cloud).reach(settings, targets[cloud][target], targets[cloud])}
        found.granted[name] = granted
        if reached:
            found.reach[name] = reached
    return found


def reindexed(found: Index, names: set[str], fresh: Index) -> Index:
    """`found` with the workloads `names` dropped and `fresh`'s added, in place: the next spec's index
    from the last one's and its changed workloads', as `index` of the next spec would give it."""
    for table, inverse in (("granted", "on_target"), ("subjects", "named_by"), ("issuers", "used_by")):
        forward, backward = getattr(found, table), getattr(found, inverse)
        for name in names:
            for key in forward.pop(name, ()):
                backward[key].discard(name)
                if not backward[key]:
                    del backward[key]
        forward.update(getattr(fresh, table))
        for key, named in getattr(fresh, inverse).items():
            backward.setdefault(key, set()).update(named)
    for name in names:
        found.reach.pop(name, None)
    found.reach.update(fresh.reach)
    return found


def targets_of(sides: list[Index], names: set[str]) -> set[Key]:
    """The targets the workloads `names` are granted on or may reach, on any of the sides: the only
    ones a slice of them reads (each of the others adds as much to each side)."""
    return {key for side in sides for name in names
            for key in side.granted.get(name, set()) | side.reach.get(name, set())}


def affected(sides: list[Index], changed: set[str]) -> set[str]:
    """The slice (see the module's text) of two specs that differ in the workloads `changed`, given
    indexes that together cover both specs' workloads (say, of the unchanged ones and of each
    side's changed ones)."""

    def union(table: str, key) -> set:
        return set().union(*(getattr(side, table).get(key, ()) for side in sides))

    chosen = set(changed)
    principal_targets = set().union(*(union("granted", name) for name in changed))
    acting = set().union(*(side.reach for side in sides))
    while True:  # ancestors: workloads whose grants may reach a changed principal, or an ancestor's
        ancestors = {a for a in acting - chosen if union("reach", a) & principal_targets}
        if not ancestors:
            break
        chosen |= ancestors
        principal_targets |= set().union(*(union("granted", a) for a in ancestors))
    for issuer in sorted({i for name in changed for i, _ in union("subjects", name)}):
        users = sorted(union("used_by", issuer) - changed)
        if users:
            chosen.add(users[0])
    pending, pending_targets, whole = set(chosen), set().union(*(union("granted", n) for n in changed)), set()

    def add(names: set[str]) -> None:
        pending.update(names - chosen)
        chosen.update(names)

    while pending or pending_targets:
        if pending_targets:  # a target whose every workload belongs in the slice
            target = pending_targets.pop()
            whole.add(target)
            add(union("on_target", target))
        else:
            name = pending.pop()
            pending_targets |= union("reach", name) - whole
            add(set().union(*(union("named_by", s) for s in union("subjects", name))))
    return chosen

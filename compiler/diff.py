"""Least-privilege diffs: the access one spec adds and removes against another, computed on the
access graph (subject -> principal -> permission -> resource), not on text."""

from __future__ import annotations

import json
import multiprocessing
import os
import posixpath
import re
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable, NamedTuple

import networkx as nx

from . import bundles, registry, schema, slicing, windows
from .analysis import Finding, analyze
from .cache import known_valid
from .compile import gc_paused, load_planned
from .planning import plan_model
from .diagnostics import Pos, Report, SpecError, printable
from .document import Document
from .graph import build_graph
from .access import AccessGraph
from .loader import MAX_FILE_BYTES, UsageError, load, spec_digest, too_large
from .model import Model, Window
from .plan import Plans
from .readers import reader_for
from .revision import run_git
from .validate import build_model

class Access(NamedTuple):  # not a dataclass: a record's state holds every tuple, built and hashed by the thousand
    """One thing a subject can do: through a principal, a permission on a resource."""
    issuer: str  # the issuer URL: tokens are told apart by iss and sub
    subject: str
    cloud: str
    target: str
    workload: str  # whose principal holds the grant
    permission: str  # an action pattern, role or managed policy as written
    resource: str
    indirect: bool  # reached through another workload's principal


@dataclass
class Side:
    """What a diff needs of one spec, small enough to pass between processes."""
    label: str
    folder: str | None  # where a git revision was copied to, for relabelling places
    digest: str  # the spec's, which this side found valid
    tuples: set[Access]
    findings: list[Finding]
    subjects: set[str]  # "issuer-URL subject" of the subjects that authenticate as something
    principals: set[tuple[str, str, str]]  # (cloud, target, workload)
    signatures: dict[str, str]  # workload -> what it is without its name, to spot renames
    disabled: set[tuple[str, str, str]]  # ("issuer", name, ""), ("workload", name, ""), ("subject", workload, subject)
    # (workload, "issuer-URL subject") -> the claims every cloud checks beyond the subject, of each active identity
    conditions: dict[tuple[str, str], tuple[tuple[str, str], ...]] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # workload -> its owner
    teams: dict[str, str] = field(default_factory=dict)  # settings owners: owner -> code-host handle
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)  # settings members: handle -> emails
    # (workload, "identity issuer-URL subject" | "grant CLOUD TARGET") -> the window on that path
    windows: dict[tuple[str, str], Window] = field(default_factory=dict)
    reviews: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)  # workload -> (by, on YYYY-MM-DD)


def path_windows(model: Model) -> dict[tuple[str, str], Window]:
    """Each identity's window (its workload's within) and each grant's (within its workload's), closed
    ones too: what diff compares bound by bound."""
    found = {}
    for workload in model.workloads.values():
        found.update({(workload.name, f"identity {i.issuer.url} {i.subject}"): i.window for i in workload.identities})
        found.update({(workload.name, f"grant {g.cloud} {g.target}"): windows.narrowest(workload.window, g.window)
                      for g in workload.grants + workload.closed})
    return found


def read_side(model: Model, label: str, folder: str | None, plans: Plans | None = None) -> Side:
    """The side of a valid model, from its plans (planned here when not given)."""
    plans = plan_model(model) if plans is None else plans
    access = build_graph(model, plans)
    subjects = {f"{model.issuers[d['issuer']].url} {d['subject']}" for node, d in access.nodes_of("subject")
                if access.graph.out_degree(node)}
    principals = {(d["cloud"], d["target"], d["workload"]) for _, d in access.nodes_of("principal")}
    disabled = {("issuer", n, "") for n, i in model.issuers.items() if i.disabled}
    for name, workload in model.workloads.items():
        if workload.disabled:
            disabled.add(("workload", name, ""))
        else:
            disabled |= {("subject", name, i.subject) for i in workload.identities if i.disabled}
    conditions = {(w.name, f"{i.issuer.url} {i.subject}"): i.conditions
                  for w in model.workloads.values() for i in w.active_identities}
    return Side(label, folder, model.document.digest, access_tuples(model, access), analyze(model, access, plans),
                subjects, principals, {name: _signature(model, name) for name in model.workloads}, disabled, conditions,
                {name: w.owner for name, w in model.workloads.items()}, model.settings.owners, model.settings.members,
                path_windows(model), {n: frozenset((r.by, r.on.isoformat()) for r in w.reviews)
                                      for n, w in model.workloads.items()})


@dataclass(frozen=True)
class Source:
    """Where one side of a diff is read from: a folder, or a git revision copied to one."""
    folder: str
    label: str
    copy: str | None  # the folder a revision was copied to, for relabelling places
    blobs: dict[str, str] = field(default_factory=dict, compare=False)  # a copy's files: their git objects
    # (the label of a source loaded earlier from the same folder, the files that hold what they held then)
    alike: tuple[str, frozenset[str]] | None = field(default=None, compare=False)

    def relabel(self, error: SpecError) -> SpecError:
        """The error with its places in the revision, not in the temporary copy."""
        return SpecError([replace(d, pos=self.place(d.pos)) for d in error.diagnostics])

    def place(self, pos: Pos) -> Pos:
        """A place in the revision (REV:path), not in the temporary copy."""
        return _relabel(pos, self.copy, self.label)

    def place_text(self, text: str) -> str:
        """A message with the temporary copy's paths as places in the revision."""
        return text.replace(os.path.join(self.copy, ""), _in_revision(self.label)) if self.copy else text


def _load_and_read(source: Source, recursive: bool, at: datetime | None = None) -> Side:
    try:
        model, plans = load_planned(source.folder, recursive, at=at)
    except SpecError as error:
        raise source.relabel(error) from None
    with gc_paused():
        return read_side(model, source.label, source.copy, plans)


@dataclass(frozen=True)
class Owning:
    """An owner whose workloads a change widens, with its team and the team's known members."""
    owner: str  # "" for workloads without one
    team: str  # "" when settings owners does not map it
    workloads: tuple[str, ...]
    members: tuple[str, ...] | None  # None: settings members does not list the team

    def author_verdict(self, author: str | None) -> str:
        """"member", "outsider" or "unchecked" (no author, or no members listed for the team)."""
        if author is None or self.members is None:
            return "unchecked"
        return "member" if author.lower() in {m.lower() for m in self.members} else "outsider"


@dataclass
class Diff:
    base: str
    head: str
    classification: str
    added: list[Access]
    removed: list[Access]
    widened: list[Access]  # added tuples no existing permission covered
    renamed: dict[str, str]  # base workload -> head workload
    subjects_added: list[str]
    subjects_removed: list[str]
    principals_added: list[str]
    principals_removed: list[str]
    findings_introduced: list[Finding]
    findings_fixed: list[Finding]
    escalations_added: list[Finding]
    escalations_removed: list[Finding]
    disabled: list[str]  # blocks the kill switch turned on
    conditions_loosened: list[str] = field(default_factory=list)  # a pinned claim removed or changed: widening
    conditions_tightened: list[str] = field(default_factory=list)  # a claim pinned anew: narrowing
    owners: list[Owning] = field(default_factory=list)  # whose workloads the widening tuples reach
    author: str | None = None  # the git author email of HEAD, when HEAD is a revision
    windows_widened: list[str] = field(default_factory=list)  # an expiry extended or removed, a start earlier
    windows_narrowed: list[str] = field(default_factory=list)  # an expiry shortened or added, a start later
    at: datetime | None = None  # the moment both sides were resolved at

    def as_json(self) -> dict:
        def finding(f: Finding) -> dict:
            return {"rule": f.rule, "severity": f.severity, "message": f.message, "workload": f.workload,
                    "file": f.pos.file, "line": f.pos.line, "column": f.pos.column}
        return {
            **({"at": windows.text(self.at)} if self.at else {}),
            "base": self.base, "head": self.head, "classification": self.classification,
            "summary": {"added": len(self.added), "removed": len(self.removed), "widened": len(self.widened),
                        "renamed": len(self.renamed), "findings_introduced": len(self.findings_introduced),
                        "findings_fixed": len(self.findings_fixed)},
            "added": [a._asdict() for a in self.added], "removed": [a._asdict() for a in self.removed],
            "widened": [a._asdict() for a in self.widened],
            "renamed": [{"from": old, "to": new} for old, new in sorted(self.renamed.items())],
            "subjects": {"added": self.subjects_added, "removed": self.subjects_removed},
            "principals": {"added": self.principals_added, "removed": self.principals_removed},
            "escalation_paths": {"added": [finding(f) for f in self.escalations_added],
                                 "removed": [finding(f) for f in self.escalations_removed]},
            "findings": {"introduced": [finding(f) for f in self.findings_introduced],
                         "fixed": [finding(f) for f in self.findings_fixed]},
            "disabled": self.disabled,
            "conditions": {"loosened": self.conditions_loosened, "tightened": self.conditions_tightened},
            "author": self.author,
            "owners_widened": [{"owner": o.owner, "team": o.team or None, "workloads": list(o.workloads),
                                "author": o.author_verdict(self.author)} for o in self.owners],
            "windows": {"widened": self.windows_widened, "narrowed": self.windows_narrowed},
        }


# Reading a side: a folder, or a git revision read without touching the working tree.

def _git(args: list[str], cwd: str, stdin: bytes | None = None) -> str:
    """git's output; bytes that are not UTF-8 kept as surrogates, so blobs round-trip."""
    try:
        result = run_git(args, cwd, 60, stdin)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise UsageError(f"git failed: {error}") from None
    if result.returncode != 0:
        raise UsageError(f"git {' '.join(args[:2])}: {result.stderr.decode(errors='replace').strip() or 'failed'}")
    return result.stdout.decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class _Blob:
    mode: str
    object: str
    size: int


def _tree(revision: str, prefix: str, top: str) -> dict[str, _Blob]:
    """The blobs under `prefix` in `revision`, by path: `git ls-tree -r -l -z`."""
    listing = _git(["ls-tree", "-r", "-l", "-z", revision, "--", prefix or "."], top)
    blobs = {}
    for entry in filter(None, listing.split("\0")):
        meta, _, name = entry.partition("\t")
        mode, kind, obj, size = meta.split()
        if kind == "blob":
            blobs[name] = _Blob(mode, obj, int(size))
    return blobs


def _blob_of(name: str, tree: dict[str, _Blob], where: str, top: str) -> _Blob:
    """The regular file `name` is, following a link only to a regular file inside the spec folder."""
    blob = tree[name]
    if blob.mode == "120000" and blob.size <= 4096:  # PATH_MAX: a longer link is no path, and is not read
        target = posixpath.normpath(posixpath.join(posixpath.dirname(name), _git(["cat-file", "blob", blob.object], top)))
        blob = tree.get(target) if target.startswith(where) else None
        if blob is None or blob.mode == "120000":
            raise UsageError(f"{name}: a link to outside the spec folder in the revision; wiam reads only files inside it")
    if blob.mode not in ("100644", "100755"):
        raise UsageError(f"{name}: not a regular file in the revision; wiam reads only regular files")
    if blob.size > MAX_FILE_BYTES:
        raise too_large(name)
    return blob


def source(spec: str, path: str, recursive: bool, workdir: str) -> Source:
    """A folder as it is, or `REV` or `REV:PATH` (the path relative to the working folder) copied out
    of git into `workdir` without touching the working tree."""
    if os.path.isdir(spec) or os.path.isfile(spec):
        return Source(spec, spec, None)
    revision, _, inside = spec.partition(":")
    if revision.startswith("-"):
        raise UsageError(f"{spec}: not a folder or a git revision")
    top, prefix = repository_of(inside or path, ".")
    _git(["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], top)
    return copy_revision(revision, top, prefix, recursive, workdir)


def repository_of(folder: str, cwd: str) -> tuple[str, str]:
    """(the top of the git work tree `cwd` is in, `folder`'s path inside it, "" for the top)."""
    top = _git(["rev-parse", "--show-toplevel"], cwd).strip()
    prefix = os.path.relpath(os.path.abspath(folder), top)
    return top, "" if prefix == "." else prefix.replace(os.sep, "/")


def copy_revision(revision: str, top: str, prefix: str, recursive: bool, workdir: str) -> Source:
    """The spec files under `prefix` in the commit `revision`, copied into a new folder in `workdir`."""
    return update_copy(revision, top, prefix, recursive, tempfile.mkdtemp(dir=workdir), {})


def update_copy(revision: str, top: str, prefix: str, recursive: bool, folder: str, holding: dict[str, str],
                loaded: Source | None = None) -> Source:
    """The spec files under `prefix` in the commit `revision`, written into `folder`, which holds the
    files `holding` (their git objects, by path): only those that differ are written, those the
    revision lacks removed. `loaded`: a source whose document was loaded from this folder; the files
    it held alike are its document's (Source.alike)."""
    blobs = spec_blobs(revision, top, prefix, recursive)
    for relative in holding.keys() - blobs.keys():
        os.remove(os.path.join(folder, relative))
        parent = os.path.dirname(relative)
        while parent and not os.listdir(os.path.join(folder, parent)):  # no empty folder a fresh copy lacks
            os.rmdir(os.path.join(folder, parent))
            parent = os.path.dirname(parent)
    fetched = [relative for relative, obj in blobs.items() if holding.get(relative) != obj]
    for relative, content in zip(fetched, read_objects([blobs[r] for r in fetched], top)):
        target = os.path.join(folder, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(content)
    alike = None
    if loaded is not None and loaded.folder == folder:
        alike = loaded.label, frozenset(r for r, obj in blobs.items() if loaded.blobs.get(r) == obj)
    return Source(folder, f"{revision}:{prefix}" if prefix else revision, folder, blobs, alike)


def spec_blobs(revision: str, top: str, prefix: str, recursive: bool) -> dict[str, str]:
    """The git object of each spec file (and trust bundle) under `prefix` in `revision`, by its path
    inside the spec folder."""
    tree = _tree(revision, prefix, top)
    blobs = {}
    for name in tree:
        relative = name[len(prefix) + 1:] if prefix else name
        bundle = name.endswith(bundles.SUFFIX)  # a spec file's trust bundle may sit in a subfolder
        if not bundle and (not reader_for(name) or (not recursive and "/" in relative)):
            continue
        if ".." in relative.split("/"):
            raise UsageError(f"{name}: a path that leaves the spec folder in the revision")
        blobs[relative] = _blob_of(name, tree, f"{prefix}/" if prefix else "", top).object
    return blobs


def read_objects(names: list[str], top: str) -> list[bytes]:
    """The contents of these git objects, read by one `git cat-file --batch`."""
    if not names:
        return []
    listing = "".join(f"{n}\n" for n in names).encode()
    output = _git(["cat-file", "--batch"], top, listing).encode("utf-8", "surrogateescape")
    found, at = [], 0
    for _ in names:
        header_end = output.index(b"\n", at)
        size = int(output[at:header_end].split()[2])
        found.append(output[header_end + 1:header_end + 1 + size])
        at = header_end + 2 + size
    return found


def _relabel(pos: Pos, folder: str | None, label: str) -> Pos:
    if folder and pos.file.startswith(folder):
        return pos._replace(file=_in_revision(label) + pos.file[len(folder) + 1:])
    return pos


def _in_revision(label: str) -> str:
    """What a copied file's path inside its copy follows in its place in the revision."""
    return f"{label}:" if ":" not in label else f"{label}/"


# Access tuples.

def access_tuples(model: Model, access: AccessGraph) -> set[Access]:
    """Every subject's grants: those of the principals its workloads federate to (direct), and those
    of the principals these can act as (indirect). Grants and can-act-as closures are worked out
    once each, not once per subject."""
    graph = access.graph
    acting = access.only("can_act_as", "chains_to", "authenticates", "federates")  # chains: principal to principal
    grant_rows: dict[str, list[tuple]] = {}
    closures: dict[str, set[str]] = {}

    def rows(grant: str) -> list[tuple]:
        if grant not in grant_rows:
            data = graph.nodes[grant]
            kinds = [(graph.nodes[n]["type"], graph.nodes[n]["label"]) for n in graph.successors(grant)]
            resources = [label for kind, label in kinds if kind == "resource"] or ["*"]
            grant_rows[grant] = [(data["cloud"], data["target"], data["workload"], permission, resource)
                                 for kind, permission in kinds if kind in ("action", "role") for resource in resources]
        return grant_rows[grant]

    def grants(principal: str) -> list[str]:
        return [g for g in graph.successors(principal) if "holds" in graph[principal][g]]

    def closure(principal: str) -> set[str]:
        if principal not in closures:
            closures[principal] = nx.descendants(acting, principal) if principal in acting else set()
        return closures[principal]

    found = set()
    for subject, data in access.nodes_of("subject"):
        workloads = [w for w in graph.successors(subject) if "authenticates" in graph[subject][w]]
        if not workloads:
            continue  # a subject that authenticates as nothing (disabled) reaches nothing
        issuer_url = model.issuers[data["issuer"]].url
        direct = {p for w in workloads for p in graph.successors(w) if "federates" in graph[w][p]}
        indirect = set().union(*(closure(p) for p in direct)) - direct
        for principals, is_indirect in ((direct, False), (indirect, True)):
            for principal in principals:
                for grant in grants(principal):
                    for cloud, target, workload, permission, resource in rows(grant):
                        found.add(Access(issuer_url, data["subject"], cloud, target, workload, permission, resource,
                                         is_indirect))
    return found


def _signature(model: Model, name: str) -> str:
    """What a workload is, without its name: its subjects and its grants."""
    workload = model.workloads[name]
    identities = sorted((i.issuer.url, i.subject, i.audience or "", bool(i.active), i.conditions)
                        for i in workload.identities)
    grants = sorted((g.cloud, g.target, json.dumps(g.settings, sort_keys=True)) for g in workload.grants)
    return json.dumps([identities, grants, workload.environment, workload.owner])


def renames(base: dict[str, str], head: dict[str, str]) -> dict[str, str]:
    """Base workload -> head workload, for workloads that only changed their name (by signature)."""
    by_signature: dict[str, list[str]] = {}
    for name in sorted(set(head) - set(base)):
        by_signature.setdefault(head[name], []).append(name)
    found = {}
    for name in sorted(set(base) - set(head)):
        candidates = by_signature.get(base[name])
        if candidates:
            found[name] = candidates.pop(0)
    return found


def _place(a: Access) -> tuple:
    return a.issuer, a.subject, a.cloud, a.target, a.workload, a.resource


def _covered(added: Access, present: dict[tuple, set[str]]) -> bool:
    """Whether an added tuple only restates access a present one already gives (same subject,
    principal and resource, a permission that includes it)."""
    permissions = registry.get(added.cloud).permissions
    others = present.get(_place(added), set())
    if added.permission in others:
        return True
    wanted = permissions.permission_set(added.permission)
    return bool(wanted) and any(wanted <= (permissions.permission_set(other) or frozenset()) for other in others)


def _renamed_node(node: str, rename: dict[str, str]) -> str:
    """A graph node ID (or a workload name, as aggregated findings list them) in head's names: the
    workload's, principal's and grant's IDs end with their workload's name; subjects' hold user text."""
    if node in rename:
        return rename[node]
    kind, _, _ = node.partition(":")
    head, _, name = node.rpartition(":")
    return f"{head}:{rename[name]}" if kind not in ("subject", "issuer", "target") and name in rename else node


def _finding_key(finding: Finding, rename: dict[str, str]) -> tuple:
    """A finding's identity in head's names. A graph finding is its rule, workload, block and where its
    path starts: its text names derived principals (role names, ARNs, emails) and the nearest of ties,
    which a rename changes. Others name only spec objects, quoted, in their text."""
    block = finding.block
    for old, new in rename.items():
        block = block.replace(f'workload "{old}"', f'workload "{new}"')
    identity = (finding.rule, rename.get(finding.workload, finding.workload), block)
    if finding.path:
        return (*identity, tuple(_renamed_node(n, rename) for n in finding.path[:2]), ())
    message = finding.message
    for old, new in rename.items():
        message = message.replace(f"'{old}'", f"'{new}'")
    return (*identity, tuple(sorted(_renamed_node(n, rename) for n in finding.related)), message)


def diff_sides(old: Side, new: Side, at: datetime | None = None) -> Diff:
    rename = renames(old.signatures, new.signatures)
    old_tuples = {a._replace(workload=rename.get(a.workload, a.workload)) for a in old.tuples}
    added = sorted(new.tuples - old_tuples)
    removed = sorted(old_tuples - new.tuples)
    present: dict[tuple, set[str]] = {}
    for a in old_tuples:
        present.setdefault(_place(a), set()).add(a.permission)
    widened = [a for a in added if not _covered(a, present)]

    def principals(side, mapping):
        return {f"{cloud} {target} {mapping.get(workload, workload)}" for cloud, target, workload in side.principals}

    old_findings = {_finding_key(f, rename): replace(f, pos=_relabel(f.pos, old.folder, old.label))
                    for f in old.findings if not f.suppressed}
    new_findings = {_finding_key(f, {}): replace(f, pos=_relabel(f.pos, new.folder, new.label))
                    for f in new.findings if not f.suppressed}
    introduced = [new_findings[k] for k in sorted(new_findings.keys() - old_findings.keys())]
    fixed = [old_findings[k] for k in sorted(old_findings.keys() - new_findings.keys())]
    new_principals, old_principals = principals(new, {}), principals(old, rename)
    disabled = sorted(_disabled(new.disabled) - _disabled(old.disabled, rename))
    loosened, tightened = condition_changes(old.conditions, new.conditions, rename)
    later, sooner = window_changes(old.windows, new.windows, rename)
    if widened or new.subjects - old.subjects or loosened or later or [f for f in introduced if f.rule == "WIAM001"]:
        classification = "widening"
    elif removed or old.subjects - new.subjects or disabled or tightened or sooner:
        classification = "narrowing"
    else:
        classification = "neutral"
    return Diff(old.label, new.label, classification, added, removed, widened, rename,
                sorted(new.subjects - old.subjects), sorted(old.subjects - new.subjects),
                sorted(new_principals - old_principals), sorted(old_principals - new_principals),
                introduced, fixed, [f for f in introduced if f.rule == "WIAM001"],
                [f for f in fixed if f.rule == "WIAM001"], disabled, loosened, tightened, owning(widened, new),
                windows_widened=later, windows_narrowed=sooner, at=at)


def owning(widened: list[Access], side: Side) -> list[Owning]:
    """The owners of the workloads whose principals the widening tuples go through, by owner."""
    by_owner: dict[str, set[str]] = {}
    for a in widened:
        by_owner.setdefault(side.owners.get(a.workload, ""), set()).add(a.workload)
    return [Owning(owner, side.teams.get(owner, ""), tuple(sorted(names)), side.members.get(side.teams.get(owner, "")))
            for owner, names in sorted(by_owner.items())]


def condition_changes(old: dict[tuple[str, str], tuple], new: dict[tuple[str, str], tuple],
                      rename: dict[str, str]) -> tuple[list[str], list[str]]:
    """(loosened, tightened) of the subjects that authenticate as the same workload on both sides: a
    claim the head no longer pins, or pins to another value, admits tokens the base refused; a claim
    pinned anew refuses some it admitted."""
    renamed = {(rename.get(workload, workload), subject): pins for (workload, subject), pins in old.items()}
    loosened, tightened = [], []
    for workload, subject in sorted(renamed.keys() & new.keys()):
        before, after = dict(renamed[workload, subject]), dict(new[workload, subject])
        where = f"{subject} as workload {workload}:"
        for claim in sorted(before.keys() | after.keys()):
            was, now = before.get(claim), after.get(claim)
            if was is not None and was != now:
                change = "no longer pinned" if now is None else f"now {json.dumps(now)}"
                loosened.append(f"{where} {claim} = {json.dumps(was)} {change}")
            elif was is None:
                tightened.append(f"{where} {claim} = {json.dumps(now)} pinned")
    return loosened, tightened


def bound_changes(before: Window, after: Window) -> list[tuple[str, bool]]:
    """Each bound of a window that moved, said for people, and whether it widens the window: an
    expiry later or gone, a start earlier or gone, admit moments the base refused."""
    changes = []
    for bound, wider_when in (("expires", lambda was, now: now > was), ("not_before", lambda was, now: now < was)):
        was, now = getattr(before, bound), getattr(after, bound)
        if was == now:
            continue
        if now is None:
            changes.append((f"{bound} {windows.text(was)} removed", True))
        elif was is None:
            changes.append((f"{bound} {windows.text(now)} added", False))
        else:
            wider = wider_when(was, now)
            moved = {"expires": ("extended", "shortened"), "not_before": ("moved earlier", "moved later")}[bound]
            changes.append((f"{bound} {windows.text(was)} {moved[not wider]} to {windows.text(now)}", wider))
    return changes


def window_changes(old: dict[tuple[str, str], Window], new: dict[tuple[str, str], Window],
                   rename: dict[str, str]) -> tuple[list[str], list[str]]:
    """(widened, narrowed) of the windows on paths both sides have, bound by bound."""
    renamed = {(rename.get(workload, workload), what): window for (workload, what), window in old.items()}
    widened, narrowed = [], []
    for workload, what in sorted(renamed.keys() & new.keys()):
        for change, wider in bound_changes(renamed[workload, what], new[workload, what]):
            (widened if wider else narrowed).append(f"{what} of workload {workload}: {change}")
    return widened, narrowed


def _disabled(items: set[tuple[str, str, str]], rename: dict[str, str] | None = None) -> set[str]:
    rename = rename or {}
    shown = {"issuer": lambda name, _: f"issuer {name}",
             "workload": lambda name, _: f"workload {rename.get(name, name)}",
             "subject": lambda name, subject: f"subject {subject} of workload {rename.get(name, name)}"}
    return {shown[kind](name, subject) for kind, name, subject in items}


def diff(base_spec: str, head_spec: str, path: str = ".", recursive: bool = False, incremental: bool = True,
         on_valid: Callable[[str], None] | None = None, at: datetime | None = None) -> Diff:
    """Read from the slice of workloads a change can affect when the base is known valid and the two
    differ in workloads only (see slicing); else both sides whole (see compare).
    on_valid(spec digest) for each side found valid (the caller's cache marks it known valid).
    Both sides are resolved at one moment, `at` (default windows.current())."""
    at = at or windows.current()
    with tempfile.TemporaryDirectory(prefix="wiam-diff-") as workdir:
        base, head = (source(spec, path, recursive, workdir) for spec in (base_spec, head_spec))
        author = _author(head_spec.partition(":")[0]) if head.copy else None
        return replace(compare(base, head, recursive, incremental, on_valid, at).diff, author=author)


def _author(revision: str) -> str:
    """The author email a revision's commit gives: what its author chose to write, not proof."""
    top = _git(["rev-parse", "--show-toplevel"], ".").strip()
    return _git(["log", "-1", "--format=%ae", f"{revision}^{{commit}}", "--"], top).strip()


@dataclass
class Comparison:
    diff: Diff
    old: Side
    new: Side
    whole: bool  # the sides are the whole specs, not the slice of the workloads a change can affect


NOTHING = Side("nothing", None, "", set(), [], set(), set(), {}, set())  # the base before a spec's first commit


def compare(base: Source | None, head: Source, recursive: bool, incremental: bool = True,
            on_valid: Callable[[str], None] | None = None, at: datetime | None = None,
            documents: dict[str, Loaded] | None = None, base_valid: bool = False,
            base_copy: Callable[[], Source] | None = None) -> Comparison:
    """The diff and the sides it was taken of: the slices, or both sides whole, at once in two
    processes where the machine has the cores (fork keeps the start cheap), each sending back only its
    Side; against NOTHING when there is no base. Both sides' windows are evaluated at `at` (default:
    windows.current()); `documents` as _sliced_sides keeps them. A base whose folder now holds the
    head (its document loaded before) is read whole from `base_copy()`."""
    if base is None:
        new = _load_and_read(head, recursive, at)
        if on_valid:
            on_valid(new.digest)
        return Comparison(diff_sides(NOTHING, new, at), NOTHING, new, True)
    sliced = _sliced_sides(base, head, recursive, on_valid, at, documents, base_valid) if incremental else None
    if sliced is not None:
        return Comparison(diff_sides(*sliced, at), *sliced, False)
    if base.folder == head.folder and base.label != head.label:
        base = base_copy()
    jobs = [(base, recursive, at), (head, recursive, at)]
    if (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods():
        with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork")) as pool:
            old, new = pool.map(_load_and_read, *zip(*jobs))
    else:
        old, new = (_load_and_read(*job) for job in jobs)
    for side in (old, new) if on_valid else ():
        on_valid(side.digest)
    return Comparison(diff_sides(old, new, at), old, new, True)


SLICE_AT_MOST = 0.5  # of the workloads: beyond it, slicing costs about what it saves


def _sliced_diff(base: Source, head: Source, recursive: bool,
                 on_valid: Callable[[str], None] | None = None, at: datetime | None = None) -> Diff | None:
    at = at or windows.current()
    sides = _sliced_sides(base, head, recursive, on_valid, at)
    return diff_sides(*sides, at) if sides else None


def _sliced_sides(base: Source, head: Source, recursive: bool, on_valid: Callable[[str], None] | None = None,
                  at: datetime | None = None, documents: dict[str, Loaded] | None = None,
                  base_valid: bool = False) -> tuple[Side, Side] | None:
    """The two slices, or None where a slice would not surely give the whole diff: the base not known
    valid (`base_valid`: the caller knows it is), a change beyond workloads, a time window in either
    spec when `at` is given (one closing between the two commits changes workloads outside the slice),
    a slice so large that slicing saves nothing, or any error at all (the full read then reports every
    one, in its place). `documents` keeps each side's loaded document, by label, for the next call (a
    history's head is the next base)."""
    documents = {} if documents is None else documents
    known = documents.get(base.label)
    if not base_valid and not known_valid(known.document.digest if known else spec_digest(base.folder, recursive)):
        return None  # before any parse: the full read needs them all anyway
    with gc_paused():
        docs = []
        for side in (base, head):
            if side.label not in documents:
                report = Report()
                earlier = documents.get(side.alike[0]) if side.alike else None
                loaded = load(side.folder, report, recursive, kept=earlier and earlier.document,
                              alike=side.alike[1] if earlier else frozenset())
                if report.diagnostics:
                    return None
                documents[side.label] = Loaded(loaded)
            docs.append(documents[side.label].document)
        old, new = docs
        if _beyond_workloads(old.data) != _beyond_workloads(new.data) or old.bundles != new.bundles:
            return None
        old_workloads, new_workloads = old.data.get("workload", {}), new.data.get("workload", {})
        changed = {n for n in _in_changed_files(old, new)
                   if old_workloads.get(n) is not new_workloads.get(n) and old_workloads.get(n) != new_workloads.get(n)}
        if at is not None and _windowed_either(documents[base.label], documents[head.label], changed):
            return None
        if not _valid_alone(new, changed):
            return None
        base_index = documents[base.label].index
        base_index = slicing.index(old.data) if base_index is None else base_index
        fresh = slicing.index(new.data, changed & new_workloads.keys())
        chosen = slicing.affected([base_index, fresh], changed)
        if len(chosen) > SLICE_AT_MOST * max(len(old_workloads), len(new_workloads)):
            return None
        report = Report()
        moment = at or windows.current()  # as the full read resolves them
        targets = slicing.targets_of([base_index, fresh], chosen)
        # the base is valid, and the head but for the changed workloads, which _valid_alone checked
        old_model, new_model = (windows.resolve(build_model(_only(doc, chosen, targets), report, checked=True), moment,
                                                Report()) for doc in (old, new))
        new_plans = None
        if not report.diagnostics:
            try:
                new_plans = plan_model(new_model, report)  # the limits of the targets changed
            except SpecError:
                return None
        if report.diagnostics:
            return None
        sides = read_side(old_model, base.label, base.copy), read_side(new_model, head.label, head.copy, new_plans)
    documents[base.label].index = None  # moved on to the head, the next base
    documents[head.label].index = slicing.reindexed(base_index, changed, fresh)
    if on_valid:
        on_valid(new.digest)  # the head, read as valid through the slice
    return sides


@dataclass
class Loaded:
    """A folder's loaded document, whether its workloads hold a time window (None: not looked yet), and
    its workloads' slicing index (None: not built, or moved on to the next spec)."""
    document: Document
    windowed: bool | None = None
    index: slicing.Index | None = None


def _windowed_either(old: Loaded, new: Loaded, changed: set[str]) -> bool:
    """Whether either side's workloads hold a window; the head's found from the base's and the
    changed workloads alone (the others are the base's), so a history scans each spec once."""
    if old.windowed is None:
        old.windowed = _windowed(old.document.data.get("workload"))
    if old.windowed:
        return True
    if new.windowed is None:
        mine = new.document.data.get("workload", {})
        new.windowed = _windowed({n: mine[n] for n in mine.keys() & changed})
    return new.windowed


def _windowed(data) -> bool:
    """Whether a time window bound appears anywhere in these blocks."""
    if isinstance(data, dict):
        return "not_before" in data or "expires" in data or any(_windowed(v) for v in data.values())
    return isinstance(data, list) and any(_windowed(v) for v in data)


def _in_changed_files(old: Document, new: Document) -> set[str]:
    """The workloads of the files read differently on the two sides: a file read alike is one parse
    (the cache's), the same objects on both sides, and its blocks are the same."""
    kept = {id(doc.data) for doc in old.outlines.values()} & {id(doc.data) for doc in new.outlines.values()}
    names: set[str] = set()
    for doc in (*old.outlines.values(), *new.outlines.values()):
        if id(doc.data) not in kept and isinstance(doc.data.get("workload"), dict):
            names.update(doc.data["workload"])
    return names


def _beyond_workloads(data: dict) -> dict:
    return {kind: blocks for kind, blocks in data.items() if kind != "workload"}


def _only(doc: Document, workloads: set[str], targets: set[tuple[str, str]] | None = None) -> Document:
    """The document with these workloads only, and these targets only when given (positions and
    everything else shared)."""
    mine = doc.data.get("workload", {})
    data = {**doc.data, "workload": {n: mine[n] for n in sorted(workloads & mine.keys())}}
    if targets is not None and "target" in data:
        data["target"] = {cloud: {name: body for name, body in named.items() if (cloud, name) in targets}
                          for cloud, named in data["target"].items()}
    return replace(doc, data=data)


def _valid_alone(doc: Document, workloads: set[str]) -> bool:
    """Whether these workloads pass the schema and the model's checks on their own (not the limits,
    which the slice checks with each target's other workloads): the slice reads them as valid."""
    mine = doc.data.get("workload", {})
    named = {(cloud, target) for name in workloads & mine.keys() if isinstance(mine[name], dict)
             and isinstance(mine[name].get("grant"), dict) for cloud, per in mine[name]["grant"].items()
             if isinstance(per, dict) for target in per}
    part = _only(doc, workloads, named)  # the targets they name: the others were valid, and stay so
    if not schema.is_valid(part.data):
        return False
    report = Report()
    build_model(part, report)
    return not report.diagnostics


# Presentation.

def _access_line(a: Access) -> str:
    via = " (indirect)" if a.indirect else ""
    return f"{a.subject} -> {a.cloud} {a.target} {a.workload} -> {a.permission} on {a.resource}{via}"


def summary_line(d: Diff) -> str:
    counted = ((d.widened, "widening"), (d.conditions_loosened, "conditions loosened"),
               (d.windows_widened, "windows widened"), (d.renamed, "renamed"),
               (d.findings_introduced, "new findings"), (d.findings_fixed, "fixed"))
    parts = [f"{len(d.added)} access added", f"{len(d.removed)} removed"]
    parts += [f"{len(items)} {label}" for items, label in counted if items]
    return f"{d.classification.upper()}: " + ", ".join(parts)


def _sections(d: Diff) -> list[tuple[str, list[str]]]:
    def finding(f: Finding) -> str:
        return f"{f.severity} {f.rule} {f.pos.file}:{f.pos.line}: {f.message}"
    return [
        ("Widening (access no existing permission covered)", [_access_line(a) for a in d.widened]),
        ("Widening (conditions removed or changed)", d.conditions_loosened),
        ("Widening (time windows extended, opened earlier or removed)", d.windows_widened),
        ("Access added", [_access_line(a) for a in d.added]),
        ("Access removed", [_access_line(a) for a in d.removed]),
        ("Renamed workloads (same access; their cloud principals are replaced)",
         [f"{old} -> {new}" for old, new in sorted(d.renamed.items())]),
        ("Subjects added", d.subjects_added), ("Subjects removed", d.subjects_removed),
        ("Principals added", d.principals_added), ("Principals removed", d.principals_removed),
        ("Escalation paths added", [finding(f) for f in d.escalations_added]),
        ("Escalation paths removed", [finding(f) for f in d.escalations_removed]),
        ("Findings introduced", [finding(f) for f in d.findings_introduced]),
        ("Findings fixed", [finding(f) for f in d.findings_fixed]),
        ("Disabled (kill switch)", d.disabled),
        ("Conditions added (narrowing)", d.conditions_tightened),
        ("Time windows shortened, opened later or added (narrowing)", d.windows_narrowed),
    ]


def to_text(d: Diff) -> str:
    lines = [f"wiam diff {d.base} -> {d.head}", summary_line(d)]
    for title, items in _sections(d):
        if items:
            lines += ["", f"{title}:"] + [f"  {printable(item)}" for item in items]
    return "\n".join(lines) + "\n"


COMMENT_MAX_CHARS = 65_536  # GitHub refuses a longer pull request comment


def _code(text: str) -> str:
    """A code span holding exactly `text`: no markdown, mention or link is read inside one, and its
    fence is longer than any run of backticks in it."""
    shown = printable(text)  # no line break can end the span
    fence = "`" * (max((len(run) for run in re.findall("`+", shown)), default=0) + 1)
    # CommonMark strips one space from each end of a span that has both, and of one touching a fence.
    pad = " " if shown[:1] == "`" or shown[-1:] == "`" or (shown[:1] == shown[-1:] == " " and shown.strip()) else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def _owners_markdown(d: Diff) -> list[str]:
    """Whose workloads the change widens, and whether the author is in the owning team."""
    if not d.owners:
        return []
    lines = ["**Owners whose workloads this widens**", ""]
    for o in d.owners[:10]:
        who = f"{_code(o.owner)} ({_code(o.team)})" if o.team else (_code(o.owner) + " (no team in settings owners)"
                                                                   if o.owner else "no owner")
        listed = ", ".join(_code(w) for w in o.workloads[:10]) + (f" and {len(o.workloads) - 10} more"
                                                                  if len(o.workloads) > 10 else "")
        verdict = o.author_verdict(d.author)
        if verdict == "outsider":
            note = f"⚠️ authored by {_code(d.author)}, who is not a member of {_code(o.team)}"
        elif verdict == "member":
            note = f"authored by {_code(d.author)}, a member of {_code(o.team)}"
        else:
            note = "author not checked" + (" (HEAD is not a git revision)" if d.author is None else
                                           f" (settings members lists no one for {_code(o.team)})" if o.team else "")
        lines.append(f"- {who}: {listed}; {note}")
    return lines + ([f"- … and {len(d.owners) - 10} more owners"] if len(d.owners) > 10 else []) + [""]


def to_markdown(d: Diff) -> str:
    """For a pull request comment: the verdict first, the details folded; user text only in code spans."""
    icon = {"widening": "🔺", "narrowing": "🔻", "neutral": "⚪"}[d.classification]
    lines = [f"### {icon} wiam: {_code(summary_line(d))}", "", f"{_code(d.base)} → {_code(d.head)}", ""]
    top = [s for s in _sections(d) if s[1] and s[0].startswith(("Widening", "Escalation paths added", "Findings introduced"))]
    for title, items in top:
        lines += [f"**{title}**", ""] + [f"- {_code(i)}" for i in items[:10]]
        lines += ([f"- … and {len(items) - 10} more"] if len(items) > 10 else []) + [""]
    lines += _owners_markdown(d)
    shown = {title for title, items in top if len(items) <= 10}
    budget = COMMENT_MAX_CHARS - 400 - sum(len(line) + 1 for line in lines)  # room for the closing lines
    left_out = 0
    for title, items in _sections(d):
        if items and title not in shown:
            section = [f"<details><summary>{title} ({len(items)})</summary>", ""]
            for item in items:
                line = f"- {_code(item)}"
                if budget - len(line) - 30 < 0:
                    left_out += 1
                    continue
                section.append(line)
                budget -= len(line) + 1
            lines += section + ["", "</details>", ""]
            budget -= sum(len(line) + 1 for line in section[:2]) + 14
    if left_out:
        lines.append(f"{left_out} more lines are left out to fit a comment: `wiam diff --format json` lists them all.")
    if d.classification == "neutral" and not any(items for _, items in _sections(d)):
        lines.append("No change in who can reach what.")
    return "\n".join(lines).rstrip() + "\n"

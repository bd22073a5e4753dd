"""The system of record: every access tuple of a spec folder's first-parent git history, as
intervals between the commits where it began and ended, with each commit's classification and the
findings it introduced (store.py holds the schema).

Each commit that changed the spec folder is compared with the last valid one through the diff
engine (the slice of the workloads it changed, where it can), its windows evaluated at its commit
date; a commit that does not validate is recorded as such and its access carried from the last valid
one. A renamed workload keeps its lineage, so its tuples keep their intervals. A later run goes on
from the last commit it processed; when that commit is no longer in the branch's first-parent
history (a force push), the record is cut back to the last commit both histories share and rebuilt
from there. A run writes in one transaction."""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import re
import shutil
import signal
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator

from . import cache, windows
from .compile import gc_paused
from .diagnostics import Report, SpecError
from .diff import (Access, Comparison, Diff, Side, Source, _git, compare, copy_revision, read_objects, repository_of,
                   spec_blobs, update_copy)
from .loader import UsageError, can_fork_workers
from .readers import read, reader_for
from .review import RecordedReviews
from .store import Store

Held = tuple[Access, str]  # a tuple and the claims (JSON, "" for none) its subject must present


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    email: str
    date: str  # committer date, UTC, windows.FORMAT
    message: str
    tree: str | None  # the spec folder's tree in it; None when the folder is absent


@dataclass
class State:
    """What the record holds after a commit: the open intervals and the workloads by lineage."""
    held: set[Held] | None = field(default_factory=set)  # None: as the record holds them (see OpenTuples)
    lineage: dict[str, int] = field(default_factory=dict)  # workload name -> lineage
    next_lineage: int = 1
    moved: tuple[set[Held], set[Held]] | None = None  # (ended, began) by the commit, where advance knows them


# The tuples the record holds open, under the workload names of the state it holds: all of them, or
# those of these (issuer URL, subject) pairs.
OpenTuples = Callable[[State, "set[tuple[str, str]] | None"], set[Held]]


@dataclass
class Outcome:
    spec: str  # the record's name of the spec folder
    recorded: list[str]  # the commits recorded by this run
    invalid: list[str]  # those of them that did not validate
    rebuilt_from: str | None  # after a force push: the last commit both histories share ("" for none)


# Reading git.

def first_parent(top: str, head: str) -> list[str]:
    """The first-parent history of `head`, oldest first."""
    return _git(["rev-list", "--first-parent", "--reverse", head, "--"], top).split()


def read_commits(shas: list[str], top: str, prefix: str) -> list[Commit]:
    """These commits, read from the commit objects themselves (no format string a crafted name or
    message could break), with the spec folder's tree in each."""
    if not shas:
        return []
    places = "\n".join(f"{sha}:{prefix}" if prefix else f"{sha}^{{tree}}" for sha in shas).encode()
    trees = _git(["cat-file", "--batch-check=%(objectname) %(objecttype)"], top, places + b"\n").splitlines()
    commits = []
    for sha, tree, body in zip(shas, trees, read_objects(shas, top)):
        name, kind = (tree.split() + ["", ""])[:2]
        commits.append(_commit(sha, body.decode("utf-8", "replace"), name if kind == "tree" else None))
    return commits


def _commit(sha: str, body: str, tree: str | None) -> Commit:
    # NUL is the one character PostgreSQL's text refuses; a crafted commit object may hold it
    headers, _, message = body.replace("\0", "\ufffd").partition("\n\n")
    fields = dict(line.split(" ", 1) for line in headers.splitlines() if " " in line)
    author = fields.get("author", "")
    ident, _, when = author.rpartition(">")
    name, _, email = ident.partition("<")
    committed = fields.get("committer", "").rpartition(">")[2].split()
    try:
        moment = datetime.fromtimestamp(int(committed[0]) if committed and committed[0].isdigit() else 0, timezone.utc)
    except (OverflowError, ValueError, OSError):  # a crafted date beyond what a datetime holds
        moment = datetime.fromtimestamp(0, timezone.utc)
    return Commit(sha, name.strip(), email.strip(), windows.text(moment), message.strip(), tree)


def spec_name(top: str, prefix: str) -> str:
    """The record's name of a spec folder: its repository's origin (else its path) and the folder in it."""
    origin = _git(["config", "--default", "", "--get", "remote.origin.url"], top).strip()
    origin = re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", origin, flags=re.I)  # never a token in the URL
    return f"{origin or top}:{prefix}"


# From one commit's comparison to the next state.

def held_of(side: Side) -> set[Held]:
    """The side's tuples, each with the claims its subject presents as the workload holding it (a
    tuple reached through another workload's principal is held under that workload's trust: none)."""
    def claims(a: Access) -> str:
        pins = () if a.indirect else side.conditions.get((a.workload, f"{a.issuer} {a.subject}"), ())
        return json.dumps(dict(pins), sort_keys=True) if pins else ""
    return {(a, claims(a)) for a in side.tuples}


def advance(state: State, compared: Comparison, recorded: OpenTuples) -> State:
    """The state after a commit to the one the record holds (`recorded` reads it): the head's tuples
    where the sides are whole; else the slice's tuples for the subjects the slice holds, and the
    others' as they were (renamed). Where a slice renames nothing, only the slice's subjects' tuples
    are read, and the new state is the record's but for the tuples that ended and began: a commit's
    slice is small, the state is not."""
    rename = compared.diff.renamed
    held, moved = held_of(compared.new), None
    if compared.whole:
        names = set(compared.new.signatures)
    elif rename:  # the others' tuples through a renamed workload's principal take its new name
        sliced = {(a.issuer, a.subject) for a in compared.old.tuples | compared.new.tuples}
        held |= {(a._replace(workload=rename[a.workload]) if a.workload in rename else a, claims)
                 for a, claims in recorded(state, None) if (a.issuer, a.subject) not in sliced}
        gone = {rename.get(n, n) for n in compared.old.signatures}
        names = {rename.get(n, n) for n in state.lineage} - gone | set(compared.new.signatures)
    else:
        left = recorded(state, {(a.issuer, a.subject) for a in compared.old.tuples | compared.new.tuples})
        held, moved = None, (left - held, held - left)
        names = state.lineage.keys() - compared.old.signatures.keys() | compared.new.signatures.keys()
    lineage = {rename.get(n, n): i for n, i in state.lineage.items() if rename.get(n, n) in names}
    following = state.next_lineage
    for name in sorted(names - lineage.keys()):
        lineage[name], following = following, following + 1
    return State(held, lineage, following, moved)


# Writing the record.

def _key(held: Held, lineage: dict[str, int]) -> tuple:
    a, claims = held
    row = a.issuer, a.subject, a.cloud, a.target, lineage[a.workload], a.permission, a.resource, int(a.indirect)
    return row, claims


def _moved(old: State, new: State, recorded: OpenTuples) -> tuple[set[tuple], set[tuple]]:
    """The rows of the tuples held before and after a commit, but for those held alike on both sides
    (the same tuple, its workload under the same lineage): a commit changes few, and each state's
    lineages are distinct, so the differences of these sets are those of the whole states'. The old
    state's tuples are read from the record (which holds it) when it does not hold them."""
    if new.moved is not None:  # no workload changed lineage: those held alike are those the slice kept
        ended, began = new.moved
        return {_key(h, old.lineage) for h in ended}, {_key(h, new.lineage) for h in began}
    before = recorded(old, None) if old.held is None else old.held
    relined = {n for n, _ in old.lineage.items() ^ new.lineage.items()}
    alike = before & new.held
    if relined:
        alike = {h for h in alike if h[0].workload not in relined}
    return {_key(h, old.lineage) for h in before - alike}, {_key(h, new.lineage) for h in new.held - alike}


_TUPLE_COLUMNS = "issuer, subject, cloud, target, lineage, permission, resource, indirect"
_TUPLE_ID = ("SELECT id FROM tuples WHERE spec = ? AND issuer = ? AND subject = ? AND cloud = ? AND target = ? "
             "AND lineage = ? AND permission = ? AND resource = ? AND indirect = ?")  # the UNIQUE index's columns
LOOKUPS_AT_MOST = 256  # tuples a commit ends or begins: beyond it, reading them all is quicker
SUBJECTS_A_QUERY = 400  # two parameters each, far below either database's limit


class Writer:
    """The rows of one spec's record, written commit by commit inside the run's transaction."""

    def __init__(self, store: Store, spec: int):
        self.store, self.spec = store, spec
        self.tuples: dict[tuple, int] = {}  # the ids of the tuples looked up or added, by row
        self.all_known = False  # whether self.tuples holds every tuple of the spec
        self.next = {table: 1 + store.rows(f"SELECT coalesce(max(id), 0) FROM {table} WHERE spec = ?", (spec,))[0][0]
                     for table in ("tuples", "intervals", "workloads")}

    def _known(self, rows: list[tuple]) -> None:
        """The ids of those of `rows` the record holds, into self.tuples: one indexed lookup each when
        they are few (a commit changes few), else every tuple of the spec read at once."""
        unknown = [] if self.all_known else [row for row in rows if row not in self.tuples]
        if len(unknown) > LOOKUPS_AT_MOST:
            found = self.store.rows(f"SELECT id, {_TUPLE_COLUMNS} FROM tuples WHERE spec = ?", (self.spec,))
            self.tuples.update((tuple(row[1:]), row[0]) for row in found)
            self.all_known = True
            return
        for row in unknown:
            found = self.store.rows(_TUPLE_ID, (self.spec, *row))
            if found:
                self.tuples[row] = found[0][0]

    def open_tuples(self, state: State, subjects: set[tuple[str, str]] | None = None) -> set[Held]:
        """OpenTuples of this spec's record (which holds `state`): all, or of a few subjects at a time."""
        names = {number: name for name, number in state.lineage.items()}
        columns = "t.issuer, t.subject, t.cloud, t.target, t.lineage, t.permission, t.resource, t.indirect, i.conditions"
        if subjects is None:
            rows = self.store.rows(f"SELECT {columns} FROM intervals i JOIN tuples t ON t.spec = i.spec AND "
                                   "t.id = i.tuple WHERE i.spec = ? AND i.ended IS NULL", (self.spec,))
        else:
            pairs, rows = sorted(subjects), []
            for at in range(0, len(pairs), SUBJECTS_A_QUERY):
                part = pairs[at:at + SUBJECTS_A_QUERY]
                listed = ", ".join(["(?, ?)"] * len(part))
                # CROSS JOIN keeps SQLite's order: from the subjects, through the indexes, never every open interval
                rows += self.store.rows(
                    f"SELECT {columns} FROM (VALUES {listed}) AS s CROSS JOIN tuples t CROSS JOIN intervals i "
                    "WHERE t.spec = ? AND t.issuer = s.column1 AND t.subject = s.column2 AND i.spec = t.spec "
                    "AND i.tuple = t.id AND i.ended IS NULL", (*(value for pair in part for value in pair), self.spec))
        return {(Access(issuer, subject, cloud, target, names[number], permission, resource, bool(indirect)), claims)
                for issuer, subject, cloud, target, number, permission, resource, indirect, claims in rows}

    def holds_any(self) -> bool:
        return bool(self.store.rows("SELECT count(*) FROM intervals WHERE spec = ? AND ended IS NULL", (self.spec,))[0][0])

    def _ids(self, table: str, count: int) -> range:
        first = self.next[table]
        self.next[table] += count
        return range(first, first + count)

    def commit(self, seq: int, commit: Commit, errors: str | None, classification: str | None) -> None:
        self.store.run("INSERT INTO commits (spec, seq, sha, tree, author, email, date, message, valid, errors, "
                       "classification) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (self.spec, seq, commit.sha, commit.tree, commit.author, commit.email, commit.date,
                        commit.message, int(errors is None), errors, classification))

    def changes(self, seq: int, old: State, new: State, diff: Diff | None) -> None:
        """The intervals and workload names that ended and began at commit `seq`, and its findings."""
        spec, store = self.spec, self.store
        before, after = _moved(old, new, self.open_tuples)
        self._known([t for t, _ in before ^ after])
        store.run_many("UPDATE intervals SET ended = ? WHERE spec = ? AND ended IS NULL AND conditions = ? AND "
                       "tuple = ?", [(seq, spec, claims, self.tuples[t]) for t, claims in sorted(before - after)])
        began = sorted(after - before)
        fresh = sorted({t for t, _ in began} - self.tuples.keys())
        for row, number in zip(fresh, self._ids("tuples", len(fresh))):
            self.tuples[row] = number
        store.run_many("INSERT INTO tuples (spec, id, issuer, subject, cloud, target, lineage, permission, resource, "
                       "indirect) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [(spec, self.tuples[t], *t) for t in fresh])
        store.run_many("INSERT INTO intervals (spec, id, tuple, conditions, began) VALUES (?, ?, ?, ?, ?)",
                       [(spec, number, self.tuples[t], claims, seq)
                        for (t, claims), number in zip(began, self._ids("intervals", len(began)))])
        names_before, names_after = set(old.lineage.items()), set(new.lineage.items())
        store.run_many("UPDATE workloads SET ended = ? WHERE spec = ? AND ended IS NULL AND lineage = ?",
                       [(seq, spec, lineage) for _, lineage in sorted(names_before - names_after)])
        named = sorted(names_after - names_before)
        store.run_many("INSERT INTO workloads (spec, id, lineage, name, began) VALUES (?, ?, ?, ?, ?)",
                       [(spec, number, lineage, name, seq)
                        for (name, lineage), number in zip(named, self._ids("workloads", len(named)))])
        store.run_many("INSERT INTO findings (spec, seq, rule, severity, workload, file, line, col, message) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(spec, seq, f.rule, f.severity, f.workload, f.pos.file, f.pos.line, f.pos.column, f.message)
                        for f in (diff.findings_introduced if diff else [])])


def _spec_id(store: Store, name: str) -> tuple[int, str | None]:
    found = store.rows("SELECT id, head FROM specs WHERE name = ?", (name,))
    if found:
        return found[0]
    number = store.rows("SELECT coalesce(max(id), 0) + 1 FROM specs")[0][0]
    store.run("INSERT INTO specs (id, name) VALUES (?, ?)", (number, name))
    return number, None


def cut_back(store: Store, spec: int, keep: int) -> None:
    """The record as it stood after commit `keep`: what later commits wrote is taken back."""
    for statement in ("DELETE FROM findings WHERE spec = ? AND seq > ?",
                      "DELETE FROM reviews WHERE spec = ? AND seq > ?",
                      "DELETE FROM commits WHERE spec = ? AND seq > ?",
                      "DELETE FROM intervals WHERE spec = ? AND began > ?",
                      "DELETE FROM workloads WHERE spec = ? AND began > ?",
                      "UPDATE intervals SET ended = NULL WHERE spec = ? AND ended > ?",
                      "UPDATE workloads SET ended = NULL WHERE spec = ? AND ended > ?"):
        store.run(statement, (spec, keep))
    store.run("DELETE FROM tuples WHERE spec = ? AND id NOT IN (SELECT tuple FROM intervals WHERE spec = ?)",
              (spec, spec))


def load_state(store: Store, spec: int) -> State:
    """The state the record holds now: the workloads' current names; their tuples stay in the record
    (Writer.open_tuples reads them)."""
    lineage = dict(store.rows("SELECT name, lineage FROM workloads WHERE spec = ? AND ended IS NULL", (spec,)))
    following = store.rows("SELECT coalesce(max(lineage), 0) + 1 FROM workloads WHERE spec = ?", (spec,))[0][0]
    return State(None, lineage, following)


COLLECT_EVERY = 16  # commits: a pass over the young objects costs about the same after one or after many


@dataclass
class Step:
    """One commit of the walk compared with the last valid one before it."""
    commit: Commit
    compared: Comparison | None = None  # None: the folder was removed, or the commit did not validate
    errors: str | None = None  # why it did not validate


class Walk:
    """Compares commit after commit with the last valid one before it (first `base_sha`, None for none).
    Each head is written over the last one in one folder of `workdir`, only the files that changed,
    so a head's document keeps its base's for the files they hold alike; the last valid commit's
    document is kept loaded. A base not loaded yet gets a folder of its own. (The base's attribute
    positions in files its head rewrote are their blocks', as for any file changed since its load:
    only its fixed findings name them, which the record does not keep.)"""

    def __init__(self, top: str, prefix: str, recursive: bool, workdir: str, base_sha: str | None,
                 on_valid: Callable[[str], None] | None, base_valid: bool = False):
        self.top, self.prefix, self.recursive, self.workdir = top, prefix, recursive, workdir
        self.base_sha, self.on_valid = base_sha, on_valid
        self.base_valid = base_valid  # taken as valid without the cache's word (a head this walk compared)
        self.base: Source | None = None
        self.documents: dict = {}
        self.heads = os.path.join(workdir, "head")  # the folder heads are written into
        self.holding: dict[str, str] = {}  # what it holds: git objects by path

    def step(self, commit: Commit) -> Step:
        if commit.tree is None:
            self._drop(self.base)
            self.base = self.base_sha = None
            return Step(commit)
        head = None
        try:
            if self.base_sha is not None and (self.base is None or self.base.label not in self.documents):
                self._drop(self.base)  # its own folder: the head goes where it may lie
                self.base = self._copy(self.base_sha)
            head = self._head(commit.sha)
            compared = self._compare(head, windows.parse(commit.date))
        except (SpecError, UsageError) as error:
            self._drop(head)
            errors = "\n".join(d.render() for d in error.diagnostics) if isinstance(error, SpecError) else str(error)
            errors = head.place_text(errors) if head else errors  # no temporary folder in the record
            return Step(commit, errors=errors)
        self._drop(self.base)
        self.base, self.base_sha, self.base_valid = head, commit.sha, True
        return Step(commit, compared)

    def _compare(self, head: Source, at) -> Comparison:
        copies: list[Source] = []  # of the base, to read it whole (its folder holds the head now)

        def base_copy() -> Source:
            copies.append(self._copy(self.base_sha))
            return copies[-1]
        try:
            return compare(self.base, head, self.recursive, on_valid=self.on_valid, at=at, documents=self.documents,
                           base_valid=self.base_valid, base_copy=base_copy)
        finally:
            for copy in copies:
                shutil.rmtree(copy.folder, ignore_errors=True)

    def _copy(self, sha: str) -> Source:
        return copy_revision(sha, self.top, self.prefix, self.recursive, self.workdir)

    def _head(self, sha: str) -> Source:
        previous, self.holding = self.holding, {}  # emptied first: a failed write leaves it unknown
        try:
            os.makedirs(self.heads, exist_ok=True)
            head = update_copy(sha, self.top, self.prefix, self.recursive, self.heads, previous, self.base)
        except (UsageError, OSError):
            shutil.rmtree(self.heads, ignore_errors=True)
            raise
        self.holding = head.blobs
        return head

    def _drop(self, source: Source | None) -> None:
        """A revision is no longer needed: its loaded document goes, and its folder unless heads share it."""
        if source is not None:
            self.documents.pop(source.label, None)
            if source.folder != self.heads:
                shutil.rmtree(source.folder, ignore_errors=True)


@contextmanager
def parsing_ahead(shas: list[str], known: str | None, top: str, prefix: str, recursive: bool) -> Iterator[None]:
    """While inside, a forked process parses into the cache the spec files these commits bring (those
    not in the commit `known`), in their order: the walk then finds them parsed. Parsing is most of a
    commit's cost and needs nothing of the walk. Only with the cache on, a second core and fork."""
    if not shas or not cache.enabled() or not can_fork_workers():
        yield
        return
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    worker = context.Process(target=_parse_into_cache, args=(shas, known, top, prefix, recursive, stop), daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()  # it stops between two files, never inside a cache write
        worker.join()


def _parse_into_cache(shas: list[str], known: str | None, top: str, prefix: str, recursive: bool, stop) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupted run stops it through `stop`, quietly
    try:
        seen = set(spec_blobs(known, top, prefix, recursive).values()) if known else set()
        for sha in shas:
            try:
                blobs = spec_blobs(sha, top, prefix, recursive)
            except UsageError:
                continue  # the walk reports it
            wanted = [(relative, obj) for relative, obj in blobs.items() if obj not in seen and reader_for(relative)]
            seen.update(obj for _, obj in wanted)
            for (relative, _), content in zip(wanted, read_objects([obj for _, obj in wanted], top)):
                if stop.is_set():
                    return
                try:
                    text = content.decode("utf-8-sig")  # as the loader reads it: the same text, the same entry
                except UnicodeDecodeError:
                    continue
                cache.read_cached(relative, text, Report(), read)
    except (UsageError, OSError):
        return  # git cannot read what the walk asks for: the walk says so


def record(folder: str, store: Store, recursive: bool = False, head: str = "HEAD",
           on_valid: Callable[[str], None] | None = None) -> Outcome:
    """Bring the record of the spec folder up to `head` (see the module's text); UsageError when git
    cannot read it."""
    if not os.path.isdir(folder):
        raise UsageError(f"{folder}: not a folder; wiam history reads a spec folder in a git repository")
    top, prefix = repository_of(folder, folder)
    shas = first_parent(top, _git(["rev-parse", "--verify", f"{head}^{{commit}}"], top).strip())
    name = spec_name(top, prefix)
    with store.transaction(), tempfile.TemporaryDirectory(prefix="wiam-history-") as workdir:
        spec, last = _spec_id(store, name)
        recorded = store.rows("SELECT seq, sha, tree, valid FROM commits WHERE spec = ? ORDER BY seq", (spec,))
        position = {sha: n for n, sha in enumerate(shas)}
        kept = next((n for n, row in enumerate(recorded) if row[1] not in position), len(recorded))
        rebuilt_from = None
        if last is not None and last not in position:  # a force push
            if _git(["rev-parse", "--is-shallow-repository"], top).strip() == "true":
                raise UsageError("the repository is a shallow clone, so its history looks rewritten: fetch the "
                                 "whole history (git fetch --unshallow; actions/checkout with fetch-depth: 0)")
            rebuilt_from = recorded[kept - 1][1] if kept else ""
            cut_back(store, spec, kept)
            last = rebuilt_from or None
        start = position[last] + 1 if last else 0
        tree = recorded[kept - 1][2] if kept else None
        valid = [row for row in recorded[:kept] if row[3]]
        base_sha = valid[-1][1] if valid and valid[-1][2] else None  # copied when a commit needs it
        todo = []  # the commits that changed the spec folder
        for commit in read_commits(shas[start:], top, prefix):  # only the new ones: a record grows long
            if commit.tree != tree and not (commit.tree is None and kept + len(todo) == 0):  # absent from the start
                todo.append(commit)
                tree = commit.tree
        state, seq = load_state(store, spec), kept
        writer, reviews = Writer(store, spec), RecordedReviews(store, spec)
        outcome = Outcome(name, [c.sha for c in todo], [], rebuilt_from)
        walk = Walk(top, prefix, recursive, workdir, base_sha, on_valid)
        # The walk's objects are mostly long-lived (the state, the loaded documents), so the collector's
        # passes would go over them again and again; only the young ones are collected, now and then.
        with gc_paused(), parsing_ahead([c.sha for c in todo if c.tree], base_sha, top, prefix, recursive):
            for step in map(walk.step, todo):
                seq += 1
                if (seq - kept) % COLLECT_EVERY == 0:  # by this run's commits: a short run makes no pass over its base
                    gc.collect(0)
                if step.commit.tree is None:  # the folder was removed: all its access ends
                    writer.commit(seq, step.commit, None, "narrowing" if writer.holds_any() else "neutral")
                    new = State(next_lineage=state.next_lineage)
                    writer.changes(seq, state, new, None)
                    state = State(None, new.lineage, new.next_lineage)  # as the record now holds it
                elif step.compared is None:
                    writer.commit(seq, step.commit, step.errors, None)
                    outcome.invalid.append(step.commit.sha)
                else:
                    new = advance(state, step.compared, writer.open_tuples)
                    writer.commit(seq, step.commit, None, step.compared.diff.classification)
                    writer.changes(seq, state, new, step.compared.diff)
                    reviews.commit(seq, new.lineage, step.compared.new.reviews)
                    state = State(None, new.lineage, new.next_lineage)
        if shas:
            store.run("UPDATE specs SET head = ? WHERE id = ?", (shas[-1], spec))
    return outcome


# Reading the record.

COMMIT_COLUMNS = ("seq", "sha", "author", "email", "date", "message", "valid", "classification", "began", "ended",
                  "findings")
INTERVAL_COLUMNS = ("workload", "issuer", "subject", "cloud", "target", "permission", "resource", "indirect",
                    "conditions", "began", "ended", "began_sha", "began_date", "began_author", "began_message", "ended_sha",
                    "ended_date", "ended_author", "ended_message")


def spec_of(store: Store, name: str) -> int | None:
    found = store.rows("SELECT id FROM specs WHERE name = ?", (name,))
    return found[0][0] if found else None


def commit_log(store: Store, spec: int) -> list[dict]:
    """Every recorded commit, oldest first, with how many intervals began and ended at it and the
    number of findings it introduced."""
    rows = store.rows("SELECT seq, sha, author, email, date, message, valid, classification FROM commits "
                      "WHERE spec = ? ORDER BY seq", (spec,))
    # counted in one pass each, not once per commit: a long record has thousands of commits
    began, ended, findings = (dict(store.rows(query, (spec,))) for query in (
        "SELECT began, count(*) FROM intervals WHERE spec = ? GROUP BY began",
        "SELECT ended, count(*) FROM intervals WHERE spec = ? AND ended IS NOT NULL GROUP BY ended",
        "SELECT seq, count(*) FROM findings WHERE spec = ? GROUP BY seq"))
    return [dict(zip(COMMIT_COLUMNS, (*row, began.get(row[0], 0), ended.get(row[0], 0), findings.get(row[0], 0))),
                 valid=bool(row[6])) for row in rows]


def timeline(store: Store, spec: int, workload: str | None = None, resource: str | None = None) -> list[dict]:
    """The intervals of the tuples held by a workload (under any of its names) or on a resource, in
    the order they began, each under the workload's name when it began."""
    chosen, params = ("t.lineage IN (SELECT lineage FROM workloads WHERE spec = ? AND name = ?)", (spec, workload)) \
        if workload is not None else ("t.resource = ?", (resource,))
    rows = store.rows(
        "SELECT w.name, t.issuer, t.subject, t.cloud, t.target, t.permission, t.resource, t.indirect, i.conditions, "
        "i.began, i.ended, b.sha, b.date, b.author, b.message, e.sha, e.date, e.author, e.message "
        "FROM intervals i JOIN tuples t ON t.spec = i.spec AND t.id = i.tuple "
        "JOIN commits b ON b.spec = i.spec AND b.seq = i.began "
        "LEFT JOIN commits e ON e.spec = i.spec AND e.seq = i.ended "
        "JOIN workloads w ON w.spec = i.spec AND w.lineage = t.lineage AND w.began <= i.began "
        "AND (w.ended IS NULL OR w.ended > i.began) "
        f"WHERE i.spec = ? AND {chosen} ORDER BY i.began, i.id", (spec, *params))
    return [dict(zip(INTERVAL_COLUMNS, row), indirect=bool(row[7])) for row in rows]


# The spec as it stood then.

def spec_then(folder: str, when: str, recursive: bool, workdir: str) -> tuple[Source, datetime]:
    """The spec folder as it stood at a revision, or at a UTC date (YYYY-MM-DD or a full time: the
    branch's last first-parent commit by then), copied out of git; with the moment to evaluate its
    windows at: the date given, else the commit's committer date."""
    if not os.path.isdir(folder):
        raise UsageError(f"{folder}: not a folder; --rev reads a spec folder in a git repository")
    top, prefix = repository_of(folder, folder)
    moment = utc_date(when)
    if moment is not None:
        found = _git(["rev-list", "--first-parent", "-1", f"--before={moment.timestamp():.0f}", "HEAD", "--"],
                     top).split()
        if not found:
            raise UsageError(f"--rev {when}: the branch has no commit by then")
        sha = found[0]
    elif when.startswith("-"):
        raise UsageError(f"--rev {when}: not a revision or a UTC date")
    else:
        sha = _git(["rev-parse", "--verify", "--quiet", f"{when}^{{commit}}"], top).strip()
    commit = _commit(sha, read_objects([sha], top)[0].decode("utf-8", "replace"), None)
    return copy_revision(sha, top, prefix, recursive, workdir), moment or windows.parse(commit.date)


def utc_date(text: str) -> datetime | None:
    """YYYY-MM-DD (its midnight) or YYYY-MM-DDTHH:MM:SSZ as a UTC time; None when it is neither."""
    for candidate in (text, f"{text}T00:00:00Z"):
        try:
            return windows.parse(candidate)
        except ValueError:
            continue
    return None

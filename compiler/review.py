"""Access reviews: which workloads are due or overdue for review under settings.review_every, and
what changed since their last review: the access the record (wiam history) saw begin and end, else
the commits to their files; and the record's reviews table, which the history walk writes."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from . import registry
from .model import Model, Review, Workload
from .revision import run_git
from .store import Store

DUE_SOON = timedelta(days=14)  # a review falls due this long before its interval ends
CHANGES_SHOWN = 20  # commits listed per workload, newest first


def state(last: date | None, every: timedelta, today: date) -> str:
    """"overdue" (never reviewed, or the interval since the last review has ended by `today`), "due"
    (it ends within DUE_SOON) or "fresh"."""
    if last is None or today >= due_day(last, every):
        return "overdue"
    return "due" if today >= due_day(last, every) - DUE_SOON else "fresh"


def due_day(last: date, every: timedelta) -> date:
    """The day the next review is due; the last day there is when the interval runs past it."""
    try:
        return last + every
    except OverflowError:
        return date.max


def counted(reviews: tuple[Review, ...], today: date) -> tuple[Review | None, tuple[Review, ...]]:
    """(the latest review on or before `today`, the reviews dated after it): a review dated in the
    future is not counted, so that no one postpones the next review by writing a later day."""
    past = [r for r in reviews if r.on <= today]
    return max(past, key=lambda r: r.on, default=None), tuple(r for r in reviews if r.on > today)


@dataclass(frozen=True)
class Change:
    commit: str
    day: str
    author: str
    subject: str


@dataclass(frozen=True)
class AccessChange(Change):
    """A tuple of the workload's that began or ended at a recorded commit."""
    event: str  # "began" or "ended"
    access: str  # "subject -> cloud target -> permission on resource [(indirect)] [when claims]"


@dataclass(frozen=True)
class Status:
    workload: str
    owner: str
    state: str
    last: Review | None
    due: date | None  # when the next review is due; None when never reviewed
    file: str
    access: tuple[str, ...]  # one line per grant: "cloud target: permissions"
    future: tuple[Review, ...]  # reviews dated after the moment: not counted

    def as_json(self) -> dict:
        return {"workload": self.workload, "owner": self.owner, "state": self.state, "file": self.file,
                "last_review": {"by": self.last.by, "on": self.last.on.isoformat()} if self.last else None,
                "due": self.due.isoformat() if self.due else None, "access": list(self.access),
                "not_counted": [{"by": r.by, "on": r.on.isoformat()} for r in self.future]}


def access_lines(workload: Workload) -> tuple[str, ...]:
    lines = []
    for grant in workload.grants:
        entries = grant.settings.get(registry.get(grant.cloud).permissions.FIELD, [])
        lines.append(f"{grant.cloud} {grant.target}: {', '.join(entries) or 'no permissions'}")
    return tuple(lines)


def status(workload: Workload, every: timedelta, today: date) -> Status:
    last, future = counted(workload.reviews, today)
    return Status(workload.name, workload.owner, state(last.on if last else None, every, today), last,
                  due_day(last.on, every) if last else None, workload.pos.file, access_lines(workload), future)


def statuses(model: Model, every: timedelta, today: date) -> list[Status]:
    """Every workload's status, overdue first, then by due day and name."""
    found = [status(w, every, today) for _, w in sorted(model.workloads.items())]
    order = {"overdue": 0, "due": 1, "fresh": 2}
    return sorted(found, key=lambda s: (order[s.state], s.due or date.min, s.workload))


def described(status: Status) -> str:
    """A status in a few words: "overdue (never reviewed)", "fresh (last 2026-11-02, due 2027-01-31)"."""
    if status.last is None:
        return f"{status.state} (never reviewed)"
    return f"{status.state} (last {status.last.on}, due {status.due})"


def _start(day: date) -> int:
    return int(datetime.combine(day, time(), timezone.utc).timestamp())


def _folder_log(folder: str, since: date | None, until: datetime) -> dict[str, list[tuple[int, Change]]] | None:
    """Each file's first-parent commits in `folder` (paths relative to it), newest first, with their
    commit times; None when the folder is not in a git work tree. One git run for every workload."""
    args = ["-c", "core.quotePath=false", "log", "--first-parent", "--relative", "--name-only",
            "--format=%x01%h%x00%ct%x00%as%x00%an%x00%s", f"--until=@{int(until.timestamp())}"]
    if since is not None:
        args.append(f"--since=@{_start(since)}")
    try:
        result = run_git([*args, "--", "."], folder, 60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    files: dict[str, list[tuple[int, Change]]] = {}
    for entry in result.stdout.decode("utf-8", "replace").split("\x01")[1:]:
        head, *names = entry.split("\n")
        commit, when, day, author, subject = head.split("\0", 4)
        for name in filter(None, names):
            files.setdefault(name, []).append((int(when), Change(commit, day, author, subject)))
    return files


def changes(listed: list[Status], folder: str, until: datetime) -> dict[str, tuple[Change, ...] | None]:
    """By workload: the commits (at most CHANGES_SHOWN, newest first) that changed its file since the
    start of the day of its last review (all, never reviewed) up to `until`; None outside git."""
    days = [s.last.on if s.last else None for s in listed]
    log = _folder_log(folder, None if None in days else min(days, default=None), until) if listed else {}
    found: dict[str, tuple[Change, ...] | None] = {}
    for s, day in zip(listed, days):
        if log is None:
            found[s.workload] = None
            continue
        commits = log.get(os.path.relpath(s.file, folder).replace(os.sep, "/"), [])
        found[s.workload] = tuple(c for when, c in commits if day is None or when >= _start(day))[:CHANGES_SHOWN]
    return found


class RecordedReviews:
    """The record's reviews table, written as a history walks: each review block of a workload lineage
    at the commit where it first appeared (a later rename or removal leaves that row as it is)."""

    def __init__(self, store: Store, spec: int):
        self.store, self.spec = store, spec
        self.seen = set(store.rows("SELECT lineage, reviewer, day FROM reviews WHERE spec = ?", (spec,)))

    def commit(self, seq: int, lineage: dict[str, int], reviews: dict[str, frozenset[tuple[str, str]]]) -> None:
        """The reviews of a commit's workloads (those it read: all, or the slice it changed)."""
        fresh = sorted({(lineage[name], name, by, on) for name, found in reviews.items() for by, on in found
                        if (lineage[name], by, on) not in self.seen})
        self.seen |= {(n, by, on) for n, _, by, on in fresh}
        self.store.run_many("INSERT INTO reviews (spec, lineage, workload, reviewer, day, seq) VALUES (?, ?, ?, ?, ?, ?)",
                            [(self.spec, *row, seq) for row in fresh])


def access_text(subject: str, cloud: str, target: str, permission: str, resource: str, indirect, claims: str) -> str:
    """A recorded tuple in one line, as an AccessChange shows it."""
    return (f"{subject} -> {cloud} {target} -> {permission} on {resource}" + (" (indirect)" if indirect else "")
            + (f" when {claims}" if claims else ""))


def recorded_changes(listed: list[Status], store: Store, spec: int, until: str) -> dict[str, tuple[AccessChange, ...]]:
    """By workload: the tuples of its lineage (the workload across its renames) that began or ended at
    a recorded commit since the start of the day of its last review (all, never reviewed) up to `until`
    (a UTC time as the record writes it), the newest
    CHANGES_SHOWN commits' worth, newest first."""
    found = {}
    for s in listed:
        rows = store.rows(
            "SELECT c.seq, c.sha, c.date, c.author, c.message, c.seq = i.began, t.subject, t.cloud, t.target, "
            "t.permission, t.resource, t.indirect, i.conditions FROM intervals i JOIN tuples t ON t.spec = i.spec AND t.id = i.tuple "
            "JOIN commits c ON c.spec = i.spec AND (c.seq = i.began OR c.seq = i.ended) "
            "WHERE i.spec = ? AND c.date >= ? AND c.date <= ? AND t.lineage IN "
            "(SELECT lineage FROM workloads WHERE spec = ? AND name = ? AND ended IS NULL) "
            "ORDER BY c.seq DESC, c.seq = i.began, t.subject, t.cloud, t.target, t.permission, t.resource, t.indirect",
            (spec, f"{s.last.on.isoformat()}T00:00:00Z" if s.last else "", until, spec, s.workload))
        newest = sorted({row[0] for row in rows}, reverse=True)[:CHANGES_SHOWN]
        found[s.workload] = tuple(
            AccessChange(sha, day, author, message.split("\n", 1)[0], "began" if began else "ended", access_text(*row))
            for seq, sha, day, author, message, began, *row in rows if newest and seq >= newest[-1])
    return found

"""Access reviews: which workloads are due or overdue for review under settings.review_every, and
what changed in their files since their last review."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from . import registry
from .model import Model, Review, Workload
from .revision import run_git

DUE_SOON = timedelta(days=14)  # a review falls due this long before its interval ends
CHANGES_SHOWN = 20  # commits listed per workload, newest first


def state(last: date | None, every: timedelta, today: date) -> str:
    """"overdue" (never reviewed, or the interval since the last review has ended by `today`), "due"
    (it ends within DUE_SOON) or "fresh"."""
    if last is None or today >= last + every:
        return "overdue"
    return "due" if today >= last + every - DUE_SOON else "fresh"


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
                  last.on + every if last else None, workload.pos.file, access_lines(workload), future)


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


def changes_since(file: str, since: date | None, until: datetime) -> tuple[Change, ...] | None:
    """The first-parent commits that changed `file` after the start of `since` (all, when None) and up
    to `until`, newest first; None when the file is not in a git work tree."""
    folder = os.path.dirname(os.path.abspath(file))
    args = ["log", "--first-parent", f"-n{CHANGES_SHOWN}", "--format=%h%x00%as%x00%an%x00%s",
            f"--until=@{int(until.timestamp())}"]
    if since is not None:
        args.append(f"--since=@{int(datetime.combine(since, time(), timezone.utc).timestamp())}")
    try:
        result = run_git([*args, "--", os.path.basename(file)], folder, 30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    rows = result.stdout.decode("utf-8", "replace").splitlines()
    return tuple(Change(*row.split("\0", 3)) for row in rows if row.count("\0") == 3)

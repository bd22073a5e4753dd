"""Time windows (just-in-time access): parsing the spec's timestamps, narrowing windows along a
workload's path, and resolving a model at one moment, the only way time enters a compile."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from .diagnostics import Report
from .model import ALWAYS, Model, Window

FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # RFC 3339 in UTC to the second: what every cloud's condition reads


def parse(text: str) -> datetime:
    """A spec timestamp as an aware UTC datetime; ValueError if it is no real time (2026-02-30)."""
    return datetime.strptime(text, FORMAT).replace(tzinfo=timezone.utc)


def text(moment: datetime) -> str:
    utc = moment.astimezone(timezone.utc)
    return f"{utc.year:04d}" + utc.strftime(FORMAT[2:])  # strftime's %Y drops a small year's zeros


_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def duration(given: str) -> timedelta:
    """A duration as options take it: 12h, 90m, 1d12h, 30s; ValueError if it is none."""
    match = _DURATION.fullmatch(given)
    if not match or not any(match.groups()):
        raise ValueError(f"{given!r} is no duration")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    try:
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ValueError(f"{given!r} is longer than any time can be") from None


AT_VARIABLE = "WIAM_AT"  # the moment to evaluate windows at when none is given: reproducible runs, tests


def current() -> datetime:
    """The moment windows are evaluated at by default: $WIAM_AT if set (ValueError if it is no
    time), else now, to the second."""
    given = os.environ.get(AT_VARIABLE)
    return parse(given) if given else datetime.now(timezone.utc).replace(microsecond=0)


def narrowest(*windows: Window) -> Window:
    """The window within all of them: the latest start and the earliest end."""
    bounded = [w for w in windows if w]
    if len(bounded) < 2:
        return bounded[0] if bounded else ALWAYS
    starts = [w.not_before for w in windows if w.not_before is not None]
    ends = [w.expires for w in windows if w.expires is not None]
    return Window(max(starts) if starts else None, min(ends) if ends else None)


def empty(window: Window) -> bool:
    """Whether the window can never hold (it ends before it begins)."""
    return window.not_before is not None and window.expires is not None and window.expires <= window.not_before


def closed(window: Window, at: datetime) -> bool:
    return window.expires is not None and window.expires <= at


def pending(window: Window, at: datetime) -> bool:
    return window.not_before is not None and at < window.not_before


def holds(window: Window, at: datetime) -> bool:
    return not closed(window, at) and not pending(window, at)


def described(window: Window) -> str:
    if window.not_before and window.expires:
        return f"from {text(window.not_before)} until {text(window.expires)}"
    if window.expires:
        return f"until {text(window.expires)}"
    return f"from {text(window.not_before)}" if window.not_before else "always"


def as_json(window: Window) -> dict[str, str]:
    """The window as the graph, plans and reports carry it: only its bounds that are set."""
    return {key: text(value) for key, value in (("not_before", window.not_before), ("expires", window.expires))
            if value is not None}


def from_json(data: dict | None) -> Window:
    """The window as_json gave (None or {} for always)."""
    data = data or {}
    return Window(*(parse(data[key]) if key in data else None for key in ("not_before", "expires")))


def state(window: Window, at: datetime) -> str:
    """Where `at` is in the window: "holds", "pending" (not yet) or "closed"."""
    return "closed" if closed(window, at) else "pending" if pending(window, at) else "holds"


def resolve(model: Model, at: datetime, report: Report) -> Model:
    """The model at one moment: an identity whose window has closed is refused like a disabled one,
    and a grant whose window (within its workload's) has closed is no access at all. Windows still to
    come stay, for each cloud to enforce. Notes say what closed, so the change explains itself."""
    model.at = at
    for workload in model.workloads.values():
        identities = []
        for identity in workload.identities:
            if identity.window and closed(identity.window, at) and not identity.disabled:
                why = f"its window closed at {text(identity.window.expires)}"
                report.notes.append(f"workload {workload.name!r} identity #{identity.index + 1}: {why}; "
                                    "its tokens are refused")
                identity = replace(identity, disabled=why)
            identities.append(identity)
        workload.identities = identities
        kept = []
        for grant in workload.grants:
            window = narrowest(workload.window, grant.window)
            if closed(window, at):
                report.notes.append(f"workload {workload.name!r} grant {grant.cloud!r} {grant.target!r}: its window "
                                    f"closed at {text(window.expires)}; it compiles to no access")
                workload.closed.append(grant)
            else:
                kept.append(grant)
        workload.grants = kept
    model._grants_by_target = None
    return model


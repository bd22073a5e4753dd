"""Rules on time windows (just-in-time access), judged at the model's moment (--at): standing
privileged access, windows about to close or already closed, break-glass access, and windows a cloud
cannot enforce itself."""

from __future__ import annotations

from datetime import datetime, timedelta

from .. import registry, windows
from ..access import grant_id
from ..document import describe
from ..findings import SEVERITIES, Context, Rule, rule
from ..model import Grant, Window, Workload
from ..suggest import listed
from .rules import environment_of

RULES: list[Rule] = []

PRIVILEGED = ("high", "critical")  # the permission severities (each cloud's impact) standing access may not hold


def grant_severity(context: Context, grant: Grant) -> str | None:
    """The worst severity of what the grant allows, as each cloud rates it (blast radius); None if
    it is not in the graph."""
    graph = context.access.graph
    node = grant_id(grant)
    if node not in graph:
        return None
    impact = registry.get(grant.cloud).permissions.impact
    rated = [impact(graph.nodes[n]) for n in graph.successors(node) if graph.nodes[n]["type"] in ("action", "role")]
    return max(rated, key=SEVERITIES.index, default=None)


def standing(workload: Workload, grant: Grant) -> bool:
    """Whether some subject holds the grant with no end: neither its path window (identity's, which
    includes the workload's, and the grant's) ever closes."""
    return any(windows.narrowest(i.window, grant.window).expires is None for i in workload.active_identities)


def expiring_soon(window: Window, at: datetime, within: timedelta) -> bool:
    """Whether the window is open at `at` and closes within `within` of it (one not yet open holds no access)."""
    opened = window.not_before is None or window.not_before <= at
    return opened and window.expires is not None and at < window.expires and window.expires - at <= within


def length(window: Window, at: datetime) -> timedelta | None:
    """How long the window holds from its start (from `at` when it has none); None: it never ends."""
    if window.expires is None:
        return None
    return window.expires - (window.not_before or at)


def too_long(window: Window, at: datetime, maximum: timedelta) -> bool:
    """Whether a window still to close holds for longer than `maximum`."""
    held = length(window, at)
    return not windows.closed(window, at) and (held is None or held > maximum)


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:g}h"


def _grant_path(workload: Workload, grant: Grant) -> tuple:
    return ("workload", workload.name, "grant", grant.cloud, grant.target)


@rule(RULES, "WIAM020", "standing-privileged-access", "medium",
      "Production access rated high or critical with no expiry",
      """A production workload holds a grant whose permissions are rated high or critical (the blast
      radius severity) and no window ends it: whoever obtains one of its subjects holds that access
      at any time, not only while it is needed.""",
      """Give the access a window: expires (and reason, ticket) on the grant or the workload, renewed
      when needed; or narrow the grant to what is not privileged.""")
def _standing_privileged(rule: Rule, context: Context):
    for name, workload in sorted(context.model.workloads.items()):
        if environment_of(workload.environment) != "prod":
            continue
        for grant in workload.grants:
            severity = grant_severity(context, grant)
            if severity in PRIVILEGED and standing(workload, grant):
                path = _grant_path(workload, grant)
                yield rule.finding(context.model.where(path, key=True), describe(path),
                                   f"workload {name!r} ({workload.environment}) holds {severity} access on "
                                   f"{grant.cloud} {grant.target!r} with no expiry", workload=name)


def _own_windows(workload: Workload) -> list[tuple[tuple, Window]]:
    """(block path, window) of each block that sets its own window: the workload, identities whose
    window is narrower than the workload's, and grants."""
    base = ("workload", workload.name)
    found = [(base, workload.window)] if workload.window else []
    found += [(base + ("identity", i.index), i.window) for i in workload.identities
              if i.window and i.window != workload.window]
    found += [(_grant_path(workload, g), g.window) for g in workload.grants if g.window]
    return found


@rule(RULES, "WIAM021", "window-expiring-soon", "low", "Time window closing soon",
      """An open window closes within the expiring-soon duration of the moment analysed (analyze
      --expiring-within, default 24h). When it closes the access ends; if it is still needed, the
      owner has to extend it before then.""",
      """Extend expires (with the reason and ticket) if the access is still needed, or let it close
      and run wiam prune afterwards.""")
def _expiring_soon(rule: Rule, context: Context):
    at, within = context.model.at, context.limits.expiring_within
    for name, workload in sorted(context.model.workloads.items()):
        for path, window in _own_windows(workload) if at else ():
            if expiring_soon(window, at, within):
                yield rule.finding(context.model.where(path + ("expires",)), describe(path),
                                   f"its window closes at {windows.text(window.expires)}, within {_hours(within)}",
                                   workload=name)


@rule(RULES, "WIAM022", "closed-window-in-spec", "low", "Closed time window still in the spec",
      """A workload, identity or grant whose window has closed compiles to no access (a closed identity
      is refused, a closed grant gives nothing), but its block stays in the spec, where it reads as
      access someone holds.""",
      """Run wiam prune to remove the closed blocks (or delete them), or extend expires if the access
      is needed again.""")
def _closed_windows(rule: Rule, context: Context):
    at = context.model.at
    for name, workload in sorted(context.model.workloads.items()):
        if at is None:
            break
        base = ("workload", name)
        if windows.closed(workload.window, at):
            yield rule.finding(context.model.where(base + ("expires",)), describe(base),
                               f"workload {name!r} closed at {windows.text(workload.window.expires)}: run wiam "
                               "prune", workload=name)
            continue
        closed = [(base + ("identity", i.index), i.window) for i in workload.identities if windows.closed(i.window, at)]
        closed += [(_grant_path(workload, g), windows.narrowest(workload.window, g.window)) for g in workload.closed]
        for path, window in closed:
            yield rule.finding(context.model.where(path + ("expires",)), describe(path),
                               f"its window closed at {windows.text(window.expires)}: run wiam prune", workload=name)


@rule(RULES, "WIAM023", "long-break-glass-window", "medium", "Break-glass window longer than the maximum",
      """Break-glass access is for an incident, and an incident's access is short. A break-glass
      window (the workload's within each grant's) that holds for longer than the maximum (analyze
      --max-break-glass, default 12h; from its not_before, or from the moment analysed when it has
      none) is standing access by another name.""",
      """Shorten expires to the incident's need; extend it again, with the ticket, if the incident
      lasts longer.""")
def _long_break_glass(rule: Rule, context: Context):
    at, maximum = context.model.at, context.limits.max_break_glass
    for name, workload in sorted(context.model.workloads.items()):
        if not workload.break_glass or at is None:
            continue
        for grant in workload.grants:
            window = windows.narrowest(workload.window, grant.window)
            if too_long(window, at, maximum):
                # the length only when it is fixed: the message is the finding's fingerprint across runs
                held = f" ({_hours(length(window, at))})" if window.not_before and window.expires else ""
                path = _grant_path(workload, grant)
                yield rule.finding(context.model.where(path, key=True), describe(path),
                                   f"break-glass access on {grant.cloud} {grant.target!r} holds "
                                   f"{windows.described(window)}{held}, longer than {_hours(maximum)}", workload=name)


@rule(RULES, "WIAM024", "break-glass-without-ticket", "medium", "Break-glass access with no incident reference",
      """Break-glass access should point at the incident it is for, so that an auditor can tell an
      emergency from a shortcut. Neither the workload nor each of its grants sets ticket.""",
      """Set ticket = "INC-..." (the incident or change reference) on the workload or on each grant.""")
def _break_glass_tickets(rule: Rule, context: Context):
    for name, workload in sorted(context.model.workloads.items()):
        missing = [f"{g.cloud} {g.target}" for g in workload.grants + workload.closed if not g.ticket]
        if workload.break_glass and not workload.ticket and missing:
            path = ("workload", name)
            yield rule.finding(context.model.where(path + ("break_glass",), key=True), describe(path),
                               f"break-glass workload {name!r} names no incident (ticket) for "
                               f"{listed(sorted(missing))}", workload=name)


@rule(RULES, "WIAM025", "unenforced-window", "medium", "Time window the cloud cannot enforce",
      """The cloud cannot check this part of the workload's window itself, so it holds only as long as
      the spec is compiled and applied again: access ends when the next apply after expires removes
      it, not at expires.""",
      """Schedule wiam compile and terraform apply (e.g. hourly, see README "Closing windows on
      schedule"), or give the access on a cloud that enforces the window.""")
def _unenforced(rule: Rule, context: Context):
    for (cloud, target), plan in sorted(context.plans.items()):
        for name, what in sorted(plan.unenforced.items()):
            workload = context.model.workloads[name]
            grant = next((g for g in workload.grants if (g.cloud, g.target) == (cloud, target)), None)
            path = _grant_path(workload, grant) if grant else ("workload", name)
            yield rule.finding(context.model.where(path, key=True), describe(path),
                               f"workload {name!r} on {cloud} target {target!r}: {listed(list(what))} not enforced "
                               "by the cloud; it holds only until the next compile and apply", workload=name)

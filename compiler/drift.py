"""Drift: what runs in the clouds against what the spec compiles to, per target.

Each provider's `live` module turns a target's plan into the objects it expects (`expected`) and
reads the same kinds of objects from the cloud, read-only (`read`). Objects are compared by kind and name, on states the provider has already made canonical (policies as sets of
statements, member lists as sets), so formatting and order never count as drift."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from . import registry
from .planning import plan_model
from .diagnostics import bounded, printable
from .live import REASONS, LiveObject, Unreadable
from .model import Model
from .plan import Plans


@dataclass
class TargetDrift:
    cloud: str
    target: str
    missing: list[LiveObject] = field(default_factory=list)
    extra: list[LiveObject] = field(default_factory=list)
    changed: list[tuple[LiveObject, LiveObject, list[dict]]] = field(default_factory=list)
    unreadable: str | None = None
    reason: str | None = None  # one of REASONS when unreadable
    unchecked: int = 0  # compiled resources of kinds drift does not read (the provider says which)

    @property
    def drifted(self) -> bool:
        return bool(self.missing or self.extra or self.changed)

    def as_json(self) -> dict:
        return {"cloud": self.cloud, "target": self.target, "readable": self.unreadable is None,
                "unreadable": self.unreadable, "unread_reason": self.reason, "unchecked": self.unchecked,
                "missing": [{"kind": o.kind, "name": o.name, "expected": o.state} for o in self.missing],
                "extra": [{"kind": o.kind, "name": o.name, "actual": o.state} for o in self.extra],
                "changed": [{"kind": e.kind, "name": e.name, "differences": d} for e, _, d in self.changed]}


def differences(expected, actual, path: str = "") -> list[dict]:
    """Field by field: maps recurse, lists (canonical, so sets) report what was added and removed."""
    if expected == actual:
        return []
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in sorted(set(expected) | set(actual)):
            found += differences(expected.get(key), actual.get(key), f"{path}.{key}" if path else key)
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        encode = lambda item: json.dumps(item, sort_keys=True)  # noqa: E731 - items may be maps
        have, want = {encode(i): i for i in actual}, {encode(i): i for i in expected}
        return [{"field": path, "added": [have[k] for k in sorted(set(have) - set(want))],
                 "removed": [want[k] for k in sorted(set(want) - set(have))]}]
    return [{"field": path, "expected": expected, "actual": actual}]


def compare(cloud: str, target: str, expected: list[LiveObject], actual: list[LiveObject]) -> TargetDrift:
    result = TargetDrift(cloud, target)
    want = {(o.kind, o.name): o for o in expected}
    have = {(o.kind, o.name): o for o in actual}
    for key in sorted(want):
        if key not in have:
            result.missing.append(want[key])
        elif want[key].state != have[key].state:
            result.changed.append((want[key], have[key], differences(want[key].state, have[key].state)))
    result.extra = [have[key] for key in sorted(set(have) - set(want))]
    return result


def selected(model: Model, clouds: set[str] | None = None, names: list[str] | None = None) -> list[tuple[str, str]]:
    """The (cloud, name) keys of the targets a run reads: those of `clouds`, and among them those
    `names` gives, each a target's NAME or CLOUD.NAME. A name no target has raises ValueError."""
    keys = sorted(key for key in model.targets if not clouds or key[0] in clouds)
    if not names:
        return keys
    chosen = set()
    for given in names:
        found = [key for key in keys if given in (key[1], f"{key[0]}.{key[1]}")]
        if not found:
            known = ", ".join(f"{c}.{n}" for c, n in sorted(model.targets)) or "none"
            raise ValueError(f"no target named {given!r}" + (f" in {', '.join(sorted(clouds))}" if clouds else "")
                             + f" (targets: {known})")
        chosen.update(found)
    return sorted(chosen)


def drift(model: Model, connections: dict, targets: list[tuple[str, str]] | None = None,
          plans: Plans | None = None) -> list[TargetDrift]:
    """Each target's drift, of every target or of the (cloud, name) keys `targets` gives (see
    `selected`), against its plan (planned here when not given). `connections[cloud]` is that
    cloud's live connection (SDK clients from the default credential chain)."""
    plans = plan_model(model) if plans is None else plans
    results = []
    for (cloud, name), plan in sorted(plans.items()):
        if targets is not None and (cloud, name) not in targets:
            continue
        live = registry.get(cloud).live
        expected = live.expected(plan)
        try:
            result = compare(cloud, name, expected, live.read(plan, expected, connections[cloud]))
        except Unreadable as error:
            result = TargetDrift(cloud, name, unreadable=str(error), reason=error.reason)
        result.unchecked = live.unchecked(plan)
        results.append(result)
    return results


def to_text(results: list[TargetDrift]) -> str:
    lines = []
    for result in results:
        head = f"{result.cloud} {result.target}"
        if result.unreadable:
            lines.append(f"{head}: not read ({REASONS[result.reason]}): {bounded(result.unreadable)}")
            continue
        if result.unchecked:
            head += f" ({result.unchecked} resource bindings not read)"
        if not result.drifted:
            lines.append(f"{head}: no drift")
            continue
        lines.append(f"{head}: {len(result.missing)} missing, {len(result.extra)} extra, {len(result.changed)} changed")
        # Names read from the cloud are anyone's with write access there: shown printable.
        lines += [f"  missing {o.kind} {printable(o.name)}" for o in result.missing]
        lines += [f"  extra   {o.kind} {printable(o.name)}" for o in result.extra]
        for expected, _, found in result.changed:
            lines.append(f"  changed {expected.kind} {printable(expected.name)}")
            for item in found:
                if "added" in item:
                    lines += [f"    {item['field']}: added {json.dumps(v, sort_keys=True)}" for v in item["added"]]
                    lines += [f"    {item['field']}: removed {json.dumps(v, sort_keys=True)}" for v in item["removed"]]
                else:
                    lines.append(f"    {item['field']}: expected {json.dumps(item['expected'], sort_keys=True)}, "
                                 f"found {json.dumps(item['actual'], sort_keys=True)}")
    drifted = sum(1 for r in results if r.drifted)
    unread = sum(1 for r in results if r.unreadable)
    lines.append(f"{drifted} of {len(results)} targets drifted" + (f", {unread} not read" if unread else ""))
    return "\n".join(lines) + "\n"

"""Drift: what runs in the clouds against what the spec compiles to, per target.

Each provider's `live` module turns a target's compiled resources into the objects it expects
(`expected`) and reads the same kinds of objects from the cloud, read-only (`read`). Objects are
compared by kind and name, on states the provider has already made canonical (policies as sets of
statements, member lists as sets), so formatting and order never count as drift."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .diagnostics import Report
from .model import Model, Target
from .terraform import Module


@dataclass(frozen=True)
class LiveObject:
    kind: str  # e.g. "role", "oidc_provider", "service_account", "federated_credential"
    name: str  # unique per kind within a target
    state: dict  # canonical: equal states mean the same effect


class Unreadable(Exception):
    """The caller may not read this target (or reached the wrong account): reported, not fatal."""


@dataclass
class TargetDrift:
    cloud: str
    target: str
    missing: list[LiveObject] = field(default_factory=list)
    extra: list[LiveObject] = field(default_factory=list)
    changed: list[tuple[LiveObject, LiveObject, list[dict]]] = field(default_factory=list)
    unreadable: str | None = None
    unchecked: int = 0  # compiled resources of kinds drift does not read (the provider says which)

    @property
    def drifted(self) -> bool:
        return bool(self.missing or self.extra or self.changed)

    def as_json(self) -> dict:
        return {"cloud": self.cloud, "target": self.target, "readable": self.unreadable is None,
                "unreadable": self.unreadable, "unchecked": self.unchecked,
                "missing": [{"kind": o.kind, "name": o.name, "expected": o.state} for o in self.missing],
                "extra": [{"kind": o.kind, "name": o.name, "actual": o.state} for o in self.extra],
                "changed": [{"kind": e.kind, "name": e.name, "differences": d} for e, _, d in self.changed]}


def _items(value) -> list:
    return value if isinstance(value, list) else [value]


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


def expected_resources(model: Model, target: Target) -> dict[str, dict[str, dict]]:
    """The Terraform resources the spec compiles to for one target, before output escaping."""
    from wiam.providers import PROVIDERS  # providers build on this module's LiveObject
    module = Module()
    PROVIDERS[target.cloud].compile_target(model, target, module, Report())
    return module.resources


def drift(model: Model, connections: dict, only: set[str] | None = None) -> list[TargetDrift]:
    """Every target's drift. `connections[cloud]` is that cloud's live.Connection (SDK clients from
    the default credential chain); `only` limits the clouds read."""
    from wiam.providers import PROVIDERS
    results = []
    for (cloud, name), target in sorted(model.targets.items()):
        if only and cloud not in only:
            continue
        live = PROVIDERS[cloud].live
        resources = expected_resources(model, target)
        expected = live.expected(model, target, resources)
        try:
            result = compare(cloud, name, expected, live.read(model, target, expected, connections[cloud]))
        except Unreadable as error:
            result = TargetDrift(cloud, name, unreadable=str(error))
        result.unchecked = live.unchecked(resources)
        results.append(result)
    return results


def to_text(results: list[TargetDrift]) -> str:
    lines = []
    for result in results:
        head = f"{result.cloud} {result.target}"
        if result.unreadable:
            lines.append(f"{head}: not read: {result.unreadable}")
            continue
        if result.unchecked:
            head += f" ({result.unchecked} resource bindings not read)"
        if not result.drifted:
            lines.append(f"{head}: no drift")
            continue
        lines.append(f"{head}: {len(result.missing)} missing, {len(result.extra)} extra, {len(result.changed)} changed")
        lines += [f"  missing {o.kind} {o.name}" for o in result.missing]
        lines += [f"  extra   {o.kind} {o.name}" for o in result.extra]
        for expected, _, found in result.changed:
            lines.append(f"  changed {expected.kind} {expected.name}")
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

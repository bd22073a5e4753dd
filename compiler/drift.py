"""Drift: what runs in the clouds against what the spec compiles to, per target.

Each provider's `live` module turns a target's compiled resources into the objects it expects
(`expected`) and reads the same kinds of objects from the cloud, read-only (`read`). Objects are
compared by kind and name, on states the provider has already made canonical (policies as sets of
statements, member lists as sets), so formatting and order never count as drift."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .diagnostics import Report, bounded, printable
from .model import Model, Target
from .terraform import Module


@dataclass(frozen=True)
class LiveObject:
    kind: str  # e.g. "role", "oidc_provider", "service_account", "federated_credential"
    name: str  # unique per kind within a target
    state: dict  # canonical: equal states mean the same effect


# Why a target was not read: each provider sorts its SDK's errors into one of these.
NO_CREDENTIALS = "no-credentials"  # the SDK's default chain found none
REJECTED = "credentials-rejected"  # found, but invalid or expired
DENIED = "access-denied"  # valid, but not allowed to read
WRONG_ACCOUNT = "wrong-account"  # valid for another account, subscription or tenant
UNREACHABLE = "unreachable"  # the API could not be reached (network, endpoint, timeout)
FAILED = "error"  # any other refusal
BY_HTTP_STATUS = {401: REJECTED, 403: DENIED}  # the REST APIs' answers to a bad token and to a refusal
REASONS = {NO_CREDENTIALS: "no credentials", REJECTED: "credentials rejected", DENIED: "access denied",
           WRONG_ACCOUNT: "wrong account", UNREACHABLE: "cloud API unreachable", FAILED: "error"}

# What may look like a credential in an SDK's error text: AWS key IDs, JWTs, OAuth tokens, bearer headers.
_SECRET = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|\beyJ[\w-]+\.[\w-]+\.[\w-]*|\bya29\.[\w.-]+|(?i:bearer)\s+\S+")


def redacted(text: str) -> str:
    """Error text with anything credential-shaped blanked: SDK messages are echoed into CI logs."""
    return _SECRET.sub("[redacted]", text)


class Unreadable(Exception):
    """The caller may not read this target (or reached the wrong account): reported per target."""

    def __init__(self, message: str, reason: str = FAILED):
        super().__init__(redacted(message))
        self.reason = reason


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


def expected_resources(model: Model, target: Target) -> dict[str, dict[str, dict]]:
    """The Terraform resources the spec compiles to for one target, before output escaping."""
    from wiam.providers import PROVIDERS  # providers build on this module's LiveObject
    module = Module()
    PROVIDERS[target.cloud].compile_target(model, target, module, Report())
    return module.resources


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


def drift(model: Model, connections: dict, targets: list[tuple[str, str]] | None = None) -> list[TargetDrift]:
    """Each target's drift, of every target or of the (cloud, name) keys `targets` gives (see
    `selected`). `connections[cloud]` is that cloud's live.Connection (SDK clients from the default
    credential chain)."""
    from wiam.providers import PROVIDERS
    results = []
    for (cloud, name), target in sorted(model.targets.items()):
        if targets is not None and (cloud, name) not in targets:
            continue
        live = PROVIDERS[cloud].live
        resources = expected_resources(model, target)
        expected = live.expected(model, target, resources)
        try:
            result = compare(cloud, name, expected, live.read(model, target, expected, connections[cloud]))
        except Unreadable as error:
            result = TargetDrift(cloud, name, unreadable=str(error), reason=error.reason)
        result.unchecked = live.unchecked(resources)
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

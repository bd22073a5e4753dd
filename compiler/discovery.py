"""wiam discover against the clouds: each target's long-lived credentials and the identities the spec
does not manage (each provider's `discover.find`, read-only), the migration plan that replaces each,
and the discovery file the spec folder keeps, from which `wiam analyze` reports each credential until
a later discovery no longer finds it.

The file holds metadata only: identifiers (AWS access key IDs, GCP key names, Entra keyId GUIDs),
holders, dates, last use. An access key ID names a key, as a user name does; it does not sign
anything. No secret, and no part of one (Graph's `hint`, a secret's first characters), is read into it."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Callable

from . import registry, secretless, windows
from .diagnostics import Diagnostic, Pos, Report, SpecError, bounded
from .live import REASONS, Unreadable
from .loader import read_bytes, spec_root
from .model import Model
from .plan import Plans
from .planning import plan_model
from .secretless import KINDS, NEVER_USED, Credential
from .terraform import write_file

FILE = "wiam.discovery.json"  # in the spec folder, committed: not a spec file (*.wiam.json)
VERSION = 1
MAX_BYTES = 4 * 1024 * 1024
_FIX = f"run `wiam discover --save` to write {FILE} again (it is written by wiam, not by hand)"


@dataclass(frozen=True)
class Unread:
    cloud: str
    target: str
    reason: str  # one of live.REASONS
    message: str


@dataclass
class Discovery:
    credentials: list[Credential] = field(default_factory=list)
    unread: list[Unread] = field(default_factory=list)


def find(model: Model, clouds, connect: Callable[[str], Any], plans: Plans | None = None) -> Discovery:
    """Every target's findings (of `clouds`, or all when empty), each cloud's connection from
    connect(cloud), made once. A target that cannot be read is reported as unread, and the others are
    still read. A credential two targets both see (one account, two targets) is reported once, with the
    first. Providers give the cloud's facts; where, what, replacement and age are written here."""
    plans = plan_model(model) if plans is None else plans
    connections: dict[str, Any] = {}
    found: dict[tuple, Credential] = {}
    unread = []
    for (cloud, name), plan in sorted(plans.items()):
        if clouds and cloud not in clouds:
            continue
        try:
            if cloud not in connections:
                connections[cloud] = connect(cloud)
            for credential in registry.get(cloud).discover.find(plan, connections[cloud]):
                found.setdefault(credential.key()[:1] + credential.key()[2:], credential)
        except Unreadable as error:
            unread.append(Unread(cloud, name, error.reason, str(error)))
    return Discovery([described(c, model) for c in sorted(found.values(), key=Credential.key)], unread)


def age(created: str | None, at: datetime | None) -> int | None:
    """Whole days from `created` to the model's moment (--at), when both are known."""
    try:
        return (at - windows.parse(created[:19] + "Z")).days if created and at else None
    except ValueError:
        return None


def last_use(credential: Credential) -> str:
    if credential.last_used == NEVER_USED:
        return "never used"
    return f"last used {credential.last_used}" + (f" ({credential.last_used_by})" if credential.last_used_by else "")


def described(credential: Credential, model: Model) -> Credential:
    """The credential with the text every output shows: where it is held, what it is, what replaces it."""
    dates = [f"created {credential.created}" if credential.created else "",
             f"expires {credential.expires}" if credential.expires else "", last_use(credential)]
    what = f"{credential.id}" + (f" [{credential.status}]" if credential.status else "") + ", " + \
        ", ".join(d for d in dates if d)
    return replace(credential, where=f"{credential.cloud} {credential.target}", what=what,
                   replacement=replacement(credential, model), age_days=age(credential.created, model.at))


# The migration plan

@dataclass(frozen=True)
class Step:
    action: str  # "add", "switch", "watch", "delete"
    text: str


def workload_name(holder: str) -> str:
    """A workload name for the spec block that replaces a holder: its name, lowercased, in the
    characters names take (an email's local part, a path's last part, without a note in parentheses)."""
    holder = re.sub(r"\s*\(.*\)$", "", holder)
    base = holder.split("@", 1)[0] if "@" in holder else holder.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:63] or "replacement"


def replacement(credential: Credential, model: Model) -> str:
    """The spec block that replaces a credential: a workload whose identity is the caller's issuer,
    granted on the same target what the holder may do."""
    issuers = sorted(model.issuers)
    issuer = f'issuer = "{issuers[0]}"' if len(issuers) == 1 else (
        f"issuer = one of {', '.join(json.dumps(i) for i in issuers)}" if issuers else "issuer = (an issuer block for the caller's CI)")
    grants = f" ({credential.grants})" if credential.grants else ""
    return (f'workload "{workload_name(credential.owner)}" {{ identity {{ {issuer}, the caller\'s exact subject }} '
            f'grant "{credential.cloud}" "{credential.target}"{grants} }}')


def migration(credential: Credential, model: Model) -> list[Step]:
    """The order that never leaves the caller without access: the federated identity first, then the
    caller switched to it, then the credential watched until it goes unused, then deleted."""
    stop = ("remove the stored secret from the caller's settings" if credential.long_lived
            else f"stop it using {credential.owner}")
    return [
        Step("add", f"add {replacement(credential, model)} to the spec; wiam compile, review and terraform apply"),
        Step("switch", f"switch the caller of {credential.owner} to the workload's federated identity "
                       f"(its CI job requests an OIDC token) and {stop}"),
        Step("watch", f"run wiam discover again until its last use stays before the switch (now: {last_use(credential)})"),
        Step("delete", f"delete it: {credential.remove}" if credential.remove else "delete it in the cloud"),
    ]


# The discovery file

def to_file(discovery: Discovery, previous: list[Credential] = ()) -> bytes:
    """The file's content, byte for byte the same for the same findings. What an unread target held at
    the previous discovery is kept: not reading a target is no sign that its keys are gone."""
    unread = {(u.cloud, u.target) for u in discovery.unread}
    kept = [c for c in previous if (c.cloud, c.target) in unread]
    entries: dict[tuple, dict] = {}
    for entry in sorted(({name: getattr(c, name) for name in STORED} for c in [*kept, *discovery.credentials]),
                        key=lambda e: json.dumps(e, sort_keys=True)):  # one per key, whatever the order
        entries.setdefault(tuple(entry[name] for name in _KEY), entry)
    body = {"version": VERSION, "credentials": [entries[k] for k in sorted(entries)]}
    return (json.dumps(body, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode()


def path_of(directory: str) -> str:
    return os.path.join(spec_root(directory), FILE)


def save(directory: str, discovery: Discovery) -> str:
    """Write the discovery file atomically beside the spec; what it held for unread targets is kept."""
    path = path_of(directory)
    previous = [c for c, _ in load(directory)] if os.path.lexists(path) else []
    write_file(path, to_file(discovery, previous))
    return path


# What the file keeps of each credential: the cloud's facts. The texts are written again from them
# (described), where and how a credential is found (pos, age) are not the file's.
STORED = ("kind", "cloud", "target", "owner", "id", "created", "expires", "last_used", "last_used_by", "status",
          "grants", "remove", "long_lived")
_KEY = ("cloud", "target", "kind", "owner", "id")  # Credential.key
_SCHEMA = {
    "type": "object", "required": ["version", "credentials"], "additionalProperties": False,
    "properties": {"version": {"const": VERSION}, "credentials": {"type": "array", "items": {
        "type": "object", "required": list(STORED), "additionalProperties": False,
        "properties": {**{name: {"type": ["string", "null"], "maxLength": 2048} for name in STORED},
                       "kind": {"enum": sorted(KINDS)}, "cloud": {"enum": registry.names()},
                       "long_lived": {"type": "boolean"}}}}}}


def load(directory: str) -> list[tuple[Credential, Pos]]:
    """The credentials of the spec folder's discovery file with where each is, or [] when there is
    none. A file that is not one wiam wrote raises SpecError naming the place (it arrives in pull
    requests too); one that is not a regular file in the folder raises loader.UsageError."""
    from jsonschema import Draft202012Validator

    from .readers.data import read_json

    path = path_of(directory)
    if not os.path.lexists(path):
        return []
    report = Report()
    raw = read_bytes(path, spec_root(directory), MAX_BYTES, "the discovery file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError([_problem(Pos(path, 1, 1), f"not UTF-8 text (byte {error.start})")]) from None
    document = read_json(path, text, report)
    if report.diagnostics:  # the reader's place and message, this file's block and fix
        raise SpecError([_problem(d.pos, d.message) for d in report.diagnostics])
    problems = [_problem(_nearest(document.positions, tuple(e.absolute_path), path), e.message)
                for e in Draft202012Validator(_SCHEMA).iter_errors(document.data)]
    if problems:
        raise SpecError(problems)
    return [(Credential(**{k: v for k, v in item.items() if v is not None}), document.positions[("credentials", i)])
            for i, item in enumerate(document.data["credentials"])]


def _nearest(positions: dict, at: tuple, path: str) -> Pos:
    while at and at not in positions:
        at = at[:-1]
    return positions.get(at, Pos(path, 1, 1))


def _problem(pos: Pos, message: str) -> Diagnostic:
    return Diagnostic(pos, FILE, bounded(message), _FIX)


# Output: the shared forms (secretless), with the plan's steps and the unread targets

def to_text(discovery: Discovery, model: Model, with_plan: bool = False) -> str:
    lines = []
    for credential in discovery.credentials:
        lines.append(secretless.to_text([credential]).rstrip("\n"))
        if with_plan:
            lines += [f"  {n}. {step.action}: {step.text}" for n, step in enumerate(migration(credential, model), 1)]
    lines += [f"{u.cloud} {u.target}: not read ({REASONS[u.reason]}): {u.message}" for u in discovery.unread]
    return "\n".join(lines) + ("\n" if lines else "")


def to_json(discovery: Discovery, model: Model, with_plan: bool = False) -> dict:
    return {"credentials": [{**secretless.as_json(c), **({"plan": [asdict(s) for s in migration(c, model)]}
                                                         if with_plan else {})} for c in discovery.credentials],
            "unread": [asdict(u) for u in discovery.unread]}

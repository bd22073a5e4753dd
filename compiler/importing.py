"""Import: objects that exist in the clouds outside wiam and that the spec's targets should reuse
(each provider's live.importable says which), added to the targets' settings in the spec files;
and principals made outside wiam (live.adoptable) proposed as workloads whose grants adopt them.

Nothing is written before everything was read: `find` asks every provider, `write` edits the spec
files and puts every one back when the edited spec no longer validates, `to_text` shows what became
of each target. Likewise `find_adoptable` reads, `propose` writes the HCL, and `write_proposal` adds
it as a new file, kept only if the folder validates with it."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import registry
from .compile import load_valid_model
from .diagnostics import SpecError, bounded, printable
from .drift import selected
from .issuers import KINDS
from .live import Adoptable, Proposed, Trusted, Unreadable, sayable
from .loader import UsageError
from .model import Model, host_path, normalised_url
from .spec_edit import EditError, add_entries, hcl_blocks, write_in_place
from .terraform import create_file


@dataclass
class Imported:
    """The entries one setting of one target should hold, and what became of them."""
    cloud: str
    target: str
    setting: str | None  # None when the target could not be read
    added: dict[str, str] | bool = field(default_factory=dict)  # a boolean setting's value (False: nothing)
    file: str | None = None  # the spec file they were written to
    error: str | None = None  # why the target was not read, or why the edit was not made
    notes: tuple[str, ...] = ()  # what to know or do by hand (read from the cloud: printed, never written)

    def as_json(self) -> dict:
        return {"cloud": self.cloud, "target": self.target, "setting": self.setting, "added": self.added,
                "file": self.file, "error": self.error, "notes": list(self.notes)}


def _targets(model: Model, names: list[str] | None, connect: Callable[[str], Any]):
    """(cloud, name, target, connection) of each target `names` selects (each NAME or CLOUD.NAME,
    else all); `connect(cloud)` is asked once per cloud, when first needed."""
    try:
        keys = selected(model, None, names)
    except ValueError as error:
        raise UsageError(str(error)) from None
    connections: dict[str, Any] = {}
    for cloud, name in keys:
        if cloud not in connections:
            connections[cloud] = connect(cloud)
        yield cloud, name, model.targets[(cloud, name)], connections[cloud]


def find(model: Model, names: list[str] | None, connect: Callable[[str], Any], adopting: bool = False) -> list[Imported]:
    """What each target should reuse (those `names` gives, each NAME or CLOUD.NAME, else all), one
    Imported per setting its provider imports into; targets of a provider that imports nothing are
    left out, and a name that leaves only such targets is a usage error, unless `adopting` (they are
    read for principals to adopt too). `connect(cloud)` gives a cloud's live connection, asked for
    once per cloud, when first needed."""
    found = []
    for cloud, name, target, connection in _targets(model, names, connect):
        try:
            settings = registry.get(cloud).live.importable(model, target, connection)
        except Unreadable as error:
            found.append(Imported(cloud, name, None, error=str(error)))
            continue
        for setting, entries in sorted(settings.items()):
            proposed = entries if isinstance(entries, Proposed) else Proposed(entries)
            value = dict(proposed.value) if isinstance(proposed.value, dict) else proposed.value
            found.append(Imported(cloud, name, setting, value, notes=proposed.notes))
    for given in () if adopting else names or ():
        matched = selected(model, None, [given])
        if not any((item.cloud, item.target) in matched for item in found):
            clouds = " or ".join(sorted({cloud for cloud, _ in matched}))
            raise UsageError(f"--target {given}: wiam imports nothing into {clouds} targets")
    return found


def write(model: Model, found: list[Imported], directory: str, recursive: bool) -> None:
    """Add each one's entries to the file that declares its target, recording the file or why not.
    Each edit must leave a valid spec (the next edit's positions come from it); if one does not,
    every edited file is put back as it was and the SpecError raised."""
    originals: dict[str, bytes] = {}
    for item in found:
        if not item.added:
            continue
        try:
            path, content = add_entries(model, model.targets[(item.cloud, item.target)].path, item.setting, item.added)
            original = originals[path] if path in originals else Path(path).read_bytes()
            write_in_place(path, content, directory)
        except (EditError, OSError) as error:
            item.error = str(error)
            continue
        originals.setdefault(path, original)
        item.file = path
        try:
            model = load_valid_model(directory, recursive)
        except SpecError:
            for edited, before in originals.items():
                write_in_place(edited, before, directory)
            raise


def to_text(found: list[Imported], model: Model) -> str:
    lines = []
    for item in found:
        head = f"{item.cloud} {item.target}"
        if item.setting is None:
            lines.append(f"{head}: not read: {bounded(item.error)}")
            continue
        if not item.added:
            lines.append(f"{head}: nothing to import")
        if item.added is True:
            lines.append(f"{head}: {item.setting} = true")
        for key, value in item.added.items() if isinstance(item.added, dict) else ():
            # keys name spec blocks; values were read from the cloud
            lines.append(f"{head}: {'issuer ' if key in model.issuers else ''}{key} -> {printable(value)}")
        lines += [f"  note: {bounded(note)}" for note in item.notes]
        if item.file:
            lines.append(f"  written to {item.file}")
        elif item.error:
            lines.append(f"  {bounded(item.error)}")
        elif item.added:
            lines.append("  run again with --write to add them to the spec")
    return "".join(line + "\n" for line in lines)


# Adoption: principals that exist outside wiam, proposed as workloads whose grants adopt them.

ADOPTED_FILE = "adopted"  # the proposal's file in the spec folder: adopted.wiam.hcl, else adopted-2.wiam.hcl...
_NAME_CUT = re.compile(r"[^A-Za-z0-9-]+")
NAME_MAX = 64  # the schema's names


@dataclass
class Adopted:
    """What one target holds for adoption, proposed or not."""
    cloud: str
    target: str
    found: list[Adoptable] = field(default_factory=list)
    error: str | None = None  # why the target was not read


@dataclass
class Proposal:
    """The spec text proposing a workload per adoptable object, and the names it gave them."""
    text: str
    workloads: dict[str, tuple[str, str, str]]  # workload -> (cloud, target, adopted object)
    issuers: list[str]  # the new issuers it declares


def find_adoptable(model: Model, names: list[str] | None, connect: Callable[[str], Any]) -> list[Adopted]:
    """Each selected target's adoptable principals (every target's when `names` is None)."""
    found = []
    for cloud, name, target, connection in _targets(model, names, connect):
        try:
            found.append(Adopted(cloud, name, registry.get(cloud).live.adoptable(model, target, connection)))
        except Unreadable as error:
            found.append(Adopted(cloud, name, error=str(error)))
    return found


def _free(name: str, taken: set[str]) -> str:
    """`name` as a spec name (letters, digits, '-'; a letter first), made unique among `taken`."""
    base = _NAME_CUT.sub("-", name).strip("-")
    base = (base if base[:1].isalpha() else f"adopted-{base}".rstrip("-"))[:NAME_MAX - 4].rstrip("-")
    free, number = base, 1
    while free.lower() in taken:
        number += 1
        free = f"{base}-{number}"
    taken.add(free.lower())
    return free


def _issuer_of(model: Model, trusted: Trusted, default: str, new: dict[str, dict],
               taken: set[str]) -> tuple[str, dict[str, str]]:
    """(issuer name, the identity's audience field where it needs one) for a trusted subject: a spec
    issuer of its URL and kind (not templating subjects, not disabled) whose audience is the subject's
    unless its identities name their own, else one proposed here. `default`: the cloud's audience."""
    url = normalised_url(trusted.url)
    own = "audience" in KINDS[trusted.kind].optional  # the kind's identities may name their audience

    def fits(kind: str, issuer_url: str, audience: str | None) -> bool:
        return issuer_url == url and kind == trusted.kind and (own or (audience or default) == trusted.audience)

    name = next((i.name for i in sorted(model.issuers.values(), key=lambda i: i.name)
                 if fits(i.kind, normalised_url(i.url), i.audience) and not i.subject_claims and not i.disabled), None)
    name = name or next((n for n, body in new.items() if fits(body["kind"], body["url"], body.get("audience"))), None)
    if name is None:
        kind = KINDS[trusted.kind]
        name = _free(kind.name.split("_")[0] if kind.default_url and normalised_url(kind.default_url) == url
                     else host_path(url).split("/")[0], taken)
        new[name] = {"kind": trusted.kind, "url": url}
        if not own and trusted.audience != default:
            new[name]["audience"] = trusted.audience
    issuer_audience = model.issuers[name].audience if name in model.issuers else new[name].get("audience")
    return name, ({"audience": trusted.audience} if own and trusted.audience != (issuer_audience or default) else {})


def _issuer_body(body: dict) -> dict:
    kind = KINDS[body["kind"]]
    same = kind.default_url and normalised_url(kind.default_url) == body["url"]
    return {key: value for key, value in body.items() if not (key == "url" and same)}


def _comment(text: str) -> str:
    """One comment line of text read from a cloud: printable, so it cannot end the comment."""
    return f"# {bounded(text)}"


def propose(model: Model, adopted: list[Adopted]) -> Proposal:
    """HCL for every proposed object: the issuers it needs that the spec lacks, then one workload per
    object, its identities the exact subjects it trusts, its grant adopting it; what an object holds
    that the spec cannot say is a comment above its workload, and objects not proposed say why."""
    workload_names = {name.lower() for name in model.workloads}
    issuer_names = {name.lower() for name in model.issuers}
    new_issuers: dict[str, dict] = {}
    workloads: dict[str, tuple[str, str, str]] = {}
    sections: list[list[str]] = []
    for target in adopted:
        for item in sorted(target.found, key=lambda a: a.name):
            where = f"{target.cloud} target {target.target!r}"
            if item.grant is None:
                sections.append([_comment(f"not proposed: {item.name!r} on {where}: {item.left[0]}")])
                continue
            identities, dropped = [], []
            for trusted in sorted(item.trusted, key=lambda t: json.dumps([t.url, t.audience, t.fields], sort_keys=True)):
                if not all(sayable(value) for value in (trusted.audience, *trusted.fields.values())):
                    dropped.append(f"subject {trusted.fields} (characters a spec refuses)")
                    continue
                issuer, audience = _issuer_of(model, trusted, item.default_audience, new_issuers, issuer_names)
                identities.append(("identity", (), {"issuer": issuer, **trusted.fields, **audience}))
            if not identities:
                sections.append([_comment(f"not proposed: {item.name!r} on {where}: no subject a spec can hold")])
                continue
            name = _free(item.name, workload_names)
            workloads[name] = (target.cloud, target.target, item.name)
            described = item.description and sayable(item.description, "\n\t")
            if item.description and not described:
                dropped.append(f"description {item.description!r} (characters a spec refuses)")
            body = {"description": item.description} if described else {}
            body |= {"identity": identities,
                     "grant": [("grant", (target.cloud, target.target), {**item.grant, "adopt": item.name})]}
            notes = [_comment(f"adopts {item.name!r} on {where}")]
            notes += [_comment(f"left, not carried: {entry}") for entry in [*item.left, *dropped]]
            sections.append(notes + hcl_blocks("workload", (name,), body))
    head = [hcl_blocks("issuer", (name,), _issuer_body(body)) for name, body in new_issuers.items()]
    text = "\n".join("\n".join(lines) + "\n" for lines in head + sections)
    header = "# Proposed by wiam import: objects made outside wiam, adopted (Terraform imports them).\n\n"
    return Proposal(header + text if text else "", workloads, list(new_issuers))


def write_proposal(proposal: Proposal, directory: str, recursive: bool) -> str:
    """Write the proposal as a new spec file of the folder, never over one, and keep it only if the
    folder still validates with it (else it is removed and the SpecError raised). Its path."""
    if not os.path.isdir(directory):
        raise UsageError(f"{directory} is one spec file: the proposal is a file of its own; "
                         "add the printed blocks by hand, or give the spec's folder")
    folder, number = directory, 1
    while True:
        path = os.path.join(folder, f"{ADOPTED_FILE}{'' if number == 1 else f'-{number}'}.wiam.hcl")
        try:
            create_file(path, proposal.text.encode())
            break
        except FileExistsError:
            number += 1
    try:
        load_valid_model(folder, recursive)
    except SpecError:
        os.unlink(path)
        raise
    return path


def proposal_text(proposal: Proposal, adopted: list[Adopted], written: str | None) -> str:
    """The proposal as `wiam import` prints it, after the targets' settings."""
    lines = [f"{item.cloud} {item.target}: adoptable not read: {bounded(item.error)}" for item in adopted if item.error]
    if proposal.text:
        lines += ["", proposal.text.rstrip("\n"), ""]
        lines.append(f"  written to {written}" if written else
                     "  run again with --write to add them to the spec" if proposal.workloads else "  nothing to adopt")
    return "".join(line + "\n" for line in lines)

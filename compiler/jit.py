"""Just-in-time access as code: a time-bound grant written into its workload's spec file (`wiam
grant`), and the blocks whose windows have closed taken out again (`wiam prune`). Nothing is written
before the whole edited spec validates (a copy of the folder, outside it, with the edits)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from . import registry, windows
from .compile import load_valid_model
from .diagnostics import Pos, SpecError
from .document import describe
from .loader import UsageError, read_bytes, spec_files, spec_root
from .model import Model, Window
from .spec_edit import EditError, write_in_place

MAX_FOR = timedelta(days=7)  # longer access is no just-in-time grant: write it by hand, reviewed as such
def duration(text: str) -> timedelta:
    """`30m`, `2h`, `1h30m`, `1d` (windows.duration): more than nothing and at most MAX_FOR, else ValueError."""
    try:
        length = windows.duration(text)
    except ValueError:
        raise ValueError(f"--for {text!r}: write a duration such as 30m, 2h, 1h30m or 1d") from None
    if not length:
        raise ValueError(f"--for {text}: a grant must last more than nothing")
    if length > MAX_FOR:
        raise ValueError(f"--for {text}: at most {MAX_FOR.days}d; longer access is written by hand and reviewed as such")
    return length


@dataclass(frozen=True)
class GrantRequest:
    workload: str
    cloud: str
    target: str
    fields: dict[str, Any]  # the cloud's grant fields as given (actions, resources, roles, resource, scope)
    window: Window
    reason: str
    ticket: str | None = None

    @property
    def path(self) -> tuple:
        return ("workload", self.workload, "grant", self.cloud, self.target)

    def body(self) -> dict[str, Any]:
        """The grant block's attributes in the order they are written."""
        body = {**self.fields, "not_before": windows.text(self.window.not_before),
                "expires": windows.text(self.window.expires), "reason": self.reason}
        return {**body, "ticket": self.ticket} if self.ticket is not None else body


def request(workload: str, cloud: str, target: str, fields: dict[str, Any], start: datetime, length: str,
            reason: str, ticket: str | None) -> GrantRequest:
    """The grant asked for, or UsageError: only fields the cloud's grants take, a window of `length` from `start`."""
    allowed = registry.get(cloud).schema()["grant"]["properties"]
    given = {name: value for name, value in fields.items() if value not in (None, [])}
    for name in given:
        if name not in allowed:
            raise UsageError(f"--{name} does not apply to {cloud} grants; they take "
                             + ", ".join(f"--{n}" for n in fields if n in allowed))
    if not given:
        raise UsageError(f"say what the grant gives: {', '.join(f'--{n}' for n in fields if n in allowed)}")
    if not reason.strip():
        raise UsageError("--reason: say why the access is needed; reviewers and analysis read it")
    try:
        window = Window(start, start + duration(length))
    except ValueError as error:
        raise UsageError(str(error)) from None
    except OverflowError:
        raise UsageError(f"--for {length}: from {windows.text(start)} it ends after 9999-12-31T23:59:59Z") from None
    return GrantRequest(workload, cloud, target, given, window, reason, ticket)


def refuse_conflicts(model: Model, asked: GrantRequest) -> None:
    """UsageError when the grant cannot be added: no such workload or target, or the workload has a
    grant on the target already (adding to it would widen that grant silently, beyond its window)."""
    if asked.workload not in model.workloads:
        raise UsageError(f"no workload {asked.workload!r} in the spec")
    if (asked.cloud, asked.target) not in model.targets:
        named = ", ".join(sorted(name for cloud, name in model.targets if cloud == asked.cloud)) or "none"
        raise UsageError(f"no {asked.cloud} target {asked.target!r} in the spec ({asked.cloud} targets: {named})")
    existing = model.document.data["workload"][asked.workload].get("grant", {}).get(asked.cloud, {})
    if asked.target in existing:
        where = model.where(asked.path, key=True)
        raise UsageError(f"{where}: workload {asked.workload!r} already has a grant on {asked.cloud} target "
                         f"{asked.target!r}; a time-bound grant would be merged into it and widen it\n"
                         f"  fix: edit that grant by hand (its own not_before and expires), or run `wiam prune` "
                         "once its window has closed, then grant again")


@dataclass(frozen=True)
class Removal:
    """A block whose window has closed, and why it goes."""
    path: tuple
    pos: Pos
    why: str

    @property
    def what(self) -> str:
        return describe(self.path) if len(self.path) > 2 else f'workload "{self.path[1]}"'

    def as_json(self) -> dict:
        kind = "workload" if len(self.path) == 2 else self.path[2]
        return {"kind": kind, "block": self.what, "file": self.pos.file, "line": self.pos.line, "why": self.why}


def closed_blocks(model: Model, at: datetime) -> list[Removal]:
    """The grants and identities whose windows had closed at `at` (the model resolved at it), each
    workload's in order; a workload that would keep no grant or no identity goes whole, as it would
    be invalid without them."""
    found = []
    for name in sorted(model.workloads):
        workload = model.workloads[name]
        base = ("workload", name)
        if windows.closed(workload.window, at):
            found.append(Removal(base, model.where(base, key=True),
                                 f"its window closed at {windows.text(workload.window.expires)}"))
            continue
        grants = [(base + ("grant", g.cloud, g.target), windows.narrowest(workload.window, g.window).expires) for g in workload.closed]
        identities = [(base + ("identity", i.index), i.window.expires) for i in workload.identities
                      if windows.closed(i.window, at)]
        emptied = (("grant", grants) if grants and not workload.grants
                   else ("identity", identities) if identities and len(identities) == len(workload.identities) else None)
        if emptied:
            kind, shut = emptied
            found.append(Removal(base, model.where(base, key=True), f"every {kind}'s window closed (the last at "
                                 f"{windows.text(max(end for _, end in shut))}); a workload needs one"))
            continue
        found += [Removal(path, model.where(path, key=True), f"its window closed at {windows.text(end)}")
                  for path, end in grants + identities]
    return found


def validated(directory: str, recursive: bool, edited: dict[str, bytes], at: datetime) -> Model:
    """The spec as it would be with the edited files (file -> content), validated from a copy outside
    the spec folder; SpecError with its places in the real files."""
    root = spec_root(directory)
    with tempfile.TemporaryDirectory(prefix="wiam-edit-") as copy:
        names = {}  # the copy's file -> the real one, as the loader names it
        for path in spec_files(directory, recursive):
            content = edited[path] if path in edited else read_bytes(path, root)
            target = os.path.join(copy, os.path.relpath(path, root))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(content)
            names[target] = path
        top = os.path.join(copy, os.path.relpath(directory, root)) if os.path.isfile(directory) else copy
        try:
            return load_valid_model(top, recursive, at=at)
        except SpecError as error:
            raise SpecError([replace(d, pos=d.pos._replace(file=names.get(d.pos.file, d.pos.file)))
                             for d in error.diagnostics]) from None


def write_all(edited: dict[str, bytes], directory: str) -> None:
    """Write every edited file (each atomically), or, when one cannot be written, put back those
    already written: the spec is never left half edited."""
    originals = {}
    for file in edited:
        try:
            with open(file, "rb") as handle:
                originals[file] = handle.read()
        except OSError as error:
            raise EditError(f"{file}: not written: {error.strerror or error}") from None
    done = []
    try:
        for file, content in edited.items():
            write_in_place(file, content, directory)
            done.append(file)
    except EditError:
        for file in done:
            write_in_place(file, originals[file], directory)
        raise

"""Import: objects that exist in the clouds outside wiam and that the spec's targets should reuse
(each provider's live.importable says which), added to the targets' settings in the spec files.

Three steps, so that nothing is written before everything was read: `find` asks every provider,
`write` edits the spec files and puts every one back when the edited spec no longer validates,
`to_text` shows what became of each target."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import registry
from .compile import load_valid_model
from .diagnostics import SpecError, bounded, printable
from .drift import selected
from .live import Unreadable
from .loader import UsageError
from .model import Model
from .spec_edit import EditError, add_entries, write_in_place


@dataclass
class Imported:
    """The entries one setting of one target should hold, and what became of them."""
    cloud: str
    target: str
    setting: str | None  # None when the target could not be read
    added: dict[str, str] = field(default_factory=dict)
    file: str | None = None  # the spec file they were written to
    error: str | None = None  # why the target was not read, or why the edit was not made

    def as_json(self) -> dict:
        return {"cloud": self.cloud, "target": self.target, "setting": self.setting, "added": self.added,
                "file": self.file, "error": self.error}


def find(model: Model, names: list[str] | None, connect: Callable[[str], Any]) -> list[Imported]:
    """What each target should reuse (those `names` gives, each NAME or CLOUD.NAME, else all), one
    Imported per setting its provider imports into; targets of a provider that imports nothing are
    left out, and a name that leaves only such targets is a usage error. `connect(cloud)` gives a
    cloud's live connection, asked for once per cloud, when first needed."""
    try:
        keys = selected(model, None, names)
    except ValueError as error:
        raise UsageError(str(error)) from None
    connections: dict[str, Any] = {}
    found = []
    for cloud, name in keys:
        if cloud not in connections:
            connections[cloud] = connect(cloud)
        try:
            settings = registry.get(cloud).live.importable(model, model.targets[(cloud, name)], connections[cloud])
        except Unreadable as error:
            found.append(Imported(cloud, name, None, error=str(error)))
            continue
        found += [Imported(cloud, name, setting, dict(entries)) for setting, entries in sorted(settings.items())]
    for given in names or ():
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
        for key, value in item.added.items():  # keys name spec blocks; values were read from the cloud
            lines.append(f"{head}: {'issuer ' if key in model.issuers else ''}{key} -> {printable(value)}")
        if item.file:
            lines.append(f"  written to {item.file}")
        elif item.error:
            lines.append(f"  {bounded(item.error)}")
        elif item.added:
            lines.append("  run again with --write to add them to the spec")
    return "".join(line + "\n" for line in lines)

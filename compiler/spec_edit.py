"""Small edits to spec files that keep everything else as written: add entries to a map attribute
of a block, in the file and format that block is written in. HCL and YAML get lines inserted
(comments and layout stay); JSON, which has neither comments nor a layout worth keeping, is
rewritten with two-space indentation."""

from __future__ import annotations

import json
from pathlib import Path

from .model import Model


class EditError(Exception):
    """The block is written in a way this editor will not touch; the message holds what to add by hand."""


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a valid string in HCL, YAML and JSON alike


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _snippet(key: str, entries: dict[str, str]) -> str:
    return f"{key} = {{ " + ", ".join(f"{_quoted(k)} = {_quoted(v)}" for k, v in sorted(entries.items())) + " }"


def _block(data: dict, path: tuple) -> dict:
    for part in path:
        data = data[part]
    return data


def _edit_json(text: str, path: tuple, key: str, entries: dict[str, str]) -> str:
    data = json.loads(text)
    _block(data, path).setdefault(key, {}).update(entries)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _edit_lines(lines: list[str], model: Model, path: tuple, key: str, entries: dict[str, str], hcl: bool) -> list[str]:
    existing = key in _block(model.document.data, path)
    # HCL: after the line opening the block (or the map); YAML: after the block's (or map's) key.
    anchor = model.where(path + (key,), key=True) if existing else model.where(path, key=not hcl)
    index = anchor.line - 1
    stripped = lines[index].rstrip()
    base = _indent(lines[index]) if hcl else " " * (anchor.column - 1)
    step = "  "
    if hcl:
        item, opening, head, tail = (lambda k, v: f"{_quoted(k)} = {_quoted(v)}"), "{", f"{key} = {{", ["}"]
    else:
        item, opening, head, tail = (lambda k, v: f"{_quoted(k)}: {_quoted(v)}"), ":", f"{key}:", []
    if stripped.endswith(opening):
        inner = base + step * (1 if existing else 2)
        added = [f"{inner}{item(k, v)}\n" for k, v in sorted(entries.items())]
        if not existing:
            added = [f"{base}{step}{head}\n", *added, *(f"{base}{step}{line}\n" for line in tail)]
        return lines[: index + 1] + added + lines[index + 1:]
    if not hcl and not existing and stripped.endswith("}"):  # a one-line YAML flow mapping
        listed = ", ".join(item(k, v) for k, v in sorted(entries.items()))
        return lines[:index] + [f"{stripped[:-1].rstrip()}, {key}: {{ {listed} }} }}\n"] + lines[index + 1:]
    raise EditError("")


def add_entries(model: Model, path: tuple, key: str, entries: dict[str, str]) -> tuple[str, bytes]:
    """(file, its new content) with `entries` added to the map `key` of the block at `path`."""
    where = model.where(path)
    text = Path(where.file).read_text(encoding="utf-8")
    suffix = Path(where.file).suffix.lower()
    try:
        if suffix == ".json":
            return where.file, _edit_json(text, path, key, entries).encode("utf-8")
        lines = text.splitlines(keepends=True)
        edited = _edit_lines(lines, model, path, key, entries, hcl=suffix == ".hcl")
        return where.file, "".join(edited).encode("utf-8")
    except (EditError, KeyError, IndexError):
        raise EditError(f"{where}: add to this block by hand: {_snippet(key, entries)}") from None

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


def _edit_json(text: str, path: tuple, key: str, entries: dict[str, str]) -> str:
    data = json.loads(text)
    node = data
    for part in path:
        node = node[part]
    node.setdefault(key, {}).update(entries)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _edit_lines(lines: list[str], model: Model, path: tuple, key: str, entries: dict[str, str], hcl: bool) -> list[str]:
    block = model.document.data
    for part in path:
        block = block[part]
    existing = key in block
    anchor = model.where(path + (key,), key=True) if existing else model.where(path, key=not hcl)
    index = anchor.line - 1
    line = lines[index].rstrip("\n")
    stripped = line.rstrip()
    step = "  "
    base = " " * (anchor.column - 1) if not hcl else _indent(line)
    if hcl:
        item = lambda k, v: f"{_quoted(k)} = {_quoted(v)}"  # noqa: E731
        if stripped.endswith("{"):
            inner = base + step if existing else base + step * 2
            added = [f"{inner}{item(k, v)}\n" for k, v in sorted(entries.items())]
            if not existing:
                added = [f"{base}{step}{key} = {{\n", *added, f"{base}{step}}}\n"]
            return lines[: index + 1] + added + lines[index + 1:]
    else:
        item = lambda k, v: f"{_quoted(k)}: {_quoted(v)}"  # noqa: E731
        if stripped.endswith(":"):
            inner = base + step if existing else base + step * 2
            added = [f"{inner}{item(k, v)}\n" for k, v in sorted(entries.items())]
            if not existing:
                added = [f"{base}{step}{key}:\n", *added]
            return lines[: index + 1] + added + lines[index + 1:]
        if stripped.endswith("}") and not existing:  # a one-line flow mapping: add before its closing brace
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

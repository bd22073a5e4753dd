"""Small edits to spec files that keep everything else as written: add entries to a map attribute
of a block, add a whole block, or remove blocks, in the file and format they are written in.

An addition either inserts whole lines (in a map or block written over several lines) or changes
the one line that opens a one-line map (YAML flow mappings, JSON on one line); the new entries go
first. A removal takes out the block's own lines, or its member of a line it shares. Every edit
keeps the file's BOM, line endings and indentation, and it holds only if the edited file reads back
as exactly the old document with the change. Anything else is refused with the exact text to add
or remove by hand and where, and the file is left as it is."""

from __future__ import annotations

import bisect
import codecs
import copy
import json
import math
import os
import re
import stat
import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable


from .diagnostics import Report
from .document import Document, describe
from .model import Model
from .readers import read

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")  # the line ends the loader's reading knows
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class EditError(Exception):
    """The edit cannot be made safely; the message says what to add by hand, and where."""


@dataclass(frozen=True)
class Source:
    """A spec file's text as lines without their ends, and how it writes them."""
    bom: bool
    lines: list[str]
    ends: list[str]  # each line's own end; "" for a last line without one
    newline: str  # the file's most common line end, for added lines

    @property
    def text(self) -> str:
        """The text as the loader reads it (universal newlines): what positions count lines in."""
        return "".join(line + ("\n" if end else "") for line, end in zip(self.lines, self.ends))

    def encode(self) -> bytes:
        body = "".join(line + end for line, end in zip(self.lines, self.ends))
        return (codecs.BOM_UTF8 if self.bom else b"") + body.encode("utf-8")


def parse_source(raw: bytes) -> Source:
    bom = raw.startswith(codecs.BOM_UTF8)
    text = raw[len(codecs.BOM_UTF8):].decode("utf-8") if bom else raw.decode("utf-8")
    pieces = _LINE.findall(text)
    lines = [piece.rstrip("\r\n") for piece in pieces]
    ends = [piece[len(line):] for piece, line in zip(pieces, lines)]
    counts = Counter(end for end in ends if end)
    return Source(bom, lines, ends, max(counts, key=counts.get) if counts else "\n")  # ties: the first seen


def _quoted(text: str, fmt: str) -> str:
    """A double-quoted string for the format. HCL and YAML keep only printable characters as they
    are (YAML folds raw line separators) and escape the rest; HCL also its template openers."""
    if fmt == "json":
        return json.dumps(text, ensure_ascii=False)
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif not char.isprintable():
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
        else:
            out.append(char)
    quoted = "".join(out)
    return f'"{quoted.replace("${", "$${").replace("%{", "%%{")}"' if fmt == "hcl" else f'"{quoted}"'


def hcl_value(value: Any) -> str:
    """A string, list or map of strings as an HCL value on one line, every character escaped for HCL."""
    return _value(value, "hcl")


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _unit(lines: list[str]) -> str:
    """One step of the file's own indentation: a tab, or the common width of its space indents."""
    widths = []
    for line in filter(str.strip, lines):
        lead = _indent(line)
        if lead.startswith("\t"):
            return "\t"
        if lead:
            widths.append(len(lead))
    step = math.gcd(*widths) if widths else 2
    return " " * (step if step > 1 else 2)


def _step(outer: str, inner: str, lines: list[str]) -> str:
    return inner[len(outer):] if inner.startswith(outer) and len(inner) > len(outer) else _unit(lines)


def _block(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


@dataclass(frozen=True)
class Edit:
    line: int  # 0-based
    added: tuple[str, ...]  # lines inserted before `line`, or with `replace` the line's new text
    replace: bool = False


class Refused(Exception):
    """Why an edit is not made (the EditError gives the text to add by hand)."""


def _value(value: Any, fmt: str) -> str:
    """A string, a number, a bool, a list or a map written on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item, fmt) for item in value) + "]"
    if isinstance(value, dict):
        link = " = " if fmt == "hcl" else ": "
        listed = ", ".join(f"{_quoted(k, fmt)}{link}{_value(v, fmt)}" for k, v in value.items())
        return f"{{{listed}}}" if fmt == "json" else f"{{ {listed} }}"
    return _quoted(value, fmt)


def _item(fmt: str, key: str, value: Any, inline: bool, step: str) -> list[str]:
    """One member of a map: on one line, or a map over several lines (its members a step in)."""
    name = _quoted(key, fmt)
    if inline or not isinstance(value, dict) or not value:
        return [f"{name}{' = ' if fmt == 'hcl' else ': '}{_value(value, fmt)}"]
    inner = [step + line for line in _listed(fmt, list(value.items()), step)]
    return [f"{name}:", *inner] if fmt == "yaml" else [f"{name}{' = ' if fmt == 'hcl' else ': '}{{", *inner, "}"]


def _listed(fmt: str, items: list[tuple[str, Any]], step: str) -> list[str]:
    """Members over several lines; JSON commas between them only."""
    lines = []
    for index, (key, value) in enumerate(items):
        member = _item(fmt, key, value, False, step)
        if fmt == "json" and index < len(items) - 1:
            member[-1] += ","
        lines += member
    return lines


def _members(fmt: str, key: str, entries: dict[str, Any], present: bool, inline: bool, step: str) -> list[str]:
    """The new members of the map (present) or of the block (a new map `key`): one-line members, or
    lines indented from the first; JSON commas between them only."""
    items = sorted(entries.items())
    name = _quoted(key, fmt) if fmt == "json" else key
    if inline:
        listed = ", ".join(line for k, v in items for line in _item(fmt, k, v, True, ""))
        return [listed] if present else [{"json": f"{name}: {{{listed}}}", "yaml": f"{name}: {{ {listed} }}",
                                          "hcl": f"{name} = {{ {listed} }}"}[fmt]]
    members = _listed(fmt, items, step)
    if present:
        return members
    if fmt == "yaml":
        return [f"{name}:", *(step + member for member in members)]
    return [f"{name}: {{" if fmt == "json" else f"{name} = {{", *(step + member for member in members), "}"]


Render = Callable[[bool, bool, str], list[str]]  # (present, inline, step) -> the lines to add


def _plan(fmt: str, source: Source, doc: Document, path: tuple, key: str, present: bool, render: Render) -> Edit:
    lines = source.lines
    into = path + (key,) if present else path
    where = doc.positions[into]
    line, column = where.line - 1, where.column - 1
    text = lines[line]
    nonempty = bool(_block(doc.data, into))
    if text[column:column + 1] == "{":  # a map's (or JSON object's, or YAML flow mapping's) brace
        rest = text[column + 1:]
        if rest.strip():  # a one-line map: the members go first, in the same line
            if fmt == "hcl" and not present:
                raise Refused("the block is written on one line")
            gap = len(rest) - len(rest.lstrip(" \t"))
            members = ", ".join(render(present, True, ""))
            at = column + 1 + gap
            return Edit(line, (text[:at] + members + (", " if nonempty else "") + text[at:],), replace=True)
        if fmt == "yaml":
            raise Refused("the flow mapping spans lines")
    elif fmt == "hcl" and not present:
        if not text.rstrip().endswith("{"):
            raise Refused("the block's first line holds more than its opening (one line, or a comment)")
    elif fmt == "yaml" and not text[:column].strip():  # a block mapping, at its first key
        outer = " " * (doc.key_positions[into].column - 1) if into in doc.key_positions else ""
        inner = text[:column]
        members = render(present, False, _step(outer, inner, lines))
        return Edit(line, tuple(inner + member for member in members))
    else:
        raise Refused("something else is written where the entries would go")
    outer = _indent(text)
    following = _indent(next((other for other in lines[line + 1:] if other.strip()), ""))
    inner = following if len(following) > len(outer) and following.startswith(outer) else outer + _unit(lines)
    members = render(present, False, _step(outer, inner, lines))
    if fmt == "json" and nonempty:  # the members that follow need a comma before them
        members[-1] += ","
    return Edit(line + 1, tuple(inner + member for member in members))


def _apply(source: Source, edit: Edit) -> Source:
    lines, ends = list(source.lines), list(source.ends)
    if edit.replace:
        lines[edit.line] = edit.added[0]
    else:
        if edit.line == len(lines) and ends and not ends[-1]:
            raise Refused("the file's last line has no line end")
        lines[edit.line:edit.line] = edit.added
        ends[edit.line:edit.line] = [source.newline] * len(edit.added)
    return Source(source.bom, lines, ends, source.newline)


def _format(file: str) -> str:
    return "hcl" if file.endswith(".hcl") else "json" if file.endswith(".json") else "yaml"


def _read(file: str, text: str) -> Document:
    report = Report()
    doc = read(file, text, report)
    if report.diagnostics:
        raise Refused("the file does not read as a spec")
    return doc


Entries = dict[str, str] | bool  # a map setting's new entries, or a boolean setting's value


def _setting(fmt: str, key: str, value: bool) -> str:
    """A block's attribute on one line: `key = value` (HCL), `key: value` (YAML, JSON)."""
    return f"{_quoted(key, fmt) if fmt == 'json' else key}{' = ' if fmt == 'hcl' else ': '}{_value(value, fmt)}"


def _added(fmt: str, key: str, entries: Entries, present: bool, inline: bool, step: str) -> list[str]:
    if isinstance(entries, dict):
        return _members(fmt, key, entries, present, inline, step)
    return [_setting(fmt, key, entries)]


def edit_text(file: str, raw: bytes, path: tuple, key: str, entries: Entries) -> bytes:
    """The file's new content with `entries` added to the map `key` of the block at `path` (or, for
    a boolean, the attribute `key` set to it), or Refused. The result reads back as the old document
    plus the entries, or it is refused."""
    source, fmt, old = _opened(file, raw)
    present = key in _at(old.data, path)
    expected = copy.deepcopy(old.data)
    if isinstance(entries, dict):
        _block(expected, path).setdefault(key, {}).update(entries)
    elif present:
        raise Refused(f"{key} is set already")
    else:
        _block(expected, path)[key] = entries
    render: Render = lambda there, inline, step: _added(fmt, key, entries, there, inline, step)
    return _checked(file, _planned(fmt, source, old, path, key, present, render), expected)


def _opened(file: str, raw: bytes) -> tuple[Source, str, Document]:
    try:
        source = parse_source(raw)
    except UnicodeDecodeError:
        raise Refused("the file is not UTF-8 text") from None
    return source, _format(file), _read(file, source.text)  # the readers refuse YAML anchors and aliases


def _at(data: Any, path: tuple) -> Any:
    try:
        return _block(data, path)
    except (KeyError, IndexError, TypeError):
        raise Refused("the block is not written where the spec says") from None


def _planned(fmt: str, source: Source, old: Document, path: tuple, key: str, present: bool, render: Render) -> Source:
    try:
        return _apply(source, _plan(fmt, source, old, path, key, present, render))
    except (KeyError, IndexError, TypeError):
        raise Refused("the block is not written where the spec says") from None


def _checked(file: str, edited: Source, expected: dict) -> bytes:
    """The edited file, if it reads back as exactly the document expected."""
    if not _reads_as(file, edited, expected):
        raise Refused("the edited file would not read back as the spec plus the entries")
    return edited.encode()


def by_hand(file: str, line: int, path: tuple, key: str, entries: Entries, present: bool) -> str:
    """Where and what to add by hand: the entries in the map, or the whole map (or the boolean) in the block."""
    fmt = _format(file)
    text = ", ".join(_added(fmt, key, entries, present, True, ""))
    place = f"in {key} of {describe(path)}" if present and isinstance(entries, dict) else f"in {describe(path)}"
    return f"{file}:{line}: add by hand {place}: {text}"


def add_entries(model: Model, path: tuple, key: str, entries: Entries) -> tuple[str, bytes]:
    """(file, its new content) with `entries` added to the map `key` of the block at `path` (a
    boolean: the attribute `key` set to it)."""
    present = key in _block(model.document.data, path)
    where = model.where(path + (key,) if present else path, key=True)
    return _edited(where.file, lambda raw: edit_text(where.file, raw, path, key, entries),
                   lambda: by_hand(where.file, where.line, path, key, entries, present))


def _edited(file: str, edit: Callable[[bytes], bytes], by_hand: Callable[[], str]) -> tuple[str, bytes]:
    """(file, its content after `edit`), or EditError with what to write by hand and why it was not."""
    try:
        with open(file, "rb") as handle:
            raw = handle.read()
        return file, edit(raw)
    except (Refused, OSError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise EditError(f"{by_hand()}\n  (not written: {reason})") from None


def _hcl_block(kind: str, labels: tuple[str, ...], body: dict[str, Any], step: str) -> list[str]:
    """An HCL block over several lines, its attributes aligned as `terraform fmt` aligns them."""
    width = max(map(len, body), default=0)
    head = " ".join([kind, *(_quoted(label, "hcl") for label in labels)])
    return [f"{head} {{", *(f"{step}{name.ljust(width)} = {_value(value, 'hcl')}" for name, value in body.items()), "}"]


def hcl_blocks(kind: str, labels: tuple[str, ...], body: dict[str, Any], step: str = "  ") -> list[str]:
    """An HCL block whose body holds attributes and, as (kind, labels, body) tuples or lists of
    them under any key, nested blocks: a spec file's text, every string escaped."""
    nested = [k for k, v in body.items() if isinstance(v, (tuple, list)) and v and isinstance(v[0], tuple)]
    lines = _hcl_block(kind, labels, {k: v for k, v in body.items() if k not in nested}, step)[:-1]
    for key in nested:
        for inner in body[key]:
            lines += [""] * (len(lines) > 1) + [step + line for line in hcl_blocks(*inner, step=step)]
    return lines + ["}"]


def block_text(file: str, kind: str, labels: tuple[str, ...], body: dict[str, Any]) -> list[str]:
    """The new block as the file's format writes it, two spaces a step: what to add by hand."""
    fmt = _format(file)
    if fmt == "hcl":
        return _hcl_block(kind, labels, body, "  ")
    nested: Any = body
    for label in reversed(labels):
        nested = {label: nested}
    return _item(fmt, kind, nested, False, "  ")


def add_block_text(file: str, raw: bytes, path: tuple, kind: str, labels: tuple[str, ...], body: dict[str, Any]) -> bytes:
    """The file's new content with a block `kind "labels"... { body }` last in the block at `path` (in
    HCL, else first; in YAML and JSON: the body under its labels' maps, first in the deepest one that exists), or
    Refused. The result reads back as the old document plus the block, or it is refused."""
    source, fmt, old = _opened(file, raw)
    chain = (kind, *labels)
    expected = copy.deepcopy(old.data)
    node = _at(expected, path)
    for part in chain[:-1]:
        node = node.setdefault(part, {})
    if chain[-1] in node:
        raise Refused(f"{describe(path + chain)} exists already")
    node[chain[-1]] = body
    if fmt == "hcl":
        try:  # last in the block, after a blank line, as people add blocks
            return _checked(file, _hcl_block_last(source, old, path, kind, labels, body), expected)
        except Refused:
            pass
        render: Render = lambda _, __, step: _hcl_block(kind, labels, body, step)  # never inline: _plan refuses one-line blocks
        return _checked(file, _planned(fmt, source, old, path, kind, False, render), expected)
    at, depth = path, 0  # down the labels' maps that exist: the new entry goes in the deepest
    while depth < len(chain) - 1 and chain[depth] in _at(old.data, at) and chain[depth + 1] in _at(old.data, at)[chain[depth]]:
        at, depth = at + (chain[depth],), depth + 1
    entry: Any = body
    for label in reversed(chain[depth + 1:]):
        entry = {label: entry}
    present = chain[depth] in _at(old.data, at)
    render = lambda there, inline, step: _members(fmt, chain[depth], entry, there, inline, step)
    return _checked(file, _planned(fmt, source, old, at, chain[depth], present, render), expected)


def _hcl_block_last(source: Source, old: Document, path: tuple, kind: str, labels: tuple[str, ...],
                    body: dict[str, Any]) -> Source:
    """The HCL source with the new block just before the closing brace of the block at `path`, when
    that brace stands on a line of its own; else Refused."""
    lines, outline = source.lines, _outline(old)
    if path not in outline.ends:
        raise Refused("the block is not written where the spec says")
    outer = _indent(lines[outline.starts[path][0]])
    close = next((i for i in range(outline.ends[path] + 1, len(lines)) if lines[i].strip()
                  and (lines[i].strip() != "}" or _indent(lines[i]) == outer)), len(lines))  # past nested blocks' braces
    if close == len(lines) or lines[close].strip() != "}" or _indent(lines[close]) != outer:
        raise Refused("the block's closing brace is not on a line of its own")
    inner = outer + _unit(lines)
    block = [inner + line for line in _hcl_block(kind, labels, body, _unit(lines))]
    apart = lines[close - 1].strip() and not lines[close - 1].rstrip().endswith("{")  # a blank line between blocks
    return _apply(source, Edit(close, tuple([""] * bool(apart) + block)))


def add_block(model: Model, path: tuple, kind: str, labels: tuple[str, ...], body: dict[str, Any]) -> tuple[str, bytes]:
    """(file, its new content) with a new block in the block at `path`, in the file that declares it."""
    where = model.where(path, key=True)
    lines = lambda: "".join(f"\n    {line}" for line in block_text(where.file, kind, labels, body))
    return _edited(where.file, lambda raw: add_block_text(where.file, raw, path, kind, labels, body),
                   lambda: f"{where.file}:{where.line}: add by hand in {describe(path)}:{lines()}")


def _delete(data: dict, path: tuple) -> tuple:
    """Delete the value at `path` and the maps and lists that leaves empty; the outermost path deleted."""
    parents = [data]
    for part in path[:-1]:
        parents.append(parents[-1][part])
    del parents[-1][path[-1]]
    top = path
    for depth in range(len(path) - 1, 0, -1):
        if parents[depth]:
            break
        del parents[depth - 1][path[depth - 1]]
        top = path[:depth]
    return top


def _without_lines(source: Source, first: int, last: int, fmt: str) -> Source:
    """The source without lines first..last; in JSON also the comma the removed member leaves dangling."""
    lines, ends = source.lines[:first] + source.lines[last + 1:], source.ends[:first] + source.ends[last + 1:]
    if fmt == "json":
        before = next((i for i in range(first - 1, -1, -1) if lines[i].strip()), None)
        after = next((i for i in range(first, len(lines)) if lines[i].strip()), None)
        if before is not None and after is not None and lines[before].rstrip().endswith(",") \
                and lines[after].lstrip()[:1] in "}]":
            kept = lines[before].rstrip()
            lines[before] = kept[:-1] + lines[before][len(kept):]
    closes = first == len(lines) or not lines[first].strip() or lines[first].strip()[:1] in "}]"
    if 0 < first and not lines[first - 1].strip() and closes:  # the blank line that set the block apart
        del lines[first - 1], ends[first - 1]
    elif 0 < first < len(lines) and lines[first - 1].rstrip()[-1:] in ("{", "[") and not lines[first].strip():
        del lines[first], ends[first]  # the first in its block: no blank line after the opening brace
    return Source(source.bom, lines, ends, source.newline)


@dataclass(frozen=True)
class _Outline:
    """Where each block, and everything in it, is written: worked out once for all of a file's removals."""
    starts: dict[tuple, tuple[int, int]]  # path -> the first (line, column), 0-based, of it or anything in it
    ends: dict[tuple, int]  # path -> the last line it or anything in it is written on
    lines: list[int]  # the lines anything is written on, sorted

    def after(self, line: int, otherwise: int) -> int:
        """The first line after `line` that something is written on."""
        index = bisect.bisect_right(self.lines, line)
        return self.lines[index] if index < len(self.lines) else otherwise


def _outline(doc: Document) -> _Outline:
    starts: dict[tuple, tuple[int, int]] = {}
    ends: dict[tuple, int] = {}
    for table in (doc.positions, doc.key_positions):
        for where, pos in table.items():
            here = (pos.line - 1, pos.column - 1)
            for length in range(len(where) + 1):
                prefix = where[:length]
                if here < starts.get(prefix, (math.inf, 0)):
                    starts[prefix] = here
                if ends.get(prefix, -1) < here[0]:
                    ends[prefix] = here[0]
    return _Outline(starts, ends, sorted({line for line, _ in starts.values()} | set(ends.values())))


def _balanced(lines: list[str], fmt: str) -> bool:
    """Whether the lines open as many brackets as they close, outside strings and comments: where a
    block written over lines ends (a guess; the result is read back)."""
    depth = 0
    for line in lines:
        quoted = escaped = False
        for index, char in enumerate(line):
            if escaped:
                escaped = False
            elif quoted:
                escaped, quoted = char == "\\", char != '"'
            elif char == '"':
                quoted = True
            elif char == "#" and fmt != "json" or line.startswith("//", index) and fmt == "hcl":
                break
            elif char in "{[":
                depth += 1
            elif char in "}]":
                depth -= 1
    return depth == 0


def remove_text(file: str, raw: bytes, paths: list[tuple]) -> bytes:
    """The file's new content without the blocks at `paths` (whole lines, each block's own, or a
    member of a map written on one line; in YAML and JSON also the maps they leave empty), or
    Refused. The result must read back as exactly the document without them; the rest stays byte
    for byte. Each block's lines are first guessed from its brackets, all at once; when that does
    not read back, each removal is found and checked one at a time."""
    source, fmt, old = _opened(file, raw)
    outline = _outline(old)
    expected = copy.deepcopy(old.data)
    ordered = sorted(paths, key=lambda p: outline.starts.get(p, (-1, -1)), reverse=True)
    units = [_deleted(expected, path, fmt) for path in ordered]
    guessed = source
    for unit in units:  # from the last in the file up: what is before stays where it was
        first, last = outline.starts[unit][0], outline.ends[unit]
        lines = guessed.lines
        end = next((e for e in range(last, outline.after(last, len(lines))) if _balanced(lines[first:e + 1], fmt)), None)
        if end is None:
            break
        guessed = _without_lines(guessed, first, end, fmt)
    else:
        if _reads_as(file, guessed, expected):
            return guessed.encode()
    wanted = copy.deepcopy(old.data)
    for path, unit in zip(ordered, units):
        _deleted(wanted, path, fmt)
        source = _one_removed(file, fmt, source, outline, unit, wanted, old.key_positions)
    return source.encode()


def _deleted(data: dict, path: tuple, fmt: str) -> tuple:
    """Delete the block at `path` from `data`; the path whose lines go (in YAML and JSON the
    outermost map it left empty; in HCL those are written by no lines of their own)."""
    try:
        top = _delete(data, path)
    except (KeyError, IndexError, TypeError):
        raise Refused(f"{describe(path)} is not written in this file") from None
    return path if fmt == "hcl" else top


def _one_removed(file: str, fmt: str, source: Source, outline: _Outline, unit: tuple, wanted: dict,
                 keys: dict) -> Source:
    """The source without one block: its lines up to the first end that reads back as `wanted`
    (not the comments or blank lines after it), or the member of a line it shares."""
    first, last = outline.starts[unit][0], outline.ends[unit]
    for end in range(last, outline.after(last, len(source.lines))):
        shorter = _without_lines(source, first, end, fmt)
        if _reads_as(file, shorter, wanted):
            return shorter
    if first == last and fmt != "hcl":
        column = keys[unit].column - 1 if unit in keys else outline.starts[unit][1]
        shorter = _without_member(source, first, column, unit in keys)
        if shorter is not None and _reads_as(file, shorter, wanted):
            return shorter
    raise Refused("the block shares its lines with others")


def _reads_as(file: str, source: Source, wanted: dict) -> bool:
    report = Report()
    return read(file, source.text, report).data == wanted and not report.diagnostics


def _value_end(text: str, at: int) -> int:
    """Where the flow value (or quoted key) starting at `at` ends: past its closing bracket or quote,
    or at a plain scalar's next `,`, `}` or `]`."""
    depth, quote, index = 0, None, at
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\" and quote == '"':
                index += 1
            elif char == quote:
                quote = None
                if not depth:
                    return index + 1
        elif char in "\"'":
            quote = char
        elif char in "{[":
            depth += 1
        elif char == "," and not depth:
            return index
        elif char in "}]":
            if not depth:
                return index
            depth -= 1
            if not depth:
                return index + 1
        index += 1
    return index


def _without_member(source: Source, line: int, column: int, keyed: bool) -> Source | None:
    """The source without the map member whose key (or the list item that) starts at (line, column)
    on a line it shares (YAML flow style, JSON on one line), and the comma that set it apart; None
    if nothing such is there."""
    text = source.lines[line]
    start = column
    if keyed:
        key_end = _value_end(text, column) if text[column:column + 1] in ("'", '"') else text.find(":", column)
        if key_end < 0:
            return None
        colon = key_end + len(text[key_end:]) - len(text[key_end:].lstrip(" \t"))
        if text[colon:colon + 1] != ":":
            return None
        start = colon + 1 + len(text[colon + 1:]) - len(text[colon + 1:].lstrip(" \t"))
    end = len(text[:_value_end(text, start)].rstrip(" \t"))
    after = re.match(r"[ \t]*,[ \t]*", text[end:])
    before = re.search(r",[ \t]*\Z", text[:column])
    if after:
        text = text[:column] + text[end + after.end():]
    elif before:
        text = text[:before.start()] + text[end:]
    else:
        return None
    return Source(source.bom, [*source.lines[:line], text, *source.lines[line + 1:]], source.ends, source.newline)


def remove_blocks(model: Model, paths: list[tuple]) -> dict[str, bytes]:
    """Each file's new content without the blocks at `paths` that it declares."""
    by_file: dict[str, list[tuple]] = {}
    for path in paths:
        by_file.setdefault(model.where(path, key=True).file, []).append(path)
    edited = {}
    for file, inside in by_file.items():
        try:
            with open(file, "rb") as handle:
                edited[file] = remove_text(file, handle.read(), inside)
        except (Refused, OSError) as error:
            reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
            places = "; ".join(f"{describe(p)} (line {model.where(p, key=True).line})" for p in inside)
            raise EditError(f"{file}: remove by hand: {places}\n  (not written: {reason})") from None
    return edited


def write_in_place(file: str, content: bytes, folder: str) -> None:
    """Replace a spec file whole or not at all (a temporary file beside it, then a rename), keeping
    its mode; through a symlink only to a file inside the spec's folder."""
    root = os.path.realpath(folder if os.path.isdir(folder) else os.path.dirname(folder) or ".")
    real = os.path.realpath(file)
    if os.path.commonpath([root, real]) != root:
        raise EditError(f"{file}: not written: it links to {real}, outside the spec folder; add the entries there by hand")
    try:
        _replace(real, content)
    except OSError as error:
        raise EditError(f"{file}: not written: {error.strerror or error}") from None


def _replace(real: str, content: bytes) -> None:
    mode = stat.S_IMODE(os.stat(real).st_mode)
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(real)}.", dir=os.path.dirname(real))
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fchmod(stream.fileno(), mode)
            os.fsync(stream.fileno())
        os.replace(temporary, real)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


# Adding a block (a workload's review): the new block goes first, before the ones written already.

def _repeated_item(fmt: str, fields: dict[str, str]) -> str:
    """One block as a one-line list item: a YAML flow mapping or a JSON object."""
    link = ": "
    inner = ", ".join(f"{_quoted(k, fmt) if fmt == 'json' else k}{link}{_quoted(v, fmt)}" for k, v in fields.items())
    return f"{{{inner}}}" if fmt == "json" else f"{{ {inner} }}"


def _new_block(fmt: str, kind: str, fields: dict[str, str], inline: bool, step: str) -> list[str]:
    """The lines of a new block `kind` (HCL), or of a new list `kind` holding it (YAML, JSON)."""
    if fmt == "hcl":
        return [f"{kind} {{", *(f"{step}{k} = {_quoted(v, fmt)}" for k, v in fields.items()), "}"]
    name = _quoted(kind, fmt) if fmt == "json" else kind
    if inline or fmt == "json":
        return [f"{name}: [{_repeated_item(fmt, fields)}]"]
    return [f"{name}:", f"{step}- {_repeated_item(fmt, fields)}"]


def _plan_block(fmt: str, source: Source, doc: Document, path: tuple, kind: str, fields: dict[str, str]) -> Edit:
    lines = source.lines
    present = fmt != "hcl" and kind in _block(doc.data, path)  # HCL repeats the block; the others extend a list
    into = path + (kind,) if present else path
    where = doc.positions[into]
    line, column = where.line - 1, where.column - 1
    text = lines[line]
    opener = text[column:column + 1]
    rest = text[column + 1:]
    if present and opener == "[" and rest.strip():  # a list on one line: the item goes first in it
        gap = len(rest) - len(rest.lstrip(" \t"))
        at = column + 1 + gap
        comma = ", " if _block(doc.data, into) else ""
        return Edit(line, (text[:at] + _repeated_item(fmt, fields) + comma + text[at:],), replace=True)
    if present and opener == "-":  # a YAML block sequence, at its first item
        return Edit(line, (text[:column] + "- " + _repeated_item(fmt, fields),))
    if present and opener == "[" and fmt == "json":
        outer = _indent(text)
        following = _indent(next((other for other in lines[line + 1:] if other.strip()), ""))
        inner = following if len(following) > len(outer) else outer + _unit(lines)
        return Edit(line + 1, (inner + _repeated_item(fmt, fields) + ("," if _block(doc.data, into) else ""),))
    if present:
        raise Refused("the list is written in a way wiam does not edit")
    if opener == "{" and rest.strip():  # a one-line mapping (YAML flow, JSON): the list goes first in it
        if fmt == "hcl":
            raise Refused("the block is written on one line")
        gap = len(rest) - len(rest.lstrip(" \t"))
        at = column + 1 + gap
        return Edit(line, (text[:at] + _new_block(fmt, kind, fields, True, "")[0] + ", " + text[at:],), replace=True)
    if fmt == "yaml" and opener != "{" and not text[:column].strip():  # a block mapping, at its first key
        outer = " " * (doc.key_positions[path].column - 1) if path in doc.key_positions else ""
        inner = text[:column]
        return Edit(line, tuple(inner + member for member in _new_block(fmt, kind, fields, False, _step(outer, inner, lines))))
    if fmt == "hcl" and not text.rstrip().endswith("{"):
        raise Refused("the block's first line holds more than its opening (one line, or a comment)")
    if fmt == "yaml":
        raise Refused("the flow mapping spans lines")
    outer = _indent(text)
    following = _indent(next((other for other in lines[line + 1:] if other.strip()), ""))
    inner = following if len(following) > len(outer) and following.startswith(outer) else outer + _unit(lines)
    members = _new_block(fmt, kind, fields, False, _step(outer, inner, lines))
    if fmt == "json":
        members[-1] += ","  # a workload is never empty: its members follow
    return Edit(line + 1, tuple(inner + member for member in members))


def repeated_block_text(file: str, raw: bytes, path: tuple, kind: str, fields: dict[str, str]) -> bytes:
    """The file's new content with a block `kind` of `fields` first in the block at `path`, or Refused.
    The result reads back as the old document with that block added, or it is refused."""
    try:
        source = parse_source(raw)
    except UnicodeDecodeError:
        raise Refused("the file is not UTF-8 text") from None
    fmt = _format(file)
    old = _read(file, source.text)
    try:
        edited = _apply(source, _plan_block(fmt, source, old, path, kind, fields))
    except (KeyError, IndexError, TypeError):
        raise Refused("the block is not written where the spec says") from None
    expected = copy.deepcopy(old.data)
    body = _block(expected, path)
    body[kind] = [dict(fields), *body.get(kind, [])]
    report = Report()
    if read(file, edited.text, report).data != expected or report.diagnostics:
        raise Refused("the edited file would not read back as the spec plus the block")
    return edited.encode()


def add_repeated_block(model: Model, path: tuple, kind: str, fields: dict[str, str]) -> tuple[str, bytes]:
    """(file, its new content) with a block `kind` of `fields` added to the block at `path`."""
    where = model.where(path, key=True)

    def shown() -> str:
        fmt = _format(where.file)
        block = _new_block(fmt, kind, fields, True, "")
        return " ".join(block) if fmt == "hcl" else block[0]
    return _edited(where.file, lambda raw: repeated_block_text(where.file, raw, path, kind, fields),
                   lambda: f"{where.file}:{where.line}: add by hand in {describe(path)}: {shown()}")

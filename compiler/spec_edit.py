"""Small edits to spec files that keep everything else as written: add entries to a map attribute
of a block, in the file and format that block is written in.

An edit either inserts whole lines (in a map or block written over several lines) or changes the
one line that opens a one-line map (YAML flow mappings, JSON on one line); the new entries go first.
It keeps the file's BOM, line endings and indentation, and it holds only if the edited file reads
back as exactly the old document plus the entries. Anything else is refused with the exact text to
add by hand and where, and the file is left as it is."""

from __future__ import annotations

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
from typing import Any


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


def _members(fmt: str, key: str, entries: dict[str, str], present: bool, inline: bool, step: str) -> list[str]:
    """The new members of the map (present) or of the block (a new map `key`): one-line members, or
    lines indented from the first; JSON commas between them only."""
    link = " = " if fmt == "hcl" else ": "
    items = [f"{_quoted(k, fmt)}{link}{_quoted(v, fmt)}" for k, v in sorted(entries.items())]
    name = _quoted(key, fmt) if fmt == "json" else key
    if inline:
        listed = ", ".join(items)
        return items if present else [{"json": f"{name}: {{{listed}}}", "yaml": f"{name}: {{ {listed} }}",
                                       "hcl": f"{name} = {{ {listed} }}"}[fmt]]
    if fmt == "json":
        items = [item + ("," if i < len(items) - 1 else "") for i, item in enumerate(items)]
    if present:
        return items
    if fmt == "yaml":
        return [f"{name}:", *(step + item for item in items)]
    return [f"{name}: {{" if fmt == "json" else f"{name} = {{", *(step + item for item in items), "}"]


def _plan(fmt: str, source: Source, doc: Document, path: tuple, key: str, entries: dict[str, str]) -> Edit:
    lines = source.lines
    block = _block(doc.data, path)
    present = key in block
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
            members = ", ".join(_members(fmt, key, entries, present, True, ""))
            at = column + 1 + gap
            return Edit(line, (text[:at] + members + (", " if nonempty else "") + text[at:],), replace=True)
        if fmt == "yaml":
            raise Refused("the flow mapping spans lines")
    elif fmt == "hcl" and not present:
        if not text.rstrip().endswith("{"):
            raise Refused("the block's first line holds more than its opening (one line, or a comment)")
    elif fmt == "yaml" and not text[:column].strip():  # a block mapping, at its first key
        outer = " " * (doc.key_positions[path].column - 1) if path in doc.key_positions else ""
        inner = text[:column]
        members = _members(fmt, key, entries, present, False, _step(outer, inner, lines))
        return Edit(line, tuple(inner + member for member in members))
    else:
        raise Refused("something else is written where the entries would go")
    outer = _indent(text)
    following = _indent(next((other for other in lines[line + 1:] if other.strip()), ""))
    inner = following if len(following) > len(outer) and following.startswith(outer) else outer + _unit(lines)
    members = _members(fmt, key, entries, present, False, _step(outer, inner, lines))
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


def edit_text(file: str, raw: bytes, path: tuple, key: str, entries: dict[str, str]) -> bytes:
    """The file's new content with `entries` added to the map `key` of the block at `path`, or
    Refused. The result reads back as the old document plus the entries, or it is refused."""
    try:
        source = parse_source(raw)
    except UnicodeDecodeError:
        raise Refused("the file is not UTF-8 text") from None
    fmt = _format(file)
    old = _read(file, source.text)  # the readers refuse YAML anchors and aliases, so no edit can miss one
    try:
        edited = _apply(source, _plan(fmt, source, old, path, key, entries))
    except (KeyError, IndexError, TypeError):
        raise Refused("the block is not written where the spec says") from None
    expected = copy.deepcopy(old.data)
    _block(expected, path).setdefault(key, {}).update(entries)
    report = Report()
    if read(file, edited.text, report).data != expected or report.diagnostics:
        raise Refused("the edited file would not read back as the spec plus the entries")
    return edited.encode()


def by_hand(file: str, line: int, path: tuple, key: str, entries: dict[str, str], present: bool) -> str:
    """Where and what to add by hand: the entries in the map, or the whole map in the block."""
    fmt = _format(file)
    text = ", ".join(_members(fmt, key, entries, present, True, ""))
    place = f"in {key} of {describe(path)}" if present else f"in {describe(path)}"
    return f"{file}:{line}: add by hand {place}: {text}"


def add_entries(model: Model, path: tuple, key: str, entries: dict[str, str]) -> tuple[str, bytes]:
    """(file, its new content) with `entries` added to the map `key` of the block at `path`."""
    present = key in _block(model.document.data, path)
    where = model.where(path + (key,) if present else path, key=True)
    try:
        with open(where.file, "rb") as handle:
            raw = handle.read()
        return where.file, edit_text(where.file, raw, path, key, entries)
    except (Refused, OSError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise EditError(f"{by_hand(where.file, where.line, path, key, entries, present)}\n  (not written: {reason})") from None


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

def _item(fmt: str, fields: dict[str, str]) -> str:
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
        return [f"{name}: [{_item(fmt, fields)}]"]
    return [f"{name}:", f"{step}- {_item(fmt, fields)}"]


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
        return Edit(line, (text[:at] + _item(fmt, fields) + comma + text[at:],), replace=True)
    if present and opener == "-":  # a YAML block sequence, at its first item
        return Edit(line, (text[:column] + "- " + _item(fmt, fields),))
    if present and opener == "[" and fmt == "json":
        outer = _indent(text)
        following = _indent(next((other for other in lines[line + 1:] if other.strip()), ""))
        inner = following if len(following) > len(outer) else outer + _unit(lines)
        return Edit(line + 1, (inner + _item(fmt, fields) + ("," if _block(doc.data, into) else ""),))
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


def block_text(file: str, raw: bytes, path: tuple, kind: str, fields: dict[str, str]) -> bytes:
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


def add_block(model: Model, path: tuple, kind: str, fields: dict[str, str]) -> tuple[str, bytes]:
    """(file, its new content) with a block `kind` of `fields` added to the block at `path`."""
    where = model.where(path, key=True)
    try:
        with open(where.file, "rb") as handle:
            raw = handle.read()
        return where.file, block_text(where.file, raw, path, kind, fields)
    except (Refused, OSError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        shown = " ".join(_new_block("hcl", kind, fields, True, "")) if _format(where.file) == "hcl" else \
            _new_block(_format(where.file), kind, fields, True, "")[0]
        raise EditError(f"{where.file}:{where.line}: add by hand in {describe(path)}: {shown}\n"
                        f"  (not written: {reason})") from None

"""YAML and JSON files. Both follow Terraform's JSON syntax, so they map onto the document as is;
positions come from the YAML node marks and from a small position-keeping JSON scanner."""

from __future__ import annotations

import bisect
import json
import re
from json.decoder import scanstring
from typing import Any

import yaml

from ..diagnostics import Pos, Report, quote
from ..document import Document, block_of
from .domain import OutOfDomain, TooDeep, check_depth, checked_text, decimal, number, out_of_range

_FORMAT_HINT = "write the spec as Terraform's JSON syntax: block type, then its labels, then its body"


def _check_top(doc: Document, value: Any, pos: Pos, report: Report, fmt: str) -> None:
    if isinstance(value, dict):
        doc.data = value
    elif value is not None:
        report.error(pos, "", f"a {fmt} spec file must hold one mapping at its top", _FORMAT_HINT)


# YAML

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP, _INT, _MERGE = (_TAG + name for name in ("str", "seq", "map", "int", "merge"))
_SCALARS = {_TAG + name: name for name in ("str", "int", "float", "bool", "null")}  # the core schema's
_COLLECTIONS = {yaml.SequenceStartEvent: _SEQ, yaml.MappingStartEvent: _MAP}
_ENDS = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
_PLAIN_HINT = "use plain strings, numbers, booleans, null, lists and mappings; quote a value to keep it as text"
_WANT_KEY, _DISCARD = object(), object()  # a mapping's next node is a key; the value of a refused key


def read_yaml(path: str, text: str, report: Report, loader_class=_YAML_LOADER) -> Document:
    doc = Document(files=[path])
    loader, reported = loader_class(text), len(report.diagnostics)
    try:
        top = _YamlBuilder(path, doc, report, loader).document()
    except yaml.MarkedYAMLError as exc:
        if "maximum nesting depth" in str(exc.problem) and loader_class is not yaml.SafeLoader:
            # Newer libyaml stops at a depth of its own while scanning ahead of the events; PyYAML's
            # own parser (not recursive either) reaches our limit first, where every reader names it.
            del report.diagnostics[reported:]
            return read_yaml(path, text, report, yaml.SafeLoader)
        mark = exc.problem_mark or exc.context_mark
        report.error(Pos(path, mark.line + 1, mark.column + 1) if mark else Pos(path, 1, 1), "",
                     f"YAML syntax error: {exc.problem or exc.context}", "fix the YAML at this place")
        return doc
    except yaml.reader.ReaderError as exc:  # a character YAML forbids, at a character offset
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        report.error(Pos(path, line, column), "", f"the character U+{exc.character:04X} is not allowed in YAML",
                     f'remove it, or write it as the escape "\\u{exc.character:04X}" in a double-quoted string')
        return doc
    except yaml.YAMLError as exc:
        report.error(Pos(path, 1, 1), "", f"YAML error: {exc}", "a spec file holds one YAML document")
        return doc
    except TooDeep as exc:
        exc.report(report)
        return doc
    finally:
        loader.dispose()
    if top is not None:
        _check_top(doc, *top, report, "YAML")
    return doc


def _short(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


class _Level:
    """A list or mapping being built: where it starts, its path (None when it is dropped) and,
    for a mapping, the key whose value comes next."""
    __slots__ = ("value", "pos", "path", "key")

    def __init__(self, value, pos, path):
        self.value, self.pos, self.path, self.key = value, pos, path, _WANT_KEY


class _YamlBuilder:
    """The document built from the parser's events, not from composed nodes: nothing recursive
    (libyaml's composer overflows the C stack on deep input), the depth checked as levels open,
    and anchors and aliases refused where they are written, so no alias is ever expanded."""

    def __init__(self, path: str, doc: Document, report: Report, loader):
        self.path, self.doc, self.report, self.loader = path, doc, report, loader

    def pos(self, event) -> Pos:
        return Pos(self.path, event.start_mark.line + 1, event.start_mark.column + 1)

    def document(self) -> tuple | None:
        """(the top value, its position), or None for an empty file."""
        loader = self.loader
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return None
        start = loader.get_event()
        top = self.value()
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            raise yaml.composer.ComposerError("expected a single document in the stream", start.start_mark,
                                              "but found another document", loader.get_event().start_mark)
        return top

    def value(self) -> tuple:
        """The next node's value and position, built level by level in one loop."""
        levels: list[_Level] = []
        while True:
            event = self.loader.get_event()
            pos = self.pos(event)
            if isinstance(event, _ENDS):
                level = levels.pop()
                value, pos = level.value, level.pos
            else:
                path = self.place(levels, event, pos)
                if path is _WANT_KEY:
                    continue  # a key, now stored in its mapping
                if path is not None:
                    self.doc.positions[path] = pos
                if event.anchor is not None:  # an anchor, or an alias
                    self.report.error(pos, "", "YAML anchors and aliases (&name, *name) are not supported",
                                      "write the value out in full at each place it is used")
                if type(event) in _COLLECTIONS:
                    check_depth(len(levels), pos)
                    levels.append(_Level(self.collection(event, pos), pos, path))
                    continue
                value = self.scalar(event, pos, path) if isinstance(event, yaml.ScalarEvent) else None
            if not levels:
                return value, pos
            self.deliver(levels[-1], value)

    def place(self, levels: list[_Level], event, pos: Pos):
        """The path of the node `event` starts (None: it is dropped), or _WANT_KEY when the node
        is a mapping's key, which is then checked and stored in the mapping."""
        if not levels:
            return ()
        level = levels[-1]
        if isinstance(level.value, list):
            return None if level.path is None else level.path + (len(level.value),)
        if level.key is not _WANT_KEY:
            return None if level.path is None or level.key is _DISCARD else level.path + (level.key,)
        if not isinstance(event, yaml.ScalarEvent) or event.anchor is not None or self.resolve(event) == _MERGE \
                or (event.tag not in (None, "!", _STR)):
            self.report.error(pos, "", "keys must be plain strings",
                              "write the key as text; YAML merge keys, anchors, tags and complex keys are not supported")
            if type(event) in _COLLECTIONS:
                return None  # built, then dropped with its value (see deliver)
            level.key = _DISCARD
            return _WANT_KEY
        key = event.value
        if level.path is None:
            level.key = key
        elif key in level.value:
            first = self.doc.key_positions[level.path + (key,)]
            self.report.error(pos, "", f"key {quote(key)} appears twice in one mapping (first at {first})",
                              "keep one of the two; blocks of one kind and name may not repeat")
            level.key = _DISCARD
        else:
            self.doc.key_positions[level.path + (key,)] = pos
            level.key = key
        return _WANT_KEY

    def deliver(self, level: _Level, value) -> None:
        if isinstance(level.value, list):
            level.value.append(value)
        elif level.key is _WANT_KEY:  # a complex key, refused
            level.key = _DISCARD
        else:
            if level.key is not _DISCARD:
                level.value[level.key] = value
            level.key = _WANT_KEY

    def resolve(self, event) -> str:
        if event.tag not in (None, "!"):
            return event.tag
        if isinstance(event, yaml.ScalarEvent):
            return self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        return _COLLECTIONS[type(event)]

    def collection(self, event, pos: Pos) -> list | dict:
        tag = _COLLECTIONS[type(event)]
        if self.resolve(event) != tag:
            self.report.error(pos, "", f"the YAML tag {_short(event.tag)} is not supported", _PLAIN_HINT)
        return [] if tag == _SEQ else {}

    def scalar(self, event, pos: Pos, path: tuple | None):
        tag = self.resolve(event)
        if tag == _STR:
            return event.value
        kind = _SCALARS.get(tag)
        if kind is None:
            if tag == _TAG + "timestamp":
                self.report.error(pos, "", f"{event.value} reads as a YAML date or time, which is not a spec value",
                                  f'quote it ("{event.value}") to keep it as text')
            else:
                self.report.error(pos, "", f"the YAML tag {_short(tag)} is not supported", _PLAIN_HINT)
            return None
        try:
            if tag == _INT and len(event.value) > 64:  # int() refuses thousands of digits; none is in range
                raise out_of_range(event.value)
            node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
            value = self.loader.yaml_constructors[tag](self.loader, node)
            return value if kind in ("bool", "null") else number(value, event.value)
        except OutOfDomain as exc:
            exc.report(self.report, pos, block_of(path))
        except (ValueError, KeyError):
            self.report.error(pos, "", f"{quote(event.value)} is not a YAML {kind}", _PLAIN_HINT)
        return None


# JSON

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_LITERALS = {"true": True, "false": False, "null": None}


class _JsonSyntaxError(Exception):
    def __init__(self, offset: int, message: str):
        self.offset, self.message = offset, message


class _JsonScanner:
    """A JSON parser that records where each value and key starts."""

    def __init__(self, path: str, text: str, doc: Document, report: Report):
        self.path, self.text, self.doc, self.report = path, text, doc, report
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def pos(self, offset: int) -> Pos:
        line = bisect.bisect_right(self.line_starts, offset)
        return Pos(self.path, line, offset - self.line_starts[line - 1] + 1)

    def skip(self, i: int) -> int:
        return _WHITESPACE.match(self.text, i).end()

    def value(self, i: int, at: tuple) -> tuple[Any, int]:
        i = self.skip(i)
        self.doc.positions[at] = self.pos(i)
        char = self.text[i : i + 1]
        if char and char in "{[":
            check_depth(len(at), self.pos(i))
        if char == "{":
            return self.object(i + 1, at)
        if char == "[":
            return self.array(i + 1, at)
        if char == '"':
            return self.string(i + 1)
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, i):
                return literal, i + len(word)
        match = _NUMBER.match(self.text, i)
        if match and match.end() > i:
            try:
                return decimal(match.group(0)), match.end()
            except OutOfDomain as exc:
                exc.report(self.report, self.pos(i), block_of(at))
                return None, match.end()
        raise _JsonSyntaxError(i, "expected a value" if char else "the file ends where a value should be")

    def string(self, i: int) -> tuple[str | None, int]:
        """The string whose opening quote is before `i`, or None (reported) when out of the domain."""
        try:
            value, end = scanstring(self.text, i, True)
        except json.JSONDecodeError as exc:
            raise _JsonSyntaxError(exc.pos, exc.msg) from None
        try:
            return checked_text(value), end
        except OutOfDomain as exc:
            exc.report(self.report, self.pos(i - 1))
            return None, end

    def object(self, i: int, at: tuple) -> tuple[dict, int]:
        result: dict = {}
        i = self.skip(i)
        if self.text.startswith("}", i):
            return result, i + 1
        while True:
            i = self.skip(i)
            if not self.text.startswith('"', i):
                raise _JsonSyntaxError(i, "expected a quoted key")
            key_pos = self.pos(i)
            key, i = self.string(i + 1)
            i = self.skip(i)
            if not self.text.startswith(":", i):
                raise _JsonSyntaxError(i, "expected ':' after the key")
            value, i = self.value(i + 1, at + (key,))
            if key is None:
                pass  # reported
            elif key in result:
                first = self.doc.key_positions[at + (key,)]
                self.report.error(key_pos, "", f"key {quote(key)} appears twice in one object (first at {first})",
                                  "keep one of the two; blocks of one kind and name may not repeat")
            else:
                result[key] = value
                self.doc.key_positions[at + (key,)] = key_pos
            i, closed = self.after_item(i, "}")
            if closed:
                return result, i

    def array(self, i: int, at: tuple) -> tuple[list, int]:
        result: list = []
        i = self.skip(i)
        if self.text.startswith("]", i):
            return result, i + 1
        while True:
            value, i = self.value(i, at + (len(result),))
            result.append(value)
            i, closed = self.after_item(i, "]")
            if closed:
                return result, i

    def after_item(self, i: int, close: str) -> tuple[int, bool]:
        """Past the comma after an object's or array's item, or past its closing bracket (True)."""
        i = self.skip(i)
        if self.text.startswith(",", i):
            return i + 1, False
        if self.text.startswith(close, i):
            return i + 1, True
        raise _JsonSyntaxError(i, f"expected ',' or '{close}'")


def read_json(path: str, text: str, report: Report) -> Document:
    doc = Document(files=[path])
    scanner = _JsonScanner(path, text, doc, report)
    try:
        value, end = scanner.value(0, ())
        end = scanner.skip(end)
        if end != len(text):
            raise _JsonSyntaxError(end, "extra text after the top-level value")
    except _JsonSyntaxError as exc:
        report.error(scanner.pos(exc.offset), "", f"JSON syntax error: {exc.message}", "fix the JSON at this place")
        return doc
    except TooDeep as exc:
        exc.report(report)
        return doc
    _check_top(doc, value, scanner.pos(scanner.skip(0)), report, "JSON")
    return doc

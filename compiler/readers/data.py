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
from ..document import Document

_FORMAT_HINT = "write the spec as Terraform's JSON syntax: block type, then its labels, then its body"


def _check_top(doc: Document, value: Any, pos: Pos, report: Report, fmt: str) -> None:
    if isinstance(value, dict):
        doc.data = value
    elif value is not None:
        report.error(pos, "", f"a {fmt} spec file must hold one mapping at its top", _FORMAT_HINT)


# YAML

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: str, text: str, report: Report) -> Document:
    doc = Document(files=[path])
    loader = _YAML_LOADER(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        report.error(Pos(path, mark.line + 1, mark.column + 1) if mark else Pos(path, 1, 1), "",
                     f"YAML syntax error: {exc.problem or exc.context}", "fix the YAML at this place")
        return doc
    except yaml.YAMLError as exc:
        report.error(Pos(path, 1, 1), "", f"YAML error: {exc}", "a spec file holds one YAML document")
        return doc
    finally:
        loader.dispose()
    if node is None:
        return doc
    value = _YamlConverter(path, doc, report, loader).convert(node, ())
    _check_top(doc, value, _mark(path, node), report, "YAML")
    return doc


def _mark(path: str, node: yaml.Node) -> Pos:
    return Pos(path, node.start_mark.line + 1, node.start_mark.column + 1)


class _YamlConverter:
    def __init__(self, path, doc, report, loader):
        self.path, self.doc, self.report, self.loader = path, doc, report, loader

    def convert(self, node: yaml.Node, at: tuple) -> Any:
        self.doc.positions[at] = _mark(self.path, node)
        if isinstance(node, yaml.MappingNode):
            result: dict = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    self.report.error(_mark(self.path, key_node), "", "keys must be plain strings",
                                      "write the key as text; YAML merge keys and complex keys are not supported")
                    continue
                key = key_node.value
                if key in result:
                    first = self.doc.key_positions[at + (key,)]
                    self.report.error(_mark(self.path, key_node), "",
                                      f"key {quote(key)} appears twice in one mapping (first at {first})",
                                      "keep one of the two; blocks of one kind and name may not repeat")
                    continue
                self.doc.key_positions[at + (key,)] = _mark(self.path, key_node)
                result[key] = self.convert(value_node, at + (key,))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, at + (i,)) for i, item in enumerate(node.value)]
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            self.report.error(_mark(self.path, node), "", f"YAML value not supported: {exc.problem}",
                              "use plain strings, numbers, booleans, lists and mappings")
            return None


# JSON

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
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
            number = match.group(0)
            return (float(number) if match.group(1) or match.group(2) else int(number)), match.end()
        raise _JsonSyntaxError(i, "expected a value" if char else "the file ends where a value should be")

    def string(self, i: int) -> tuple[str, int]:
        try:
            return scanstring(self.text, i, True)
        except json.JSONDecodeError as exc:
            raise _JsonSyntaxError(exc.pos, exc.msg) from None

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
            if key in result:
                first = self.doc.key_positions[at + (key,)]
                self.report.error(key_pos, "", f"key {quote(key)} appears twice in one object (first at {first})",
                                  "keep one of the two; blocks of one kind and name may not repeat")
            else:
                result[key] = value
                self.doc.key_positions[at + (key,)] = key_pos
            i = self.skip(i)
            if self.text.startswith(",", i):
                i += 1
            elif self.text.startswith("}", i):
                return result, i + 1
            else:
                raise _JsonSyntaxError(i, "expected ',' or '}'")

    def array(self, i: int, at: tuple) -> tuple[list, int]:
        result: list = []
        i = self.skip(i)
        if self.text.startswith("]", i):
            return result, i + 1
        while True:
            value, i = self.value(i, at + (len(result),))
            result.append(value)
            i = self.skip(i)
            if self.text.startswith(",", i):
                i += 1
            elif self.text.startswith("]", i):
                return result, i + 1
            else:
                raise _JsonSyntaxError(i, "expected ',' or ']'")


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
    _check_top(doc, value, scanner.pos(scanner.skip(0)), report, "JSON")
    return doc

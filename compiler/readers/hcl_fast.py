"""The fast path for HCL files: tree-sitter-hcl (a C parser) for specs that are what they should be,
blocks and literal values. Anything else (a syntax error, an expression, a repeated key, a wrong
label count) raises `NotPlain`, and the python-hcl2 reader, which explains every problem, reads the
file instead. Both give the same document: tests compare them on every example and a generated corpus.
"""

from __future__ import annotations

import re
from typing import Any

from ..diagnostics import Pos
from ..document import Document, block_labels
from .domain import OutOfDomain, check_depth, code_point, decimal

try:
    import tree_sitter_hcl
    from tree_sitter import Language, Parser
    _PARSER = Parser(Language(tree_sitter_hcl.language()))
except ImportError:  # no wheel for this platform: python-hcl2 reads every file
    _PARSER = None

_STRING_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[nrt\"\\])|\$\$\{|%%\{")
SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_NUMBER = re.compile(rb"[0-9]+(?:\.[0-9]+)?")
_BAD_ESCAPE = re.compile(r"\\(?!u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[nrt\"\\])")
_LIVE_TEMPLATE = re.compile(r"(?<![$%])(?:\$\$|%%)*([$%])\{")


class NotPlain(Exception):
    """The file holds something only the full reader can explain or read."""


def available() -> bool:
    return _PARSER is not None


def _unescape(match: re.Match) -> str:
    code = match.group(1)
    if code is None:
        return match.group(0)[1:]  # $${ -> ${, %%{ -> %{
    if code in SIMPLE_ESCAPES:
        return SIMPLE_ESCAPES[code]
    try:
        return code_point(code)
    except OutOfDomain:
        raise NotPlain("escape") from None


class _Walker:
    def __init__(self, path: str, source: bytes, doc: Document):
        self.path = path
        self.source = source
        self.doc = doc
        self.line_starts = [0] + [m.end() for m in re.finditer(rb"\n", source)]
        self.ascii = source.isascii()

    def pos(self, node) -> Pos:
        row, column = node.start_point
        if not self.ascii:  # tree-sitter counts bytes; positions count characters
            start = self.line_starts[row]
            column = len(self.source[start:start + column].decode("utf-8"))
        return Pos(self.path, row + 1, column + 1)

    def body(self, body, target: dict, path: tuple, shape: tuple) -> None:
        for node in body.named_children:
            if node.type == "attribute":
                self.attribute(node, target, path)
            elif node.type == "block":
                self.block(node, target, path, shape)
            elif node.type != "comment":
                raise NotPlain(node.type)

    def attribute(self, node, target: dict, path: tuple) -> None:
        name_node, value_node = node.named_children
        name = name_node.text.decode()
        if name in target:
            raise NotPlain("repeated attribute")
        target[name] = self.value(value_node, path + (name,))
        self.doc.key_positions[path + (name,)] = self.pos(name_node)

    def block(self, node, target: dict, path: tuple, shape: tuple) -> None:
        type_node, *rest = node.named_children
        kind = type_node.text.decode()
        labels = [self.label(n) for n in rest if n.type in ("string_lit", "identifier")]
        bodies = [n for n in rest if n.type == "body"]
        check_depth(len(path) + 1 + max(len(labels), 1), self.pos(type_node))  # its body's path
        expected = block_labels(shape, kind)
        if expected is not None and expected != len(labels):
            raise NotPlain("label count")
        placed = self.doc.open_block(target, path, kind, labels, self.pos(type_node))
        if isinstance(placed, str):
            raise NotPlain(placed)
        content, child_path = placed
        for body in bodies:
            self.body(body, content, child_path, shape + (kind,))

    def label(self, node) -> str:
        return self.string(node) if node.type == "string_lit" else node.text.decode()

    def value(self, node, path: tuple) -> Any:
        self.doc.positions[path] = self.pos(node)
        if node.type != "expression" or node.child_count != 1:
            raise NotPlain("expression")
        inner = node.child(0)
        kind = inner.type
        if kind == "literal_value":
            return self.literal(inner.child(0))
        if kind == "collection_value":
            check_depth(len(path), self.pos(node))
            collection = inner.child(0)
            if collection.type == "tuple":
                items = [c for c in collection.named_children if c.type == "expression"]
                return [self.value(item, path + (i,)) for i, item in enumerate(items)]
            return self.object(collection, path)
        if kind == "template_expr" and inner.child(0).type == "heredoc_template":
            return self.heredoc(inner.child(0))
        raise NotPlain(kind)

    def literal(self, node) -> Any:
        kind = node.type
        if kind == "string_lit":
            return self.string(node)
        if kind == "numeric_lit":
            if not _NUMBER.fullmatch(node.text):
                raise NotPlain("number")
            try:
                return decimal(node.text.decode())
            except OutOfDomain:
                raise NotPlain("number") from None
        if kind == "bool_lit":
            return node.text == b"true"
        if kind == "null_lit":
            return None
        raise NotPlain(kind)

    def string(self, node) -> str:
        count = node.child_count  # quote, literal text (absent when empty), quote: nothing else is plain
        if count > 3 or (count == 3 and node.child(1).type != "template_literal"):
            raise NotPlain("template")
        raw = self.source[node.start_byte + 1:node.end_byte - 1].decode("utf-8")
        if "\\" in raw:
            if _BAD_ESCAPE.search(raw.replace("\\\\", "")):
                raise NotPlain("escape")
        elif "$$" not in raw and "%%" not in raw:
            return raw
        return _STRING_ESCAPE.sub(_unescape, raw)

    def object(self, node, path: tuple) -> dict:
        result: dict = {}
        for element in node.named_children:
            if element.type != "object_elem":
                continue
            key_node, value_node = element.named_children
            key = self.object_key(key_node)
            if key in result:
                raise NotPlain("repeated key")
            self.doc.key_positions[path + (key,)] = self.pos(key_node)
            result[key] = self.value(value_node, path + (key,))
        return result

    def object_key(self, node) -> str:
        inner = node.named_children[0] if node.named_child_count == 1 else None
        if inner is not None and inner.type == "variable_expr" and node.child_count == 1 and inner.child_count == 1:
            return inner.text.decode()
        if inner is not None and inner.type == "literal_value" and inner.named_children[0].type == "string_lit":
            return self.string(inner.named_children[0])
        raise NotPlain("object key")

    def heredoc(self, node) -> str:
        trim = node.named_children[0].children[0].type == "<<-"
        text = heredoc_text(node.text.decode("utf-8").split("\n")[1:-1], trim)  # drop both marker lines
        if text is None:
            raise NotPlain("template in heredoc")
        return text


def heredoc_text(lines: list[str], trim: bool) -> str | None:
    """A heredoc's value from its lines (`<<-` strips their common indent), with `$${` and `%%{`
    unescaped; None when it holds a live `${` or `%{`."""
    if trim:
        indents = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
        cut = min(indents, default=0)
        lines = [line[cut:] for line in lines]
    text = "\n".join(lines) + "\n" if lines else ""
    if _LIVE_TEMPLATE.search(text):
        return None
    return text.replace("$${", "${").replace("%%{", "%{")


def read(path: str, text: str) -> Document:
    """The document of a plain HCL file, or NotPlain; TooDeep (final: both readers say it) when
    it nests deeper than domain.MAX_DEPTH."""
    source = text.encode("utf-8")
    tree = _PARSER.parse(source)
    if tree.root_node.has_error:
        raise NotPlain("syntax")
    doc = Document(files=[path], opened=[])  # blocks are the outline: no need to sift positions
    walker = _Walker(path, source, doc)
    for node in tree.root_node.named_children:  # the body, and comments around it
        if node.type == "body":
            walker.body(node, doc.data, (), ())
    return doc

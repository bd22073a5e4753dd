"""HCL files: tree-sitter-hcl reads plain specs fast (hcl_fast.py); python-hcl2's grammar, walked
here to keep every position, reads the rest and explains every problem.

The language has no expressions: only literals (strings, numbers, bools, null, lists, objects)
and blocks. `$${` and `%%{` are HCL's escapes for a literal `${` and `%{`.
"""

from __future__ import annotations

import re
from typing import Any

import hcl2
from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..diagnostics import Pos, Report, quote
from ..document import Document, block_labels, block_of
from . import hcl_fast
from .domain import OutOfDomain, TooDeep, check_depth, code_point, decimal
from .hcl_fast import SIMPLE_ESCAPES, heredoc_text

_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.S)
# python-hcl2's grammar cannot read an escaped template start with no closing brace ("$${"). Before
# parsing, each escape is given a stand-in of its length, so positions hold, and the walker reads it back.
_STAND_INS = {"$${": "$$\x01", "%%{": "%%\x02"}
_ESCAPED_START = re.compile(r"\$\$\{|%%\{")
_NO_EXPRESSIONS = "wiam specs hold literal values only; write $${ or %%{ for a literal ${ or %{"


class _Walker:
    def __init__(self, path: str, doc: Document, report: Report, stand_ins: dict[str, str]):
        self.file = path
        self.doc = doc
        self.report = report
        self.stand_ins = stand_ins  # escape -> the stand-in the text holds for it (see read_hcl_reference)

    def restored(self, text: str, unescaped: bool) -> str:
        """`text` with the escapes back in place of their stand-ins, or what they denote (`${`)."""
        for escape, stand_in in self.stand_ins.items():
            text = text.replace(stand_in, escape[1:] if unescaped else escape)
        return text

    def pos(self, node: Tree | Token) -> Pos:
        if isinstance(node, Token):
            return Pos(self.file, node.line or 0, node.column or 0)
        return Pos(self.file, node.meta.line, node.meta.column)

    def fail(self, node, block: str, message: str, hint: str = "") -> None:
        self.report.error(self.pos(node), block, message, hint)

    # Bodies and blocks

    def body(self, body: Tree, target: dict, path: tuple, shape: tuple, block: str) -> None:
        for node in body.children:
            if not isinstance(node, Tree) or node.data == "new_line_or_comment":
                continue
            if node.data == "attribute":
                self.attribute(node, target, path, block)
            else:
                self.block(node, target, path, shape, block)

    def attribute(self, node: Tree, target: dict, path: tuple, block: str) -> None:
        name_node, _eq, value_node = node.children
        name = self.name(name_node)
        key_pos = self.pos(name_node)
        if name in target:
            first = self.doc.key_positions.get(path + (name,))
            self.fail(name_node, block, f"attribute {quote(name)} is set twice (first at {first})",
                      "keep one of the two")
            return
        value = self.value(value_node, path + (name,), block)
        target[name] = value
        self.doc.key_positions[path + (name,)] = key_pos

    def block(self, node: Tree, target: dict, path: tuple, shape: tuple, block: str) -> None:
        parts = [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]
        type_node, *label_nodes, body = parts
        kind = self.name(type_node)
        labels = [self.label(n) for n in label_nodes]
        described = " ".join([kind] + [f'"{label}"' for label in labels])
        check_depth(len(path) + 1 + max(len(labels), 1), self.pos(type_node))  # its body's path
        expected = block_labels(shape, kind)
        if expected is not None and expected != len(labels):
            wanted = {0: "no labels", 1: "one label (its name)", 2: "two labels (cloud and name)"}[expected]
            self.fail(type_node, described, f"a {kind} block takes {wanted}, not {len(labels)}",
                      f"write it as in the spec, e.g. {_EXAMPLE_HEADERS.get(kind, kind + ' {')}")
            return
        placed = self.doc.open_block(target, path, kind, labels, self.pos(type_node))
        if placed == "attribute":
            self.fail(type_node, described, f"{kind!r} is both an attribute and a block", "use the block form")
            return
        if placed == "repeated":
            first = self.doc.positions[path + (kind, *labels)]
            self.fail(type_node, described, f"{described} is defined twice (first at {first})",
                      "merge the two blocks or rename one")
            return
        content, child_path = placed
        self.body(body, content, child_path, shape + (kind,), described)

    # Names and values

    def name(self, node: Tree) -> str:
        return str(node.children[0])

    def label(self, node: Tree) -> str:
        if node.data == "string":
            return self.string(node, (), "block label")
        return self.name(node)

    def value(self, node: Tree, path: tuple, block: str) -> Any:
        self.doc.positions[path] = self.pos(node)
        if node.data == "expr_term":
            inner = [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]
            if len(node.children) == 1 and inner:
                node = inner[0]
            else:
                self.fail(node, block, "parenthesized expressions are not supported", _NO_EXPRESSIONS)
                return None
        kind = node.data
        if kind == "string":
            return self.string(node, path, block)
        if kind in ("int_lit", "float_lit"):
            try:
                return decimal(str(node.children[0]))
            except OutOfDomain as exc:
                exc.report(self.report, self.pos(node), block_of(path))
                return None
        if kind == "literal_value":
            return {"true": True, "false": False, "null": None}[str(node.children[0])]
        if kind in ("tuple", "object"):
            check_depth(len(path), self.pos(node))
        if kind == "tuple":
            items = [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]
            return [self.value(item, path + (i,), block) for i, item in enumerate(items)]
        if kind == "object":
            return self.object(node, path, block)
        if kind in ("heredoc_template", "heredoc_template_trim"):
            return self.heredoc(node, kind == "heredoc_template_trim", block)
        what = {"identifier": "a reference", "get_attr_expr_term": "a reference", "index_expr_term": "a reference",
                "function_call": "a function call"}.get(kind, "an expression")
        self.fail(node, block, f"{what} is not allowed here", _NO_EXPRESSIONS + '; quote literal text ("...")')
        return None

    def object(self, node: Tree, path: tuple, block: str) -> dict:
        result: dict = {}
        for elem in node.children:
            if not isinstance(elem, Tree) or elem.data != "object_elem":
                continue
            key_node, _sep, value_node = elem.children
            key = self.object_key(key_node, block)
            if key is None:
                continue
            if key in result:
                self.fail(key_node, block, f"key {quote(key)} appears twice in one object", "keep one of the two")
                continue
            self.doc.key_positions[path + (key,)] = self.pos(key_node)
            result[key] = self.value(value_node, path + (key,), block)
        return result

    def object_key(self, node: Tree, block: str) -> str | None:
        inner = node.children[0]
        if isinstance(inner, Tree) and inner.data == "expr_term" and len(inner.children) == 1:
            inner = inner.children[0]
        if isinstance(inner, Tree) and inner.data in ("identifier", "keyword"):
            return str(inner.children[0])
        if isinstance(inner, Tree) and inner.data == "string":
            return self.string(inner, (), block)
        self.fail(node, block, "an object key must be a name or a quoted string", _NO_EXPRESSIONS)
        return None

    def string(self, node: Tree, path: tuple, block: str) -> str:
        out: list[str] = []
        for part in node.children:
            if not isinstance(part, Tree):
                continue  # the quotes
            piece = part.children[0]
            if isinstance(piece, Token) and piece.type == "STRING_CHARS":
                out.append(self.unescape(piece, block))
            elif isinstance(piece, Token) and piece.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                out.append(self.unescape(piece, block, str(piece)[1:]))  # $${x} -> ${x}, %%{x} -> %{x}
            else:
                self.fail(part, block, "template interpolation or directive (${...} or %{...}) is not allowed",
                          _NO_EXPRESSIONS)
        return "".join(out)

    def unescape(self, token: Token, block: str, text: str | None = None) -> str:
        def replace(match: re.Match) -> str:
            code = match.group(1)
            if code in SIMPLE_ESCAPES:
                return SIMPLE_ESCAPES[code]
            if code[0] in "uU" and len(code) > 1:
                try:
                    return code_point(code)
                except OutOfDomain as exc:
                    exc.report(self.report, self.pos(token), block)
                    return ""
            self.fail(token, block, f"unknown escape sequence \\{code} in a string",
                      'use \\n, \\r, \\t, \\", \\\\, \\uNNNN or \\UNNNNNNNN')
            return code

        return _ESCAPE.sub(replace, self.restored(str(token) if text is None else text, unescaped=True))

    def heredoc(self, node: Tree, trim: bool, block: str) -> str:
        token = node.children[0]
        text = heredoc_text(self.restored(str(token), unescaped=False).split("\n")[1:-2], trim)  # drop the <<MARKER line and the closing marker
        if text is None:
            self.fail(token, block, "template interpolation or directive (${...} or %{...}) is not allowed",
                      _NO_EXPRESSIONS)
            return ""
        return text


_EXAMPLE_HEADERS = {
    "issuer": 'issuer "github" {',
    "target": 'target "aws" "prod" {',
    "workload": 'workload "payments-deployer" {',
    "identity": "identity {",
    "grant": 'grant "aws" "prod" {',
}


def read_hcl(path: str, text: str, report: Report) -> Document:
    if hcl_fast.available():
        try:
            return hcl_fast.read(path, text)
        except hcl_fast.NotPlain:
            pass  # python-hcl2 reads it, and explains what is wrong
        except TooDeep as exc:  # python-hcl2 would say the same, after a slow parse of all of it
            exc.report(report)
            return Document(files=[path], opened=[])
    return read_hcl_reference(path, text, report)


def read_hcl_reference(path: str, text: str, report: Report) -> Document:
    """python-hcl2's parse of the file, walked for positions: the reference the fast path matches."""
    doc = Document(files=[path], opened=[])  # blocks are the outline: no need to sift positions
    stand_ins = {} if "\x01" in text or "\x02" in text else _STAND_INS  # else one could not be told from the text
    if stand_ins:
        text = _ESCAPED_START.sub(lambda m: stand_ins[m[0]], text)
    try:
        tree = hcl2.parses_to_tree(text if text.endswith("\n") else text + "\n")
    except UnexpectedInput as exc:
        report.error(Pos(path, exc.line or 0, exc.column or 0), "", _syntax_message(exc),
                     "fix the HCL syntax at this place (blocks are `type \"label\" { ... }`, attributes `name = value`)")
        return doc
    try:
        _Walker(path, doc, report, stand_ins).body(tree.children[0], doc.data, (), (), "")
    except TooDeep as exc:  # the file stops there, as in every reader
        exc.report(report)
        return Document(files=[path], opened=[])
    return doc


def _syntax_message(exc: UnexpectedInput) -> str:
    if isinstance(exc, UnexpectedEOF):
        return "HCL syntax error: the file ends before the block or value is closed"
    if isinstance(exc, UnexpectedToken):
        return f"HCL syntax error: unexpected {exc.token.type} {quote(str(exc.token))}"
    if isinstance(exc, UnexpectedCharacters):
        return f"HCL syntax error: unexpected character {quote(exc.char)}"
    return "HCL syntax error"

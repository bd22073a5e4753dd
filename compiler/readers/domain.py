"""The values a spec holds: exactly JSON's (strings of Unicode scalar values, finite numbers with
integers within ±MAX_INTEGER, booleans, null, lists, mappings with string keys). Every reader
checks here each number and escaped string it makes and each level it opens, so that all formats
give the same document and the cache stores it and reads it back unchanged (orjson)."""

from __future__ import annotations

import math
import re

from ..diagnostics import Pos, Report, excerpt

MAX_DEPTH = 64  # nested lists, mappings and blocks; real specs use under 10
MAX_INTEGER = 2**53 - 1  # what JSON carries exactly; quotas and durations are far smaller
# Per file, so a file costs at most ~130 MB to read: both HCL parsers cost 150-250 bytes a character of
# string text, the YAML and JSON readers about 50 (the positions of every value).
MAX_HCL_CHARS = 1 << 19
MAX_DATA_CHARS = 5 << 19

SURROGATE = re.compile("[\ud800-\udfff]")
_NUMBER_HINT = f"write a finite number; integers must lie within ±{MAX_INTEGER} (2**53 - 1), or quote it as text"


class OutOfDomain(ValueError):
    """A value no JSON document holds; the reader reports it at the value's position."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.message, self.hint = message, hint

    def report(self, report: Report, pos: Pos, block: str = "") -> None:
        report.error(pos, block, self.message, self.hint)


class TooDeep(Exception):
    """A list, mapping or block opens deeper than MAX_DEPTH: the reader stops the file there,
    before any recursion can run out of stack."""

    def __init__(self, pos: Pos):
        super().__init__(str(pos))
        self.pos = pos

    def report(self, report: Report) -> None:
        report.error(self.pos, "", f"values nest deeper than {MAX_DEPTH} levels",
                     f"flatten the value: a spec needs a few levels, and at most {MAX_DEPTH} are read")


def check_depth(depth: int, pos: Pos) -> None:
    """`depth`: how many levels enclose the list, mapping or block about to open."""
    if depth >= MAX_DEPTH:
        raise TooDeep(pos)


def out_of_range(literal: str) -> OutOfDomain:
    return OutOfDomain(f"the integer {excerpt(literal)} is outside ±{MAX_INTEGER}", _NUMBER_HINT)


def number(value: int | float, literal: str) -> int | float:
    """`value`, read from `literal`, as the document keeps it: integral floats in range become
    integers (1.0 and 1 are one value in every format); non-finite or too large ones are refused."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise OutOfDomain(f"the number {excerpt(literal)} is not finite (too large, or not a number)", _NUMBER_HINT)
        return int(value) if value.is_integer() and abs(value) <= MAX_INTEGER else value
    if abs(value) > MAX_INTEGER:
        raise out_of_range(literal)
    return value


def decimal(literal: str) -> int | float:
    """A JSON or HCL number literal's value."""
    if any(mark in literal for mark in ".eE"):
        return number(float(literal), literal)
    try:
        return number(int(literal), literal)
    except ValueError:  # more digits than int() converts: far out of range
        raise out_of_range(literal) from None


def code_point(escape: str) -> str:
    """The character of an HCL `\\uNNNN` or `\\UNNNNNNNN` escape (`escape` without the backslash)."""
    code = int(escape[1:], 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise OutOfDomain(f"\\{escape} is not a Unicode character (a surrogate, or beyond U+10FFFF)",
                          "write the character itself, or its code point as \\UNNNNNNNN up to \\U0010FFFF")
    return chr(code)


def checked_text(value: str) -> str:
    """`value` if it holds only Unicode scalar values (a JSON escape can make a lone surrogate)."""
    if not value.isascii() and SURROGATE.search(value):
        raise OutOfDomain("the string holds a lone surrogate escape (\\uD800 to \\uDFFF without its pair)",
                          "write the character itself, or both halves of its surrogate pair")
    return value


def file_size(text: str, path: str, report: Report) -> bool:
    """Whether the file is small enough to read; reports it if not."""
    limit = MAX_HCL_CHARS if path.endswith(".hcl") else MAX_DATA_CHARS
    if len(text) <= limit:
        return True
    report.error(Pos(path, 1, 1), "", f"the file holds more than the {limit:,} characters a spec file of its format may hold",
                 "split the spec into several files in the folder: they merge into one")
    return False

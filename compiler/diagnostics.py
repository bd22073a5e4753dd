"""Positions in spec files and the errors that point at them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple


class Pos(NamedTuple):  # a tuple: readers make one per value, so it must be cheap
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


UNKNOWN = Pos("<spec>", 0, 0)

EXCERPT_CHARS = 60  # the most of one token a message quotes
MESSAGE_CHARS = 1000  # the most of a message, its block or its fix that is shown (two names, two places)


def printable(text: str) -> str:
    """`text` with every character that is not printable escaped (\\x1b, \\u202e): controls, line
    breaks, bidi overrides, zero-width and other invisible characters. Idempotent."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """User text as a message shows it: printable, and at most `limit` characters of it."""
    shown = printable(text)
    return shown if len(shown) <= limit else shown[:limit] + "…"


_QUOTED = re.compile(r"""(['"])([^'"]+)\1""")


def bounded(text: str) -> str:
    """A message, block or fix as shown: printable, at most MESSAGE_CHARS; when too long, what it
    quotes is cut to ever shorter excerpts first, so the words around the quotes stay."""
    shown = printable(text)
    for limit in (EXCERPT_CHARS, EXCERPT_CHARS // 2, EXCERPT_CHARS // 4):
        if len(shown) <= MESSAGE_CHARS:
            break
        shown = _QUOTED.sub(lambda m: f"{m[1]}{m[2][:limit]}…{m[1]}" if len(m[2]) > limit else m[0], shown)
    return excerpt(shown, MESSAGE_CHARS)


def quote(text: str) -> str:
    """An offending token, quoted as a short excerpt."""
    return f"'{excerpt(str(text))}'"


@dataclass(frozen=True)
class Diagnostic:
    pos: Pos
    block: str  # e.g. 'workload "payments-deployer"'
    message: str
    hint: str = ""

    def render(self) -> str:
        where = f"{self.pos}: " if self.pos != UNKNOWN else ""
        text = f"{where}error in {self.block}: {self.message}" if self.block else f"{where}error: {self.message}"
        return f"{text}\n  fix: {self.hint}" if self.hint else text

    def as_json(self) -> dict:
        return {
            "file": self.pos.file,
            "line": self.pos.line,
            "column": self.pos.column,
            "block": self.block,
            "message": self.message,
            "hint": self.hint,
        }


class SpecError(Exception):
    """Raised with every problem found; the CLI prints them sorted by place."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(set(diagnostics), key=lambda d: (d.pos, d.block, d.message))
        super().__init__("\n".join(d.render() for d in self.diagnostics))

    def __reduce__(self):  # travels between processes (wiam diff reads its two sides in parallel)
        return SpecError, (self.diagnostics,)


@dataclass
class Report:
    """Collects diagnostics so that one run reports all of them."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the compiler did on its own, e.g. a split

    def error(self, pos: Pos, block: str, message: str, hint: str) -> None:  # hint: the fix line, always
        """Every message passes here: what it quotes of the spec is made printable and bounded."""
        self.diagnostics.append(Diagnostic(pos, bounded(block), bounded(message), bounded(hint)))

    def raise_if_any(self) -> None:
        if self.diagnostics:
            raise SpecError(self.diagnostics)

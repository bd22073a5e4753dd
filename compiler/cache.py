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
from typing import Callable

import orjson

from .diagnostics import Report
from .document import Document, every_position, from_rows, outline


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


def _encode(short: Document) -> bytes:
    """The entry a load reads: data, and the outline's positions as text decoded when first asked for."""
    return orjson.dumps({"data": short.data, "outline": orjson.dumps(every_position(short)).decode()})


DECODED_KEPT = 1024  # entries; a history reads each unchanged file's entry again at every commit


@lru_cache(maxsize=DECODED_KEPT)
def _decoded(entry: Path) -> tuple[dict, str]:
    """An entry's data and outline text, decoded once: an entry is named by its content, so it never
    changes. The documents read from it share its data, which nothing changes once read."""
    found = orjson.loads(entry.read_bytes())
    data, text = found["data"], found["outline"]
    if type(data) is not dict or type(text) is not str:
        raise TypeError("not a cache entry")  # a damaged or foreign file: parse instead
    return data, text


def _decode(entry: Path, path: str) -> Document:
    data, text = _decoded(entry)
    return Document(data, files=[path], deferred=lambda: from_rows(orjson.loads(text), path))


def _entries(path: str, digest: bytes) -> tuple[Path, Path]:
    return _located(str(folder()), _key(path, digest))


@lru_cache(maxsize=DECODED_KEPT)
def _located(where: str, key: str) -> tuple[Path, Path]:
    """An entry's files (kept: a history asks for each unchanged file's at every commit)."""
    shard = Path(where) / key[:2]
    return shard / f"{key}.json", shard / f"{key}.positions.json"


def cached(path: str, digest: bytes) -> bool:
    """Whether the cache holds the parse of a file's text."""
    return enabled() and _entries(path, digest)[0].is_file()


def read_cached(path: str, text: str, report: Report, read, digest: bytes | None = None,
                keep: Callable[[str, bytes], None] | None = None) -> Document:
    """`read(path, text, report)` with the outline's positions only (what a merged document keeps),
    or its cached result. Only clean reads are stored: a file with errors is read again, so that
    every error is reported every time. `digest`: text_digest(text). A parse also stores every
    position of the file for messages about attributes, or hands them to `keep(path, rows)` when
    the cache is off. Readers admit only JSON's values (readers/domain.py), so an entry reads back
    exactly as stored."""
    entry, every = _entries(path, digest or text_digest(text)) if enabled() else (None, None)
    if entry:
        try:
            return _decode(entry, path)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no entry yet, or one that cannot be read: parse
    errors = len(report.diagnostics)
    doc = read(path, text, report)
    short = Document(doc.data, *outline(doc), doc.files)
    if len(report.diagnostics) == errors:
        rows = orjson.dumps(every_position(doc))
        if entry:
            _store(every, rows)  # first: an entry is never there without them
            _store(entry, _encode(short))
        elif keep:
            keep(path, rows)
    return short


def read_positions(path: str, text: str, read, digest: bytes | None = None) -> dict:
    """Every position of a file (`every_position`'s rows): from the cache, else from a parse, which
    the cache then keeps."""
    entry = _entries(path, digest or text_digest(text))[1] if enabled() else None
    if entry:
        try:
            return orjson.loads(entry.read_bytes())
        except (OSError, ValueError):
            pass  # no positions kept yet, or unreadable ones: parse
    report = Report()
    rows = every_position(read(path, text, report))
    if entry and not report.diagnostics:
        _store(entry, orjson.dumps(rows))
    return rows


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
    and the data packages providers read."""
    from importlib.metadata import version

    import wiam.schemas

    from . import registry

    providers, packages = registry.sources()
    digest = hashlib.sha256("\0".join(f"{p}={version(p)}" for p in packages).encode())
    roots = [(wiam.__name__, Path(wiam.__file__).resolve().parent), ("wiam.providers", providers),
             (wiam.schemas.__name__, Path(wiam.schemas.__file__).resolve().parent)]
    for name, root in roots:  # installed nested, or mapped from three folders
        for source in sorted(root.rglob("*")):
            if source.suffix in (".py", ".json", ".gz") and source.is_file():
                digest.update(f"{name}/{source.relative_to(root)}".encode() + b"\0" + source.read_bytes())
    return digest.digest()


def _valid_marker(spec_digest: str) -> Path:
    return folder() / "valid" / hashlib.sha256(_checks_digest() + spec_digest.encode()).hexdigest()


def remember_valid(spec_digest: str) -> None:
    if enabled() and spec_digest:
        _store(_valid_marker(spec_digest), b"")


def known_valid(spec_digest: str) -> bool:
    return enabled() and bool(spec_digest) and _valid_marker(spec_digest).is_file()

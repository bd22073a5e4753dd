"""Find a spec's files, read each with its format's reader, and merge them into one document."""

from __future__ import annotations

import errno
import hashlib
import multiprocessing
import os
import stat
import zlib
from typing import Callable

import orjson

from . import bundles
from .cache import cached, read_cached, read_positions, text_digest
from .diagnostics import Pos, Report
from .document import BLOCK_LABELS, Document, MergedDocument
from .readers import read, reader_for


class UsageError(Exception):
    """A problem with how wiam was called (exit code 2), not with the spec."""


MAX_FILE_BYTES = 10 * 1024 * 1024  # a spec file larger than this is refused, unread
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


def spec_root(directory: str) -> str:
    """The folder whose files a spec may read: the spec folder, or a single spec file's folder."""
    return directory if os.path.isdir(directory) else os.path.dirname(directory) or "."


def inside(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or inside it, once links are resolved."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


def read_text(path: str, root: str) -> str:
    """The text of the spec file `path` (see read_bytes); a BOM is dropped."""
    return read_bytes(path, root).decode("utf-8-sig")


def read_bytes(path: str, root: str, limit: int = MAX_FILE_BYTES, what: str = "a spec file") -> bytes:
    """The content of the spec file `path`: a regular file inside `root` once symlinks are resolved, of
    at most `limit` bytes. Anything else is a UsageError that names the path and never its content
    or where it points. It is opened below `root` without following any link or blocking, and the
    descriptor's own type is checked, so a file or folder swapped after the check is not read."""
    try:
        descriptor = _open_spec(path, root)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.ELOOP, errno.ENOTDIR):  # a socket, or a link put there since
            raise UsageError(f"{path}: not a regular file; wiam reads only regular files") from None
        raise UsageError(f"{path}: {exc.strerror}") from None
    info = os.fstat(descriptor)  # before fdopen, which refuses a folder with an exception of its own
    if not stat.S_ISREG(info.st_mode):
        os.close(descriptor)
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise UsageError(f"{path}: {kind}; wiam reads only regular files")
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise too_large(path, limit, what)
    return data


def too_large(path: str, limit: int = MAX_FILE_BYTES, what: str = "a spec file") -> UsageError:
    return UsageError(f"{path}: larger than the {limit // (1024 * 1024)} MiB {what} may have")


def _open_spec(path: str, root: str) -> int:
    """`path` opened below `root`: as given when no link is on the way, else as resolved, if that
    is inside `root`."""
    top = os.path.realpath(root)
    relative = os.path.relpath(path, root)
    if os.pardir not in relative.split(os.sep):
        try:
            return _open_below(top, relative)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
    if not inside(path, top):
        raise UsageError(f"{path}: a link to outside the spec folder; wiam reads only files inside it")
    return _open_below(top, os.path.relpath(os.path.realpath(path), top))


def _open_below(top: str, relative: str) -> int:
    """Open `relative` below the folder `top` one component at a time, following no link on the way:
    a folder swapped for a link after the path was resolved is not followed out of `top`."""
    descriptor = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        *folders, name = relative.split(os.sep)
        for folder in folders:
            inner = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = inner
        return os.open(name, _OPEN_FLAGS, dir_fd=descriptor)
    finally:
        os.close(descriptor)


def spec_files(directory: str, recursive: bool = False) -> list[str]:
    if os.path.lexists(directory) and not os.path.isdir(directory):  # a file; read_text checks which kind
        if reader_for(directory) is None:
            raise UsageError(f"{directory} is not a spec file (*.wiam.hcl, *.wiam.yaml, *.wiam.yml, *.wiam.json)")
        return [directory]
    if not os.path.isdir(directory):
        raise UsageError(f"{directory}: no such folder")
    found = []
    for root, dirs, files in os.walk(directory):
        named = next((d for d in dirs if reader_for(d)), None)
        if named is not None:
            raise UsageError(f"{os.path.join(root, named)}: a folder; wiam reads only regular files")
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        found.extend(os.path.join(root, name) for name in files if reader_for(name))
    hidden = next((path for path in found if not path.isprintable()), None)
    if hidden is not None:  # a name that could rewrite the terminal, or the lines around it, when printed
        raise UsageError(f"{hidden}: a spec file name with control or invisible characters; rename it")
    return sorted(found, key=lambda p: os.path.relpath(p, directory).split(os.sep))


def load(directory: str, report: Report, recursive: bool = False,
         on_file: Callable[[int, int], None] | None = None, kept: MergedDocument | None = None,
         alike: frozenset[str] = frozenset()) -> MergedDocument:
    """The merged document of a spec folder; on_file(done, total) after each file, for progress. The
    files `alike` (names in the folder) hold what they held when `kept` was loaded from this same
    folder: their documents are kept's, not read again (a history's next commit changes a few)."""
    files = spec_files(directory, recursive)
    merged = MergedDocument(reread=Reread(spec_root(directory)))
    if not files:
        report.error(Pos(directory, 0, 0), "", "no spec files found",
                     "add *.wiam.hcl, *.wiam.yaml, *.wiam.yml or *.wiam.json files"
                     + ("" if recursive else ", or pass --recursive to look in subfolders"))
        return merged
    spec = hashlib.sha256()
    texts: dict[str, tuple[str | None, bytes]] = {}  # text None: kept's document
    for path in files:
        if kept is not None and path in kept.outlines and os.path.relpath(path, directory) in alike:
            digest = merged.reread.loaded[path] = kept.reread.loaded[path]
            merged.reread.take(kept.reread, path)
            texts[path] = None, digest
        else:
            try:
                text = read_text(path, merged.reread.root)
            except UnicodeDecodeError as exc:
                report.error(Pos(path, 1, 1), "", f"the file is not UTF-8 text ({exc.reason})", "save it as UTF-8")
                continue
            digest = merged.reread.loaded[path] = text_digest(text)
            texts[path] = text, digest
        spec.update(_digest_entry(directory, path, digest))
    parsed = _parse_in_parallel(texts)
    for done, (path, (text, digest)) in enumerate(texts.items(), 1):
        if text is None:
            doc = kept.outlines[path]
        elif parsed.get(path):
            doc, diagnostics, rows = parsed.pop(path)
            report.diagnostics.extend(diagnostics)
            if rows is not None:
                merged.reread.keep(path, rows)
        else:
            doc = read_cached(path, text, report, read, digest, merged.reread.keep)
        merge_into(merged, doc, report)
        if on_file:
            on_file(done, len(texts))
    for relative, data in _read_bundles(merged):
        spec.update(bundles.digest_entry(relative, data))
    merged.digest = spec.hexdigest()
    return merged


def _read_bundles(merged: MergedDocument) -> list[tuple[str, bytes]]:
    """Each issuer's trust bundle file, read from inside the spec folder into merged.bundles (a file
    that cannot be read keeps why, which validation reports at the field); (name, bytes) of those read."""
    read = []
    issuers = merged.data.get("issuer")
    for name, body in sorted(issuers.items() if isinstance(issuers, dict) else ()):
        relative = body.get(bundles.FIELD) if isinstance(body, dict) else None
        if not isinstance(relative, str) or not relative.endswith(bundles.SUFFIX):
            continue  # the schema and validation say what is wrong with it
        path = bundles.path_of(merged.owners[("issuer", name)], relative)
        if os.path.isabs(relative) or not relative.isprintable() or len(relative) > bundles.MAX_PATH:
            merged.bundles[name] = path, "not a relative path of printable characters, at most 255 of them"
            continue
        try:
            data = read_bytes(path, merged.reread.root)  # its own size cap is the parse's
        except UsageError as error:
            merged.bundles[name] = path, str(error)
            continue
        merged.bundles[name] = path, data
        read.append((os.path.relpath(path, merged.reread.root), data))
    return read


PARALLEL_BYTES = 1 << 20  # below this much text to parse, starting a worker costs more than it saves


def parallel_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def can_fork_workers() -> bool:
    """Whether forked workers can run beside this process: a second core, and fork (Windows has none)."""
    return parallel_workers() > 1 and "fork" in multiprocessing.get_all_start_methods()


def _parse_in_parallel(texts: dict[str, tuple[str | None, bytes]]) -> dict[str, tuple[Document, list, bytes | None] | None]:
    """The files the cache does not hold, parsed by forked workers when there is enough text and more
    than one core: (outline document, diagnostics, every position when the cache is off) by path,
    None for a file another process cached meanwhile. Parsing is most of a cold load, and each file's parse is independent of the others."""
    missing = [(path, text, digest) for path, (text, digest) in texts.items()
               if text is not None and not cached(path, digest)]
    if len(missing) < 2 or sum(len(text) for _, text, _ in missing) < PARALLEL_BYTES or not can_fork_workers():
        return {}
    context = multiprocessing.get_context("fork")
    with context.Pool(min(parallel_workers(), len(missing))) as pool:
        return dict(zip((path for path, _, _ in missing), pool.map(_parse_one, missing, chunksize=1)))


def _parse_one(job: tuple[str, str, bytes]) -> tuple[Document, list, bytes | None] | None:
    path, text, digest = job
    report, kept = Report(), []
    doc = read_cached(path, text, report, read, digest, lambda _, rows: kept.append(rows))
    if doc.deferred is not None:  # another process (a diff's other side) cached it meanwhile: a hit's
        return None  # decoder is a closure, which cannot be sent back; the parent reads the entry
    return doc, report.diagnostics, kept[0] if kept else None


def _digest_entry(directory: str, path: str, digest: bytes) -> bytes:
    """A file's part of a spec's digest: its name in the folder and its text_digest."""
    return f"{os.path.relpath(path, directory)}\0".encode() + digest


def spec_digest(directory: str, recursive: bool = False) -> str:
    """The digest `load` gives the spec (its files, by name and content), without parsing it; ""
    when a file cannot be read."""
    spec = hashlib.sha256()
    try:
        for path in spec_files(directory, recursive):
            text = read_text(path, spec_root(directory))
            if bundles.FIELD in text:  # its bundles are named by its issuers: read as load reads them
                return load(directory, Report(), recursive).digest
            spec.update(_digest_entry(directory, path, text_digest(text)))
    except (UnicodeDecodeError, UsageError):
        return ""
    return spec.hexdigest()


class Reread:
    """A loaded file's every position (`every_position`'s rows), for messages about attributes:
    kept compressed from its parse when the cache is off, else read from the cache; None when the
    file changed since it was loaded."""

    def __init__(self, root: str) -> None:
        self.root = root  # the spec folder: files are read only from inside it
        self.loaded: dict[str, bytes] = {}  # file -> text_digest of the text that was loaded
        self.kept: dict[str, bytes] = {}  # file -> its every_position rows, compressed

    def keep(self, path: str, rows: bytes) -> None:
        self.kept[path] = zlib.compress(rows, 1)

    def take(self, other: "Reread", path: str) -> None:
        """What `other` keeps of a file this load shares with it."""
        if path in other.kept:
            self.kept[path] = other.kept[path]

    def __call__(self, path: str) -> dict | None:
        if path in self.kept:
            return orjson.loads(zlib.decompress(self.kept[path]))
        try:
            text = read_text(path, self.root)
        except (UsageError, UnicodeDecodeError):
            return None
        digest = text_digest(text)
        if digest != self.loaded.get(path):
            return None
        return read_positions(path, text, read, digest)


def merge_into(merged: MergedDocument, doc: Document, report: Report) -> None:
    """Merge the way Terraform merges a module's files: blocks add up, a repeated block is an error.
    Each block and the levels above it belong to the first file that has them: their positions."""
    file = doc.files[0]
    merged.files.append(file)
    merged.outlines[file] = doc
    for kind, value in doc.data.items():
        _merge_level(merged, doc, file, merged.data, kind, value, (kind,), BLOCK_LABELS[()].get(kind, 0), report)


def _merge_level(merged, doc, file, target: dict, key: str, value, path: tuple, depth: int, report) -> None:
    if key not in target:  # the levels other files add blocks to are copied: a file's document stays as read
        target[key] = _levels(value, depth)
        _own(merged.owners, file, path, value, depth)
        return
    if depth > 0 and isinstance(value, dict) and isinstance(target[key], dict):
        if depth == 1 and not target[key].keys() & value.keys():  # blocks, none there yet: a spec's thousands
            target[key].update(value)
            for sub_key in value:
                merged.owners.setdefault(path + (sub_key,), file)
            return
        for sub_key, sub_value in value.items():
            _merge_level(merged, doc, file, target[key], sub_key, sub_value, path + (sub_key,), depth - 1, report)
        return
    once = isinstance(target[key], list)  # an unlabeled top-level block (settings): one in all the files
    first = merged.where(path + (0,) if once else path, key=True)
    block = " ".join([path[0]] + [f'"{label}"' for label in path[1:]])
    report.error(doc.where(path + (0,) if once else path, key=True), block, f"{block} is defined twice: here and at {first}",
                 f"keep one {block} block for all the files: merge the two" if once else "keep one definition, or rename one of them")


def _levels(value, depth: int):
    """The block-label levels of a value copied (the blocks themselves shared): documents read once may be
    merged into many specs (the parse cache keeps them), so merging never writes into one."""
    if depth > 0 and isinstance(value, dict):
        return {key: _levels(sub_value, depth - 1) for key, sub_value in value.items()}
    return value


def _own(owners: dict, file: str, path: tuple, value, depth: int) -> None:
    owners.setdefault(path, file)
    if depth > 0 and isinstance(value, dict):
        for key, sub_value in value.items():
            _own(owners, file, path + (key,), sub_value, depth - 1)

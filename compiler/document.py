"""The normalized spec document: plain data plus where each piece was written.

Every reader (HCL, YAML, JSON) produces a `Document`. Paths are tuples of keys and list
indexes, e.g. ("workload", "api", "identity", 0, "issuer").
"""

from __future__ import annotations

from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .diagnostics import UNKNOWN, Pos

Path = tuple  # tuple[str | int, ...]

# How many labels each block type takes, by the path of the body it appears in. Readers use it
# to nest HCL blocks the way Terraform's JSON syntax does, and to merge files.
BLOCK_LABELS: dict[tuple, dict[str, int]] = {
    (): {"issuer": 1, "target": 2, "workload": 1, "settings": 0},
    ("workload",): {"identity": 0, "grant": 2, "suppress": 1, "review": 0},
}


def block_labels(shape: tuple, block_type: str) -> int | None:
    """Label count of `block_type` in a body nested in the block types `shape`, or None."""
    return BLOCK_LABELS.get(shape, {}).get(block_type)


def outline_length(path: Path) -> int:
    """How much of `path` names blocks (block types, labels, list indexes): the outline a merged
    document keeps positions for. ("workload", "api", "grant", "aws", "prod", "actions", 0) -> 5.
    Called for every position of a parse, hence the plain loop."""
    shape: tuple = ()
    done, size = 0, len(path)
    while done < size:
        kind = path[done]
        labels = BLOCK_LABELS.get(shape, _NO_BLOCKS).get(kind) if type(kind) is str else None
        if labels is None:
            return done
        done += 1 + max(labels, 1)  # the type, then its labels, or its index in the list
        if size <= done:
            return size
        shape += (kind,)
    return done


_NO_BLOCKS: dict = {}


def outline(doc: "Document") -> tuple[dict[Path, Pos], dict[Path, Pos]]:
    """A file's positions of its outline: those its blocks opened (HCL readers), else those of the
    paths outline_length keeps."""
    if doc.opened is not None:
        return ({p: doc.positions[p] for p in doc.opened if p in doc.positions},
                {p: doc.key_positions[p] for p in doc.opened if p in doc.key_positions})
    return tuple({path: pos for path, pos in table.items() if outline_length(path) == len(path)}
                 for table in (doc.positions, doc.key_positions))


DETAILS_KEPT = 32  # files whose every position stays at hand between lookups made one at a time (errors)


@dataclass
class Document:
    data: dict[str, Any] = field(default_factory=dict)
    # Position of each value, and of the key that introduced it where there is one.
    positions: dict[Path, Pos] = field(default_factory=dict)
    key_positions: dict[Path, Pos] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    # Positions not decoded yet (a parse cache hit): () -> a document holding them.
    deferred: Callable[[], "Document"] | None = field(default=None, repr=False, compare=False)
    opened: list[Path] | None = field(default=None, repr=False, compare=False)  # paths open_block placed, if kept
    # issuer name -> (its trust bundle's path, the file's bytes or why it could not be read), read at load
    bundles: dict[str, tuple[str, bytes | str]] = field(default_factory=dict, repr=False, compare=False)

    def settle(self) -> "Document":
        if self.deferred is not None:
            decoded = self.deferred()
            self.positions, self.key_positions, self.deferred = decoded.positions, decoded.key_positions, None
        return self

    def open_block(self, target: dict, path: Path, kind: str, labels: list[str], here: Pos) -> tuple[dict, Path] | str:
        """Place a new block's body under `target` the way Terraform's JSON syntax nests it (labels
        become keys, unlabeled blocks a list) and record its positions. Returns (body, body path), or
        the problem: "attribute" (the name is an attribute there) or "repeated" (defined already)."""
        if not labels:
            items = target.setdefault(kind, [])
            if not isinstance(items, list):
                return "attribute"
            child_path = path + (kind, len(items))
            content: dict = {}
            items.append(content)
        else:
            level = target.setdefault(kind, {})
            if not isinstance(level, dict):
                return "attribute"
            self.key_positions.setdefault(path + (kind,), here)
            self.positions.setdefault(path + (kind,), here)
            child_path = path + (kind,)
            self._opened(child_path)
            for label in labels[:-1]:
                child_path += (label,)
                self.positions.setdefault(child_path, here)
                self._opened(child_path)
                level = level.setdefault(label, {})
            child_path += (labels[-1],)
            if labels[-1] in level:
                return "repeated"
            content = level[labels[-1]] = {}
        self.positions[child_path] = here
        self.key_positions[child_path] = here
        self._opened(child_path)
        return content, child_path

    def _opened(self, path: Path) -> None:
        if self.opened is not None:
            self.opened.append(path)

    @contextmanager
    def batch(self) -> Iterator[dict[int, Pos]]:
        """Positions asked for within are exact already: nothing to settle (see MergedDocument)."""
        yield {}

    def where(self, path: Path, key: bool = False) -> Pos:
        """The most precise known position for `path`, walking up to its parents."""
        self.settle()
        path = tuple(path)
        while True:
            table = self.key_positions if key else self.positions
            if path in table:
                return table[path]
            if path in self.positions:
                return self.positions[path]
            if not path:
                return UNKNOWN
            path = path[:-1]


@dataclass
class MergedDocument(Document):
    """A spec's files merged the way Terraform merges a module's: the data merged; positions kept in
    each file's outline (decoded when first asked for) and found through the file that defines each
    block. Attribute positions, most of a large spec's memory, are read again from the file
    (`reread(file)`) when a message needs one."""
    owners: dict[Path, str] = field(default_factory=dict)  # block paths and their prefixes -> file (first wins)
    outlines: dict[str, Document] = field(default_factory=dict, repr=False, compare=False)  # file -> its outline
    reread: Callable[[str], dict | None] | None = field(default=None, repr=False, compare=False)  # file -> rows
    digest: str = ""  # the files, by name in the folder and content (see loader)
    _details: OrderedDict = field(default_factory=OrderedDict, repr=False, compare=False)
    _batch: list | None = field(default=None, repr=False, compare=False)

    def where(self, path: Path, key: bool = False) -> Pos:
        path = tuple(path)
        block = outline_length(path)
        if self.reread is not None and block < len(path):
            if self._batch is not None:
                pending = PendingPos(*self.where(path[:block], key))
                pending.asked = (path, key)
                self._batch.append(pending)
                return pending
            detail = self._detail(self._owner(path))
            if detail is not None:
                return detail.where(path, key)
        for length in range(len(path), -1, -1):
            part = path[:length]
            owner = self.outlines.get(self._owner(part))
            if owner is None:
                continue
            owner.settle()
            table = owner.key_positions if key else owner.positions
            if part in table:
                return table[part]
            if part in owner.positions:
                return owner.positions[part]
        return UNKNOWN

    @contextmanager
    def batch(self) -> Iterator[dict[int, Pos]]:
        """Within, an attribute's position is first given as its block's (a PendingPos); on leaving,
        the dict yielded maps id(pending) to the exact position, each file read once for all of
        its own: what a run of rules needs, which asks in rule order, not file order."""
        self._batch, exact = [], {}
        try:
            yield exact
            by_file: dict[str | None, list[PendingPos]] = {}
            for pending in self._batch:
                by_file.setdefault(self._owner(pending.asked[0]), []).append(pending)
            for file, asked in by_file.items():
                rows = self.reread(file) if file in self.outlines else None
                wanted = {pending.asked[0][:length] for pending in asked for length in range(len(pending.asked[0]) + 1)}
                detail = from_rows(rows, file, wanted) if rows is not None else None
                for pending in asked:
                    exact[id(pending)] = detail.where(*pending.asked) if detail is not None else Pos(*pending)
        finally:
            self._batch = None

    def _owner(self, path: Path) -> str | None:
        for length in range(len(path), 0, -1):
            if path[:length] in self.owners:
                return self.owners[path[:length]]
        return self.files[0] if self.files else None

    def _detail(self, file: str | None) -> "Document | None":
        if file in self._details:
            self._details.move_to_end(file)
            return self._details[file]
        rows = self.reread(file) if file in self.outlines else None
        detail = self._details[file] = from_rows(rows, file) if rows is not None else None
        if len(self._details) > DETAILS_KEPT:
            self._details.popitem(last=False)
        return detail


class PendingPos(Pos):
    """An attribute's position asked for in a batch: its block's until the batch ends (`asked`:
    the path and key asked for)."""


def every_position(doc: Document) -> dict:
    """A file's every position as rows (`[path, line, column]`): how they are kept and stored."""
    return {name: [[path, pos.line, pos.column] for path, pos in table.items()]
            for name, table in (("positions", doc.positions), ("key_positions", doc.key_positions))}


def from_rows(rows: dict, file: str, only: set[Path] | None = None) -> Document:
    """The document of `every_position`'s rows (those of the paths `only`, if given): positions
    only, for where(). Paths share their parts, and a key position its value's where they agree:
    outlines of a whole spec are decoded this way."""
    names: dict = {}  # one object per block type, label and attribute name: paths repeat them

    def shared(path: list) -> tuple:
        return tuple([names.setdefault(part, part) for part in path])
    at = shared if only is None else tuple  # the few paths asked for have no parts worth sharing
    positions = {}
    for path, line, column in rows["positions"]:
        path = at(path)
        if only is None or path in only:
            positions[path] = Pos(file, line, column)
    key_positions = {}
    for path, line, column in rows["key_positions"]:
        path = at(path)
        if only is None or path in only:
            same = positions.get(path)
            key_positions[path] = same if same is not None and same[1:] == (line, column) else Pos(file, line, column)
    return Document(positions=positions, key_positions=key_positions, files=[file])


def block_of(path: Path | None) -> str:
    """The block a value at `path` lies in, named as messages name it ("" for a top-level value)."""
    return describe(path) if path and len(path) > 1 else ""


def describe(path: Path) -> str:
    """The block a path points into, as a person reads it: 'grant "aws" "prod" in workload "api"'."""
    path = tuple(path)
    if len(path) < 2:
        return f"{path[0]} blocks" if path else "the spec"
    if path[0] == "target":
        return f'target "{path[1]}" "{path[2]}"' if len(path) > 2 else f'targets for "{path[1]}"'
    if path[0] == "settings":
        return "settings"
    outer = f'{path[0]} "{path[1]}"'
    if path[0] == "workload" and len(path) > 3:
        if path[2] == "identity" and isinstance(path[3], int):
            return f"identity #{path[3] + 1} in {outer}"
        if path[2] == "review" and isinstance(path[3], int):
            return f"review #{path[3] + 1} in {outer}"
        if path[2] == "grant" and len(path) > 4:
            return f'grant "{path[3]}" "{path[4]}" in {outer}'
    return outer

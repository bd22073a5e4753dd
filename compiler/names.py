"""Deterministic cloud object names: fit a cloud's rules, stay stable, and stay unique where the cloud
(or a file system) compares them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Container, Iterable

from .diagnostics import Pos, Report
from .document import describe
from .model import Grant, Model


def short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:length]


def fit_name(name: str, max_length: int, *, min_length: int = 1, allowed: str = r"a-zA-Z0-9-",
             lower: bool = False, pad: str = "-id", sep: str = "-") -> str:
    """`name` made to fit `[allowed]{min_length,max_length}`.

    A name that had to change (characters replaced, case folded, cut or padded) gets a short hash
    of the original. That keeps fitted names apart from each other, but a fitted name can still equal
    another name's unchanged form (or differ from it only in case): check_unique refuses those.
    """
    fitted = name.lower() if lower else name
    fitted = re.sub(f"[^{allowed}]", sep, fitted)
    if fitted == name and min_length <= len(name) <= max_length:
        return name
    digest = short_hash(name, length=6)
    fitted = fitted[: max_length - len(digest) - 1].rstrip(sep) + sep + digest
    while len(fitted) < min_length:
        fitted += pad
    return fitted


def module_dir(cloud: str, target: str) -> str:
    """The folder (and Atlantis project) of a target's root module under compile --split target."""
    return f"{cloud}-{target}"


def split_dirs(model: Model) -> list[ObjectName]:
    """Module folders, which checkouts on macOS and Windows compare without case."""
    scope = ("a case-insensitive file system, with compile --split target,",)
    return [ObjectName("folder name", scope, module_dir(t.cloud, t.name), True, f"{t.cloud} target {t.name!r}", t.pos,
                       describe(t.path)) for t in model.targets.values()]


def terraform_name(*parts: str) -> str:
    """A Terraform resource name; spec names never hold '__', so '__' joins them uniquely."""
    return "__".join(parts)


def free_name(name: str, taken: Container[str], *parts: str) -> str:
    """`name` (which holds a short hash of `parts`), or, where another object's short hash took it (a
    crafted collision), `name` with the full hash of `parts`: stable names, and distinct ones."""
    return f"{name}_{short_hash(*parts, length=64)}" if name in taken else name


def slug(text: str) -> str:
    """Text made safe for a Terraform resource name (used beside a hash or a unique key)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text).strip("_") or "x"


@dataclass(frozen=True)
class ObjectName:
    """A name wiam gives an object, and where the cloud (or file system) holds it unique."""

    kind: str  # what the cloud calls the name, e.g. "IAM role name"
    scope: tuple[str, ...]  # where it must be unique, e.g. ("account", "210987654321")
    value: str
    case_insensitive: bool  # how the cloud compares names in the scope
    owner: str  # whose object it is, e.g. "workload 'api' on aws target 'prod'"
    pos: Pos  # the block that makes the object
    block: str

    @classmethod
    def of_grant(cls, grant: Grant, kind: str, scope: tuple[str, ...], value: str,
                 case_insensitive: bool) -> ObjectName:
        """The name of an object a grant makes, reported at the grant."""
        return cls(kind, scope, value, case_insensitive,
                   f"workload {grant.workload!r} on {grant.cloud} target {grant.target!r}", grant.pos, describe(grant.path))

    @property
    def key(self) -> tuple:
        return self.kind, self.scope, self.value.lower() if self.case_insensitive else self.value


def clashes(names: Iterable[ObjectName]) -> list[tuple[ObjectName, ObjectName]]:
    """(first, later) for each name equal, as its scope compares them, to one earlier in the files."""
    first: dict[tuple, ObjectName] = {}
    found = []
    for name in sorted(names, key=lambda n: (n.pos, n.owner, n.kind, n.value)):
        seen = first.setdefault(name.key, name)
        if seen is not name:
            found.append((seen, name))
    return found


def check_unique(names: Iterable[ObjectName], report: Report) -> None:
    """Refuse two objects that the cloud would take for one: the apply of the second would fail."""
    for first, later in clashes(names):
        relation = "is also" if first.value == later.value else f"equals {first.value!r}, ignoring case, which is"
        report.error(later.pos, later.block,
                     f"{later.kind} {later.value!r} of {later.owner} {relation} the {first.kind} of {first.owner} "
                     f"(at {first.pos}); {' '.join(later.scope)} cannot hold both",
                     f"rename one of the two so that their {later.kind}s differ"
                     + (" in more than case" if first.value != later.value else ""))

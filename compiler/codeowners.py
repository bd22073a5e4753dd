"""CODEOWNERS rules that make a change to a workload's spec file need its owner's approval: one rule
per spec file naming the code-host teams (settings owners) of its workloads' owners; and checking an
existing CODEOWNERS file against them the way GitHub reads it (the last matching pattern wins)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

from pathspec import GitIgnoreSpec

from .diagnostics import Pos, Report
from .document import describe
from .loader import spec_root
from .model import Model
from .revision import run_git

BEGIN = "# BEGIN wiam codeowners: written by `wiam codeowners`; change settings owners in the spec instead"
END = "# END wiam codeowners"
# Written as is: CODEOWNERS has no escape GitHub honours for glob characters, and a space needs one.
LITERAL_PATH = re.compile(r"[A-Za-z0-9._+/-]+\Z")


@dataclass(frozen=True)
class Expected:
    """The rule one spec file needs."""
    file: str  # as loaded
    path: str  # from the repository root, with a leading "/": the rule's pattern
    teams: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    """A line of a CODEOWNERS file."""
    line: int
    pattern: str
    owners: tuple[str, ...]


def repository_root(directory: str) -> str:
    """The git work tree holding the spec folder; outside git, the spec folder's parent."""
    folder = os.path.abspath(spec_root(directory))
    try:
        result = run_git(["rev-parse", "--show-toplevel"], folder, 30)
    except (OSError, subprocess.TimeoutExpired):
        result = None
    if result is not None and result.returncode == 0:
        return os.path.realpath(result.stdout.decode("utf-8", "surrogateescape").strip())
    return os.path.realpath(os.path.dirname(folder))


def expected_rules(model: Model, root: str, report: Report) -> tuple[list[Expected], list[str]]:
    """The rule of every spec file that holds workloads, and the warnings (a file of several owners);
    a workload without an owner, an owner without a team, or a file CODEOWNERS cannot name is an error."""
    teams = model.settings.owners
    files: dict[str, set[str]] = {}
    for name, workload in sorted(model.workloads.items()):
        path = ("workload", name)
        if not workload.owner:
            report.error(workload.pos, describe(path), f"workload {name!r} has no owner: no team approves changes to it",
                         'add owner = "..." and map it to its team in settings owners')
        elif workload.owner not in teams:
            report.error(model.where(path + ("owner",)), describe(path),
                         f"owner {workload.owner!r} has no code-host team in settings owners",
                         f'add owners = {{ "{workload.owner}" = "@org/team" }} to the settings block')
        files.setdefault(workload.pos.file, set()).add(workload.owner)
    rules, warnings = [], []
    for file, owners in sorted(files.items()):
        relative = os.path.relpath(os.path.realpath(file), root).replace(os.sep, "/")
        if relative.startswith("../") or not LITERAL_PATH.match(relative):
            report.error(Pos(file, 1, 1), "", f"CODEOWNERS cannot name {relative!r} literally (outside the repository, "
                         "or characters it reads as a pattern)",
                         "name spec files with letters, digits and . _ + - only, inside the repository")
            continue
        owners.discard("")
        handles = tuple(sorted({teams[o] for o in owners if o in teams}))
        if len(handles) > 1:
            warnings.append(f"{file} holds workloads of several owners ({', '.join(sorted(owners))}): any one of "
                            f"{' '.join(handles)} may approve a change to all of them; split the file, one owner each")
        rules.append(Expected(file, "/" + relative, handles))
    return rules, warnings


def section(rules: list[Expected], newline: str = "\n") -> str:
    lines = [BEGIN] + [f"{rule.path} {' '.join(rule.teams)}" for rule in rules if rule.teams] + [END]
    return "".join(line + newline for line in lines)


def merged(existing: str, rules: list[Expected]) -> str:
    """The CODEOWNERS text with wiam's section replaced, or added at the end (where it wins, GitHub
    reading the last matching rule); every other line kept as written. ValueError: a broken section."""
    lines = existing.splitlines(keepends=True)
    newline = "\r\n" if "\r\n" in existing else "\n"  # the file's own
    starts = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == END]
    if not starts and not ends:
        gap = "" if not existing else newline if existing.endswith("\n") else newline * 2
        return existing + gap + section(rules, newline)
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ValueError("its wiam section is broken (a BEGIN or END line missing, repeated or out of order)")
    return "".join(lines[:starts[0]]) + section(rules, newline) + "".join(lines[ends[0] + 1:])


_TOKEN = re.compile(r"(?:\\.|[^\s\\])+")


def parse(text: str) -> tuple[list[Rule], list[int]]:
    """The rules of a CODEOWNERS file, and the lines GitHub ignores as invalid (negation, ranges, unreadable)."""
    rules, ignored = [], []
    for number, raw in enumerate(text.splitlines(), 1):
        tokens = _TOKEN.findall(raw)
        if not tokens or tokens[0].startswith("#"):
            continue
        owners = []
        for token in tokens[1:]:
            if token.startswith("#"):
                break
            owners.append(token)
        if tokens[0].startswith("!") or "[" in tokens[0] or not _readable(tokens[0]):
            ignored.append(number)
            continue
        rules.append(Rule(number, tokens[0], tuple(owners)))
    return rules, ignored


def _readable(pattern: str) -> bool:
    """Whether git reads the pattern at all (a hostile file may end one in a lone escape)."""
    try:
        GitIgnoreSpec.from_lines([pattern])
    except ValueError:  # pathspec's pattern error, named apart in each release
        return False
    return True


def owning_rule(rules: list[Rule], path: str) -> Rule | None:
    """The rule GitHub applies to `path` (from the root, no leading "/"): the last that matches."""
    return next((rule for rule in reversed(rules) if GitIgnoreSpec.from_lines([rule.pattern]).match_file(path)), None)


def problems(rules: list[Rule], expected: list[Expected]) -> list[str]:
    """Each spec file whose changes the file's rules do not send to exactly its owners' teams."""
    found = []
    for want in expected:
        rule = owning_rule(rules, want.path[1:])
        needed = " ".join(want.teams)
        if rule is None:
            found.append(f"{want.file}: no CODEOWNERS rule matches {want.path}; it needs {needed}")
        elif {o.lower() for o in rule.owners} != {t.lower() for t in want.teams}:
            given = " ".join(rule.owners) or "no owner"
            found.append(f"{want.file}: the rule at line {rule.line} ({rule.pattern}) gives {given}; it needs {needed}")
    return found

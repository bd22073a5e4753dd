"""The CI side of `wiam discover --repo`: GitHub Actions workflows and GitLab CI files read for cloud
logins that use long-lived secrets, and for the triggers that run each such job, which become its
proposed identities. Files are read as the spec readers read YAML (positions, no alias expanded),
inside the repository only; discovery writes nothing and calls no cloud.

Which triggers are pinned (docs: README, "wiam discover"):
- GitHub: a job with an environment is pinned to it (its subject carries the environment); else each
  exact push branch and tag (refs/heads/B, refs/tags/T), schedule and workflow_run on the default
  branch, pull_request as pull_request = true unless the job is production; pull_request_target
  never (forks' runs with secrets). Globs, unfiltered pushes, workflow_dispatch and release run on
  refs no identity can name exactly: noted, not proposed. A job's if: narrows all of these.
- GitLab: exact branches and tags of only: and rules: if: ($CI_COMMIT_BRANCH, $CI_COMMIT_REF_NAME,
  $CI_COMMIT_TAG, $CI_DEFAULT_BRANCH), workflow: rules: for a job with none of its own; merge request
  pipelines run on the source branch: never proposed. A child pipeline's jobs: its trigger job's refs.
- Production: the environment, job or workflow name has the word prod, production, prd or live."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from typing import Any, Iterator

import yaml

from . import registry
from .diagnostics import Pos, Report, printable
from .loader import UsageError, inside, read_bytes
from .readers import read_yaml
from .readers.domain import MAX_DEPTH, file_size
from .secretless import CiLogins, Credential

MAX_CI_BYTES = 2 * 1024 * 1024  # real workflows are a few KB
MAX_CI_FILES = 1000  # workflows, included GitLab files and composite actions of one repository
PRODUCTION = re.compile(r"(?:^|[^a-z0-9])(?:prod|production|prd|live)(?:$|[^a-z0-9])", re.IGNORECASE)
_SECRET_TOKENS = re.compile(r"\$\{\{|\}\}|\bsecrets\s*[.\[]")  # scanned once, left to right: linear
_EXPRESSION = re.compile(r"\$\{\{\s*(env|inputs)\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}")
_GLOB = re.compile(r"[*?\[\]!+]")


@dataclass
class Job:
    """A CI job that logs in with a long-lived secret, and what its triggers pin."""
    system: str  # "github" or "gitlab"
    file: str
    name: str  # the job's ID (GitHub: within its workflow file)
    pos: Pos
    refs: list[str] = field(default_factory=list)  # GitHub: refs/heads/B, refs/tags/T; GitLab: branch:B, tag:T
    environment: str | None = None  # GitHub's environment the subject carries
    pull_request: bool = False
    production: bool = False
    notes: list[str] = field(default_factory=list)  # triggers not pinned, and why
    clouds: set[str] = field(default_factory=set)


@dataclass
class Scan:
    root: str
    jobs: list[Job] = field(default_factory=list)
    found: list[Credential] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    report: Report = field(default_factory=Report)  # files that could not be read
    actions: dict[str, dict[str, str]] = field(default_factory=dict)  # local composite actions read, by path


@dataclass(frozen=True)
class _Logins:
    cloud: str
    ci: CiLogins


def _logins() -> list[_Logins]:
    return [_Logins(cloud, registry.part(cloud, "ci").CI) for cloud in registry.names()]


def is_production(*names: str | None) -> bool:
    return any(name and PRODUCTION.search(name) for name in names)


def _read(path: str, scan: Scan) -> tuple[dict, dict] | None:
    """(the file's top mapping, its positions), or None with the reason in the scan's report. What
    the reader refuses but reads past (anchors, tags such as GitLab's !reference) becomes a note."""
    shown = os.path.relpath(path, scan.root)
    if not shown.isprintable():  # not UTF-8, or a name that could rewrite the terminal when printed
        scan.report.error(Pos(printable(shown), 1, 1), "", "a CI file name with control or invisible characters: "
                          "not read", "rename the file")
        return None
    try:
        raw = read_bytes(path, scan.root, MAX_CI_BYTES, "a CI file")
    except UsageError as error:
        scan.report.error(Pos(shown, 1, 1), "", str(error), "keep CI files regular files inside the repository")
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        scan.report.error(Pos(shown, line, column), "", "the file is not UTF-8", "save the file as UTF-8")
        return None
    report = Report()
    if not file_size(text, shown, report):
        scan.report.diagnostics += report.diagnostics
        return None
    text = _without_header(text)
    doc = read_yaml(shown, text, report)
    if not doc.data and report.diagnostics:  # nothing read: a syntax error, a nesting too deep
        scan.report.diagnostics += report.diagnostics
        return None
    if not report.diagnostics:
        return doc.data, doc.positions
    # What the spec reader refuses but CI files use (anchors, aliases, merge keys, GitLab's !reference):
    # read again, nested no deeper than the reader allowed, aliases expanded within a budget.
    try:
        return _expanded(shown, text)
    except yaml.YAMLError as error:  # e.g. an alias of no anchor, which the reader did not resolve
        mark = getattr(error, "problem_mark", None)
        scan.report.error(Pos(shown, mark.line + 1, mark.column + 1) if mark else Pos(shown, 1, 1), "",
                          f"YAML error: {getattr(error, 'problem', None) or error}", "fix the YAML at this place")
        return None
    except _TooLarge as error:
        scan.report.error(error.pos, "", f"YAML aliases expand to more than {MAX_EXPANDED:,} values",
                          "write the repeated values out, or use fewer levels of aliases")
        return None


def _without_header(text: str) -> str:
    """A GitLab file with a `spec:` header (its inputs) before `---`: the header's lines blanked, so
    the configuration after it reads as the one document and keeps its line numbers."""
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), None)
    if start is None or not lines[start].startswith("spec:"):
        return text
    for end in range(start + 1, len(lines)):
        if lines[end].rstrip() == "---":
            return "\n" * (end + 1) + "\n".join(lines[end + 1:])
        if lines[end][:1] not in ("", " ", "\t", "#"):
            return text  # a top-level key after spec: no header
    return text


MAX_EXPANDED = 100_000  # values a CI file's aliases may expand to (a billion laughs stops here)
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _TooLarge(Exception):
    def __init__(self, pos: Pos):
        self.pos = pos


def _expanded(shown: str, text: str) -> tuple[dict, dict]:
    """The file's top mapping and positions with every alias expanded and merge keys (<<) merged; an
    alias's values keep the positions where its anchor wrote them. The composer shares an anchor's
    node wherever it is aliased, so only the walk below costs, and it stops at MAX_EXPANDED values."""
    loader = _COMPOSER(text)  # recursive in libyaml, but the reader has checked the nesting depth
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    positions: dict = {}
    count = [0]

    def build(node, path: tuple):
        count[0] += 1
        pos = Pos(shown, node.start_mark.line + 1, node.start_mark.column + 1)
        if count[0] > MAX_EXPANDED or len(path) > 2 * MAX_DEPTH:
            raise _TooLarge(pos)
        positions[path] = pos
        if isinstance(node, yaml.SequenceNode):
            return [build(item, path + (index,)) for index, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            result: dict = {}
            for key, value in node.value:  # merged first: the mapping's own keys win, wherever written
                if key.tag == "tag:yaml.org,2002:merge":
                    for source in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                        for name, item in _mapping(build(source, path)).items():
                            result.setdefault(name, item)
            for key, value in node.value:
                if key.tag != "tag:yaml.org,2002:merge" and isinstance(key, yaml.ScalarNode):
                    result[key.value] = build(value, path + (key.value,))
            positions[path] = pos
            return result
        if node.tag == "tag:yaml.org,2002:null":
            return None
        return node.value

    top = build(node, ()) if node is not None else {}
    return _mapping(top), positions


def _secret(value: Any) -> bool:
    """Whether a GitHub expression in `value` reads the secrets context."""
    if not isinstance(value, str) or "secrets" not in value:
        return False
    within = False
    for token in _SECRET_TOKENS.finditer(value):
        if token[0] in ("${{", "}}"):
            within = token[0] == "${{"
        elif within:
            return True
    return False


def commands(script: str) -> list[str]:
    """The script's lines but its shell comments, which run nothing."""
    return [line for line in script.splitlines() if not line.lstrip().startswith("#")]


def logs_in(logins: CiLogins, script: str) -> bool:
    """Whether a line of the script runs one of the cloud's login commands (each pattern is linear on a line)."""
    return any(re.search(pattern, line) for line in commands(script) for pattern in logins.scripts)


def _sets_variable(logins: CiLogins, line: str) -> bool:
    """Whether a shell line sets one of the cloud's key variables (`export V=`, `V=... cmd`, `echo "V=" >> $GITHUB_ENV`)."""
    return any(re.search(rf"\b{name}=", line) for name in logins.variables)


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _action(uses: Any) -> str:
    return uses.split("@", 1)[0].strip().lower() if isinstance(uses, str) else ""


# GitHub Actions


@dataclass(frozen=True)
class _Run:
    """A trigger's runs: on one exact ref, or (ref None) on refs chosen at run time or by a pattern."""
    event: str
    ref: str | None  # refs/heads/B, refs/tags/T, DEFAULT (the default branch) or a pull request's
    why: str = ""  # ref None: which refs, for the note
    allows: tuple[str, ...] = ()  # ref None: the prefixes its refs have (refs/heads/, refs/tags/)
    patterns: tuple[tuple[str, tuple[str, ...]], ...] = ()  # push: (prefix, filter) pairs; empty: any
    conditions: tuple[Any, ...] = ()  # the if: of each job that called the reusable workflow on it


DEFAULT = "DEFAULT"
_PULL_REF = "refs/pull/0/merge"  # a pull request's ref: its number is not known


@dataclass
class _Triggers:
    runs: list[_Run] = field(default_factory=list)
    called: bool = False  # on: workflow_call

    def merge(self, other: "_Triggers", condition: Any) -> None:
        """Adds a caller's runs, each also under the calling job's `if:`."""
        added = [replace(run, conditions=run.conditions + (condition,)) if condition is not None else run
                 for run in other.runs]
        self.runs += [run for run in added if run not in self.runs]


@dataclass(frozen=True)
class _Part:
    """One element of a filter pattern: what character it takes, and how many times."""
    takes: str  # "any" (**), "segment" (* : not /), or "set" / "char"
    value: Any = None  # the character, or a compiled one-character class
    many: bool = False  # * ** +
    optional: bool = False  # * ** ?


def _glob_parts(pattern: str) -> list[_Part]:
    """GitHub's filter pattern: * within a path segment, ** across them, ? and + after a character, [..]."""
    parts: list[_Part] = []
    for token in re.findall(r"\*\*|\*|\[[^\]]+\]|.", pattern):
        if token in ("**", "*"):
            parts.append(_Part("any" if token == "**" else "segment", many=True, optional=True))
        elif token in ("?", "+") and parts and parts[-1].takes in ("char", "set"):
            parts[-1] = replace(parts[-1], many=token == "+", optional=token == "?")
        elif token.startswith("[") and len(token) > 2:
            try:
                parts.append(_Part("set", re.compile(token)))
            except re.error:
                parts += [_Part("char", c) for c in token]
        else:
            parts.append(_Part("char", token))
    return parts


def _glob_match(parts: list[_Part], text: str) -> bool:
    """A walk of the pattern's states over the text, each character once: linear in both (no backtracking)."""
    def closure(states: set[int]) -> set[int]:
        todo, seen = list(states), set(states)
        while todo:
            index = todo.pop()
            if index < len(parts) and parts[index].optional and index + 1 not in seen:
                seen.add(index + 1)
                todo.append(index + 1)
        return seen

    def takes(part: _Part, char: str) -> bool:
        return (part.takes == "any" or (part.takes == "segment" and char != "/")
                or (part.takes == "char" and part.value == char) or (part.takes == "set" and bool(part.value.fullmatch(char))))

    states = closure({0})
    for char in text:
        states = closure({step for index in states if index < len(parts) and takes(parts[index], char)
                          for step in ((index, index + 1) if parts[index].many else (index + 1,))})
    return len(parts) in states


def _matches(ref: str, patterns: tuple[str, ...]) -> bool:
    """Whether a name passes a filter list: later patterns win, a `!` one excludes."""
    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _glob_match(_glob_parts(pattern.removeprefix("!")), ref):
            matched = not negated
    return matched


def _push_runs(config: dict) -> list[_Run]:
    filters = {key: tuple(str(p) for p in _list(config.get(key))) for key in ("branches", "tags", "branches-ignore",
                                                                              "tags-ignore") if key in config}
    if not filters:
        return [_Run("push", None, "push to any branch or tag (no branches: or tags: filter)",
                     ("refs/heads/", "refs/tags/"))]
    runs, allows, patterns = [], [], []
    for kind, prefix in (("branches", "refs/heads/"), ("tags", "refs/tags/")):
        if kind in filters:
            exact = [p for p in filters[kind] if not _GLOB.search(p)]
            runs += [_Run("push", prefix + p) for p in exact]
            for glob in (p for p in filters[kind] if _GLOB.search(p)):
                runs.append(_Run("push", None, f"push {kind} pattern {glob!r} (a glob: list the exact {kind} to pin "
                                 "them)", (prefix,), ((prefix, filters[kind]),)))
        elif f"{kind}-ignore" in filters:
            ignored = tuple(f"!{p}" for p in filters[f"{kind}-ignore"])
            runs.append(_Run("push", None, "push with branches-ignore or tags-ignore (every other ref runs it)",
                             (prefix,), ((prefix, ("**", *ignored)),)))
    return runs


def github_triggers(on: Any) -> _Triggers:
    events = on if isinstance(on, dict) else {str(e): None for e in _list(on)}
    found = _Triggers()
    for event, config in events.items():
        config = _mapping(config)
        if event == "push":
            found.runs += _push_runs(config)
        elif event == "pull_request":
            found.runs.append(_Run(event, _PULL_REF))
        elif event == "pull_request_target":  # the base branch's ref, with secrets, for forks too
            found.runs.append(_Run(event, None, "", ("refs/heads/",)))
        elif event in ("schedule", "workflow_run", "repository_dispatch"):
            found.runs.append(_Run(event, DEFAULT))
        elif event == "workflow_call":
            found.called = True
        elif event == "release":
            found.runs.append(_Run(event, None, "release (runs on the tag of each release)", ("refs/tags/",)))
        elif event == "merge_group":
            found.runs.append(_Run(event, None, "merge_group (a merge queue's temporary gh-readonly-queue/ branch)"))
        else:
            found.runs.append(_Run(event, None, f"{event} (runs on a ref chosen at run time)",
                                   ("refs/heads/", "refs/tags/")))
    return found


@dataclass
class _Pins:
    """What a job's triggers, narrowed by its `if:`, let it run on."""
    refs: set[str] = field(default_factory=set)
    default_branch: set[str] = field(default_factory=set)  # the events that run it on the default branch
    pull_request: bool = False
    pull_request_target: bool = False
    unpinned: set[str] = field(default_factory=set)  # why some runs have no exact ref


def _pins(triggers: _Triggers, condition: Any, default_branch: str) -> _Pins:
    """Each run kept that the job's `if:` may let through; an `if:` naming exact refs pins runs on refs
    chosen at run time (workflow_dispatch, globs) to those it names that they can reach."""
    pins = _Pins()
    for run in triggers.runs:
        expressions = [e for e in map(_if_expression, (condition, *run.conditions)) if e is not None]
        literals = {value for e in expressions for value in e.literals}
        named = {v if v.startswith("refs/") else prefix + v for v in literals for prefix in ("refs/heads/", "refs/tags/")}
        if run.ref is not None:
            ref = f"refs/heads/{default_branch}" if run.ref == DEFAULT else run.ref
            if _may(expressions, run.event, ref):
                if run.event == "pull_request":
                    pins.pull_request = True
                elif run.ref == DEFAULT:
                    pins.default_branch.add(run.event)
                else:
                    pins.refs.add(ref)
            continue
        reached = {ref for ref in named if ref.startswith(run.allows) and _reaches(run, ref)
                   and _may(expressions, run.event, ref)}
        if run.event == "pull_request_target":
            pins.pull_request_target |= bool(reached) or _may(expressions, run.event, None)
        elif _may(expressions, run.event, None):
            pins.unpinned.add(run.why)  # runs on refs the if: does not name: none of them is exact
        else:
            pins.refs |= reached
    return pins


def _reaches(run: _Run, ref: str) -> bool:
    return all(not ref.startswith(prefix) or _matches(ref.removeprefix(prefix), patterns)
               for prefix, patterns in run.patterns)


def _may(expressions: list["_Expression"], event: str, ref: str | None) -> bool:
    """Whether every `if:` may be true for this event on this ref (None: a ref none names)."""
    try:
        return all(_evaluate(expression.tree, event, ref) is not False for expression in expressions)
    except RecursionError:  # a chain of thousands of && (hostile): read as may be true, so nothing narrows
        return True


# A job's `if:`, read as GitHub's expression language only as far as it narrows the event and the ref;
# anything else in it (needs, inputs, functions) may be true or false.

_TOKEN = re.compile(r"\s*(?:(\(|\)|&&|\|\||==|!=|<=|>=|<|>|!|,)|'((?:[^']|'')*)'|([A-Za-z0-9_.\-\[\]*]+))")
MAX_IF = 2000  # characters of a job's if: read; longer is not narrowed
_UNKNOWN = None


@dataclass(frozen=True)
class _Expression:
    tree: tuple
    literals: frozenset[str]


def _if_expression(condition: Any) -> _Expression | None:
    if isinstance(condition, bool):
        condition = str(condition).lower()
    if not isinstance(condition, str) or len(condition) > MAX_IF:
        return None
    text = condition.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    tokens, at = [], 0
    while at < len(text.rstrip()):
        match = _TOKEN.match(text, at)
        if not match or match.end() == at:
            return None
        tokens.append(("op", match[1]) if match[1] else ("str", match[2].replace("''", "'")) if match[2] is not None
                      else ("name", match[3]))
        at = match.end()
    try:
        tree, rest = _parse_or(tokens, 0)
    except (IndexError, ValueError, RecursionError):
        return None
    if rest != len(tokens):
        return None
    return _Expression(tree, frozenset(value for kind, value in tokens if kind == "str"))


def _parse_or(tokens: list, at: int, depth: int = 0) -> tuple[tuple, int]:
    if depth > 32:
        raise ValueError("nested too deep")
    left, at = _parse_and(tokens, at, depth)
    while at < len(tokens) and tokens[at] == ("op", "||"):
        right, at = _parse_and(tokens, at + 1, depth)
        left = ("or", left, right)
    return left, at


def _parse_and(tokens: list, at: int, depth: int) -> tuple[tuple, int]:
    left, at = _parse_compare(tokens, at, depth)
    while at < len(tokens) and tokens[at] == ("op", "&&"):
        right, at = _parse_compare(tokens, at + 1, depth)
        left = ("and", left, right)
    return left, at


def _parse_compare(tokens: list, at: int, depth: int) -> tuple[tuple, int]:
    left, at = _parse_unary(tokens, at, depth)
    if at < len(tokens) and tokens[at][0] == "op" and tokens[at][1] in ("==", "!=", "<", ">", "<=", ">="):
        operator = tokens[at][1]
        right, at = _parse_unary(tokens, at + 1, depth)
        left = (operator, left, right)
    return left, at


def _parse_unary(tokens: list, at: int, depth: int) -> tuple[tuple, int]:
    kind, value = tokens[at]
    if (kind, value) == ("op", "!"):
        inner, at = _parse_unary(tokens, at + 1, depth + 1)
        return ("not", inner), at
    if (kind, value) == ("op", "("):
        inner, at = _parse_or(tokens, at + 1, depth + 1)
        if tokens[at] != ("op", ")"):
            raise ValueError("no )")
        return inner, at + 1
    if kind == "str":
        return ("str", value), at + 1
    if kind != "name":
        raise ValueError(value)
    if at + 1 < len(tokens) and tokens[at + 1] == ("op", "("):  # a function call
        args, at = [], at + 2
        while tokens[at] != ("op", ")"):
            arg, at = _parse_or(tokens, at, depth + 1)
            args.append(arg)
            if tokens[at] == ("op", ","):
                at += 1
        return ("call", value.lower(), tuple(args)), at + 1
    return ("name", value), at + 1


def _evaluate(tree: tuple, event: str, ref: str | None) -> Any:
    """True, False, a string, or _UNKNOWN (may be either); ref None: a ref no literal names."""
    kind = tree[0]
    if kind == "str":
        return tree[1]
    if kind == "name":
        return _context(tree[1].lower(), event, ref)
    if kind in ("and", "or"):
        left, right = (_truth(_evaluate(t, event, ref)) for t in tree[1:])
        if kind == "and":
            return False if False in (left, right) else True if (left, right) == (True, True) else _UNKNOWN
        return True if True in (left, right) else False if (left, right) == (False, False) else _UNKNOWN
    if kind == "not":
        inner = _truth(_evaluate(tree[1], event, ref))
        return _UNKNOWN if inner is _UNKNOWN else not inner
    if kind in ("==", "!="):
        left, right = (_evaluate(t, event, ref) for t in tree[1:])
        if isinstance(left, _Other) or isinstance(right, _Other):  # a ref unlike every literal
            other = right if isinstance(left, _Other) else left
            equal = False if isinstance(other, str) else _UNKNOWN
        elif isinstance(left, str) and isinstance(right, str):
            equal = left.lower() == right.lower()  # GitHub compares strings ignoring case
        else:
            equal = _UNKNOWN
        return equal if equal is _UNKNOWN or kind == "==" else not equal
    if kind == "call" and tree[1] in ("startswith", "endswith", "contains") and len(tree[2]) == 2:
        text, part = (_evaluate(t, event, ref) for t in tree[2])
        if not (isinstance(text, str) and isinstance(part, str)):
            return _UNKNOWN
        text, part = text.lower(), part.lower()
        return {"startswith": text.startswith, "endswith": text.endswith, "contains": text.__contains__}[tree[1]](part)
    if kind == "call" and tree[1] == "always":
        return True
    return _UNKNOWN  # other comparisons and functions, needs, inputs, vars: either


class _Other:
    """A ref, or its name, that the `if:` names nowhere: equal to no literal, anything else unknown."""


def _context(name: str, event: str, ref: str | None) -> Any:
    if name in ("true", "false"):
        return name == "true"
    if name == "github.event_name":
        return event
    if name == "github.ref":
        return _Other() if ref is None else ref
    if name == "github.ref_name":
        return _Other() if ref is None else ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    if name == "github.ref_type" and ref is not None:
        return "tag" if ref.startswith("refs/tags/") else "branch"
    return _UNKNOWN


def _truth(value: Any) -> Any:
    if isinstance(value, _Other):
        return _UNKNOWN
    return value if value is _UNKNOWN or isinstance(value, bool) else bool(value)


def _env_chain(*levels: Any) -> dict:
    """The environment a step sees: the workflow's, then the job's, then the step's own."""
    merged: dict = {}
    for level in levels:
        merged.update(_mapping(level))
    return merged


@dataclass
class _Place:
    """What one scanned spot needs to make a finding."""
    scan: Scan
    job: Job
    positions: dict


def _finding(place: _Place, logins: _Logins, path: tuple, what: str, shared: bool = False) -> None:
    """A login found at `path`; `shared`, in a block every job of the file sees (see _one_per_use)."""
    pos = place.positions.get(path, place.job.pos)
    place.job.clouds.add(logins.cloud)
    replacement = logins.ci.github if place.job.system == "github" else logins.ci.gitlab
    place.scan.found.append(Credential(logins.ci.kind, logins.cloud, str(pos), what, replacement,
                                       "every job of the file" if shared else f"job {place.job.name!r}", pos))


def _env_findings(place: _Place, env: Any, path: tuple, all_logins: list[_Logins], inputs: bool = False) -> None:
    """`inputs`: names of action inputs count too (a reusable workflow's secrets: such as aws-access-key-id)."""
    for logins in all_logins:
        named = [name for name in sorted(_mapping(env)) if _secret(env[name]) and (
            name in logins.ci.variables or (inputs and name.lower().replace("_", "-") in logins.ci.inputs))]
        if named:  # one login per environment block and cloud, at its secret's value
            _finding(place, logins, path + (named[-1],), f"environment variables {', '.join(named)} from secrets",
                     shared=path == ("env",))


def _input_findings(place: _Place, step: dict, path: tuple, env: dict, all_logins: list[_Logins],
                    composite: dict[str, dict[str, str]]) -> None:
    action, given = _action(step.get("uses")), _mapping(step.get("with"))
    for logins in all_logins:
        keys = logins.ci.actions.get(action, frozenset())
        fed = composite.get(action, {})
        secret = [name for name in sorted(given) if (name in keys or fed.get(name) == logins.cloud
                                                     or name.lower().replace("_", "-") in logins.ci.inputs)
                  and _secret_through(given[name], env, logins)]
        if secret:
            _finding(place, logins, path + ("with", secret[-1]),
                     f"{step.get('uses')} with {', '.join(secret)} from secrets")


def _secret_through(value: Any, env: dict, logins: _Logins) -> bool:
    """A secret, or ${{ env.X }} for an X set from one that is not itself a login variable (whose own
    finding already covers it)."""
    if _secret(value):
        return True
    match = _EXPRESSION.fullmatch(value.strip()) if isinstance(value, str) else None
    return bool(match and match[1] == "env" and match[2] not in logins.ci.variables and _secret(env.get(match[2])))


def _script_findings(place: _Place, script: Any, path: tuple, all_logins: list[_Logins]) -> None:
    """A `run:` that logs in with a secret of its own text (a secret from env: is that env's finding)."""
    if not isinstance(script, str) or not _secret("\n".join(commands(script))):
        return
    for logins in all_logins:
        if logs_in(logins.ci, script):
            _finding(place, logins, path, "a login command with a secret in the script")
        elif any(_sets_variable(logins.ci, line) and _secret(line) for line in commands(script)):
            _finding(place, logins, path, "a key variable set from a secret in the script")


def composite_inputs(scan: Scan, uses: str, all_logins: list[_Logins]) -> dict[str, str]:
    """A local composite action's inputs that feed a login (input name -> cloud), each action read once."""
    if uses not in scan.actions:
        scan.actions[uses] = {}  # an action that uses itself, directly or not, stops here
        scan.actions[uses] = _composite(scan, uses, all_logins)
    return scan.actions[uses]


def _composite(scan: Scan, uses: str, all_logins: list[_Logins]) -> dict[str, str]:
    folder = os.path.normpath(os.path.join(scan.root, uses))
    if not inside(folder, scan.root):
        scan.notes.append(f"{printable(uses)}: a local action outside the repository: not read")
        return {}
    path = next((os.path.join(folder, n) for n in ("action.yml", "action.yaml")
                 if os.path.lexists(os.path.join(folder, n))), None)
    read = _read(path, scan) if path else None
    fed: dict[str, str] = {}
    for step in _list(_mapping(_mapping(read[0] if read else {}).get("runs")).get("steps")):
        step = _mapping(step)
        uses_local = step.get("uses")  # an action in the action (./ is the checkout's root, as for workflows)
        nested = (composite_inputs(scan, uses_local, all_logins)
                  if isinstance(uses_local, str) and uses_local.startswith("./") else {})
        for logins in all_logins:
            keys = logins.ci.actions.get(_action(step.get("uses")), frozenset())
            values = [v for k, v in _mapping(step.get("with")).items() if k in keys or nested.get(k) == logins.cloud]
            values += [v for k, v in _mapping(step.get("env")).items() if k in logins.ci.variables]
            for value in values:
                match = _EXPRESSION.fullmatch(value.strip()) if isinstance(value, str) else None
                if match and match[1] == "inputs":
                    fed[match[2]] = logins.cloud
    return fed


def _github_job(scan: Scan, file: str, workflow: dict, positions: dict, job_id: str, body: dict,
                triggers: _Triggers, default_branch: str, all_logins: list[_Logins]) -> Job:
    shown = os.path.relpath(file, scan.root)
    job = Job("github", shown, job_id, positions.get(("jobs", job_id), Pos(shown, 1, 1)))
    environment = body.get("environment")
    environment = _mapping(environment).get("name") if isinstance(environment, dict) else environment
    job.production = is_production(environment if isinstance(environment, str) else None, job_id,
                                   body.get("name") if isinstance(body.get("name"), str) else None,
                                   workflow.get("name") if isinstance(workflow.get("name"), str) else None)
    _pin_github(job, triggers, environment, default_branch, body.get("if"))
    place = _Place(scan, job, positions)
    if "uses" in body:  # a reusable workflow's caller runs no step: a local workflow is scanned itself,
        if not str(body["uses"]).startswith("./"):  # another repository's gets secrets it logs in with
            _env_findings(place, body.get("secrets"), ("jobs", job_id, "secrets"), all_logins, inputs=True)
        return job
    _env_findings(place, workflow.get("env"), ("env",), all_logins)
    _env_findings(place, body.get("env"), ("jobs", job_id, "env"), all_logins)
    for index, step in enumerate(_list(body.get("steps"))):
        step, path = _mapping(step), ("jobs", job_id, "steps", index)
        env = _env_chain(workflow.get("env"), body.get("env"), step.get("env"))
        _env_findings(place, step.get("env"), path + ("env",), all_logins)
        uses = step.get("uses")
        composite = {}
        if isinstance(uses, str) and uses.startswith("./"):
            composite = {_action(uses): composite_inputs(scan, uses, all_logins)}
        _input_findings(place, step, path, env, all_logins, composite)
        _script_findings(place, step.get("run"), path + ("run",), all_logins)
    return job


def _pin_github(job: Job, triggers: _Triggers, environment: Any, default_branch: str, condition: Any = None) -> None:
    pins = _pins(triggers, condition, default_branch)
    if pins.pull_request_target:
        job.notes.append("pull_request_target runs pull requests, forks' too, with secrets and a token of the base "
                         "branch: no identity is proposed for it; log in from a push, workflow_run or environment job")
    if isinstance(environment, str) and "${{" not in environment:
        only_pull_requests = not (pins.refs or pins.default_branch or pins.unpinned)
        if pins.pull_request and job.production and only_pull_requests:
            job.notes.append(f"only pull requests run this job in the production environment {environment!r}: "
                             "refused, no identity is proposed; deploy from a branch instead")
            return
        if pins.pull_request_target and only_pull_requests and not pins.pull_request:
            return
        job.environment = environment
        if pins.pull_request and job.production:
            job.notes.append(f"pull requests also run this job in environment {environment!r}: allow only "
                             "protected branches to deploy to it (environment protection rules)")
        return
    if environment is not None:
        job.notes.append("an environment set by an expression: no identity can name it exactly")
        return
    job.refs = sorted(pins.refs | ({f"refs/heads/{default_branch}"} if pins.default_branch else set()))
    if pins.default_branch:
        job.notes.append(f"{' and '.join(sorted(pins.default_branch))} run on the default branch, taken "
                         f"as {default_branch!r} (--default-branch)")
    if pins.pull_request and job.production:
        job.notes.append("pull requests run this production job: refused, no pull_request identity is proposed; "
                         "deploy from a branch or an environment instead")
    job.pull_request = pins.pull_request and not job.production
    job.notes += [f"not pinned: {why}" for why in sorted(pins.unpinned)]


def _workflow_files(scan: Scan) -> list[str]:
    folder = os.path.join(scan.root, ".github", "workflows")
    if not os.path.isdir(folder):
        return []
    if not inside(folder, scan.root):
        scan.report.error(Pos(".github/workflows", 1, 1), "", "a link to outside the repository; not followed",
                          "keep the workflows folder inside the repository")
        return []
    return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith((".yml", ".yaml")))


def _inherit_callers(workflows: dict[str, tuple[dict, dict]], triggers: dict[str, _Triggers]) -> set[str]:
    """A reusable workflow runs on its callers' triggers: each local caller's are added to it (to
    GitHub's four levels of nesting). Returns the workflows some local job calls."""
    called_here = set()
    for _level in range(4):
        for name, (data, _positions) in workflows.items():
            for body in _mapping(data.get("jobs")).values():
                uses = _mapping(body).get("uses")
                if isinstance(uses, str) and uses.startswith("./"):
                    called = os.path.normpath(uses.split("@")[0].removeprefix("./"))
                    if called in triggers and triggers[called].called:
                        triggers[called].merge(triggers[name], _mapping(body).get("if"))
                        called_here.add(called)
    return called_here


def scan_github(scan: Scan, default_branch: str, all_logins: list[_Logins]) -> None:
    workflows: dict[str, tuple[dict, dict]] = {}
    for file in _workflow_files(scan)[:MAX_CI_FILES]:
        read = _read(file, scan)
        if read is not None:
            workflows[os.path.relpath(file, scan.root)] = read
    triggers = {name: github_triggers(data.get("on")) for name, (data, _) in workflows.items()}
    called_here = _inherit_callers(workflows, triggers)
    for name, (data, positions) in workflows.items():
        if triggers[name].called and name not in called_here:
            triggers[name].runs.append(_Run("workflow_call", None, "workflow_call from another repository (it runs "
                                            "on its caller's triggers)"))
        for job_id, body in _mapping(data.get("jobs")).items():
            job = _github_job(scan, os.path.join(scan.root, name), data, positions, job_id, _mapping(body),
                              triggers[name], default_branch, all_logins)
            if job.clouds:
                scan.jobs.append(job)


# GitLab CI

_GITLAB_KEYWORDS = frozenset({"default", "include", "stages", "variables", "workflow", "image", "services", "cache",
                              "before_script", "after_script", "types", "spec"})
_SCRIPTS = ("before_script", "script", "after_script")
_REF_CLAUSE = re.compile(r"\$\{?(CI_COMMIT_BRANCH|CI_COMMIT_REF_NAME|CI_COMMIT_TAG)\}?\s*(==|=~|!=)?\s*"
                         r"(\"[^\"]*\"|'[^']*'|\$\{?CI_DEFAULT_BRANCH\}?|/[^/]*/)?")
_MERGE_REQUEST = re.compile(r"CI_PIPELINE_SOURCE\s*==\s*[\"']merge_request_event[\"']|CI_MERGE_REQUEST_")


def _gitlab_files(scan: Scan, start: list[str]) -> list[tuple[str, dict, dict]]:
    """A pipeline's files (.gitlab-ci.yml, or a child pipeline's) and the local files they include,
    transitively, each read once."""
    queue, seen, read_files = list(start), set(), []
    while queue and len(seen) < MAX_CI_FILES:
        relative = queue.pop(0)
        path = os.path.normpath(os.path.join(scan.root, relative.lstrip("/")))
        if relative in seen or not os.path.lexists(path):
            if relative not in seen and relative != ".gitlab-ci.yml":
                scan.notes.append(f"{printable(relative)}: included but not in the repository")
            seen.add(relative)
            continue
        seen.add(relative)
        read = _read(path, scan)
        if read is None:
            continue
        read_files.append((os.path.relpath(path, scan.root), *read))
        for local in _locals(scan, read_files[-1][0], read[0].get("include")):
            queue += _expand_include(scan, local)
    return read_files


def _locals(scan: Scan, shown: str, include: Any) -> list[str]:
    """The local files of an include: (or a trigger's), a note for those of other projects, templates, URLs."""
    found = []
    for each in _list(include):
        local = each if isinstance(each, str) and "://" not in each else _mapping(each).get("local")
        if isinstance(local, str):
            found.append(local)
        else:
            scan.notes.append(f"{shown}: an include of another project, a template, an artifact or a URL: not scanned")
    return found


def _expand_include(scan: Scan, local: str) -> list[str]:
    if not _GLOB.search(local):
        return [local.lstrip("/")]
    matches = []
    for folder, dirs, files in os.walk(scan.root):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in files:
            relative = os.path.relpath(os.path.join(folder, name), scan.root)
            if fnmatch(relative, local.lstrip("/")):
                matches.append(relative)
    return sorted(matches)


def _extended(jobs: dict, name: str, depth: int = 0) -> tuple[dict, dict[str, str]]:
    """The job with what it extends, and for each keyword the job it comes from: keys of the job win,
    as in GitLab (a shallow merge of its keywords)."""
    body = _mapping(jobs.get(name))
    merged, origin = {}, {}
    for parent in _list(body.get("extends")) if depth < 10 else []:
        if isinstance(parent, str) and parent in jobs:
            inherited, came_from = _extended(jobs, parent, depth + 1)
            merged.update(inherited)
            origin.update(came_from)
    return {**merged, **body}, {**origin, **{key: name for key in body}}


def _gitlab_pins(job: Job, body: dict, default_branch: str) -> None:
    branches, tags, unpinned, merge_requests = set(), set(), set(), False
    rules = _list(body.get("rules"))
    only = body.get("only")
    refs = _list(_mapping(only).get("refs") if isinstance(only, dict) else only)
    for rule in rules:
        rule = _mapping(rule)
        if rule.get("when") == "never":
            continue
        condition = rule.get("if")
        if not isinstance(condition, str):
            unpinned.add("a rule without if: (every pipeline)")
            continue
        for clause in condition.split("||"):
            if _MERGE_REQUEST.search(clause):
                merge_requests = True
                continue
            match = _REF_CLAUSE.search(clause)
            if not match or match[2] not in ("==", None) or (match[2] == "==" and not match[3]):
                unpinned.add(f"rule if: {clause.strip()!r}")
            elif match[2] is None:
                unpinned.add(f"rule if: {clause.strip()!r} (every tag)" if match[1] == "CI_COMMIT_TAG"
                             else f"rule if: {clause.strip()!r} (every branch)")
            else:
                value = default_branch if "CI_DEFAULT_BRANCH" in match[3] else match[3][1:-1]
                (tags if match[1] == "CI_COMMIT_TAG" else branches).add(value)
    for ref in refs:
        ref = str(ref)
        if ref == "merge_requests":
            merge_requests = True
        elif ref in ("branches", "tags", "pushes", "web", "api", "triggers", "schedules", "pipelines", "external",
                     "chat") or ref.startswith("/"):
            unpinned.add(f"only: {ref!r}")
        else:
            branches.add(ref)  # GitLab matches a name against branches and tags: a branch is the likely one
    if not rules and not refs:
        unpinned.add("no rules: or only: (every branch and tag pipeline)")
    job.refs = sorted({f"branch:{b}" for b in branches} | {f"tag:{t}" for t in tags})
    if merge_requests:
        job.notes.append("merge request pipelines run on their source branch: no identity can pin them"
                         + (" (and this production job must not take them)" if job.production else ""))
    job.notes += [f"not pinned: {why}" for why in sorted(unpinned)]


_REFERENCE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def _from_variable(value: Any) -> bool:
    """Whether a GitLab value reads a variable other than GitLab's own (CI_*, GITLAB_*): a CI/CD setting."""
    return isinstance(value, str) and any(not name.startswith(("CI_", "GITLAB_")) for name in _REFERENCE.findall(value))


def _gitlab_variables(place: _Place, variables: Any, path: tuple, all_logins: list[_Logins]) -> set[str]:
    """Finds login variables set from other (CI/CD settings) variables; returns those set to plain text.
    Those of another block than the job (global, a template) are found once, for every job."""
    plain = set()
    for logins in all_logins:
        named = []
        for name in sorted(_mapping(variables)):
            value = variables[name]
            value = _mapping(value).get("value") if isinstance(value, dict) else value
            if name in logins.ci.variables:
                (named.append(name) if _from_variable(value) else plain.add(name))
        if named:
            _finding(place, logins, path + (named[-1],), f"variables {', '.join(named)} from CI/CD variables",
                     shared=path[0] != place.job.name)
    return plain


def scan_gitlab(scan: Scan, default_branch: str, all_logins: list[_Logins]) -> None:
    _scan_pipeline(scan, _gitlab_files(scan, [".gitlab-ci.yml"]), default_branch, all_logins, None, 0)


def _child_pins(job: Job, parent: Job) -> None:
    """A child pipeline runs on the ref of its parent's trigger job, only where that job runs: its
    jobs' own rules can narrow those refs, never widen them."""
    own = job.refs if job.refs and not any(note.startswith("not pinned") for note in job.notes) else parent.refs
    job.refs = sorted(set(own) & set(parent.refs))
    job.notes = [f"a child pipeline of job {parent.name!r} ({parent.file}): runs on its refs", *parent.notes]


def _scan_pipeline(scan: Scan, files: list[tuple[str, dict, dict]], default_branch: str, all_logins: list[_Logins],
                   parent: Job | None, depth: int) -> None:
    jobs: dict = {}
    where: dict[str, tuple[str, dict]] = {}
    top: dict = {}
    for shown, data, positions in files:
        for name, body in data.items():
            if name in _GITLAB_KEYWORDS:
                top.setdefault(name, (body, positions, shown))
            elif isinstance(body, dict):
                jobs[name], where[name] = body, (shown, positions)
    global_vars, global_positions, _ = top.get("variables", ({}, {}, ""))
    for name in sorted(jobs):
        if name.startswith("."):
            continue  # a template: scanned in the jobs that extend it
        body, origin = _extended(jobs, name)
        shown, positions = where[origin.get("variables", name)]
        job = Job("gitlab", where[name][0], name, where[name][1].get((name,), Pos(where[name][0], 1, 1)))
        environment = body.get("environment")
        environment = _mapping(environment).get("name") if isinstance(environment, dict) else environment
        job.production = is_production(environment if isinstance(environment, str) else None, name)
        # A job with no rules of its own runs in every pipeline that workflow: rules let start.
        workflow = _mapping(top.get("workflow", ({},))[0])
        pinned = body if {"rules", "only"} & set(body) else {"rules": workflow.get("rules")}
        _gitlab_pins(job, pinned, default_branch)
        if parent is not None:
            _child_pins(job, parent)
        trigger = _mapping(body.get("trigger"))
        if "include" in trigger and depth < 2:  # GitLab nests child pipelines two levels deep
            _scan_pipeline(scan, _gitlab_files(scan, [f.lstrip("/") for f in _locals(scan, job.file, trigger["include"])]),
                           default_branch, all_logins, job, depth + 1)
        plain = _gitlab_variables(_Place(scan, job, global_positions), global_vars, ("variables",), all_logins)
        plain |= _gitlab_variables(_Place(scan, job, positions), body.get("variables"),
                                   (origin.get("variables", name), "variables"), all_logins)
        for key in _SCRIPTS:
            lines, path, positions = _script_of(body, origin, where, top, key)
            for index, line in enumerate(_list(lines)):
                _gitlab_script(_Place(scan, job, positions), line, (*path, index), all_logins, plain)
        if job.clouds:
            scan.jobs.append(job)


def _script_of(body: dict, origin: dict, where: dict, top: dict, key: str) -> tuple[Any, tuple, dict]:
    """A job's script lines of `key`, their path and positions: its own (or its template's), else
    default:'s, else the older top-level before_script:/after_script:."""
    if key in body:
        return body[key], (origin[key], key), where[origin[key]][1]
    if "default" in top:
        return _mapping(top["default"][0]).get(key), ("default", key), top["default"][1]
    if key in top:
        return top[key][0], (key,), top[key][1]
    return None, (), {}


def _gitlab_script(place: _Place, line: Any, path: tuple, all_logins: list[_Logins], plain: set[str]) -> None:
    if not isinstance(line, str):
        return
    line = "\n".join(commands(line))
    for logins in all_logins:
        if logins.cloud in place.job.clouds:
            continue  # one login per job and cloud
        used = [v for v in sorted(logins.ci.variables - plain) if re.search(rf"\$\{{?{v}\b", line)
                or any(_from_variable(m[1]) for m in re.finditer(rf"\b{v}=(\S+)", line))]
        if used:
            _finding(place, logins, path, f"the script uses {', '.join(used)}, long-lived keys from CI/CD variables",
                     shared=path[0] != place.job.name)
        elif logs_in(logins.ci, line):
            _finding(place, logins, path, "a login command with a key from CI/CD variables",
                     shared=path[0] != place.job.name)


def scan(root: str, default_branch: str = "main") -> Scan:
    """Every long-lived cloud login in the repository's CI files, and the jobs that make them."""
    found = Scan(root)
    all_logins = _logins()
    scan_github(found, default_branch, all_logins)
    scan_gitlab(found, default_branch, all_logins)
    found.found = _one_per_use(found.found)
    return found


def _one_per_use(found: list[Credential]) -> list[Credential]:
    """One finding per secret's use: a place several jobs reach (an anchor, a template, a workflow's env)
    is reported once, naming them all."""
    groups: dict[tuple, list[Credential]] = {}
    for credential in found:
        groups.setdefault((credential.pos, credential.kind), []).append(credential)
    merged = []
    for group in groups.values():
        owners = sorted({c.owner for c in group})
        owner = owners[0] if len(owners) == 1 else "jobs " + ", ".join(o.removeprefix("job ") for o in owners)
        merged.append(replace(group[0], owner=owner))
    return merged


PERMISSIONS = "permissions:\n  id-token: write  # the job may ask GitHub for its OIDC token\n  contents: read"


def workflow_change(job: Job) -> str:
    """What the job writes instead: GitHub's permissions and login steps, GitLab's ID token and login lines."""
    logins = {each.cloud: each.ci for each in _logins()}
    if job.system == "github":
        steps = "\n".join(f"  {line}" for cloud in sorted(job.clouds) for line in logins[cloud].github.split("\n"))
        return f"{PERMISSIONS}\nsteps:\n{steps}"
    return _merged_keys(logins[cloud].gitlab for cloud in sorted(job.clouds))


def _merged_keys(snippets: Iterator[str]) -> str:
    """GitLab job lines of several clouds as one YAML mapping: each top-level key once (one id_tokens:
    map, one script: list), its lines from each cloud in turn (their token names differ)."""
    sections: dict[str, list[str]] = {}
    for snippet in snippets:
        key = ""
        for line in snippet.split("\n"):
            if line[:1] not in ("", " "):
                key = line
                sections.setdefault(key, [])
            else:
                sections[key].append(line)
    return "\n".join(line for key, lines in sections.items() for line in (key, *lines))


def jobs_text(jobs: list[Job]) -> Iterator[str]:
    for job in jobs:
        pinned = [f"environment {job.environment!r}"] if job.environment else [repr(r) for r in job.refs]
        pinned += ["pull requests"] if job.pull_request else []
        yield f"{job.pos}: job {job.name!r} pins {', '.join(pinned) or 'nothing'}"
        yield from (f"  note: {note}" for note in job.notes)

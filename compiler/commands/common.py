"""What every command shares: exit codes, options, error printing, progress, safe output, and the
side effects of a run (the collector's freeze, the cache's valid marks)."""

from __future__ import annotations

import atexit
import gc
import inspect
import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from enum import Enum
from functools import wraps
from typing import Callable, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import registry, windows
from ..cache import remember_valid
from ..compile import load_planned
from ..diagnostics import Pos, Report, SpecError, bounded, printable
from ..diff import Source, repository_of
from ..findings import Finding
from ..loader import UsageError, inside, spec_root
from ..model import Model
from ..plan import Plans
from ..record import spec_then
from ..readers import reader_for
from ..terraform import write_file

err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)  # ":x:" in an ARN stays text

EXIT_SPEC, EXIT_USAGE, EXIT_UNREAD = 1, 2, 3


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


Cloud = Enum("Cloud", {name: name for name in registry.names()}, type=str)

DirArgument = typer.Argument(".", help="The spec folder (or one spec file).", show_default=True)
RecursiveOption = typer.Option(False, "--recursive", "-r", help="Also load spec files in subfolders.")
FormatOption = typer.Option(OutputFormat.text, "--format", "-f", help="Output format.")
OutOption = typer.Option(None, "--out", "-o", help="Write to this file (atomically) instead of printing.")
AtOption = typer.Option(None, "--at", metavar="TIME",
                        help=f"Evaluate time windows at this UTC time (YYYY-MM-DDTHH:MM:SSZ); default: "
                             f"${windows.AT_VARIABLE} if set, else now (with --rev: the revision's time).")
RevOption = typer.Option(None, "--rev", metavar="REV|DATE",
                         help="Read the spec folder as it stood at this git revision, or at this UTC date "
                              "(YYYY-MM-DD[THH:MM:SSZ]: the branch's last commit by then), without a checkout.")


def moment(at: str | None, rev: str | None = None):
    """--at as a time (else $WIAM_AT, else now; None with --rev: the revision's own time), or exit 2:
    the one way output depends on the clock."""
    if at is None and rev is not None:
        return None
    try:
        return windows.parse(at) if at is not None else windows.current()
    except ValueError:
        given = f"--at {at!r}" if at is not None else f"{windows.AT_VARIABLE}={os.environ[windows.AT_VARIABLE]!r}"
        fail_usage(f"{given} is no UTC time: write YYYY-MM-DDTHH:MM:SSZ, e.g. 2026-12-02T02:00:00Z")


def duration(option: str, given: str):
    """A duration option's value as a timedelta, or exit 2."""
    try:
        return windows.duration(given)
    except ValueError:
        fail_usage(f"{option} {given!r} is no duration: write e.g. 12h, 90m or 1d12h")


def fail_spec(error: SpecError, fmt) -> None:
    if fmt.value != "text":  # every machine format gets the errors as JSON
        typer.echo(json.dumps({"ok": False, "errors": [d.as_json() for d in error.diagnostics]}, indent=2))
    else:
        for diagnostic in error.diagnostics:
            err.print(diagnostic.render(), markup=False)
        count = len(error.diagnostics)
        err.print(f"{count} error{'s' if count != 1 else ''}", markup=False)
    raise typer.Exit(EXIT_SPEC)


def fail_lines(message: str, code: int) -> None:
    """A message over several lines (what to write by hand, and where; a fix), each line shown as is safe."""
    for number, line in enumerate(message.splitlines()):
        err.print(f"{'wiam: ' if not number else ''}{bounded(line)}", markup=False)
    raise typer.Exit(code)


def fail_usage(message: str) -> None:
    err.print(f"wiam: {bounded(message)}", markup=False)
    raise typer.Exit(EXIT_USAGE)


@contextmanager
def progress():
    """Progress bars for files and targets on a terminal; silent otherwise (CI, pipes)."""
    if not err.is_terminal:
        yield None, None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bars:
        files = bars.add_task("reading", total=None)
        targets = bars.add_task("compiling", total=None)
        yield (lambda done, total: bars.update(files, completed=done, total=total),
               lambda done, total: bars.update(targets, completed=done, total=total))


def notes(report: Report) -> None:
    for note in report.notes:
        err.print(f"note: {note}", markup=False)


def planned_spec(directory: str, recursive: bool, fmt, report: Report, at=None,
                 rev: str | None = None) -> tuple[Model, Plans]:
    """The validated model and its plans, or exit 1 with every spec error (cloud limits included) or
    2 on misuse; with `rev`, of the spec as it stood then (see spec_then). The spec is marked known
    valid (incremental diffs start from such a base), and the model, which lives as long as the
    command, is frozen out of the collector's later passes."""
    return planned_revision(directory, recursive, fmt, report, at, rev)[:2]


def planned_revision(directory: str, recursive: bool, fmt, report: Report, at=None,
                     rev: str | None = None) -> tuple[Model, Plans, Source | None]:
    """planned_spec, and with `rev` the revision's copy the model's files are in (see places)."""
    source = None
    try:
        if rev is not None:
            workdir = tempfile.mkdtemp(prefix="wiam-rev-")
            atexit.register(shutil.rmtree, workdir, True)  # the model's files are read until the command ends
            source, then = spec_then(directory, rev, recursive, workdir)
            directory, at = source.folder, at or then
        model, plans = load_planned(directory, recursive, report, at)
    except SpecError as error:
        fail_spec(source.relabel(error) if source else error, fmt)
    except UsageError as error:
        fail_usage(str(error))
    gc.freeze()
    remember_valid(model.document.digest)
    return model, plans, source


def places(source: Source | None, directory: str, in_work_tree: bool = False) -> Callable[[str], str]:
    """How output names a file of planned_revision's model: as it is; with a revision, not by its
    temporary copy but as REV:path (as its errors are named), or, in_work_tree, by the file's path
    in the work tree (SARIF's URIs are the repository's paths; the revision goes beside them)."""
    if source is None:
        return lambda file: file
    top = repository_of(directory, directory)[0]  # spec_then read the revision from it
    prefix = source.label.partition(":")[2]

    def named(file: str) -> str:
        if not file.startswith(source.folder + os.sep):
            return file
        return (os.path.join(top, prefix, file[len(source.folder) + 1:]) if in_work_tree
                else source.place(Pos(file, 0, 0)).file)
    return named


def relabelled(findings: list[Finding], named: Callable[[str], str]) -> list[Finding]:
    return [replace(f, pos=f.pos._replace(file=named(f.pos.file))) for f in findings]


def valid_model(directory: str, recursive: bool, fmt, report: Report, at=None) -> Model:
    """planned_spec's model, for commands that read no plan."""
    return planned_spec(directory, recursive, fmt, report, at)[0]


def refuse_overlap(out: str, spec: str, recursive: bool) -> None:
    """An output folder is replaced whole: it must not be the spec folder or hold it, once links are
    resolved, nor lie inside it when read with --recursive or when reached through a link (a link
    that a pull request committed into the spec folder)."""
    root = spec_root(spec)
    written_inside = os.path.commonpath([os.path.abspath(out), os.path.abspath(root)]) == os.path.abspath(root)
    if inside(root, out) or inside(out, root) and (recursive or not written_inside):
        fail_usage(f"--out {out} overlaps the spec folder {root} (links resolved): write the output elsewhere")


def kept(paths: list[str], out: str) -> None:
    for path in paths:
        err.print(f"note: {printable(path)} is not carried into {printable(out)}: a generated file has its "
                  "name; it stays where it is", markup=False)


def refuse_spec_file(option: str, out: str, *specs: str) -> None:
    """A file wiam writes is never a spec file of the spec folder, nor a folder, even through a link."""
    if reader_for(os.path.realpath(out)) and any(inside(out, spec_root(s)) for s in specs if os.path.exists(s)):
        fail_usage(f"{option} {out} is a spec file name in the spec folder (links resolved): write the output elsewhere")
    if os.path.isdir(out):
        fail_usage(f"{option} {out} is a folder: name the file to write")


def emit(content: bytes, out: Optional[str], *specs: str) -> None:
    """Print, or write the file atomically; never over a spec file of `specs`, even through a link."""
    if out is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        return
    refuse_spec_file("--out", out, *specs)
    try:
        write_file(out, content)
    except OSError as error:
        fail_usage(f"cannot write {out}: {error.strerror or error}")


def _parameter(option: str) -> str:
    return option.lstrip("-").replace("-", "_")


def with_endpoints(command: Callable) -> Callable:
    """The command with each provider's ENDPOINTS as options (--<cloud>-... with its environment
    variable) where its `endpoints` parameter is; it is called with `endpoints`, each cloud's
    live.connect() keywords."""
    declared = [(cloud, provider.ENDPOINTS) for cloud, provider in registry.providers()]
    options = [inspect.Parameter(_parameter(e.option), inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                 annotation=Optional[str], default=typer.Option(None, e.option, envvar=e.envvar,
                                                                                help=e.help))
               for _, endpoints in declared for e in endpoints]
    parameters = list(inspect.signature(command).parameters.values())
    at = [p.name for p in parameters].index("endpoints")

    @wraps(command)
    def run(**given):
        endpoints = {cloud: {e.keyword: given.pop(_parameter(e.option)) for e in endpoints} for cloud, endpoints in declared}
        return command(**given, endpoints=endpoints)

    run.__signature__ = inspect.Signature(parameters[:at] + options + parameters[at + 1:])
    return run

"""wiam discover: long-lived cloud credentials, in CI files (--repo) or in the clouds, and the
secretless replacement: a draft spec and each job's workflow change. Exit codes: 0 none found,
1 some found (a CI gate), 2 a usage error, 3 a CI file could not be read."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from typing import Optional

import typer

from .. import __version__, ci_draft, ci_scan
from ..compile import load_planned
from ..diagnostics import Diagnostic, Pos, Report, SpecError, printable
from ..loader import UsageError, read_bytes, spec_files, spec_root
from ..model import Model
from ..names import fit_name
from ..plan import Plans
from ..secretless import as_json, ordered, to_sarif, to_text
from ..terraform import create_file
from .analyze import AnalyzeFormat  # the same three: text, JSON, SARIF
from .common import (EXIT_UNREAD, AtOption, Cloud, DirArgument, OutputFormat, err, fail_spec, fail_usage, moment,
                     planned_spec, valid_model, with_endpoints)

_REMOTE = re.compile(r'\[remote "origin"\][^\[]*?\burl\s*=\s*(\S+)', re.DOTALL)
_REMOTE_PATH = re.compile(r"^(?:[a-z+]+://(?:[^@/]+@)?[^/]+/|[^@/]+@[^:/]+:)([^?#]+?)(?:\.git)?/?$")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+")  # OWNER/NAME, GitLab's GROUP/.../NAME


def repository_of(repo: str) -> str | None:
    """OWNER/NAME (GitLab: GROUP/.../NAME) of the checkout's origin remote, from .git/config, read as
    text (no git command runs in a checkout a pull request controls)."""
    try:
        config = read_bytes(os.path.join(repo, ".git", "config"), repo, 1 << 20, "a git config").decode("utf-8")
    except (UsageError, UnicodeDecodeError):
        return None
    remote = _REMOTE.search(config)
    path = _REMOTE_PATH.match(remote[1]) if remote else None
    return path[1] if path and _REPOSITORY.fullmatch(path[1]) else None


def _folder_model(directory: str) -> Model | None:
    try:
        return valid_model(directory, False, OutputFormat.text, Report()) if spec_files(directory) else None
    except UsageError:
        return None


def _errors_as(fmt: str) -> OutputFormat:
    """How spec errors print: as text, or (json, sarif) as JSON."""
    return OutputFormat.text if fmt == "text" else OutputFormat.json


def validated(draft: str, name: str, directory: str | None) -> Plans:
    """The plans of the folder's spec files with the draft, or SpecError unless they validate (cloud
    limits too); the errors name the draft and the folder's own files."""
    scratch = tempfile.mkdtemp(prefix="wiam-discover-")
    try:
        mapping = {os.path.join(scratch, name): name}
        for path in spec_files(directory) if directory else []:
            copy = os.path.join(scratch, os.path.basename(path))
            with open(copy, "wb") as out:
                out.write(read_bytes(path, spec_root(directory)))
            mapping[copy] = path
        with open(os.path.join(scratch, name), "w", encoding="utf-8") as out:
            out.write(draft)
        try:
            return load_planned(scratch, False, Report())[1]
        except SpecError as error:
            raise SpecError([Diagnostic(Pos(mapping.get(d.pos.file, d.pos.file), d.pos.line, d.pos.column),
                                        d.block, d.message, d.hint) for d in error.diagnostics]) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@dataclass(frozen=True)
class Draft:
    file: str  # its name in the spec folder
    text: str
    workloads: dict[str, ci_scan.Job]  # the workloads it declares, each for its job
    plan: list[dict] | None = None  # with --plan: what each workload compiles to


@with_endpoints
def discover(directory: str = DirArgument,
             repos: Optional[list[str]] = typer.Option(None, "--repo", metavar="PATH",
                                                      help="Scan this checkout's CI files (repeatable)."),
             clouds: Optional[list[Cloud]] = typer.Option(None, "--cloud", help="Without --repo: read these clouds."),
             fmt: AnalyzeFormat = typer.Option(AnalyzeFormat.text, "--format", "-f", help="Output format."),
             write: bool = typer.Option(False, "--write", help="Add the draft spec to the spec folder as its own file."),
             plan: bool = typer.Option(False, "--plan", help="Also show what each drafted workload compiles to; "
                                                              "without --repo, each credential's migration steps."),
             save: bool = typer.Option(False, "--save", help="Without --repo: keep the findings in the spec folder's "
                                                            "wiam.discovery.json, which wiam analyze reports (WIAM030)."),
             endpoints: dict[str, dict] = None,
             at: Optional[str] = AtOption,
             repository: Optional[str] = typer.Option(None, "--repository", metavar="OWNER/NAME",
                                                      help="The repository the CI runs as (default: the origin "
                                                           "remote); with one --repo."),
             default_branch: str = typer.Option("main", "--default-branch", metavar="NAME",
                                                help="The branch schedule and workflow_run run on.")) -> None:
    """Find long-lived cloud credentials: with --repo, the cloud logins in GitHub Actions workflows and
    GitLab CI files that use secrets, each job's proposed identities and workflow change, and a draft
    spec that replaces them (--write adds it to the spec folder). Nothing is written to any cloud."""
    fmt = fmt.value
    if not repos:
        _clouds(directory, clouds, fmt, endpoints, plan, save, at)
        return
    if save:
        fail_usage("--save keeps what the clouds hold; --repo scans CI files: give --save without --repo")
    if clouds:
        fail_usage("--cloud reads the clouds, --repo a checkout's CI files: give one of them")
    if repository is not None and len(repos) != 1:
        fail_usage("--repository names the repository of one --repo: give one --repo with it")
    if repository is not None and not _REPOSITORY.fullmatch(repository):
        fail_usage(f"--repository {repository!r}: not OWNER/NAME (GitLab: GROUP/.../NAME) in letters, "
                   "digits, '.', '_' and '-'")
    if write and not os.path.isdir(spec_root(directory)):
        fail_usage(f"{directory}: no such spec folder to write the draft into")
    directory = spec_root(directory)  # the draft joins the whole folder, also when DIR names one of its files
    scans, drafts, failed = [], [], Report()
    for repo in repos:
        if not os.path.isdir(repo):
            fail_usage(f"--repo {repo}: no such folder")
        scan = ci_scan.scan(repo, default_branch)
        scans.append(scan)
        failed.diagnostics += [Diagnostic(Pos(os.path.join(repo, d.pos.file), d.pos.line, d.pos.column), d.block,
                                          d.message, d.hint) for d in scan.report.diagnostics]
        # Each draft sees the folder as the drafts before it left it: their issuers, targets and names.
        drafted = _draft(scan, repository or repository_of(repo), _folder_model(directory) if write else None)
        if drafted is not None and write:
            _refuse_existing(directory, drafted)
        if drafted is not None and (write or plan):
            drafted = _checked(drafted, directory if write else None, fmt, plan)
        if drafted is not None and write:
            _write(directory, drafted)
        drafts.append(drafted)
    _print(scans, drafts, failed, fmt)
    found = any(scan.found for scan in scans)
    raise typer.Exit(EXIT_UNREAD if failed.diagnostics else 1 if found else 0)


def _draft(scan: ci_scan.Scan, repository: str | None, model: Model | None) -> Draft | None:
    """The repository's draft spec, or None: nothing to draft, or no repository to trust."""
    if not ci_draft.has_workloads(scan.jobs):
        return None
    if repository is None:
        scan.notes.append(f"{printable(scan.root)}: no origin remote names the repository: give --repository "
                          "OWNER/NAME for a draft spec")
        return None
    where = ci_draft.place(scan.jobs, model)
    repositories = {"github": repository, "gitlab": repository}
    workloads = {d.workload: d.job for d in ci_draft.drafted(scan.jobs, repositories, where) if d.workload}
    slug = fit_name(repository.rsplit("/", 1)[-1], 40, allowed="a-z0-9-", lower=True)
    return Draft(f"discovered-{slug}.wiam.hcl", ci_draft.draft(scan.jobs, repositories, where), workloads)


def _checked(draft: Draft, directory: str | None, fmt: str, plan: bool) -> Draft:
    """The draft validated with the spec folder's files (with --write), and with `plan` what its
    workloads compile to."""
    try:
        plans = validated(draft.text, draft.file, directory if directory and spec_files(directory) else None)
    except SpecError as error:
        fail_spec(error, _errors_as(fmt))
    except UsageError as error:
        fail_usage(str(error))
    planned = [{"workload": workload, "job": job.name, "file": job.file, "cloud": cloud, "target": target,
                "kind": principal.kind, "name": principal.name, "outputs": plans[cloud, target].outputs.get(workload, {})}
               for (cloud, target), target_plan in sorted(plans.items())
               for workload, principal in sorted(target_plan.principals.items())
               for job in [draft.workloads.get(workload)] if job is not None]
    return Draft(draft.file, draft.text, draft.workloads, planned if plan else None)


def _refuse_existing(directory: str, draft: Draft) -> None:
    target = os.path.join(spec_root(directory), draft.file)
    if os.path.lexists(target):
        fail_usage(f"{target} exists: wiam never overwrites a file; move it away or merge the draft by hand")


def _write(directory: str, draft: Draft) -> None:
    """The draft as its own file; one made meanwhile is not overwritten either (create_file)."""
    target = os.path.join(spec_root(directory), draft.file)
    try:
        create_file(target, draft.text.encode("utf-8"))
    except OSError as error:
        fail_usage(f"cannot write {target}: {error.strerror or error}")
    err.print(f"wrote {printable(target)}", markup=False)


def _job_json(job: ci_scan.Job, repo: str) -> dict:
    return {"repo": repo, "system": job.system, "file": job.file, "line": job.pos.line, "column": job.pos.column,
            "job": job.name, "clouds": sorted(job.clouds), "refs": job.refs, "environment": job.environment,
            "pull_request": job.pull_request, "production": job.production, "notes": job.notes,
            "change": ci_scan.workflow_change(job)}


def _print(scans: list[ci_scan.Scan], drafts: list[Draft | None], failed: Report, fmt: str) -> None:
    """Positions are relative to each repository's root (SARIF's %SRCROOT% when run in the checkout)."""
    found = [ordered(scan.found) for scan in scans]
    if fmt == "sarif":
        typer.echo(json.dumps(to_sarif([c for each in found for c in each], __version__), indent=2, ensure_ascii=False))
    elif fmt == "json":
        typer.echo(json.dumps({
            "credentials": [{"repo": scan.root, **as_json(c)} for scan, each in zip(scans, found) for c in each],
            "jobs": [_job_json(job, scan.root) for scan in scans for job in scan.jobs],
            "drafts": [{"repo": scan.root, "file": d.file, "text": d.text, "plan": d.plan}
                       for scan, d in zip(scans, drafts) if d],
            "notes": [note for scan in scans for note in scan.notes],
            "errors": [d.as_json() for d in failed.diagnostics]}, indent=2, ensure_ascii=False))
    else:
        for scan, each, draft in zip(scans, found, drafts):
            _print_text(scan, each, draft, len(scans) > 1)
    if fmt != "json":  # JSON holds the errors; SARIF's stdout holds only findings, so exit 3 says why here
        for diagnostic in failed.diagnostics:
            err.print(diagnostic.render(), markup=False)
    if fmt == "text" and not any(found):
        err.print("no long-lived cloud credential found", markup=False)


def _print_text(scan: ci_scan.Scan, found: list, draft: Draft | None, named: bool) -> None:
    if named:
        typer.echo(printable(f"# --repo {scan.root}"))
    typer.echo(to_text(found), nl=False)
    for job in scan.jobs:
        typer.echo("\n".join(ci_scan.jobs_text([job])))
        typer.echo("  workflow change:\n" + "\n".join(f"    {line}" for line in ci_scan.workflow_change(job).split("\n")))
    if draft is not None:
        typer.echo(f"\n# draft spec {draft.file} (wiam discover --write adds it)\n{draft.text}", nl=False)
        for item in draft.plan or []:
            outputs = "; ".join(f"{key} = {value}" for key, value in sorted(item["outputs"].items()))
            typer.echo(printable(f"plan: workload {item['workload']!r} (job {item['job']!r}): {item['cloud']} "
                                 f"{item['target']} {item['kind']} {item['name']}; {outputs}"))
    for note in scan.notes:
        err.print(f"note: {printable(note)}", markup=False)


def _clouds(directory: str, clouds: Optional[list[Cloud]], fmt: str, endpoints: dict[str, dict], with_plan: bool,
            save: bool, at: Optional[str]) -> None:
    """The cloud side (wiam.discovery): the spec's targets' long-lived keys and unmanaged identities.
    Exit 1 when any is found, else 3 when a target could not be read (as drift), else 0."""
    from .. import registry

    model, plans = planned_spec(directory, False, _errors_as(fmt), Report(), moment(at))
    try:
        from .. import discovery  # the cloud SDKs load only when clouds are read

        found = discovery.find(model, {c.value for c in clouds or []},
                               lambda cloud: registry.get(cloud).live.connect(**endpoints[cloud]), plans)
        written = discovery.save(directory, found) if save else None
    except UsageError as error:
        fail_usage(str(error))
    except SpecError as error:
        fail_spec(error, _errors_as(fmt))
    except ImportError as error:
        fail_usage(f"reading the clouds needs {error.name}, which is not installed: pip install 'wiam[live]'")
    if fmt == "sarif":
        typer.echo(json.dumps(to_sarif(found.credentials, __version__), indent=2, ensure_ascii=False))
    elif fmt == "json":
        typer.echo(json.dumps(discovery.to_json(found, model, with_plan), indent=2, ensure_ascii=False))
    else:
        typer.echo(discovery.to_text(found, model, with_plan), nl=False)
    if written:
        err.print(f"wrote {printable(written)}", markup=False)
    raise typer.Exit(1 if found.credentials else EXIT_UNREAD if found.unread else 0)

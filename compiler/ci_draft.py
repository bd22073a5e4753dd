"""The draft spec `wiam discover --repo` proposes: HCL in the examples' style, one workload per CI job
that logs in with a long-lived secret, its identities the job's pinned triggers. It validates as
written: every grant is the cloud's narrow read-only example (provider EXAMPLE), a placeholder marked
TODO, and a new target is the example's too; a folder's own issuers and targets are used when it
has them. A job with no trigger pinned exactly gets no workload, only a comment saying why."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import registry
from .ci_scan import Job
from .diagnostics import printable
from .issuers import CI_SYSTEM_KINDS, KINDS
from .model import Model
from .names import fit_name
from .spec_edit import hcl_value

NEW_TARGET = "discovered"
_MAX_NAME = 64


@dataclass(frozen=True)
class Place:
    """Where the draft lands: the names it uses of the folder's own blocks, and the names it must avoid."""
    issuers: dict[str, str]  # system -> issuer name
    targets: dict[str, str]  # cloud -> target name
    new_issuers: tuple[str, ...]
    new_targets: tuple[str, ...]
    taken: frozenset[str]  # workload names


def place(jobs: list[Job], model: Model | None) -> Place:
    issuers, targets, new_issuers, new_targets = {}, {}, [], []
    for system in sorted({job.system for job in jobs}):
        kind = CI_SYSTEM_KINDS[system]
        own = sorted(n for n, i in (model.issuers.items() if model else ()) if i.kind == kind
                     and i.url == KINDS[kind].default_url and not i.subject_claims and not i.disabled)
        fresh = next(name for name in (system, *(f"{system}-{n}" for n in range(2, 100)))
                     if name not in (model.issuers if model else ()))  # the folder's other issuers keep theirs
        issuers[system] = own[0] if own else fresh
        new_issuers += [] if own else [system]
    for cloud in sorted({cloud for job in jobs for cloud in job.clouds}):
        own = sorted(name for (c, name) in (model.targets if model else ()) if c == cloud)
        targets[cloud] = own[0] if own else NEW_TARGET
        new_targets += [] if own else [cloud]
    return Place(issuers, targets, tuple(new_issuers), tuple(new_targets),
                 frozenset(model.workloads) if model else frozenset())


def workload_name(job: Job, repository: str, taken: set[str]) -> str:
    """<repo>-<workflow>-<job> (GitLab: <repo>-<job>), fitted to wiam's names and unique in the folder."""
    stem = [re.sub(r"\.ya?ml$", "", job.file.rsplit("/", 1)[-1])] if job.system == "github" else []
    name = fit_name("-".join([repository.rsplit("/", 1)[-1], *stem, job.name]), _MAX_NAME, lower=True)
    name = re.sub(r"-{2,}", "-", name).strip("-")
    name = name if name[:1].isalpha() else f"job-{name}"[:_MAX_NAME]
    unique, counter = name, 2
    while unique in taken:
        unique, counter = f"{name[:_MAX_NAME - 4]}-{counter}", counter + 1
    taken.add(unique)
    return unique


def _block(head: str, body: list[tuple[str, Any]], inner: list[list[str]] = (), step: str = "  ") -> list[str]:
    """An HCL block: its attributes aligned as `terraform fmt` aligns them, then its nested blocks."""
    width = max((len(name) for name, _ in body), default=0)
    lines = [f"{head} {{"]
    lines += [f"{step}{name.ljust(width)} = {_hcl(value)}" for name, value in body]
    for block in inner:
        lines += [""] + [f"{step}{line}" if line else "" for line in block]
    return lines + ["}"]


def _hcl(value: Any) -> str:
    return "true" if value is True else hcl_value(value)


def identities(job: Job, issuer: str, repository: str) -> list[list[tuple[str, Any]]]:
    if job.system == "gitlab":
        return [[("issuer", issuer), ("project_path", repository), ("ref_type", ref.split(":", 1)[0]),
                 ("ref", ref.split(":", 1)[1])] for ref in job.refs]
    base = [("issuer", issuer), ("repository", repository)]
    if job.environment is not None:
        return [base + [("environment", job.environment)]]
    return [base + [("ref", ref)] for ref in job.refs] + ([base + [("pull_request", True)]] if job.pull_request else [])


def _comment(text: str) -> list[str]:
    return [f"# {printable(line)}" for line in text.split("\n")]


@dataclass(frozen=True)
class Drafted:
    """One job in the draft: its workload's name (None: nothing pinned exactly) and identities."""
    job: Job
    workload: str | None
    identities: list
    hidden: bool  # a trigger named with invisible characters was left out


def drafted(jobs: list[Job], repositories: dict[str, str], where: Place) -> list[Drafted]:
    """Each job's workload; `repositories`: system -> the repository path its identities name."""
    taken, result = set(where.taken), []
    for job in jobs:
        proposed = identities(job, where.issuers[job.system], repositories[job.system])
        found = [i for i in proposed if all(str(value).isprintable() for _, value in i)]
        name = workload_name(job, repositories[job.system], taken) if found else None
        result.append(Drafted(job, name, found, len(found) < len(proposed)))
    return result


def draft(jobs: list[Job], repositories: dict[str, str], where: Place) -> str:
    """The draft spec's text."""
    system_names = {"github": "GitHub Actions", "gitlab": "GitLab CI"}
    lines = _comment("Drafted by `wiam discover --repo`: one workload per CI job that logs in with a long-lived\n"
                     "secret, trusted from the triggers that run it. TODO before use: set each owner, replace\n"
                     "each placeholder grant with what the job does, then switch the job to its OIDC login.")
    for system in where.new_issuers:
        lines += ["", *_block(f"issuer {hcl_value(where.issuers[system])}", [("kind", CI_SYSTEM_KINDS[system])])]
    for cloud in where.new_targets:
        example = registry.get(cloud).EXAMPLE.target
        lines += ["", f"# TODO: the {cloud} target the jobs deploy to (these are placeholders)",
                  *_block(f'target "{cloud}" "{NEW_TARGET}"', list(example.items()))]
    for item in drafted(jobs, repositories, where):
        job = item.job
        lines += [""] + _comment(f"{system_names[job.system]} job {job.name!r} in {job.file}")
        lines += _comment("\n".join(f"note: {note}" for note in job.notes)) if job.notes else []
        lines += _comment("note: a trigger named with invisible characters is not proposed") if item.hidden else []
        if item.workload is None:
            lines += _comment("no trigger of this job can be pinned exactly: no workload drafted")
            continue
        grants = [["# TODO: a placeholder, read-only: grant what the job does",
                   *_block(f'grant "{cloud}" {hcl_value(where.targets[cloud])}',
                           list(registry.get(cloud).EXAMPLE.grant.items()))] for cloud in sorted(job.clouds)]
        body = [("description", printable(f"{job.name} in {job.file}, once it logs in with OIDC")), ("owner", "TODO")]
        body += [("environment", "prod")] if job.production else []
        lines += _block(f"workload {hcl_value(item.workload)}", body,
                        [_block("identity", identity) for identity in item.identities] + grants)
    return "\n".join(lines) + "\n"


def has_workloads(jobs: list[Job]) -> bool:
    return any(job.environment is not None or job.refs or job.pull_request for job in jobs)

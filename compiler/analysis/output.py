"""Findings as JSON, SARIF 2.1.0 (GitHub code scanning) and a rule index page."""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path
from urllib.parse import quote

from ..findings import SEVERITIES, Finding, Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/wiam-dev/wiam"
# GitHub code scanning ranks security results by this property (0.1 to 10).
SECURITY_SEVERITY = {"low": "3.0", "medium": "5.5", "high": "8.0", "critical": "9.5"}
SARIF_LEVEL = {"low": "note", "medium": "warning", "high": "error", "critical": "error"}
# GitHub code scanning rejects a run of more than 25,000 results and an upload over 10 MB gzipped. The
# budget counts the results gzipped as they are written, less a margin for what zlib still buffers and
# for the deeper indentation in the file.
SARIF_MAX_RESULTS = 25_000
SARIF_MAX_GZIP_BYTES = 9_000_000
SARIF_MAX_MESSAGE = 4_000  # characters of one result's message; the JSON output keeps it whole


def summary(findings: list[Finding]) -> dict[str, int]:
    counts = {severity: 0 for severity in SEVERITIES}
    for finding in findings:
        if not finding.suppressed:
            counts[finding.severity] += 1
    counts["suppressed"] = sum(1 for f in findings if f.suppressed)
    return counts


def finding_json(finding: Finding, rule: Rule) -> dict:
    return {"rule": finding.rule, "name": rule.name, "severity": finding.severity, "title": rule.title,
            "message": finding.message, "file": finding.pos.file, "line": finding.pos.line,
            "column": finding.pos.column, "block": finding.block, "workload": finding.workload,
            "path": list(finding.path), "related": list(finding.related), "fix": rule.fix,
            "suppressed": {"reason": finding.suppressed} if finding.suppressed else None}


def to_json(findings: list[Finding], rules: dict[str, Rule], fail_on: str | None) -> dict:
    return {"findings": [finding_json(f, rules[f.rule]) for f in findings], "summary": summary(findings),
            "fail_on": fail_on}


def artifact_uri(file: str) -> str:
    """A spec file as a SARIF URI relative to the working folder (GitHub runs from the repository root)."""
    path = Path(file)
    if path.is_absolute():
        try:
            path = path.relative_to(Path.cwd())
        except ValueError:
            return path.as_uri()
    return quote(path.as_posix())


def _fingerprint(finding: Finding) -> str:
    # Stable across line moves: the rule, the block and the message, not the position.
    return hashlib.sha256("\x00".join((finding.rule, finding.block, finding.message)).encode()).hexdigest()[:32]


def _sarif_result(finding: Finding, index: int) -> dict:
    text = finding.message
    if len(text) > SARIF_MAX_MESSAGE:
        text = text[:SARIF_MAX_MESSAGE] + f"... ({len(finding.message) - SARIF_MAX_MESSAGE} more characters)"
    result = {
        "ruleId": finding.rule,
        "ruleIndex": index,
        "level": SARIF_LEVEL[finding.severity],
        "message": {"text": text},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(finding.pos.file), "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": max(finding.pos.line, 1), "startColumn": max(finding.pos.column, 1)},
        }}],
        "partialFingerprints": {"wiamFinding/v1": _fingerprint(finding)},
    }
    if finding.suppressed:
        result["suppressions"] = [{"kind": "inSource", "justification": finding.suppressed}]
    return result


def _sarif_results(findings: list[Finding], index: dict[str, int]) -> list[dict]:
    """As many results as GitHub accepts, the unsuppressed and most severe chosen first, in place order."""
    ranked = sorted(range(len(findings)), key=lambda i: (findings[i].suppressed is not None,
                                                         -SEVERITIES.index(findings[i].severity)))
    kept, size, gzipped = {}, 0, zlib.compressobj(wbits=31)
    for i in ranked[:SARIF_MAX_RESULTS]:
        result = _sarif_result(findings[i], index[findings[i].rule])
        size += len(gzipped.compress(json.dumps(result, indent=2, ensure_ascii=False).encode()))
        if size > SARIF_MAX_GZIP_BYTES:
            break
        kept[i] = result
    return [kept[i] for i in sorted(kept)]


def truncation_note(total: int, kept: int) -> str:
    return (f"wiam found {total} findings; this SARIF file holds the {kept} most severe, as GitHub code scanning "
            f"accepts at most {SARIF_MAX_RESULTS:,} results and 10 MB per upload: see wiam analyze --format json "
            f"for all of them")


def to_sarif(findings: list[Finding], rules: dict[str, Rule], version: str, at: str | None = None) -> dict:
    """The findings as one SARIF run; `at`, the moment windows were judged at, in its properties."""
    ordered = list(rules.values())
    results = _sarif_results(findings, {rule.id: i for i, rule in enumerate(ordered)})
    run: dict = {
        "tool": {"driver": {
            "name": "wiam", "version": version, "informationUri": INFORMATION_URI,
            "rules": [{
                "id": rule.id, "name": rule.name,
                "shortDescription": {"text": rule.title},
                "fullDescription": {"text": rule.explanation},
                "help": {"text": rule.fix, "markdown": f"**Fix:** {rule.fix}"},
                "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
                "properties": {"security-severity": SECURITY_SEVERITY[rule.severity],
                               "tags": ["security", "iam", "least-privilege"]},
            } for rule in ordered],
        }},
        "results": results,
        **({"properties": {"at": at}} if at else {}),
    }
    if len(results) < len(findings):
        run["invocations"] = [{"executionSuccessful": True, "toolExecutionNotifications": [{
            "descriptor": {"id": "wiam/results-truncated"}, "level": "warning",
            "message": {"text": truncation_note(len(findings), len(results))}}]}]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def rules_markdown(rules: dict[str, Rule]) -> str:
    """The rule index page (docs/rules.md), generated from the rules themselves."""
    lines = ["# wiam analysis rules", "",
             "Generated by `wiam rules --format markdown`; do not edit by hand.", "",
             "Suppress a finding for one workload in the spec, with the reason:", "",
             "```hcl", 'workload "legacy-deployer" {', "  # ...",
             '  suppress "AWS102" {', '    reason = "the bucket list is only known at deploy time"', "  }", "}",
             "```", "", "Suppressed findings still appear in `--format json` and SARIF (as suppressed) "
             "and never count for `--fail-on`.", "",
             "| ID | name | severity | title |", "|---|---|---|---|"]
    lines += [f"| [{r.id}](#{r.id.lower()}) | {r.name} | {r.severity} | {r.title} |" for r in rules.values()]
    for rule in rules.values():
        lines += ["", f"## {rule.id}", "", f"**{rule.title}** (`{rule.name}`, severity {rule.severity})", "",
                  rule.explanation, "", f"Fix: {rule.fix}"]
    return "\n".join(lines) + "\n"
